"""`users`: the roster, with licenses and (when Graph allows it) last sign-in activity.

The roster scope decides which users: every user, or the holders of the tenant's Dynamics 365 SKUs, read
with Graph's `assignedLicenses/any(x:x/skuId eq <id>)` filter, one query per SKU. A holder of several of
those SKUs is emitted by the query of the first SKU they hold only, which is checked on the record's own
`assignedLicenses` (so nothing is remembered across queries, and a user Graph returns for a SKU they do not
hold is dropped, not emitted).

Within one query, what a restart needs is kept while a restart is possible: the ids already emitted, 16
bytes each (`EmittedIds`), forgotten when the query ends. A query restarts from its first page when its
page token expires or Graph refuses `signInActivity` on a later page, and skips the users already emitted.
"""

import bisect
import hashlib
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Sequence
from urllib.parse import unquote

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import ALL_USERS
from ..errors import SignInActivityRefused
from ..graph.answers import graph_error
from ..graph.pages import graph_page
from ..graph.progress import counted_estimate
from ..graph.stream import GraphStream
from .subscribed_skus import SubscribedSkus

ROSTER_FIELDS = (
    "id",
    "userPrincipalName",
    "mail",
    "givenName",
    "surname",
    "displayName",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "jobTitle",
    "department",
    "employeeId",
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
    "usageLocation",
    "companyName",
    "officeLocation",
    "country",
    "employeeType",
    "onPremisesSyncEnabled",
)
PAGE_SIZE = 999
# Microsoft documents a 500-user page when signInActivity is selected (a larger $top is served as 500).
PAGE_SIZE_WITH_SIGN_IN_ACTIVITY = 500
ACTIVITY_ATTEMPTS = 3
MAX_QUERY_RESTARTS = 5
QUERY = "roster_query"  # the slice key that carries a request's RosterQuery
# The rule the license answer uses (examples/license_usage.sql): Dynamics 365 part numbers start with these.
DYNAMICS_PART_NUMBER_PREFIXES = ("DYN365_", "DYNAMICS_365_", "D365_", "CRM")
ID_BYTES = 16


def user_key(user_id: str) -> bytes:
    """16 bytes per user: the GUID Graph keys users on, or a 128-bit digest of an id that is not one."""
    try:
        return uuid.UUID(user_id).bytes
    except ValueError:
        return hashlib.blake2b(user_id.encode("utf-8", "surrogatepass"), digest_size=ID_BYTES).digest()


class EmittedIds:
    """The users one query has emitted, 16 bytes each, for as long as the query may restart.

    Until a restart nothing is looked up, so ids are only appended. A restart sorts what was emitted into one
    bytes object that is searched by bisection; new ids go on being appended, and a second restart merges them.
    """

    def __init__(self) -> None:
        self._sorted = b""
        self._new = bytearray()

    def __len__(self) -> int:
        return (len(self._sorted) + len(self._new)) // ID_BYTES

    def add(self, key: bytes) -> bool:
        """Record `key` and say whether it is new (emitted before the last restart, or not)."""
        if self._sorted and self._holds(key):
            return False
        self._new += key
        return True

    def restart(self) -> None:
        """The query starts again: from now on every id emitted so far is looked up."""
        ids = self._sorted + self._new
        self._new = bytearray()
        self._sorted = b"".join(sorted(ids[start : start + ID_BYTES] for start in range(0, len(ids), ID_BYTES)))

    def _holds(self, key: bytes) -> bool:
        keys = _SortedKeys(self._sorted)
        index = bisect.bisect_left(keys, key)
        return index < len(keys) and keys[index] == key


class _SortedKeys(Sequence[bytes]):
    """A sorted run of 16-byte keys, seen as a sequence for `bisect`."""

    def __init__(self, run: bytes) -> None:
        self._run = run

    def __len__(self) -> int:
        return len(self._run) // ID_BYTES

    def __getitem__(self, index: Any) -> Any:
        return self._run[index * ID_BYTES : (index + 1) * ID_BYTES]


