"""Per-app sliding-window throttling (of /auditLogs/signIns; a second instance: users pages that select
signInActivity), and the statistics tests assert on.

A violation is a request that arrives while a Retry-After this app was given has not elapsed:
that is what a well-behaved client never does, whatever its retry strategy.

`EmulatorClock` is the time the throttle, the fault rules' durations and the request log read: the machine's,
unless a test runs its client on a clock of its own (testing/clock.py): then the seconds that client skipped
instead of waiting move the emulator's time on too, so a Retry-After is over when the client's skipped wait is.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Callable

WINDOW_FOR_STATS = 10.0


def no_time_skipped() -> float:
    """A client that waits in real time has skipped nothing."""
    return 0.0


@dataclass(frozen=True)
class EmulatorClock:
    """The machine's clock moved on by `skipped()`: the seconds of waiting the emulator's client skipped so far
    (never decreasing). Monotonic time paces 429s and faults; wall time dates the request log."""

    skipped: Callable[[], float] = no_time_skipped

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped()

    def time(self) -> float:
        return time.time() + self.skipped()


@dataclass
class ThrottleSettings:
    requests: int | None = None  # None: throttling off
    per_seconds: float = 10.0
    integer_retry_after: bool = False


class Throttle:
    """Decides 429s; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, stats_window: float = WINDOW_FOR_STATS) -> None:
        self.settings = ThrottleSettings()
        self._stats_window = stats_window
        self._clock = clock
        self._lock = threading.Lock()
        self._accepted: dict[str, deque[float]] = defaultdict(deque)
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._retry_until: dict[str, float] = {}
        self.violations: dict[str, int] = defaultdict(int)
        self.throttled: dict[str, int] = defaultdict(int)
        self.max_in_window: dict[str, int] = defaultdict(int)

    def configure(self, requests: int | None, per_seconds: float = 10.0, integer_retry_after: bool = False) -> None:
        with self._lock:
            self.settings = ThrottleSettings(requests, per_seconds, integer_retry_after)
            self._accepted.clear()
            self._retry_until.clear()

    def check(self, app: str) -> str | None:
        """Record a signIns request by `app`; return a Retry-After value if it must get 429."""
        now = self._clock()
        with self._lock:
            seen = self._seen[app]
            seen.append(now)
            while seen and seen[0] <= now - self._stats_window:
                seen.popleft()
            self.max_in_window[app] = max(self.max_in_window[app], len(seen))
            if now < self._retry_until.get(app, 0.0):
                self.violations[app] += 1
            s = self.settings
            if s.requests is None:
                return None
            accepted = self._accepted[app]
            while accepted and accepted[0] <= now - s.per_seconds:
                accepted.popleft()
            if len(accepted) < s.requests:
                accepted.append(now)
                return None
            wait = max(0.001, accepted[0] + s.per_seconds - now)
            if s.integer_retry_after:
                wait = float(math.ceil(wait))
            self._retry_until[app] = now + wait
            self.throttled[app] += 1
            return str(int(wait)) if s.integer_retry_after else f"{wait:.3f}"

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            apps = set(self.max_in_window) | set(self.violations) | set(self.throttled)
            return {
                a: {
                    "violations": self.violations.get(a, 0),
                    "throttled": self.throttled.get(a, 0),
                    f"max_requests_in_{self._stats_window:.0f}s": self.max_in_window.get(a, 0),
                }
                for a in sorted(apps)
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.violations.clear()
            self.throttled.clear()
            self.max_in_window.clear()
            self._seen.clear()
