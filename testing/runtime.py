"""A connector runtime whose request pacers never wait, for fakes that do not throttle and the CPU-bound bench.

It imports only the connector's runtime and throttle, so the bench's timed process loads nothing else of testing/.
"""

import time
from typing import Callable

from source_dynamics365_cc.graph.throttle import SlidingWindowPacer
from source_dynamics365_cc.runtime import Runtime


def unpaced_runtime(sleep: Callable[[float], None] = time.sleep) -> Runtime:
    """Pacers that keep their bookkeeping but never wait (a zero-second window)."""
    return Runtime(sleep=sleep, pacer=lambda limit, _seconds: SlidingWindowPacer(limit, window=0.0, margin=0.0))