@dataclass(frozen=True)
class RosterQuery:
    """One roster query: every user, or the holders of one SKU; with or without signInActivity."""

    activity: bool
    sku_id: Optional[str] = None
    earlier_skus: frozenset[str] = frozenset()  # a holder of one of these was emitted by an earlier query

    def params(self) -> MutableMapping[str, Any]:
        fields = ROSTER_FIELDS + (("signInActivity",) if self.activity else ())
        size = PAGE_SIZE_WITH_SIGN_IN_ACTIVITY if self.activity else PAGE_SIZE
        params: MutableMapping[str, Any] = {"$select": ",".join(fields), "$top": size}
        if self.sku_id is not None:
            params["$filter"] = f"assignedLicenses/any(x:x/skuId eq {self.sku_id})"
        return params

    def emits(self, record: Mapping[str, Any]) -> bool:
        """Whether this query emits the record: any user for the whole roster; for a SKU, a holder of it who holds
        none of the SKUs read before it."""
        if self.sku_id is None:
            return True
        held = _held_skus(record)
        return self.sku_id in held and held.isdisjoint(self.earlier_skus)


def _held_skus(record: Mapping[str, Any]) -> set[str]:
    licenses = record.get("assignedLicenses")
    if not isinstance(licenses, list):
        return set()
    return {str(item.get("skuId", "")).lower() for item in licenses if isinstance(item, Mapping)}


def dynamics_skus(skus: Iterable[Mapping[str, Any]]) -> list[str]:
    """The tenant's per-user Dynamics 365 SKU ids, by the license answer's part-number rule (tenant-wide add-ons,
    appliesTo "Company", hold no seat)."""
    found = []
    for sku in skus:
        part = str(sku.get("skuPartNumber") or "")
        if part.startswith(DYNAMICS_PART_NUMBER_PREFIXES) and sku.get("appliesTo", "User") == "User":
            found.append(str(sku.get("skuId", "")).lower())
    return [sku_id for sku_id in found if sku_id]


def selects_sign_in_activity(url: str) -> bool:
    """A users page that asks for signInActivity: its first page or a nextLink, which carries the `$select`.
    Graph counts those against its signInActivity limit (limits.py)."""
    return f"/{Users.collection}" in url and "signinactivity" in unquote(url).lower()


class CombinedFilterRefused(Exception):
    """Graph refused `assignedLicenses/any(...)` together with `$select=signInActivity` (undocumented either way)."""


def refuses_combined_filter(response: requests.Response) -> bool:
    """A 400 to the first page of a users query that filters on licenses and selects signInActivity."""
    request = response.request
    if response.status_code != 400 or request is None:
        return False
    url = unquote(request.url or "")
    return "assignedLicenses/any" in url and "signInActivity" in url and "$skiptoken" not in url


