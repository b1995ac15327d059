"""`users`: the roster, with licenses and (when Graph allows it) last sign-in activity and leave dates.

The roster scope decides which users: every user, or the holders of the tenant's Dynamics 365 SKUs, one license
query per SKU (licenses.py). A query restarts from its first page when its page token expires (restarts.py) or
Graph refuses `signInActivity` on a later page. Each user is emitted at most once per sync: by the first query that
returns them, every later sighting (another SKU's query, a restart, a fallback, a user Graph lists twice) skipped.

`employeeLeaveDateTime` (who left or will leave) is selected only when the token's roles hold the permission the user
resource names for reading it (auth/permissions.py `LEAVE_DATES`, User-LifeCycleInfo.Read.All): Microsoft does not say
what Graph answers without it.
"""

import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.sources.streams.core import StreamData

from ..auth.permissions import LEAVE_DATES, NOT_GRANTED, leave_dates_unread, refused_by_graph
from ..config import ALL_USERS
from ..graph.answers import graph_error
from ..graph.progress import counted_estimate
from ..graph.query import GraphQuery
from ..limits import SIGN_IN_ACTIVITY_LIMITS
from .licenses import LicenseQuery, LicenseQueryStream, license_filter
from .restarts import EmittedIds, FromFirstPage

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


@dataclass(frozen=True)
class RosterQuery:
    """One roster query: every user, or the holders of one SKU; with or without signInActivity, and with or without
    employeeLeaveDateTime."""

    activity: bool
    licenses: LicenseQuery = field(default_factory=LicenseQuery)
    leave_dates: bool = False

    def params(self) -> MutableMapping[str, Any]:
        fields = ROSTER_FIELDS + (("signInActivity",) if self.activity else ())
        fields += ("employeeLeaveDateTime",) if self.leave_dates else ()
        size = PAGE_SIZE_WITH_SIGN_IN_ACTIVITY if self.activity else PAGE_SIZE
        params: MutableMapping[str, Any] = {"$select": ",".join(fields), "$top": size}
        if self.licenses.sku_id is not None:
            params["$filter"] = license_filter(self.licenses.sku_id)
        return params


@dataclass(frozen=True)
class FieldRefusal:
    """Graph refused a field the users page selects (403), in its words (`said`): signInActivity (no Entra ID P1/P2
    or no AuditLog.Read.All), which the read retries and then goes on without; or employeeLeaveDateTime, which the
    read goes on without at once (its permission does not come and go). Graph's 403 does not say which: signInActivity,
    whose refusal Microsoft documents, is left out first."""

    said: str


@dataclass(frozen=True)
class CombinedFilterRefusal:
    """Graph refused the license filter together with signInActivity (400, undocumented either way), in its words;
    the holders are read without signInActivity from then on."""

    said: str


def field_refusal(response: requests.Response) -> Optional[FieldRefusal]:
    """A 403 to any page of a query that selects signInActivity or employeeLeaveDateTime (the only queries that
    expect it)."""
    return FieldRefusal(graph_error(response)[1]) if response.status_code == 403 else None


def combined_filter_refusal(response: requests.Response) -> Optional[CombinedFilterRefusal]:
    """A 400 to the first page of a query that filters on licenses and selects signInActivity (the only queries
    that expect it, on their first page only)."""
    if response.status_code != 400:
        return None
    return CombinedFilterRefusal(": ".join(filter(None, graph_error(response))))


