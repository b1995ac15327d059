"""Graph timestamps, at two precisions: 100-ns ticks for filters and checks, datetimes for the cursor.

Graph keeps and compares `createdDateTime` to 7 fractional digits (100 ns). Filters, window checks and
the restart of a window after an expired page token therefore work in integer ticks, so no sign-in
that shares a microsecond with another is lost or read twice. The CDK's ConcurrentCursor and the
saved state work in Python datetimes (microseconds): a record's instant is truncated, which moves
the cursor earlier, never later, so rounding can only cause a re-read, never a gap.
"""

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    DateTimeStreamStateConverter,
)

INSTANT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)?$")
TICKS_PER_MICROSECOND = 10
TICK_DIGITS = 7
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)
# Each record's createdDateTime is parsed several times in a row (the query check, window progress, the
# CDK's cursor) by the same worker: a small cache makes the repeats lookups. Results are immutable.
PARSED_CACHE_SIZE = 4096


def parse_instant(text: Any) -> datetime:
    """A UTC datetime from Graph's `2026-11-20T10:00:00.1234567Z` (truncated to microseconds); ValueError otherwise."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    return _parse_text(str(text))[0]


def parse_ticks(text: Any) -> int:
    """The instant in 100-ns ticks since 1970, every digit Graph sent kept; ValueError on anything else."""
    if isinstance(text, datetime):
        return ticks_of(text)
    return _parse_text(str(text))[1]


@lru_cache(maxsize=PARSED_CACHE_SIZE)
def _parse_text(text: str) -> tuple[datetime, int]:
    """Built field by field: `strptime` costs several microseconds a call, on every record."""
    match = INSTANT.match(text)
    if not match:
        raise ValueError(f"not a UTC timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, _ = match.groups()
    digits = (fraction or "")[:TICK_DIGITS].ljust(TICK_DIGITS, "0")
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), int(digits[:6]), tzinfo=timezone.utc
    )
    return moment, ticks_of(moment) + int(digits[6])


def ticks_of(moment: datetime) -> int:
    """A datetime in 100-ns ticks since 1970 (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // MICROSECOND * TICKS_PER_MICROSECOND


def format_ticks(ticks: int) -> str:
    """The unquoted UTC literal for an instant in ticks, with as many of the 7 digits as it needs."""
    micros, tick = divmod(ticks, TICKS_PER_MICROSECOND)
    moment = EPOCH + micros * MICROSECOND
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}{tick}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def format_instant(moment: datetime) -> str:
    """The unquoted UTC literal Graph's `$filter` accepts (and the form state is saved in)."""
    return format_ticks(ticks_of(moment.astimezone(timezone.utc)))


class GraphInstantStateConverter(DateTimeStreamStateConverter):
    """Lets the CDK's ConcurrentCursor read and write `createdDateTime` exactly as Graph spells it."""

    _zero_value = "2000-01-01T00:00:00Z"

    def increment(self, timestamp: datetime) -> datetime:
        return timestamp + MICROSECOND

    def parse_timestamp(self, timestamp: Any) -> datetime:
        return parse_instant(timestamp)

    def output_format(self, timestamp: datetime) -> str:
        return format_instant(timestamp)
