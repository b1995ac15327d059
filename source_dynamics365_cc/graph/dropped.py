"""Records Graph should not have sent: dropped, counted, and reported once per sync.

Graph has been reported to ignore a `$filter` clause on signIns and answer with rows the query did
not ask for, and a record can come without the field the connector keys on. Such a record is never
emitted, so it can neither reach a destination nor move the cursor. The streams count each drop
here (from several worker threads), and the source writes one warning per stream and reason when
the sync ends, naming the clause Graph ignored.
"""

import logging
import threading
from collections import Counter
from typing import Any, Mapping

# Why a record is dropped, as named in the sync's warning: the sign-in query's check (signins/query.py) returns
# the first four, the users stream the last.
OUTSIDE_WINDOW = "window"
OTHER_APPLICATION = "application"
OTHER_EVENT_TYPE = "event_type"
NO_INSTANT = "instant"
NO_ID = "id"
AFTERWORD = "They were not emitted and did not move the cursor."
# One sentence per reason, quoted as they stand in the docs' troubleshooting (a test holds the two together).
DROPPED = {
    OUTSIDE_WINDOW: (
        "{stream}: dropped {count} records outside the createdDateTime window their query asked for: Microsoft "
        "Graph ignored the 'createdDateTime ge/le' clause of the $filter. " + AFTERWORD
    ),
    OTHER_APPLICATION: (
        "{stream}: dropped {count} records of applications their query did not ask for: Microsoft Graph ignored "
        "the 'appId eq'/'resourceId eq' clause of the $filter. " + AFTERWORD
    ),
    OTHER_EVENT_TYPE: (
        "{stream}: dropped {count} records of other sign-in event types than their query asked for: Microsoft "
        "Graph ignored the 'signInEventTypes/any(...)' clause of the $filter. " + AFTERWORD
    ),
    NO_INSTANT: (
        "{stream}: dropped {count} records without a valid createdDateTime (a UTC timestamp): they cannot be "
        "placed in a window. " + AFTERWORD
    ),
    NO_ID: "{stream}: dropped {count} records without an id: they cannot be told apart. " + AFTERWORD,
}


class DroppedRecords:
    """Thread-safe counts of dropped records per (stream, reason)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def drop(self, stream: str, reason: str) -> None:
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
        return [DROPPED[reason].format(stream=stream, count=count) for (stream, reason), count in counts]

    def report(self, logger: logging.Logger) -> None:
        for warning in self.warnings():
            logger.warning(warning)
