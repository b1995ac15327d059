"""What the connector takes from the machine it runs on: the time, a way to wait, a clock to time waits and progress
by, the request pacers, and how long a wait on a host may last.

The source receives one `Runtime` and hands its parts to what needs them, so tests and the benchmark
pass their own (a pacer opened wide, a sleep that returns at once) instead of patching modules.
The wall clock is read in one place, `clock.utc_now`.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from .auth.deadline import DEADLINE_SECONDS
from .clock import utc_now
from .graph.throttle import GraphApiBudget, SlidingWindowPacer
from .limits import graph_budget


@dataclass(frozen=True)
class Runtime:
    """`pacer` builds the pacer of one documented limit (limits.DOCUMENTED_LIMITS) from its requests and seconds;
    `monotonic` times a read's progress (graph/progress.py), on the clock `sleep` moves on;
    `deadline_seconds` is `check`'s whole budget and a token request's (auth/deadline.py)."""

    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    pacer: Callable[[int, float], SlidingWindowPacer] = SlidingWindowPacer
    deadline_seconds: float = DEADLINE_SECONDS

    def budget(self, sign_in_requests_per_10_seconds: int) -> GraphApiBudget:
        """The request budget of one sync or one `check`: every documented limit, paced on this runtime."""
        return graph_budget(sign_in_requests_per_10_seconds, self.pacer, self.sleep)


MACHINE = Runtime()  # the real clock, sleep and pacer: every command's default
