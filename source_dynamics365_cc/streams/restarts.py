"""A directory query read again from its first page when Graph expires its page token, each object emitted once.

Graph's `$skiptoken` for a directory collection expires; the only way on is the query's first page. What a restart
needs is kept while a restart is possible: the ids already emitted, 16 bytes each (`EmittedIds`), forgotten when the
query ends.
"""

import bisect
import hashlib
import logging
import uuid
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

MAX_QUERY_RESTARTS = 5
ID_BYTES = 16
Record = TypeVar("Record")


def object_key(object_id: str) -> bytes:
    """16 bytes per directory object: the GUID Graph keys it on, or a 128-bit digest of an id that is not one."""
    try:
        return uuid.UUID(object_id).bytes
    except ValueError:
        return hashlib.blake2b(object_id.encode("utf-8", "surrogatepass"), digest_size=ID_BYTES).digest()


class EmittedIds:
    """The objects one query has emitted, 16 bytes each, for as long as the query may restart.

    Until a restart nothing is looked up, so ids are only appended. A restart sorts what was emitted into one
    bytes object that is searched by bisection; new ids go on being appended, and a second restart merges them.
    """

    def __init__(self) -> None:
        self._sorted = b""
        self._new = bytearray()

    def __len__(self) -> int:
        return (len(self._sorted) + len(self._new)) // ID_BYTES

    def add(self, key: bytes) -> bool:
        """Record `key` and say whether it is new (emitted before the last restart, or not)."""
        if self._sorted and self._holds(key):
            return False
        self._new += key
        return True

    def restart(self) -> None:
        """The query starts again: from now on every id emitted so far is looked up."""
        ids = self._sorted + self._new
        self._new = bytearray()
        self._sorted = b"".join(sorted(ids[start : start + ID_BYTES] for start in range(0, len(ids), ID_BYTES)))

    def _holds(self, key: bytes) -> bool:
        keys = _SortedKeys(self._sorted)
        index = bisect.bisect_left(keys, key)
        return index < len(keys) and keys[index] == key


class _SortedKeys(Sequence[bytes]):
    """A sorted run of 16-byte keys, seen as a sequence for `bisect`."""

    def __init__(self, run: bytes) -> None:
        self._run = run

    def __len__(self) -> int:
        return len(self._run) // ID_BYTES

    def __getitem__(self, index: Any) -> Any:
        return self._run[index * ID_BYTES : (index + 1) * ID_BYTES]


def restarting(
    read: Callable[[], Iterable[Record]], emitted: EmittedIds, stream: str, logger: logging.Logger
) -> Iterator[Record]:
    """`read()` to its end, called again each time Graph expires the page token, at most `MAX_QUERY_RESTARTS` times.
    `read` must skip what `emitted` already holds: each restart switches `emitted` to lookups."""
    restarts = 0
    while True:
        try:
            yield from read()
            return
        except PaginationResetRequiredException:
            restarts += 1
            if restarts > MAX_QUERY_RESTARTS:
                raise AirbyteTracedException(
                    message=f"Microsoft Graph kept expiring the {stream} page token; the {stream} stream will be read "
                    "again on the next sync.",
                    failure_type=FailureType.transient_error,
                ) from None
            logger.info(
                f"{stream}: the page token expired; reading the query again from its first page, skipping the "
                f"{len(emitted)} already emitted."
            )
            emitted.restart()
