"""Deterministic primitives: a 64-bit mixer, GUIDs from hashes, and Graph's timestamp format.

Records are never stored: record i is a pure function of (seed, i), so a 1,000,000-row tenant
costs no memory and any page can be rebuilt in O(page) time.
"""

from __future__ import annotations

import datetime as dt
import re
import time

M64 = (1 << 64) - 1
TICKS = 10_000_000  # 100 ns ticks per second: Graph prints up to 7 fractional digits


def mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def guid(a: int, b: int) -> str:
    """A version-4-looking GUID built from two 64-bit hashes."""
    h = f"{a & M64:016x}{b & M64:016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def format_ticks(ticks: int) -> str:
    """UTC ticks -> '2026-11-20T10:00:00.1234567Z', trailing zeros of the fraction dropped."""
    secs, frac = divmod(ticks, TICKS)
    t = time.gmtime(secs)
    base = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if not frac:
        return base + "Z"
    return base + "." + f"{frac:07d}".rstrip("0") + "Z"


_LITERAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?Z$")


def parse_ticks(text: str) -> int | None:
    """Parse an unquoted OData UTC literal (0-7 fractional digits) to ticks; None if malformed."""
    m = _LITERAL.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    return int(when.timestamp()) * TICKS + int((frac or "").ljust(7, "0") or 0)


def datetime_to_ticks(when: dt.datetime) -> int:
    """Aware datetime -> ticks (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * TICKS + delta.microseconds * 10


def ticks_to_datetime(ticks: int) -> dt.datetime:
    """Ticks -> aware datetime (microsecond precision; the 7th digit is dropped)."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ticks // 10)
