"""The wall clock, in a module of its own so that every package may read it without importing another."""

from datetime import datetime, timezone


def utc_now() -> datetime:
    """The wall clock, read here and nowhere else (runtime.Runtime hands it on; tests pass their own)."""
    return datetime.now(timezone.utc)
