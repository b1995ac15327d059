"""An end to every wait on a host: an overall deadline around a blocking call.

A per-read timeout bounds each silence, not an answer: a host that trickles its answer a byte at a time (or a DNS
lookup that never returns, which has no timeout at all) holds a request open forever. `within` runs the call in a
daemon thread and stops waiting for it when the deadline passes; the call's own timeouts then end it in the
background, and a command that gave up can exit, since the thread never holds the process open.

`check` gives itself one `Deadline` and hands each step the time left; a token request gets the same bound in a
sync (auth/tokens.py).
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from ..errors import DeadlinePassed

# `check`'s whole budget (a person sits at *Test*), and the longest a token request may take, retries included.
DEADLINE_SECONDS = 60.0

T = TypeVar("T")


@dataclass
class Deadline:
    """A point in time `seconds` after it was made, on `clock` (monotonic unless a test passes its own)."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.started + self.seconds - self.clock())

    def allows(self, wait: float) -> bool:
        """Whether a wait of `wait` seconds still ends before the deadline."""
        return wait < self.remaining()


def within(seconds: float, call: Callable[[], T], name: str = "deadline") -> T:
    """`call()`'s result or exception, or `DeadlinePassed` once `seconds` have gone by without one."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    if not done.wait(max(0.0, seconds)):
        raise DeadlinePassed(seconds)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
