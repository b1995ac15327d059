"""Clocks the tests own: `FakeClock` for pacing in-process, `SkippedSeconds` for a connector process and its
emulator."""

import multiprocessing
import threading
import time


class FakeClock:
    """Time that moves only when someone sleeps, so pacing is exact and instant to test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


class SkippedSeconds:
    """The waits a connector under test skipped, added up in memory shared with the process that runs it.

    A connector forked by testing/forked.py with one of these sleeps through `sleep`, which returns at once and adds
    the seconds here; its pacers read `monotonic`, the machine's clock moved on by every wait skipped so far. The
    emulator in the test process reads the same total (`graph_emulator.EmulatorClock(skipped)`), so its throttle
    sees a Retry-After end when the connector's skipped wait does, and its request log dates each request in that
    time. Time moves on by every skipped wait, also by waits that overlap in several threads: it never runs
    slower than the connector believes, so a wait the connector owes is never cut short.

    `paced`: the connector's pacers wait at Graph's documented rates (skipped onto this clock) instead of never, for
    tests of pacing that need not wait in real time (testing/runtime.py `paced_runtime`).
    """

    def __init__(self, paced: bool = False) -> None:
        # Made by the fork server's context: the value (and its lock) can then be handed to a child it forks.
        self._total = multiprocessing.get_context("forkserver").Value("d", 0.0)
        self.paced = paced

    def __call__(self) -> float:
        """Seconds skipped so far."""
        return float(self._total.value)

    def sleep(self, seconds: float) -> None:
        """Return at once, as if `seconds` had passed."""
        with self._total.get_lock():
            self._total.value += max(0.0, seconds)

    def monotonic(self) -> float:
        return time.monotonic() + self()
