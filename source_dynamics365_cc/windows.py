"""The window logic for sign-ins: where a sync starts, where it stops, and how the range is cut.

A sync reads from the saved cursor minus the lookback (late sign-ins land behind the cursor) up to
an end frozen when the sync starts, in windows of `WINDOW` that the CDK's ConcurrentCursor hands
to the workers and merges back into one `{"createdDateTime": ...}` state, which never passes a
window that is not yet fully emitted.
"""

import logging
from datetime import datetime, timedelta
from typing import Any, Mapping

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, CursorField

from .config import ConnectorConfig
from .errors import ConfigError
from .instants import GraphInstantStateConverter, format_instant, parse_instant

CURSOR_FIELD = "createdDateTime"
SLICE_BOUNDARIES = ("start", "end")
MIN_WINDOW = timedelta(hours=1)
WINDOWS_PER_WORKER = 4


def window_size(start: datetime, end: datetime, workers: int) -> timedelta:
    """A few windows per worker: enough to overlap Graph's slow pages, few enough that the partial last
    page of each window (a request the throttle charges in full) costs little."""
    return max(MIN_WINDOW, (end - start) / (WINDOWS_PER_WORKER * workers))


def checked_state(state: Mapping[str, Any], sync_end: datetime) -> Mapping[str, Any]:
    """The stream state if its cursor is a real instant not after now; a clear error otherwise."""
    if not state:
        return {}
    if "state_type" in state:
        return state
    value = state.get(CURSOR_FIELD)
    if value is None:
        raise ConfigError(
            f"The saved state for sign_ins has no '{CURSOR_FIELD}' (it looks like another connector's state: "
            f"{sorted(state)[:5]}). Reset the sign_ins stream to start again."
        )
    try:
        cursor = parse_instant(value)
    except ValueError:
        raise ConfigError(
            f"The saved sign_ins cursor {str(value)[:40]!r} is not a UTC timestamp. Reset the sign_ins stream."
        ) from None
    if cursor > sync_end:
        raise ConfigError(
            f"The saved sign_ins cursor {format_instant(cursor)} lies in the future (now is {format_instant(sync_end)}). "
            "Reset the sign_ins stream, or check the clock of the machine that wrote the state."
        )
    return {CURSOR_FIELD: format_instant(cursor)}


def sign_in_cursor(
    stream: Stream,
    config: ConnectorConfig,
    state_manager: ConnectorStateManager,
    message_repository: MessageRepository,
    sync_end: datetime,
    logger: logging.Logger,
) -> ConcurrentCursor:
    state = checked_state(state_manager.get_stream_state(stream.name, stream.namespace), sync_end)
    _warn_if_behind_retention(state, config, logger)
    first = (
        max(config.start, parse_instant(state[CURSOR_FIELD]) - config.lookback)
        if CURSOR_FIELD in state
        else config.start
    )
    return ConcurrentCursor(
        stream_name=stream.name,
        stream_namespace=stream.namespace,
        stream_state=dict(state),
        message_repository=message_repository,
        connector_state_manager=state_manager,
        connector_state_converter=GraphInstantStateConverter(is_sequential_state=True),
        cursor_field=CursorField(CURSOR_FIELD),
        slice_boundary_fields=SLICE_BOUNDARIES,
        start=config.start,
        end_provider=lambda: sync_end,
        lookback_window=config.lookback,
        slice_range=window_size(first, sync_end, config.max_concurrency),
    )


def _warn_if_behind_retention(state: Mapping[str, Any], config: ConnectorConfig, logger: logging.Logger) -> None:
    value = state.get(CURSOR_FIELD)
    if value and parse_instant(value) - config.lookback < config.start:
        logger.warning(
            f"The saved sign_ins cursor {value} is older than Microsoft Entra's retention or the start date; "
            f"reading from {format_instant(config.start)}. Sign-ins before that can no longer be read."
        )
