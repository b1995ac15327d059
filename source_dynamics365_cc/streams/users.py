"""`users`: the roster, with licenses and (when Graph allows it) last sign-in activity.

The roster scope decides which users: every user, or the holders of the tenant's Dynamics 365 SKUs, one license
query per SKU (licenses.py). A query restarts from its first page when its page token expires (restarts.py) or
Graph refuses `signInActivity` on a later page. Each user is emitted at most once per sync: by the first query that
returns them, every later sighting (another SKU's query, a restart, a fallback, a user Graph lists twice) skipped.
"""

import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Iterable, Iterator, List, Mapping, MutableMapping, Optional
from urllib.parse import unquote

import requests
from airbyte_cdk.models import SyncMode

from ..config import ALL_USERS
from ..errors import CombinedFilterRefused, SignInActivityRefused
from ..graph.answers import graph_error
from ..graph.progress import counted_estimate
from .licenses import LicenseQuery, LicenseQueryStream, license_filter, license_queries
from .restarts import EmittedIds, restarting

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
QUERY = "roster_query"  # the slice key that carries a request's RosterQuery


@dataclass(frozen=True)
class RosterQuery:
    """One roster query: every user, or the holders of one SKU; with or without signInActivity."""

    activity: bool
    licenses: LicenseQuery = field(default_factory=LicenseQuery)

    def params(self) -> MutableMapping[str, Any]:
        fields = ROSTER_FIELDS + (("signInActivity",) if self.activity else ())
        size = PAGE_SIZE_WITH_SIGN_IN_ACTIVITY if self.activity else PAGE_SIZE
        params: MutableMapping[str, Any] = {"$select": ",".join(fields), "$top": size}
        if self.licenses.sku_id is not None:
            params["$filter"] = license_filter(self.licenses.sku_id)
        return params


def selects_sign_in_activity(url: str) -> bool:
    """A users page that asks for signInActivity: its first page or a nextLink, which carries the `$select`.
    Graph counts those against its signInActivity limit (limits.py)."""
    return f"/{Users.collection}" in url and "signinactivity" in unquote(url).lower()


def refuses_combined_filter(response: requests.Response) -> bool:
    """A 400 to the first page of a users query that filters on licenses and selects signInActivity."""
    request = response.request
    if response.status_code != 400 or request is None:
        return False
    url = unquote(request.url or "")
    return "assignedLicenses/any" in url and "signInActivity" in url and "$skiptoken" not in url


class Users(LicenseQueryStream):
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
        """The whole roster in one query, or the license holders in one query per Dynamics 365 SKU; `emitted`
        holds every user this read emitted, whichever query it came from."""
        emitted = EmittedIds()
        if self._config.roster_scope == ALL_USERS:
            # `/users/$count` counts every user: an estimate for this scope only, not for the holders.
            yield from counted_estimate(self, self._log)  # type: ignore[misc]  # a TRACE message, passed through as is
            yield from self._read_query(sync_mode, RosterQuery(self._with_activity), emitted)
        else:
            skus = self.licensed_skus()
            self._log.info(f"users: reading the holders of {len(skus)} Dynamics 365 SKUs, one query each.")
            for licenses in license_queries(skus):
                yield from self._read_holders(sync_mode, RosterQuery(self._with_activity, licenses), emitted)
        self._report_concealed()

    def _read_holders(
        self, sync_mode: SyncMode, query: RosterQuery, emitted: EmittedIds
    ) -> Iterator[Mapping[str, Any]]:
        """One SKU's holders; where Graph refuses its license filter with signInActivity, without signInActivity
        from then on, said once (the users the refused query emitted before are still skipped)."""
        try:
            yield from self._read_query(sync_mode, query, emitted)
        except CombinedFilterRefused as refusal:
            self._with_activity = False
            self._log.warning(
                f"Microsoft Graph refused the license filter together with signInActivity ({refusal or 'HTTP 400'}); "
                "reading the Dynamics 365 license holders without signInActivity from now on. users.signInActivity "
                "stays empty, so the answer's 'last sign-in to any app' is missing; who used Dynamics 365 still comes "
                "from the sign-in log. To keep signInActivity, set the roster scope to 'All users': that reads every "
                "user at 500 a request and 10 requests a minute (Graph's limit), at least 100 minutes per 500,000 users."
            )
            yield from self._read_query(sync_mode, replace(query, activity=False), emitted)

    def _read_query(self, sync_mode: SyncMode, query: RosterQuery, emitted: EmittedIds) -> Iterator[Mapping[str, Any]]:
        """One query, started again from its first page when its page token expires or Graph refuses
        signInActivity (retried, then left out); a user in `emitted` is not emitted again."""
        refusals = 0
        while True:
            try:
                yield from restarting(partial(self._emit_new, sync_mode, query, emitted), emitted, self.name, self._log)
                return
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

    def _emit_new(self, sync_mode: SyncMode, query: RosterQuery, emitted: EmittedIds) -> Iterator[Mapping[str, Any]]:
        """The query's pages, first to last: the records it asked for that this read has not emitted yet; one
        without an id is dropped and counted."""
        for record in super().read_records(sync_mode, stream_slice={QUERY: query}):
            if self._dropped.has_id(self.name, record) and query.licenses.matches(record) and emitted.add(record["id"]):
                yield record

    def _report_concealed(self) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(f"Skipped {skipped} users whose userPrincipalName is a concealed identifier.")
