"""The shipped connector with its sign-in pacer opened wide, for the CPU-bound scenario only.

The pacer still runs on every request (its lock, its bookkeeping); only its window is set to zero
seconds, so it never has to wait. Everything else is the connector exactly as `main.py read` runs it.
"""

from functools import partial

from source_dynamics365_cc import source, throttle
from source_dynamics365_cc.run import run

if __name__ == "__main__":
    source.SlidingWindowPacer = partial(throttle.SlidingWindowPacer, window=0.0, margin=0.0)  # type: ignore[misc]
    run()
