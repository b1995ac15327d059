"""What the connector takes from the machine it runs on: the time, a way to wait, and the sign-in pacer.

The source receives one `Runtime` and hands its parts to what needs them, so tests and the benchmark
pass their own (a pacer opened wide, a sleep that returns at once) instead of patching modules.
The wall clock is read in one place, `clock.utc_now`.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from .clock import utc_now
from .graph.throttle import SlidingWindowPacer


@dataclass(frozen=True)
class Runtime:
    """`pacer` builds the shared sign-in pacer from the configured requests per 10 seconds."""

    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    pacer: Callable[[int], SlidingWindowPacer] = SlidingWindowPacer


MACHINE = Runtime()  # the real clock, sleep and pacer: every command's default
