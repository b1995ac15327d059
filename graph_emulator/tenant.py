"""The tenant: its clock, licence state, directory and sign-in log (the emulator's backend).

Routes ask the tenant; tests ask it too (`sign_ins_between`, `users`, `groups`, `subscribed_skus`,
`company_subscriptions`, `role_assignments`, `dynamics_seat_skus`) for the truth to compare a connector's output with.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .activity import SignInActivity
from .catalog import GROUPS
from .crm_activity import CrmActivity
from .directory import Directory
from .gen import TICKS, datetime_to_ticks, mix, parse_ticks
from .groups import GROUP_PROPERTIES, group
from .roles import GLOBAL_ADMINISTRATOR, Assignment, role_assignments
from .signins import INTERACTIVE, NON_INTERACTIVE, Row, SignInLog

MINUTE = 60 * TICKS
DAY = 86400 * TICKS


@dataclass(frozen=True)
class TenantSpec:
    """What to generate. Same spec and seed -> the same tenant, record for record."""

    seed: int = 42
    users: int = 200
    sign_ins: int = 5000
    days: int = 30
    premium: bool = True
    or_filter: bool = True  # False: signIns answers 400 to a `$filter` with `or` (unconfirmed on live Graph)
    # False: /users answers 400 to `assignedLicenses/any(...)` together with `$select=signInActivity` (undocumented)
    license_filter_with_activity: bool = True
    now: dt.datetime | None = None  # the tenant clock at start; default: wall clock, whole minute
    late_window_minutes: int = 20  # how far before the previous clock late arrivals may lie
    burst_size: int = 0  # Dynamics 365 sign-ins sharing one microsecond (spread over its 10 ticks)
    burst_at: str | None = None  # a Graph instant inside that microsecond; default: 1 hour before `now`
    non_interactive_ratio: int = 10  # non-interactive sign-ins (beta only) per interactive one, also when advancing
    crm_auditing: bool = True  # False: Dataverse activity logging is off, Purview holds no CRM record
    audit_query_v1: bool = True  # False: only beta serves /security/auditLog/queries (as in 2025, MC1052169)
    # True: the last users are the license worklist's cases (catalog.CASES: disabled, administrator, integration, two
    # bases, ...), the viral trial and the device licence join the inventory, and a product's own application is
    # signed in to by its holders only. False: the tenant every other test knows, unchanged.
    worklist_cases: bool = False


def _ticks(when: dt.datetime | str | int) -> int:
    if isinstance(when, int):
        return when
    if isinstance(when, str):
        ticks = parse_ticks(when if when.endswith("Z") else when.replace("+00:00", "Z"))
        if ticks is None:
            raise ValueError(f"not a UTC timestamp: {when!r}")
        return ticks
    return datetime_to_ticks(when)


class Tenant:
    """State of one emulated Entra tenant."""

    def __init__(self, spec: TenantSpec) -> None:
        self.spec = spec
        self.tenant_id = str(uuid.UUID(int=mix(spec.seed) << 64 | mix(spec.seed + 1), version=4))
        self.domain = "contoso.onmicrosoft.com"
        self.premium = spec.premium
        self.or_filter = spec.or_filter
        self.license_filter_with_activity = spec.license_filter_with_activity
        now = spec.now or dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        self.now_ticks = _ticks(now)
        self._lock = threading.Lock()
        start = self.now_ticks - spec.days * DAY
        self.directory = Directory(spec.seed, spec.users, start - 400 * DAY, self.now_ticks, spec.worklist_cases)
        self.log = SignInLog(spec.seed, self.directory)
        self.directory.activity = SignInActivity(self.log, lambda: self.now_ticks).of
        self.log.add_segment(spec.sign_ins, start, self.now_ticks)
        self.log.add_segment(spec.sign_ins * spec.non_interactive_ratio, start, self.now_ticks, NON_INTERACTIVE)
        self._burst = self.log.add_burst(spec.burst_size, self._burst_microsecond()) if spec.burst_size else None
        self._rate_per_minute = spec.sign_ins / max(1, spec.days * 1440)
        self.crm = CrmActivity(spec.seed, self.log, self.tenant_id)
        self.crm_auditing = spec.crm_auditing
        self.audit_query_v1 = spec.audit_query_v1

    def _burst_microsecond(self) -> int:
        """First tick of the microsecond that holds `burst_at`."""
        at = _ticks(self.spec.burst_at) if self.spec.burst_at is not None else self.now_ticks - 60 * MINUTE
        return at - at % 10

    def burst_ticks(self) -> list[int]:
        """The instants (ticks, ascending) the burst's sign-ins occupy: one microsecond's 10 ticks, or []."""
        if self._burst is None:
            return []
        return sorted({self._burst.ticks(i) for i in range(self._burst.count)})

    @property
    def now(self) -> dt.datetime:
        """The tenant clock (moves only through advance())."""
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=self.now_ticks // 10)

    @property
    def retention_days(self) -> int:
        return 30 if self.premium else 7

    def advance(self, minutes: float, late: int = 0) -> dict[str, Any]:
        """Move the clock forward: new sign-ins fill the new interval; `late` older ones surface now.

        Non-interactive sign-ins follow at `non_interactive_ratio` times both counts.
        """
        ratio = self.spec.non_interactive_ratio
        with self._lock:
            old = self.now_ticks
            new = old + int(minutes * MINUTE)
            fresh = int(round(self._rate_per_minute * minutes))
            late_from = old - self.spec.late_window_minutes * MINUTE
            for event_type, scale in ((INTERACTIVE, 1), (NON_INTERACTIVE, ratio)):
                if fresh * scale:
                    self.log.add_segment(fresh * scale, old, new, event_type)
                if late * scale:
                    self.log.add_segment(late * scale, late_from, old, event_type)
            self.now_ticks = new
        return {
            "now": self.now.isoformat().replace("+00:00", "Z"),
            "new": fresh,
            "late": late,
            "new_non_interactive": fresh * ratio,
            "late_non_interactive": late * ratio,
        }

    def sign_in_rows(
        self, start: dt.datetime | str | int, end: dt.datetime | str | int, event_type: str | None = INTERACTIVE
    ) -> Iterator[Row]:
        """Lazy rows of one event type (None: every type) with start <= createdDateTime < end, newest first
        (cheap: no dicts built).

        Bounds compare in ticks (100 ns): a string keeps all 7 fractional digits, an int is ticks.
        """
        return self.log.scan(_ticks(start), _ticks(end), event_types=None if event_type is None else (event_type,))

    def sign_ins_between(
        self,
        start: dt.datetime | str | int,
        end: dt.datetime | str | int,
        app_ids: Iterable[str] | None = None,
        event_type: str | None = INTERACTIVE,
    ) -> Iterator[dict[str, Any]]:
        """Truth for tests: every sign-in of `event_type` with start <= createdDateTime < end (in ticks), newest
        first; "interactiveUser" (the default) is what v1.0 lists, "nonInteractiveUser" what beta adds, None both.

        app_ids keeps a record when its appId OR its resourceId is listed (case-insensitive). Records come as
        v1.0 serves them for interactive sign-ins, as beta serves them (with signInEventTypes) otherwise.
        """
        wanted = {a.lower() for a in app_ids} if app_ids is not None else None
        beta = event_type != INTERACTIVE
        for row in self.sign_in_rows(start, end, event_type):
            if wanted is None or row.app.app_id in wanted or row.app.resource_id in wanted:
                yield row.to_dict(beta)

    def crm_records_between(
        self, start: dt.datetime | str | int, end: dt.datetime | str | int, as_of: dt.datetime | str | int | None = None
    ) -> list[dict[str, Any]]:
        """Truth for tests: every CRM audit record with start <= createdDateTime < end that Purview holds at tenant time
        `as_of` (default: the tenant clock), oldest first (ties by id), as `/records` serves them; [] while Dataverse
        activity logging is off.

        An audit log query created at that tenant time over the same range serves exactly these records (its end bound
        is inclusive: see graph_emulator/audit.py).
        """
        if not self.crm_auditing:
            return []
        seen = self.now_ticks if as_of is None else _ticks(as_of)
        found = sorted(self.crm.records(_ticks(start), _ticks(end), seen), key=lambda r: (r.ticks, r.record_id))
        return [record.to_dict() for record in found]

    def users(self) -> Iterator[dict[str, Any]]:
        """Truth for tests: every user with every property, in /users order."""
        return self.directory.users()

    def groups(self) -> list[dict[str, Any]]:
        """Truth for tests: every group with every property (assignedLicenses too), in /groups order."""
        return [group(g, GROUP_PROPERTIES) for g in GROUPS]

    def subscribed_skus(self) -> list[dict[str, Any]]:
        """Truth for tests: the licence inventory as /subscribedSkus returns it."""
        return self.directory.subscribed_skus(self.tenant_id, self.premium)

    def company_subscriptions(self) -> list[dict[str, Any]]:
        """Truth for tests: the commercial subscriptions as /directory/subscriptions returns them, each owned by the
        tenant's Global Administrator."""
        owner = next(a.principal_id for a in self.role_assignments() if a.role is GLOBAL_ADMINISTRATOR)
        return [found.to_dict(self.now_ticks, owner) for found in self.directory.subscriptions(self.premium)]

    def role_assignments(self) -> list[Assignment]:
        """Truth for tests: who holds which directory role (graph_emulator.roles)."""
        return role_assignments(self.directory, self.spec.seed)

    def dynamics_seat_skus(self) -> list[str]:
        """Truth for tests: the skuIds of the tenant's Dynamics 365 seats (appliesTo "User"), in /subscribedSkus
        order, as the catalog marks them by hand (catalog.Sku.dynamics), not as any connector decides."""
        return [sku.sku_id for sku in self.directory.skus if sku.dynamics and sku.applies_to == "User"]
