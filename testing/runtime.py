"""Connector runtimes on a clock the caller gives: pacers that never wait (for fakes that do not throttle, the
CPU-bound bench, and a connector process on a clock the test owns, testing/clock.py `SkippedSeconds`, set up by
testing/forked.py), or pacers at Graph's documented rates on that clock (a test of pacing that skips the waits).

It imports only the connector's runtime and throttle and testing/clock.py, so the bench's timed process loads nothing
else of testing/.
"""

import importlib
import time
from types import ModuleType
from typing import Any, Callable

from source_dynamics365_cc.graph.throttle import SlidingWindowPacer
from source_dynamics365_cc.runtime import Runtime

from .clock import SkippedSeconds


def unpaced_runtime(
    sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic
) -> Runtime:
    """Pacers that keep their bookkeeping but never wait (a zero-second window); Graph's Retry-After still pauses
    them, for as long as `monotonic` says."""
    return Runtime(
        sleep=sleep,
        monotonic=monotonic,
        pacer=lambda limit, _seconds: SlidingWindowPacer(limit, window=0.0, margin=0.0, clock=monotonic, sleep=sleep),
    )


def paced_runtime(sleep: Callable[[float], None], monotonic: Callable[[], float]) -> Runtime:
    """The machine's pacers (every documented limit at its rate, with its margin) waiting with `sleep` and reading
    `monotonic`: on a clock the test owns, the pacing arithmetic is exercised in full without its real waits."""
    return Runtime(
        sleep=sleep,
        monotonic=monotonic,
        pacer=lambda limit, seconds: SlidingWindowPacer(limit, seconds, clock=monotonic, sleep=sleep),
    )


class _SkippingTime(ModuleType):
    """The `time` module as seen by a library that imported it, on a clock the test owns: `sleep` skips the wait,
    `time` and `monotonic` count every skipped wait as passed."""

    def __init__(self, skipped: SkippedSeconds) -> None:
        super().__init__("time")
        self._skipped = skipped

    def sleep(self, seconds: float) -> None:
        self._skipped.sleep(seconds)

    def time(self) -> float:
        return time.time() + self._skipped()

    def monotonic(self) -> float:
        return self._skipped.monotonic()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# The library modules that wait, or time a wait, outside the connector's Runtime: the CDK's HttpClient before a
# retry (its Retry-After handler, and the `backoff` library's loop for exponential backoff), and msal, which answers
# a token request from its cache of Entra's last 5xx or 429 until that answer's Retry-After (5 s by default) is over.
LIBRARY_CLOCKS = ("airbyte_cdk.sources.streams.http.rate_limiting", "backoff._sync", "msal.individual_cache")


def skip_library_waits(skipped: SkippedSeconds, assign: Callable[[Any, str, Any], None] = setattr) -> None:
    """Put those modules on `skipped`'s clock, leaving the `time` module itself alone for every other caller. A
    process of its own (testing/forked.py's child) assigns for good; an in-process test passes pytest's
    `monkeypatch.setattr`, which undoes it when the test ends."""
    for name in LIBRARY_CLOCKS:
        assign(importlib.import_module(name), "time", _SkippingTime(skipped))
