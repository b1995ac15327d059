"""The request log: what every request asked for and what it got (thread-safe, bounded)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class RequestLog:
    """Append-only list of request summaries; tests read it to assert on client behaviour."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def add(self, entry: dict[str, Any]) -> None:
        entry.setdefault("time", time.time())
        with self._lock:
            self._entries.append(entry)

    def entries(self, route: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if route is None or e.get("route") == route]

    def sign_in_filters(self, first_pages_only: bool = False, api_version: str | None = None) -> list[str]:
        """The `$filter` of every logged signIns request (a nextLink's too), oldest first; only those sent to
        `api_version` ("v1.0" or "beta") when given."""
        out = []
        for entry in self.entries("signIns"):
            if api_version is not None and not entry["path"].lower().startswith(f"/{api_version}/"):
                continue
            query = entry["query"]
            if "$filter" in query and not (first_pages_only and "$skiptoken" in query):
                sent = query["$filter"]
                out += sent if isinstance(sent, list) else [sent]
        return out

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
