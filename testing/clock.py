"""A clock for pacing tests."""

import threading


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
