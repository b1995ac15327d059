"""`sign_ins` and `non_interactive_sign_ins`: the access log, read in createdDateTime windows that the CDK's
ConcurrentCursor hands out (the window engine is signins/).

Each window is one stream slice `{"start", "end"}`, asked of Graph as `ge start and le end - 100 ns`
(see signins/query.py). Graph answers newest first, so when a page token expires mid-window everything newer
than the oldest record seen is already out: the query restarts with `le <that tick>` and skips the ids
already emitted at that very tick. Nothing is read twice and nothing is skipped, even in a burst of
sign-ins that share one microsecond.

Every record is checked against the query that fetched it; what Graph returned although the query did
not ask for it, or without an id, is dropped and counted (graph/dropped.py), never emitted.

The applications are matched in Graph's `$filter` with `or`. Should Graph refuse `or` on signIns
(unconfirmed either way), every window is read as one query per (field, application) term instead,
and a record is emitted only by the first query whose term it satisfies. A refused filter whose window
reaches past Entra's retention (by Graph's clock) moves the window's start inside it instead.
"""

import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generator, Iterable, Iterator, Mapping, MutableMapping, Optional, Sequence

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.checkpoint import Cursor
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import ConnectorConfig
from ..errors import FilterRefused
from ..graph.query import GraphQuery
from ..graph.road import filtered
from ..graph.stream import GraphStream
from ..limits import SIGN_IN_LOG_LIMITS
from ..signins.instants import format_ticks, parse_instant, parse_ticks
from ..signins.query import CURSOR_FIELD, SignInQuery, Window, application_matches
from ..signins.refusal import filter_refusal
from ..signins.retention import reaches_past_retention, start_inside_retention
from .restarts import RESUME_NOTE

PAGE_SIZE = 999
# The span of sign-ins `check` asks for (`SignIns.recent_query`).
RECENT = timedelta(hours=1)


def sign_in_params(query: SignInQuery) -> MutableMapping[str, Any]:
    """The first page of a sign-in query: its `$filter`, 999 a page."""
    return {"$filter": query.filter(), "$top": PAGE_SIZE}


class NewestFirstProgress:
    """How far a newest-first query has come: the oldest tick seen and the ids emitted at it. The sign-ins' resume
    policy (graph/query.py `ResumePolicy`): after an expired page token the query is sent again behind the oldest
    tick, which holds `query`, the part of the window still to read."""

    def __init__(self, query: SignInQuery, logger: logging.Logger) -> None:
        self.query = query
        self.oldest: Optional[int] = None
        self.ids_at_oldest: set[str] = set()
        self._log = logger

    def admit(self, record: Mapping[str, Any]) -> bool:
        """Note the record as seen and say whether it is new; only ids at the oldest tick can repeat after a restart."""
        ticks = parse_ticks(record[CURSOR_FIELD])
        if self.oldest is None or ticks < self.oldest:
            self.oldest, self.ids_at_oldest = ticks, set()
        elif ticks == self.oldest and record.get("id") in self.ids_at_oldest:
            return False
        if ticks == self.oldest:
            self.ids_at_oldest.add(str(record.get("id")))
        return True

    def rest_of(self, query: SignInQuery) -> SignInQuery:
        """The same query up to the oldest tick seen: Graph has already sent everything newer."""
        if self.oldest is None:
            return query
        return replace(query, window=Window(query.window.first, self.oldest))

    def resumed(self, query: GraphQuery) -> Optional[GraphQuery]:
        self.query = self.rest_of(self.query)
        self._log.info(f"Sign-in page token expired; re-reading the window {self.query.window.describe()}.")
        return None if self.query.window.is_empty() else replace(query, params=sign_in_params(self.query))

    def exhausted(self) -> AirbyteTracedException:
        return AirbyteTracedException(
            message="Microsoft Graph kept expiring the sign-in page token; the window will be read again on the next "
            "sync.",
            failure_type=FailureType.transient_error,
        )


