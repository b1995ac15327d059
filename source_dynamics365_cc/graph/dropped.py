"""Records Graph should not have sent: dropped, counted, and reported once per sync.

Graph has been reported to ignore a `$filter` clause and answer with rows the query did not ask
for, and a record can come without the field the connector keys on. Such a record is never
emitted, so it can neither reach a destination nor move the cursor. The streams count each drop
here (from several worker threads), and the source writes one warning per stream and reason when
the sync ends, in the words of the stream that tells the reason.
"""

import logging
import threading
from collections import Counter
from typing import Any, Mapping

AFTERWORD = "They were not emitted and did not move the cursor."


class DropReason(str):
    """Why a record is dropped: its short name (which orders the warnings), carrying the sentence the sync's warning
    says, with `{stream}` and `{count}` to fill in. The stream whose query tells the reason words it
    (signins/query.py for the clauses of a sign-in `$filter`); a record without an id is every stream's concern, so
    it is worded here."""

    sentence: str

    def __new__(cls, name: str, sentence: str) -> "DropReason":
        reason = super().__new__(cls, name)
        reason.sentence = sentence
        return reason


NO_ID = DropReason("id", "{stream}: dropped {count} records without an id: they cannot be told apart. " + AFTERWORD)


class DroppedRecords:
    """Thread-safe counts of dropped records per (stream, reason)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, DropReason]] = Counter()
        self._lock = threading.Lock()

    def drop(self, stream: str, reason: DropReason) -> None:
        with self._lock:
            self._counts[(stream, reason)] += 1

    def has_id(self, stream: str, record: Mapping[str, Any]) -> bool:
        """Whether the record carries an id; one without cannot be told apart from another (nor recognised again
        after a restart), so it is counted here and must not be emitted."""
        record_id = record.get("id")
        if isinstance(record_id, str) and record_id:
            return True
        self.drop(stream, NO_ID)
        return False

    def warnings(self) -> list[str]:
        """One sentence per stream and reason, in a stable order."""
        with self._lock:
            counts = sorted(self._counts.items())
        return [reason.sentence.format(stream=stream, count=count) for (stream, reason), count in counts]

    def report(self, logger: logging.Logger) -> None:
        for warning in self.warnings():
            logger.warning(warning)
