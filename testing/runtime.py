"""A connector runtime whose sign-in pacer never waits, for fakes that do not throttle and the CPU-bound bench.

It imports only the connector's runtime and throttle, so the bench's timed process loads nothing else of testing/.
"""

import time
from typing import Callable

from source_dynamics365_cc.graph.throttle import SlidingWindowPacer
from source_dynamics365_cc.runtime import Runtime


def unpaced_runtime(sleep: Callable[[float], None] = time.sleep) -> Runtime:
    """A pacer that keeps its bookkeeping but never waits (a zero-second window)."""
    return Runtime(sleep=sleep, pacer=lambda limit: SlidingWindowPacer(limit, window=0.0, margin=0.0))
