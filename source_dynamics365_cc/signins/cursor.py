"""The sign-in cursor: where a sync starts, where it stops, and the state it writes.

A sync reads from the saved cursor minus the lookback (late sign-ins land behind the cursor) up to
an end frozen when the sync starts, in windows (sized by windows.py) that the CDK's ConcurrentCursor
hands to the workers and merges back into one `{"createdDateTime": ...}` state per sign-in stream,
which never passes a window that is not yet fully emitted.
"""

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Optional

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, CursorField
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record, StreamSlice

from ..config import ConnectorConfig
from ..graph.progress import ReadProgress
from ..graph.stream import GraphStream
from .density import RangeProbe
from .instants import GraphInstantStateConverter, format_instant, parse_instant
from .query import CURSOR_FIELD
from .state import checked_state
from .windows import WindowSizer

SLICE_BOUNDARIES = (START_KEY, END_KEY) = ("start", "end")


class SignInWindowCursor(ConcurrentCursor):
    """The CDK's ConcurrentCursor (state format, merging of finished windows) with two changes.

    The window length is chosen only when the slices are generated, i.e. when a read starts. And the
    lookback is applied here, once, by cutting the saved state's finished ranges at this sync's first
    instant (the saved cursor minus the lookback): a window that finishes early can then join the saved
    range only after every window before it has finished, so the state never passes an unfinished
    lookback window, however the sync ends.
    """

    def __init__(
        self,
        sizer: WindowSizer,
        progress: ReadProgress,
        earliest: datetime,
        lookback: timedelta,
        sync_end: datetime,
        **kwargs: Any,
    ) -> None:
        """`sync_end` is the end frozen at the start of the sync; the other keywords are ConcurrentCursor's."""
        super().__init__(end_provider=lambda: sync_end, **kwargs)
        self._sync_end = sync_end
        self._sizer = sizer
        self._progress = progress
        self.first = max(earliest, self.start - lookback)
        saved = self._concurrent_state.get("slices") or []
        self._concurrent_state["slices"] = finished_before(saved, earliest, self.first)

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._slice_range = self._sizer(self.first)
        windows = list(super().stream_slices())
        self._progress.start(len(windows))
        newest = self._sizer.newest
        if newest is not None:  # each window's expected count, to refine the estimate as windows finish
            self._progress.expect(
                {
                    window_key(window): newest.records_in(
                        parse_instant(window[START_KEY]), parse_instant(window[END_KEY]), self._sync_end
                    )
                    for window in windows
                }
            )
        yield from windows

    def observe(self, record: Record) -> None:
        super().observe(record)
        self._progress.record(window_key(record.associated_slice))

    def close_partition(self, partition: Partition) -> None:
        super().close_partition(partition)
        self._progress.window_done(window_key(partition.to_slice()))


def window_key(window: Optional[Mapping[str, Any]]) -> Optional[tuple[str, str]]:
    """A window's (start, end) as its slice carries them: the key progress.py counts its records under."""
    return (str(window[START_KEY]), str(window[END_KEY])) if window else None


def finished_before(slices: list[dict[str, Any]], earliest: datetime, first: datetime) -> list[dict[str, Any]]:
    """The saved finished ranges that begin by `first`, each ending there at the latest (or [earliest, first] when
    none does). A range's most recent cursor value is kept, so the state written before any window finishes is
    the saved one, never an earlier one."""
    kept = [{**piece, END_KEY: min(piece[END_KEY], first)} for piece in slices if piece[START_KEY] <= first]
    return kept or [{START_KEY: earliest, END_KEY: first}]


def sign_in_cursor(
    stream: GraphStream,
    config: ConnectorConfig,
    state_manager: ConnectorStateManager,
    message_repository: MessageRepository,
    sync_end: datetime,
    logger: logging.Logger,
    in_full: bool,
    monotonic: Callable[[], float],
) -> ConcurrentCursor:
    """The stream's window cursor from its saved state; `in_full` (the catalog asks for full refresh) ignores that
    state: a full refresh replaces the destination's table, so it must read everything from the start date. Its
    progress is timed on `monotonic`, the runtime's clock (the one its pacers wait on)."""
    saved = {} if in_full else state_manager.get_stream_state(stream.name, stream.namespace)
    state = checked_state(saved, sync_end, stream.name)
    _warn_if_behind_retention(stream.name, state, config, logger)
    progress = ReadProgress(stream.name, stream.namespace, message_repository, logger, monotonic)
    return SignInWindowCursor(
        sizer=WindowSizer(sync_end, config, RangeProbe(stream), logger, on_estimate=progress.estimate),
        progress=progress,
        earliest=config.start,
        lookback=config.lookback,
        stream_name=stream.name,
        stream_namespace=stream.namespace,
        stream_state=dict(state),
        message_repository=message_repository,
        connector_state_manager=state_manager,
        connector_state_converter=GraphInstantStateConverter(is_sequential_state=True),
        cursor_field=CursorField(CURSOR_FIELD),
        slice_boundary_fields=SLICE_BOUNDARIES,
        start=config.start,
        sync_end=sync_end,
    )


def _warn_if_behind_retention(
    stream: str, state: Mapping[str, Any], config: ConnectorConfig, logger: logging.Logger
) -> None:
    value = state.get(CURSOR_FIELD)
    if value and parse_instant(value) - config.lookback < config.start:
        logger.warning(
            f"The saved {stream} cursor {value} is older than Microsoft Entra's retention or the start date; "
            f"reading from {format_instant(config.start)}. Sign-ins before that can no longer be read."
        )
