"""`dynamics_activity`: who worked in Dynamics 365, not only who signed in. Dataverse's operations (record type `crm`)
from Microsoft Purview's audit log, through Graph's audit log query API (audit_queries.py); opt-in
(`include_dynamics_activity`) and optional (AuditLogsQuery-CRM.Read.All, auth/permissions.py).

The read is a run of day-long windows (`WINDOW`) from the start date, or from the cursor less `LOOKBACK` (records
reach Purview hours late), to the sync's end. Its slices take turns: a `submit` slice creates the queries of up to
`BATCH` windows, so Purview runs them side by side, then a `collect` slice per window waits for its query and reads
its records, in time order. The CDK saves the state after every slice:

    {"createdDateTime": "2026-12-01T00:00:00Z",          the end of the last window whose records were all emitted
     "queries": [{"start": ..., "end": ..., "id": ..., "api_version": "v1.0"}]}     the queries created, not collected

so a sync stopped while it waits polls the same queries next time instead of creating them again (each costs one of
the tenant's daily submissions), and the cursor never passes a window not read to its end. A query that failed, was
cancelled or vanished is created again (`MAX_ATTEMPTS` in all); one that hit Purview's per-query record limit is split
in two, down to `SMALLEST_WINDOW`, below which the sync fails in a sentence rather than lose records. Each record is
emitted once per sync (windows overlap on their edges and the lookback reads some twice: `EmittedIds`), and across
syncs the primary key `id` dedupes.
"""

import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..auth.permissions import refused_by_graph
from ..errors import ConfigError
from ..graph.road import Record
from ..graph.stream import GraphStream, OptionalStreamRefusal
from ..limits import AUDIT_QUERIES_UNFINISHED, AUDIT_QUERY_SUBMISSIONS_PER_DAY
from .audit_queries import QUERIES, AuditQueries, AuditWindow, Finished, Submitted, instant, parse_instant
from .restarts import RESUME_NOTE, EmittedIds

WINDOW = timedelta(days=1)
# Purview promises no delay; CRM is not among the services "typically 60 to 90 minutes" late (older text: up to 24 h).
LOOKBACK = timedelta(days=2)
SMALLEST_WINDOW = timedelta(minutes=15)
# Queries created before the first is collected: a fifth of the 50 unfinished queries a tenant may hold, so other
# tools and Purview's own searches keep room.
BATCH = AUDIT_QUERIES_UNFINISHED // 5
MAX_ATTEMPTS = 3
CURSOR = "createdDateTime"
ACTIVITY_LOGGING = (
    "Power Platform admin center > Manage > Environments > (each production environment) > Settings > Audit and "
    "logs > Audit settings: Start Auditing, Audit user access, Start Read Auditing"
)
NATIONAL_CLOUD = (
    "Skipping the dynamics_activity stream: Microsoft Graph serves audit log queries in the global cloud only, and "
    "this connection uses the {cloud} cloud. Every other stream is read; turn off 'include_dynamics_activity' to "
    "silence this warning."
)


def no_activity_warning(span: AuditWindow) -> str:
    """What a sync that found no Dynamics 365 activity in a day or more says: the likely setting, and where it is."""
    return (
        f"dynamics_activity: Microsoft Purview's audit log holds no Dynamics 365 (crm) record from {span}. Either no "
        "one worked in Dynamics 365 then, or Dataverse activity logging is off: turn it on in the "
        f"{ACTIVITY_LOGGING}, and check that auditing is on in Microsoft Purview (Audit > Start recording user and "
        "admin activity). Sandbox environments are never logged."
    )


def windows_between(start: datetime, end: datetime) -> list[AuditWindow]:
    """[start, end) in windows of at most `WINDOW`."""
    windows = []
    while start < end:
        windows.append(AuditWindow(start, min(start + WINDOW, end)))
        start = windows[-1].end
    return windows


