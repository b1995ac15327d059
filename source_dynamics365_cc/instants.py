"""Graph timestamps: parse 0-7 fractional digits, format filter literals, and the cursor's state converter.

Python keeps microseconds; Graph sends up to 100-nanosecond digits. Truncating a record's time moves
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
# Each record's createdDateTime is parsed twice in a row (window progress, then the CDK's cursor) by the
# same worker: a small cache makes the second parse a lookup. Datetimes are immutable, so sharing is safe.
PARSED_CACHE_SIZE = 4096


def parse_instant(text: Any) -> datetime:
    """A UTC datetime from Graph's `2026-11-20T10:00:00.1234567Z`; raises ValueError on anything else."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=timezone.utc)
    return _parse_text(str(text))


@lru_cache(maxsize=PARSED_CACHE_SIZE)
def _parse_text(text: str) -> datetime:
    """Built field by field: `strptime` costs several microseconds a call, on every record."""
    match = INSTANT.match(text)
    if not match:
        raise ValueError(f"not a UTC timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, _ = match.groups()
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=timezone.utc)


def format_instant(moment: datetime) -> str:
    """The unquoted UTC literal Graph's `$filter` accepts (and the form state is saved in)."""
    moment = moment.astimezone(timezone.utc)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{moment.microsecond:06d}Z" if moment.microsecond else f"{base}Z"


class GraphInstantStateConverter(DateTimeStreamStateConverter):
    """Lets the CDK's ConcurrentCursor read and write `createdDateTime` exactly as Graph spells it."""

    _zero_value = "2000-01-01T00:00:00Z"

    def increment(self, timestamp: datetime) -> datetime:
        return timestamp + timedelta(microseconds=1)

    def parse_timestamp(self, timestamp: Any) -> datetime:
        return parse_instant(timestamp)

    def output_format(self, timestamp: datetime) -> str:
        return format_instant(timestamp)
