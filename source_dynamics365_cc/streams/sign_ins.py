"""`sign_ins`: the access log, read in createdDateTime windows that the CDK's ConcurrentCursor hands out.

Each window is one stream slice `{"start", "end"}` read with `ge start and lt end`. Graph answers
newest first, so when a page token expires mid-window everything newer than the last record seen
is already out: the window restarts with `le <that instant>` and skips the ids already emitted at
that very instant. Nothing is read twice and nothing is skipped.
"""

from datetime import datetime
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.checkpoint import Cursor
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..instants import format_instant, parse_instant
from ..odata import sign_in_filter
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


class SignIns(GraphStream):
    """GET /v1.0/auditLogs/signIns, filtered in Graph by window and application, 999 per page."""

    name = "sign_ins"
    cursor_field = "createdDateTime"
    state_checkpoint_interval = None

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
        return {"$filter": sign_in_filter(start, end, self._config.sign_in_app_ids, end_inclusive), "$top": PAGE_SIZE}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        window = dict(stream_slice or {})
        progress = WindowProgress()
        for _ in range(MAX_WINDOW_RESTARTS + 1):
            try:
                for record in super().read_records(sync_mode, cursor_field, window, stream_state):
                    if progress.is_new(record):
                        yield record
                break
            except PaginationResetRequiredException:
                window = self._rest_of_window(window, progress)
                self._log.info(
                    f"Sign-in page token expired; re-reading the window {window['start']} .. {window['end']}."
                )
        else:
            raise AirbyteTracedException(
                message="Microsoft Graph kept expiring the sign-in page token; the window will be read again on the next sync.",
                failure_type=FailureType.transient_error,
            )
        self._report_concealed(window)

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
