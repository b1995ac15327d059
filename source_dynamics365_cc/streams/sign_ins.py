"""`sign_ins`: the access log, read in createdDateTime windows that the CDK's ConcurrentCursor hands out.

Each window is one stream slice `{"start", "end"}` read with `ge start and lt end`. Graph answers
newest first, so when a page token expires mid-window everything newer than the last record seen
is already out: the window restarts with `le <that instant>` and skips the ids already emitted at
that very instant. Nothing is read twice and nothing is skipped.

The applications are matched in Graph's `$filter` with `or`. Should Graph refuse `or` on signIns
(unconfirmed either way), every window is read as one query per (field, application) term instead,
and a record is emitted only by the first query whose term it satisfies: still no Python-side
filtering of unwanted sign-ins, still no duplicates.
"""

import logging
import threading
from datetime import datetime
from typing import Any, Generator, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Sequence

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.checkpoint import Cursor
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import ConnectorConfig
from ..errors import OrFilterRefused, refuses_or
from ..instants import format_instant, parse_instant
from ..odata import Match, application_matches, sign_in_filter
from .graph import GraphStream

PAGE_SIZE = 999
MAX_WINDOW_RESTARTS = 5


class WindowProgress:
    """How far a newest-first window has come: the oldest instant seen and the ids emitted at it."""

    def __init__(self) -> None:
        self.oldest: Optional[datetime] = None
        self.ids_at_oldest: set[str] = set()

    def is_new(self, record: Mapping[str, Any]) -> bool:
        """Record it and say whether it is new; only ids at the oldest instant can repeat after a restart."""
        instant = parse_instant(record.get("createdDateTime"))
        if self.oldest is None or instant < self.oldest:
            self.oldest, self.ids_at_oldest = instant, set()
        elif instant == self.oldest and record.get("id") in self.ids_at_oldest:
            return False
        if instant == self.oldest:
            self.ids_at_oldest.add(str(record.get("id")))
        return True


class ApplicationQueries:
    """The application terms a window is read with: all in one `or` clause until Graph refuses `or`, then
    one query per term. Shared by the workers; the switch happens once and is never undone."""

    def __init__(self, app_ids: Sequence[str]) -> None:
        self.matches = application_matches(app_ids)
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

    def for_query(self, index: Optional[int]) -> Sequence[Match]:
        """`None`: the combined query; an index: that single term."""
        return self.matches if index is None else self.matches[index : index + 1]

    def first_query_of(self, record: Mapping[str, Any], index: int) -> bool:
        """Whether query `index` is the first whose term the record satisfies (only that query emits it)."""
        return not any(match.holds_for(record) for match in self.matches[:index])


class SignIns(GraphStream):
    """GET /v1.0/auditLogs/signIns, filtered in Graph by window and application, 999 per page."""

    name = "sign_ins"
    cursor_field = "createdDateTime"
    state_checkpoint_interval = None

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

    def collection_path(self) -> str:
        return "auditLogs/signIns"

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        """The windows come from the ConcurrentCursor the source attaches (start, lookback, frozen end)."""
        cursor: Optional[Cursor] = getattr(self, "cursor", None)
        if cursor is None or not hasattr(cursor, "stream_slices"):
            raise AirbyteTracedException(
                message="The sign_ins stream was built without its window cursor.",
                failure_type=FailureType.system_error,
            )
        yield from cursor.stream_slices()  # type: ignore[call-arg]

    def first_page_params(self, stream_slice: Mapping[str, Any]) -> MutableMapping[str, Any]:
        start = parse_instant(stream_slice["start"])
        end = parse_instant(stream_slice["end"])
        end_inclusive = bool(stream_slice.get("end_inclusive"))
        matches = self._applications.for_query(stream_slice.get("query"))
        return {"$filter": sign_in_filter(start, end, matches, end_inclusive), "$top": PAGE_SIZE}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """The window in one `or` query while Graph takes it, in one query per term once Graph has refused `or`."""
        window = dict(stream_slice or {})
        done = False
        if not self._applications.split:
            done = yield from self._read_combined(sync_mode, window)
        if not done:
            yield from self._read_split(sync_mode, window)
        self._report_concealed(window)

    def _read_combined(
        self, sync_mode: SyncMode, window: Mapping[str, Any]
    ) -> Generator[Mapping[str, Any], None, bool]:
        """Every application in one query; False when Graph refuses its `or`. Graph judges a filter on a query's
        first request, so nothing of the window has been emitted then."""
        try:
            yield from self._read_query(sync_mode, window)
        except OrFilterRefused:
            self._applications.split_after_refusal(self._log)
            return False
        return True

    def _read_split(self, sync_mode: SyncMode, window: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """One query per (field, application) term; a sign-in that two queries return is emitted by the first."""
        for index in range(len(self._applications.matches)):
            for record in self._read_query(sync_mode, {**window, "query": index}):
                if self._applications.first_query_of(record, index):
                    yield record

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        if refuses_or(response):  # let through by the error handler, which fails every other 400
            raise OrFilterRefused()
        yield from super().parse_response(response, **kwargs)

    def _read_query(self, sync_mode: SyncMode, window: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """One query of a window, newest first, restarted behind the oldest record seen when a page token expires."""
        progress = WindowProgress()
        for _ in range(MAX_WINDOW_RESTARTS + 1):
            try:
                for record in super().read_records(sync_mode, stream_slice=window):
                    if progress.is_new(record):
                        yield record
                return
            except PaginationResetRequiredException:
                window = self._rest_of_window(window, progress)
                self._log.info(
                    f"Sign-in page token expired; re-reading the window {window['start']} .. {window['end']}."
                )
        raise AirbyteTracedException(
            message="Microsoft Graph kept expiring the sign-in page token; the window will be read again on the next sync.",
            failure_type=FailureType.transient_error,
        )

    @staticmethod
    def _rest_of_window(window: Mapping[str, Any], progress: WindowProgress) -> dict[str, Any]:
        if progress.oldest is None:
            return dict(window)
        return {**window, "end": format_instant(progress.oldest), "end_inclusive": True}

    def _report_concealed(self, window: Mapping[str, Any]) -> None:
        skipped = self._concealed.take_count()
        if skipped:
            self._log.info(
                f"Skipped {skipped} sign-ins with a concealed userPrincipalName in {window['start']} .. {window['end']}."
            )
