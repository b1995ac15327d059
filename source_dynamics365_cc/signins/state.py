"""The saved sign-in state, checked before a sync trusts it.

This connector saves `{"createdDateTime": <instant>}`. A platform may also hand back a state it did
not write: the CDK's own `date-range` form, another stream's or connector's state, a cursor from a
wrong clock, or one so old (`0001-01-01T00:00:00Z`) that subtracting the lookback overflows.
`checked_state` turns every one of them into the connector's own form, or into a `ConfigError`
that says to reset the stream; never into a traceback in the middle of a sync.
"""

from datetime import datetime
from typing import Any, Mapping, Optional, Sequence

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType

from ..config import RETENTION
from ..errors import ConfigError
from .instants import GraphInstantStateConverter, format_instant, parse_instant
from .query import CURSOR_FIELD

DATE_RANGE = "date-range"
RESET_HINT = "Reset the {stream} stream to start again."


def checked_state(
    state: Optional[Mapping[str, Any]], sync_end: datetime, stream: str = "sign_ins"
) -> Mapping[str, Any]:
    """`{}` (start from the start date) or `{"createdDateTime": ...}` with a real past instant; a clear error
    otherwise. A cursor older than Entra's retention is moved up to it: nothing older can be read anyway, and
    the lookback is then subtracted from a date that cannot overflow."""
    if not state:
        return {}
    if "state_type" in state:
        value: Any = date_range_cursor(state, stream)
        if value is None:
            return {}
    elif CURSOR_FIELD in state:
        value = state[CURSOR_FIELD]
    else:
        raise ConfigError(
            f"The saved state for {stream} has no '{CURSOR_FIELD}' (it looks like another stream's or another "
            f"connector's state: {sorted(map(str, state))[:5]}). {RESET_HINT.format(stream=stream)}"
        )
    cursor = _instant(value, stream)
    if cursor > sync_end:
        raise ConfigError(
            f"The saved {stream} cursor {format_instant(cursor)} lies in the future (now is {format_instant(sync_end)}). "
            f"Reset the {stream} stream, or check the clock of the machine that wrote the state."
        )
    return {CURSOR_FIELD: format_instant(max(cursor, sync_end - RETENTION))}


def fresh_start_notice(
    state: Optional[Mapping[str, Any]], sync_end: datetime, stream: str = "sign_ins"
) -> Optional[str]:
    """The warning for a saved state that holds nothing to continue from (a date-range with no finished range),
    or `None`: a silent fresh start would read like the platform losing the state."""
    if state and not checked_state(state, sync_end, stream):
        return f"The saved {stream} state holds no finished time range; reading sign-ins from the start date."
    return None


def legacy_state_notices(messages: Sequence[AirbyteStateMessage]) -> list[str]:
    """A warning per stream named in a LEGACY state message (Airbyte's old whole-connector form), five at most: the
    CDK ignores such a message without a word, which would read like the platform losing the state."""
    names = [
        str(name)[:80] for message in messages if message.type == AirbyteStateType.LEGACY for name in message.data or {}
    ]
    return [
        f"The saved state for {name} is in Airbyte's LEGACY form, which this connector does not read: it is ignored and "
        f"{name} is read as if it had no state. Reset the connection's state so that the next sync saves it per stream."
        for name in names[:5]
    ]


def date_range_cursor(state: Mapping[str, Any], stream: str = "sign_ins") -> Optional[Any]:
    """The instant up to which a CDK `date-range` state says every sign-in was read, as the CDK itself reads
    it (the first merged slice's most recent record, else its start); `None` when no slice was finished."""
    if state.get("state_type") != DATE_RANGE:
        raise ConfigError(
            f"The saved {stream} state has the type {str(state.get('state_type'))[:40]!r}, which this connector "
            f"does not use. {RESET_HINT.format(stream=stream)}"
        )
    slices = state.get("slices")
    if slices is None or slices == []:
        return None
    if not isinstance(slices, list) or not all(isinstance(item, Mapping) for item in slices):
        raise ConfigError(
            f"The saved {stream} state has a 'slices' value that is not a list of ranges. "
            + RESET_HINT.format(stream=stream)
        )
    parsed = [_slice(item, stream) for item in slices]
    first = GraphInstantStateConverter().merge_intervals(parsed)[0]
    return first.get("most_recent_cursor_value") or first["start"]


def _slice(item: Mapping[str, Any], stream: str) -> dict[str, datetime]:
    """One `{"start", "end"[, "most_recent_cursor_value"]}` range of a date-range state, as instants."""
    parsed = {key: _instant(item.get(key), stream) for key in ("start", "end")}
    if "most_recent_cursor_value" in item and item["most_recent_cursor_value"] is not None:
        parsed["most_recent_cursor_value"] = _instant(item["most_recent_cursor_value"], stream)
    if parsed["start"] > parsed["end"]:
        raise ConfigError(
            f"The saved {stream} state has a range that ends before it starts. " + RESET_HINT.format(stream=stream)
        )
    return parsed


def _instant(value: Any, stream: str) -> datetime:
    try:
        return parse_instant(value)
    except ValueError:
        raise ConfigError(
            f"The saved {stream} cursor {str(value)[:40]!r} is not a UTC timestamp. Reset the {stream} stream."
        ) from None
