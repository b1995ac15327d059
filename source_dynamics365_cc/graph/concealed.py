"""Concealed ("anonymized") user names: 32-character hex stand-ins that must not pass for people."""

import re
import threading
from typing import Any, Iterable, Mapping

CONCEALED_NAME = re.compile(r"^[0-9A-Fa-f]{32}$")


def is_concealed(record: Mapping[str, Any]) -> bool:
    name = record.get("userPrincipalName")
    return isinstance(name, str) and CONCEALED_NAME.match(name) is not None


class ConcealedUserFilter:
    """Drops concealed records when asked to, and counts them so the sync can say how many (thread-safe)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._skipped = 0

    def keep(self, records: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        if not self.enabled:
            yield from records
            return
        skipped = 0
        for record in records:
            if is_concealed(record):
                skipped += 1
            else:
                yield record
        if skipped:
            with self._lock:
                self._skipped += skipped

    def take_count(self) -> int:
        """How many were skipped since the last call."""
        with self._lock:
            count, self._skipped = self._skipped, 0
        return count