def planned(start: datetime, end: datetime, kept: Iterable[AuditWindow]) -> list[AuditWindow]:
    """The windows of [start, end): the `kept` ones (queries a stopped sync created) where they fit, without overlap,
    and day-long ones in the gaps."""
    windows: list[AuditWindow] = []
    at = start
    for window in sorted(kept, key=lambda w: w.start):
        if window.start >= at and window.end <= end:
            windows += windows_between(at, window.start)
            windows.append(window)
            at = window.end
    return windows + windows_between(at, end)


class DynamicsActivity(GraphStream, CheckpointMixin):
    """Purview's `crm` audit records, incremental on `createdDateTime`."""

    name = "dynamics_activity"
    collection = QUERIES
    primary_key = "id"
    cursor_field = CURSOR
    resume_note = (
        f"{RESUME_NOTE} dynamics_activity resumes from its last saved state, polling the queries it had created."
    )

    def __init__(
        self,
        *args: Any,
        sync_end: Optional[datetime] = None,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        """`sync_end`: the end of the sync's range, frozen when it starts (the source's clock)."""
        super().__init__(*args, **kwargs)
        self._sync_end = sync_end
        self._queries = AuditQueries(self, sleep, self._log)
        self._cursor: Optional[datetime] = None
        self._submitted: dict[AuditWindow, Submitted] = {}
        self._emitted = EmittedIds()
        self._found = 0
        self._read_span: Optional[AuditWindow] = None

    @property
    def state(self) -> MutableMapping[str, Any]:
        state: dict[str, Any] = {CURSOR: instant(self._cursor)} if self._cursor else {}
        if self._submitted:
            state["queries"] = [s.saved() for s in sorted(self._submitted.values(), key=lambda s: s.window.start)]
        return state

    @state.setter
    def state(self, value: MutableMapping[str, Any]) -> None:
        """A saved state, checked: one this connector did not write is refused in a sentence."""
        try:
            self._cursor = parse_instant(value[CURSOR]) if value.get(CURSOR) else None
            saved = [Submitted.from_saved(query) for query in value.get("queries") or []]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ConfigError(
                f"The saved state of the dynamics_activity stream is not one this connector writes ({dict(value)!r}): "
                "reset the stream in the connection's settings, or start it from a state like "
                '{"createdDateTime": "2026-12-01T00:00:00Z"}.'
            ) from None
        self._submitted = {query.window: query for query in saved}

    def read_starts(self) -> bool:
        """Outside the global cloud there is no audit log query API: one warning, no request."""
        if self._config.cloud != "global":
            self._log.warning(NATIONAL_CLOUD.format(cloud=self._config.cloud))
            return False
        self._emitted, self._found, self._read_span = EmittedIds(), 0, None
        return True

    def read_ended(self) -> None:
        """A sync that read a day or more and found no record says why that may be."""
        span = self._read_span
        if span is not None and not self._skipped and self._found == 0 and span.length >= WINDOW:
            self._log.warning(no_activity_warning(span))

    def stream_slices(
        self,
        sync_mode: SyncMode = SyncMode.incremental,
        cursor_field: Optional[List[str]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        """Per batch of windows: `{"submit": [...]}`, then `{"collect": window}` for each, in time order. A full
        refresh reads from the start date and forgets the saved queries."""
        if sync_mode == SyncMode.full_refresh:
            self._cursor, self._submitted = None, {}
        start = self._config.start if self._cursor is None else max(self._config.start, self._cursor - LOOKBACK)
        end = self._sync_end or self._config.start
        windows = planned(start, end, self._submitted)
        self._submitted = {w: q for w, q in self._submitted.items() if w in windows}
        self._read_span = AuditWindow(start, end) if windows else None
        created = sum(1 for window in windows if window not in self._submitted)
        self._log.info(
            f"dynamics_activity: reading {AuditWindow(start, end)} in {len(windows)} windows; {created} new audit log "
            f"queries, of the tenant's allowance of at least {AUDIT_QUERY_SUBMISSIONS_PER_DAY} a day."
        )
        for first in range(0, len(windows), BATCH):
            batch = windows[first : first + BATCH]
            yield {"submit": [_saved(w) for w in batch]}
            yield from ({"collect": _saved(w)} for w in batch)

    def slice_records(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """A `collect` slice reads one window; a `submit` slice creates its windows' queries and emits nothing, so the
        CDK saves them in the state before any of them is waited for."""
        if "collect" in stream_slice:
            yield from self._collect(_window(stream_slice["collect"]))
            return
        for saved in stream_slice["submit"]:
            if not self._submit(_window(saved)):
                return

    def _submit(self, window: AuditWindow) -> bool:
        """The window's query, created unless a stopped sync created it; False when Graph refused (the stream is
        skipped)."""
        if window in self._submitted:
            return True
        submitted = self._queries.submit(window)
        if isinstance(submitted, OptionalStreamRefusal):
            self._skip(refused_by_graph(submitted.said))
            return False
        self._submitted[window] = submitted
        return True

    def _collect(self, window: AuditWindow) -> Iterator[StreamData]:
        """Every record of the window, then the cursor moves to its end and its query leaves the state. A query gone
        is created again; one cut at Purview's record limit is read as two halves instead."""
        for _ in range(MAX_ATTEMPTS):
            if not self._submit(window):
                return
            submitted = self._submitted[window]
            outcome = self._queries.wait(submitted)
            if isinstance(outcome, Finished) and outcome.limit_exceeded:
                yield from self._split(window)
                return
            if isinstance(outcome, Finished):
                outcome = yield from self._queries.records(submitted, self._admit)
            if isinstance(outcome, OptionalStreamRefusal):
                self._skip(refused_by_graph(outcome.said))
            if self._skipped:  # Graph's 403, to the poll or to a page of records (the road skipped the stream)
                return
            if outcome is None:
                self._done(window)
                self._report_concealed(window)
                return
            self._submitted.pop(window, None)
            self._log.warning(
                f"dynamics_activity: the audit log query for {window} is gone ({outcome.why}); creating it again."
            )
        raise _failed(window, MAX_ATTEMPTS)

    def _split(self, window: AuditWindow) -> Iterator[StreamData]:
        """Purview stopped the query at its record limit: each half asked on its own (both created first, so they
        run side by side), or a sentence once halves would be shorter than `SMALLEST_WINDOW`."""
        self._submitted.pop(window, None)
        if window.length / 2 < SMALLEST_WINDOW:
            raise _too_many_records(window)
        halves = window.halves()
        self._log.info(f"dynamics_activity: {window} holds more records than one query returns; splitting it in two.")
        for half in halves:
            if not self._submit(half):
                return
        for half in halves:
            yield from self._collect(half)

    def _admit(self, record: Record) -> bool:
        """A record with an id, not emitted before in this sync."""
        if not self._dropped.has_id(self.name, record) or not self._emitted.add(str(record["id"])):
            return False
        self._found += 1
        return True

    def _report_concealed(self, window: AuditWindow) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(
                f"{self.name}: skipped {skipped} records with a concealed userPrincipalName from {window} "
                "(exclude_concealed_users)."
            )

    def _done(self, window: AuditWindow) -> None:
        self._submitted.pop(window, None)
        if self._cursor is None or window.end > self._cursor:
            self._cursor = window.end


def _saved(window: AuditWindow) -> dict[str, str]:
    return {"start": instant(window.start), "end": instant(window.end)}


def _window(saved: Mapping[str, str]) -> AuditWindow:
    return AuditWindow(parse_instant(saved["start"]), parse_instant(saved["end"]))


def _failed(window: AuditWindow, attempts: int) -> AirbyteTracedException:
    message = (
        f"Microsoft Purview's audit log query for Dynamics 365 activity from {window} failed or vanished {attempts} "
        "times in a row. Purview may be having an outage (Microsoft 365 admin center > Health > Service health); the "
        "next sync starts again from the last window read to its end."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)


def _too_many_records(window: AuditWindow) -> AirbyteTracedException:
    message = (
        f"Microsoft Purview's audit log holds more Dynamics 365 (crm) records from {window} than one query returns, "
        f"even in a window of {SMALLEST_WINDOW.total_seconds() / 60:.0f} minutes; rather than lose records, the dynamics_activity stream stops here. "
        "Ask Microsoft support to raise the tenant's audit log query record limit, or start the stream after this."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)