class Users(GraphStream):
    """GET /v1.0/users with an explicit `$select`; falls back to no `signInActivity` rather than failing."""

    name = "users"
    collection = "users"

    def __init__(self, *args: Any, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._with_activity = self._config.include_sign_in_activity and self._config.include_sign_in_log
        self._sleep = sleep

    def first_page_params(self, stream_slice: Mapping[str, Any]) -> MutableMapping[str, Any]:
        query = stream_slice.get(QUERY)
        return (query if isinstance(query, RosterQuery) else RosterQuery(self._with_activity)).params()

    def refusal(self, response: requests.Response) -> Optional[Exception]:
        """A 403 to a request that selects signInActivity: the read retries, then goes on without it. A 400 to the
        license filter with signInActivity: the holders' read falls back to no signInActivity."""
        path = response.request.path_url if response.request is not None else ""
        if response.status_code == 403 and "signInActivity" in path:
            return SignInActivityRefused()
        if refuses_combined_filter(response):
            return CombinedFilterRefused(": ".join(filter(None, graph_error(response))))
        return None

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """The whole roster in one query, or the license holders in one query per Dynamics 365 SKU."""
        if self._config.roster_scope == ALL_USERS:
            # `/users/$count` counts every user: an estimate for this scope only, not for the holders.
            yield from counted_estimate(self, self._log)  # type: ignore[misc]  # a TRACE message, passed through as is
            yield from self._read_query(sync_mode, RosterQuery(self._with_activity))
        else:
            skus = self._holder_skus()
            for index, sku_id in enumerate(skus):
                query = RosterQuery(self._with_activity, sku_id, frozenset(skus[:index]))
                yield from self._read_holders(sync_mode, query)
        self._report_concealed()

    def _holder_skus(self) -> list[str]:
        """The tenant's Dynamics 365 SKUs from subscribedSkus, then the SKU ids the configuration adds."""
        response = self.first_page({}, collection=SubscribedSkus.collection)
        found = dynamics_skus(graph_page(response).get("value") or [])
        skus = list(dict.fromkeys([*found, *self._config.roster_sku_ids]))
        self._log.info(f"users: reading the holders of {len(skus)} Dynamics 365 SKUs, one query each.")
        return skus

    def _read_holders(self, sync_mode: SyncMode, query: RosterQuery) -> Iterator[Mapping[str, Any]]:
        """One SKU's holders; where Graph refuses its license filter with signInActivity, without signInActivity
        from then on, said once."""
        try:
            yield from self._read_query(sync_mode, query)
        except CombinedFilterRefused as refusal:
            self._with_activity = False
            self._log.warning(
                f"Microsoft Graph refused the license filter together with signInActivity ({refusal or 'HTTP 400'}); "
                "reading the Dynamics 365 license holders without signInActivity from now on. users.signInActivity "
                "stays empty, so the answer's 'last sign-in to any app' is missing; who used Dynamics 365 still comes "
                "from the sign-in log. To keep signInActivity, set the roster scope to 'All users': that reads every "
                "user at 500 a request and 10 requests a minute (Graph's limit), at least 100 minutes per 500,000 users."
            )
            yield from self._read_query(sync_mode, replace(query, activity=False))

    def _read_query(self, sync_mode: SyncMode, query: RosterQuery) -> Iterator[Mapping[str, Any]]:
        """One query, started again from its first page when its page token expires or Graph refuses
        signInActivity (retried, then left out); each user is emitted at most once."""
        emitted = EmittedIds()
        refusals = restarts = 0
        while True:
            try:
                yield from self._emit_new(super().read_records(sync_mode, stream_slice={QUERY: query}), query, emitted)
                return
            except PaginationResetRequiredException:
                restarts += 1
                if restarts > MAX_QUERY_RESTARTS:
                    raise AirbyteTracedException(
                        message="Microsoft Graph kept expiring the users page token; the roster will be read again "
                        "on the next sync.",
                        failure_type=FailureType.transient_error,
                    ) from None
                self._log.info(
                    f"users: the page token expired; reading the query again from its first page, skipping the "
                    f"{len(emitted)} users already emitted."
                )
            except SignInActivityRefused:
                refusals += 1
                if refusals < ACTIVITY_ATTEMPTS:
                    self._sleep(2.0 * refusals)
                else:
                    self._log.warning(
                        "Microsoft Graph refused signInActivity on users (it needs Entra ID P1/P2 and "
                        "AuditLog.Read.All); reading the remaining users without it."
                    )
                    self._with_activity = False
                    query = replace(query, activity=False)
            emitted.restart()

    def _emit_new(
        self, records: Iterable[Mapping[str, Any]], query: RosterQuery, emitted: EmittedIds
    ) -> Iterator[Mapping[str, Any]]:
        """The records this query emits and has not emitted yet; one without an id is dropped and counted."""
        for record in records:
            if self._dropped.has_id(self.name, record) and query.emits(record) and emitted.add(user_key(record["id"])):
                yield record

    def _report_concealed(self) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(f"Skipped {skipped} users whose userPrincipalName is a concealed identifier.")
