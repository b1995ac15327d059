"""Each directory object emitted at most once per sync, and a query read again from its first page when Graph
expires its page token.

`users` and `groups` read several queries in a sync (one per Dynamics 365 SKU); a query may be read again from its
first page (Graph's `$skiptoken` for a directory collection expires, and the first page is the only way on), and
Graph may list an object twice. Whichever query first returns an object emits it; every later sighting, in any
query, restart or fallback, is skipped. `EmittedIds` is what that takes: the ids the stream emitted in this sync,
16 bytes each, always looked up, forgotten when the stream's read ends.

So a directory stream resumes nothing: a sync that fails reads it again in full, and only the sign-in streams resume
from their saved state. `RESUME_NOTE` says so at the end of every failure that asks for another sync.
"""

import hashlib
import logging
import uuid
from array import array
from bisect import bisect_left
from typing import Any, Mapping

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..graph.query import GraphQuery

# Only the sign-in streams keep a cursor; a full-refresh stream cannot resume (Graph's page tokens expire).
RESUME_NOTE = (
    "sign_ins and non_interactive_sign_ins resume from their last saved state; users, subscribed_skus and groups are "
    "read again in full."
)
ID_BYTES = 16
# How many new ids wait in a set before they join the sorted run: about 300 KiB, and a merge per 4,096 ids.
MERGE_EVERY = 4096
_LOW = (1 << 64) - 1


def object_key(object_id: str) -> int:
    """128 bits per directory object: the GUID Graph keys it on, or a 128-bit digest of an id that is not one."""
    try:
        return uuid.UUID(object_id).int
    except ValueError:
        digest = hashlib.blake2b(object_id.encode("utf-8", "surrogatepass"), digest_size=ID_BYTES).digest()
        return int.from_bytes(digest, "big")


class EmittedIds:
    """The objects a stream has emitted in this sync, 16 bytes each.

    Every id is looked up, so an object is emitted once whatever Graph lists twice and however often a query is
    read again. The ids are kept as one sorted run, split into two arrays of 64-bit halves (searched by bisection
    in C), plus a set of the newest ids, which joins the run every `MERGE_EVERY` ids in place: the run moves up
    stretch by stretch, so a merge never holds a second copy of it.
    """

    def __init__(self) -> None:
        self._high = array("Q")
        self._low = array("Q")
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return len(self._high) + len(self._recent)

    def add(self, object_id: str) -> bool:
        """Record the object and say whether this is the first time the stream sees it in this sync."""
        key = object_key(object_id)
        if key in self._recent or self._holds(key):
            return False
        self._recent.add(key)
        if len(self._recent) >= MERGE_EVERY:
            self._merge()
        return True

    def _place(self, key: int) -> int:
        """Where `key` is, or would go, in the sorted run."""
        high, low = key >> 64, key & _LOW
        index = bisect_left(self._high, high)
        while index < len(self._high) and self._high[index] == high and self._low[index] < low:
            index += 1
        return index

    def _holds(self, key: int) -> bool:
        index = self._place(key)
        return index < len(self._high) and self._high[index] == key >> 64 and self._low[index] == key & _LOW

    def _merge(self) -> None:
        """The recent ids join the run, last first: the stretch of the run above each moves up by the number of
        ids that go at or below it (one memmove each), and the id goes in below it."""
        keys = sorted(self._recent)
        places = [self._place(key) for key in keys]
        end = len(self._high)
        room = bytes(8 * len(keys))
        self._high.frombytes(room)
        self._low.frombytes(room)
        with memoryview(self._high) as high, memoryview(self._low) as low:
            for shift in range(len(keys), 0, -1):
                key, place = keys[shift - 1], places[shift - 1]
                high[place + shift : end + shift] = high[place:end]
                low[place + shift : end + shift] = low[place:end]
                high[place + shift - 1], low[place + shift - 1] = key >> 64, key & _LOW
                end = place
        self._recent.clear()


class FromFirstPage:
    """The directory's resume policy (graph/query.py `ResumePolicy`): after an expired page token the query is sent
    again from its first page (the only way on), and `emitted`, the stream's ids of the whole sync, keeps out what
    was already emitted, by this query or any other."""

    def __init__(self, emitted: EmittedIds, stream: str, logger: logging.Logger) -> None:
        self._emitted = emitted
        self._stream = stream
        self._log = logger

    def admit(self, record: Mapping[str, Any]) -> bool:
        return self._emitted.add(record["id"])

    def resumed(self, query: GraphQuery) -> GraphQuery:
        self._log.info(
            f"{self._stream}: the page token expired; reading the query again from its first page, skipping the "
            f"{len(self._emitted)} already emitted."
        )
        return query

    def exhausted(self) -> AirbyteTracedException:
        return AirbyteTracedException(
            message=f"Microsoft Graph kept expiring the {self._stream} page token; the {self._stream} stream will be "
            "read again on the next sync.",
            failure_type=FailureType.transient_error,
        )