class Users(LicenseQueryStream):
    """GET /v1.0/users with an explicit `$select`; falls back to no `signInActivity` (and no `employeeLeaveDateTime`)
    rather than failing."""

    name = "users"
    collection = "users"

    def __init__(self, *args: Any, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._with_activity = self._config.include_sign_in_activity and self._config.include_sign_in_log
        self._sleep = sleep
        self._emitted = EmittedIds()
        self._with_leave_dates: Optional[bool] = None

    def read_starts(self) -> bool:
        """Leave dates are asked for again each read, as the token's roles say; without the role, said once."""
        self._with_leave_dates = None
        if not self._leave_dates():
            self._log.info(leave_dates_unread(NOT_GRANTED))
        return True

    def _leave_dates(self) -> bool:
        """Whether the queries select employeeLeaveDateTime: the token's roles hold its permission, and Graph has not
        refused it in this read."""
        if self._with_leave_dates is None:
            self._with_leave_dates = LEAVE_DATES.covered_by(self._graph_auth.roles())
        return self._with_leave_dates

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        """One slice per query: `{"sku_id": None}` for the whole roster, or one per Dynamics 365 SKU for its holders.
        Every user is emitted once per sync, whichever query returns them first; the concealed users skipped are
        reported once the last slice is read."""
        self._emitted = EmittedIds()
        if self._config.roster_scope == ALL_USERS:
            yield {"sku_id": None}
        else:
            skus = self.licensed_skus()
            self._log.info(f"users: reading the holders of {len(skus)} Dynamics 365 SKUs, one query each.")
            yield from ({"sku_id": sku_id} for sku_id in skus)
        self._report_concealed()

    def roster_query(self, stream_slice: Mapping[str, Any]) -> RosterQuery:
        """The slice's query, with signInActivity and employeeLeaveDateTime while Graph gives them."""
        return RosterQuery(self._with_activity, LicenseQuery(stream_slice.get("sku_id")), self._leave_dates())

    def query_of(self, stream_slice: Mapping[str, Any]) -> GraphQuery:
        return self.graph_query(self.roster_query(stream_slice))

    def graph_query(self, query: RosterQuery) -> GraphQuery:
        """The roster query as Graph is asked it: when it selects signInActivity or employeeLeaveDateTime, Graph may
        refuse them on any page, and the license filter with signInActivity on the first; read again from its first page when its page token expires,
        skipping the users this sync emitted."""
        licensed = query.licenses.sku_id is not None
        return self.query(
            query.params(),
            limits=SIGN_IN_ACTIVITY_LIMITS if query.activity else (),
            refusals=(field_refusal,) if query.activity or query.leave_dates else (),
            first_refusals=(combined_filter_refusal,) if query.activity and licensed else (),
            resume=FromFirstPage(self._emitted, self.name, self._log),
        )

    def slice_records(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """The whole roster in one query, or one SKU's holders; `/users/$count` counts every user, so the estimate is
        for the whole roster only."""
        query = self.roster_query(stream_slice)
        if query.licenses.sku_id is None:
            yield from counted_estimate(self, self._log)
            yield from self._read_query(query)
        else:
            yield from self._read_holders(query)

    def _read_holders(self, query: RosterQuery) -> Iterator[Mapping[str, Any]]:
        """One SKU's holders; where Graph refuses its license filter with signInActivity, without signInActivity
        from then on, said once (the users the refused query emitted before are still skipped)."""
        refusal = yield from self._read_query(query)
        if isinstance(refusal, CombinedFilterRefusal):
            self._with_activity = False
            self._log.warning(
                f"Microsoft Graph refused the license filter together with signInActivity ({refusal.said or 'HTTP 400'}); "
                "reading the Dynamics 365 license holders without signInActivity from now on. users.signInActivity "
                "stays empty, so the answer's 'last sign-in to any app' is missing; who used Dynamics 365 still comes "
                "from the sign-in log. To keep signInActivity, set the roster scope to 'All users': that reads every "
                "user at 500 a request and 10 requests a minute (Graph's limit), at least 100 minutes per 500,000 users."
            )
            yield from self._read_query(replace(query, activity=False))

    def _read_query(self, query: RosterQuery) -> Generator[Mapping[str, Any], None, Optional[object]]:
        """One query, sent again when Graph refuses a field it selects: signInActivity first (retried, then left
        out), then employeeLeaveDateTime (left out at once, said once); returns the refusal of the license filter with
        signInActivity, which only the holders' read handles."""
        refusals = 0
        while True:
            refusal = yield from self.read_query(self.graph_query(query), partial(self._asked_for, query))
            if not isinstance(refusal, FieldRefusal):
                return refusal
            if not query.activity:
                self._log.warning(leave_dates_unread(refused_by_graph(refusal.said)))
                self._with_leave_dates = False
                query = replace(query, leave_dates=False)
                continue
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

    def _asked_for(self, query: RosterQuery, record: Mapping[str, Any]) -> bool:
        """A user the query asked for; one without an id is dropped and counted."""
        return self._dropped.has_id(self.name, record) and query.licenses.matches(record)

    def _report_concealed(self) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(f"Skipped {skipped} users whose userPrincipalName is a concealed identifier.")
