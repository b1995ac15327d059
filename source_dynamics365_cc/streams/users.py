"""`users`: the roster, with licenses and (when Graph allows it) last sign-in activity."""

import time
from typing import Any, Callable, Iterable, Iterator, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import SyncMode

from ..errors import SignInActivityRefused
from ..graph.dropped import NO_ID
from ..graph.progress import counted_estimate
from ..graph.stream import GraphStream

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
# Microsoft documents a 500-user page when signInActivity is selected; the smaller page is always accepted.
PAGE_SIZE_WITH_SIGN_IN_ACTIVITY = 500
ACTIVITY_ATTEMPTS = 3


class Users(GraphStream):
    """GET /v1.0/users with an explicit `$select`; falls back to no `signInActivity` rather than failing."""

    name = "users"
    collection = "users"

    def __init__(self, *args: Any, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._with_activity = self._config.include_sign_in_activity
        self._sleep = sleep

    def first_page_params(self, stream_slice: Mapping[str, Any]) -> MutableMapping[str, Any]:
        fields = ROSTER_FIELDS + (("signInActivity",) if self._with_activity else ())
        size = PAGE_SIZE_WITH_SIGN_IN_ACTIVITY if self._with_activity else PAGE_SIZE
        return {"$select": ",".join(fields), "$top": size}

    def refusal(self, response: requests.Response) -> Optional[Exception]:
        """A 403 to a request that selects signInActivity: the read retries, then goes on without it."""
        path = response.request.path_url if response.request is not None else ""
        return SignInActivityRefused() if response.status_code == 403 and "signInActivity" in path else None

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """Graph refuses signInActivity now and then even on P1 tenants: retry, then read the roster without it.

        A refusal can come on any page, and a retry starts the roster again (a skiptoken cannot be reused with
        another `$select`), so the ids already emitted are remembered and not emitted twice.
        """
        yield from counted_estimate(self, self._log)  # type: ignore[misc]  # a TRACE message, passed through as is
        emitted: set[str] = set()
        for attempt in range(1, ACTIVITY_ATTEMPTS + 1):
            try:
                yield from self._once(
                    super().read_records(sync_mode, cursor_field, stream_slice, stream_state), emitted
                )
                break
            except SignInActivityRefused:
                if attempt < ACTIVITY_ATTEMPTS:
                    self._sleep(2.0 * attempt)
                    continue
                self._log.warning(
                    "Microsoft Graph refused signInActivity on users (it needs Entra ID P1/P2 and AuditLog.Read.All); "
                    "reading the remaining users without it."
                )
                self._with_activity = False
                yield from self._once(
                    super().read_records(sync_mode, cursor_field, stream_slice, stream_state), emitted
                )
        self._report_concealed()

    def _once(self, records: Iterable[Mapping[str, Any]], emitted: set[str]) -> Iterator[Mapping[str, Any]]:
        """Each user at most once per sync (a roster's ids take a few MB even for 100,000 users); a record without
        an id cannot be told apart from the others, so it is dropped and counted."""
        for record in records:
            user_id = record.get("id")
            if not isinstance(user_id, str) or not user_id:
                self._dropped.drop(self.name, NO_ID)
            elif user_id not in emitted:
                emitted.add(user_id)
                yield record

    def _report_concealed(self) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(f"Skipped {skipped} users whose userPrincipalName is a concealed identifier.")