class ApplicationQueries:
    """The application terms a window is read with: all in one `or` clause until Graph refuses `or`, then
    one query per term. Shared by the workers; the switch happens once and is never undone."""

    def __init__(self, app_ids: Sequence[str]) -> None:
        self.matches = tuple(application_matches(app_ids))
        self.split = False
        self._lock = threading.Lock()

    def split_after_refusal(self, log: logging.Logger) -> None:
        """Several workers may meet the refusal at once; one switches and warns."""
        with self._lock:
            if self.split:
                return
            self.split = True
            log.warning(
                "Microsoft Graph refused 'or' in the sign-in filter; reading each application's sign-ins with its "
                f"own query from now on ({len(self.matches)} queries per window)."
            )

    def first_query_of(self, record: Mapping[str, Any], index: int) -> bool:
        """Whether query `index` is the first whose term the record satisfies (only that query emits it)."""
        return not any(match.holds_for(record) for match in self.matches[:index])


class SignIns(GraphStream):
    """GET /v1.0/auditLogs/signIns, filtered in Graph by window and application, 999 per page."""

    name = "sign_ins"
    collection = "auditLogs/signIns"
    resume_note = RESUME_NOTE
    cursor_field = CURSOR_FIELD
    limits = SIGN_IN_LOG_LIMITS
    state_checkpoint_interval = None
    event_type: Optional[str] = None  # v1.0 has interactive sign-ins only, and no signInEventTypes to filter on

    def __init__(self, config: ConnectorConfig, *args: Any, **kwargs: Any) -> None:
        """The arguments are GraphStream's."""
        super().__init__(config, *args, **kwargs)
        self._applications = ApplicationQueries(config.sign_in_app_ids)

    @property
    def supports_incremental(self) -> bool:
        return True

    @property
    def source_defined_cursor(self) -> bool:
        return True

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        """The windows come from the ConcurrentCursor the source attaches (start, lookback, frozen end)."""
        cursor: Optional[Cursor] = getattr(self, "cursor", None)
        if cursor is None or not hasattr(cursor, "stream_slices"):
            raise AirbyteTracedException(
                message=f"The {self.name} stream was built without its window cursor.",
                failure_type=FailureType.system_error,
            )
        yield from cursor.stream_slices()  # type: ignore[call-arg]

    def window_query(self, stream_slice: Mapping[str, Any]) -> SignInQuery:
        """Every application's query for a cursor window `{"start", "end"}`."""
        window = Window.half_open(parse_instant(stream_slice["start"]), parse_instant(stream_slice["end"]))
        return SignInQuery(window, self._applications.matches, self.event_type)

    def query_of(self, stream_slice: Mapping[str, Any]) -> GraphQuery:
        """Every application's query for a cursor window, as Graph is asked it (the density probe sends it)."""
        return self.graph_query(self.window_query(stream_slice))

    def graph_query(self, query: SignInQuery, progress: Optional[NewestFirstProgress] = None) -> GraphQuery:
        """A sign-in query as Graph is asked it: Graph may refuse its filter on the first page (an `or`, a start past
        retention), and it resumes behind the oldest tick after an expired page token (`progress`)."""
        return self.query(sign_in_params(query), first_refusals=(filter_refusal,), resume=progress)

    def recent_query(self, now: datetime, first_term_only: bool = False) -> GraphQuery:
        """The last hour of sign-ins as a sync asks for a window, narrowed to one record: what `check` sends. With
        `first_term_only`, the first application's term alone, as a sync reads once Graph has refused `or`."""
        matches = self._applications.matches[:1] if first_term_only else self._applications.matches
        query = SignInQuery(Window.half_open(now - RECENT, now), matches, self.event_type)
        return self.graph_query(query).narrowed()

    def combines_applications(self) -> bool:
        """Whether a window's query names several applications in one `or` (which Graph might refuse)."""
        return len(self._applications.matches) > 1

    def slice_records(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """The window in one `or` query while Graph takes it, in one query per term once Graph has refused `or`."""
        query = self.window_query(stream_slice)
        done = False
        if not self._applications.split:
            done = yield from self._read_combined(query)
        if not done:
            yield from self._read_split(query.window)
        self._report_concealed(query.window)

    def _read_combined(self, query: SignInQuery) -> Generator[Mapping[str, Any], None, bool]:
        """Every application in one query; False when Graph refuses its `or`. Graph judges a filter on a query's
        first request, so nothing of the window has been emitted then."""
        refusal = yield from self._read_query(query)
        if refusal is None:
            return True
        if not query.combines_applications():
            raise refusal.explained()
        self._applications.split_after_refusal(self._log)
        return False

    def _read_split(self, window: Window) -> Iterator[Mapping[str, Any]]:
        """One query per (field, application) term; a sign-in that two queries return is emitted by the first."""
        for index, match in enumerate(self._applications.matches):
            read = self._read_query(SignInQuery(window, (match,), self.event_type))
            refusal = yield from filtered(read, partial(self._applications.first_query_of, index=index))
            if refusal is not None:
                raise refusal.explained()

    def _read_query(self, query: SignInQuery) -> Generator[Mapping[str, Any], None, Optional[FilterRefused]]:
        """One query, newest first, on the road: sent again behind the oldest record seen when a page token expires
        (`NewestFirstProgress`), and started later when Graph refuses its start as past retention. Only what the query
        asked for is emitted; returns the refusal of its filter that is not about retention, for the caller."""
        progress = NewestFirstProgress(query, self._log)
        retention_retries = 0
        while not progress.query.window.is_empty():
            refusal = yield from self.read_query(
                self.graph_query(progress.query, progress),
                lambda record: self._asked_for(progress.query, record) and self._dropped.has_id(self.name, record),
            )
            if not isinstance(refusal, FilterRefused):
                return None
            later = self._inside_retention(progress.query, refusal, retention_retries)
            if later is None:
                return refusal
            progress.query = later
            retention_retries += 1
        return None

    def _asked_for(self, query: SignInQuery, record: Mapping[str, Any]) -> bool:
        reason = query.rejects(record)
        if reason is not None:
            self._dropped.drop(self.name, reason)
        return reason is None

    def _inside_retention(self, query: SignInQuery, refusal: FilterRefused, attempt: int) -> Optional[SignInQuery]:
        """The query started just inside Entra's retention, when that is what Graph refused; None otherwise."""
        first = start_inside_retention(query.window.first, refusal.graph_now, attempt)
        if not reaches_past_retention(query.window.first, refusal.graph_now) or first is None:
            return None
        self._log.warning(
            f"Microsoft Graph refused sign-ins from {format_ticks(query.window.first)} on ({refusal.message or 'HTTP 400'}): "
            f"that is past Entra's retention by Graph's clock. Reading this window from {format_ticks(first)} instead; "
            "older sign-ins can no longer be read."
        )
        return replace(query, window=Window(first, query.window.last))

    def _report_concealed(self, window: Window) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(
                f"{self.name}: skipped {skipped} sign-ins with a concealed userPrincipalName in {window.describe()}."
            )


class NonInteractiveSignIns(SignIns):
    """GET /beta/auditLogs/signIns for `nonInteractiveUser` sign-ins (token refreshes, apps acting for a signed-in
    user): only Graph beta exposes them, and beta is not covered by Microsoft's production support. Same windows,
    lookback, application filter and guards as `sign_ins`, its own state, and the same request budget."""

    name = "non_interactive_sign_ins"
    covered_as = SignIns.name
    api_version = "beta"
    event_type = "nonInteractiveUser"


# check's warning when a config leaves the sign-in log out (the tenant has no Entra ID P1/P2).
SIGN_IN_LOG_LEFT_OUT = (
    "The sign-in log is left out (include_sign_in_log is off): the sign_ins and non_interactive_sign_ins streams are "
    "not offered and users are read without signInActivity, so the answer shows who holds which Dynamics 365 "
    "license but not who used it. Microsoft Entra ID P1 or P2 is missing for that; turn the setting on once the "
    "tenant has it."
)


def sign_in_kinds(config: ConnectorConfig) -> list[type[SignIns]]:
    """The sign-in streams a config offers: none when the sign-in log is left out (no Entra ID P1/P2), beta's
    non-interactive sign-ins only when opted in. A sync reads these and `check` probes these."""
    if not config.include_sign_in_log:
        return []
    return [SignIns, NonInteractiveSignIns] if config.include_non_interactive_sign_ins else [SignIns]
