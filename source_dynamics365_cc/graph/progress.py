"""Progress a person and the platform can see while a long read runs.

A first sync of a large tenant reads for half an hour or more at Graph's 5 sign-in requests per 10 s. Two
signs of progress come from here:

- Estimates for the platform: Airbyte's `AirbyteEstimateTraceMessage` (type STREAM, `row_estimate`), which its UI
  turns into a progress bar. The sign-in streams send one from the density probe (windows.py: the newest page's
  density times the range, refined as windows finish), `users` one from `GET /users/$count` where Graph counts (an
  advanced query, so it needs `ConsistencyLevel: eventual`, and the read permission `users` needs anyway). The
  count gets one short try (`GraphStream.count`): when Graph will not count, or not at once, no estimate is sent
  and the read goes on.
- A progress line per sign-in stream when a window finishes, at most once every `PROGRESS_INTERVAL_SECONDS`:
  window k of n, records so far, time left at the current rate. A read shorter than that prints none.
"""

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import requests
from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    TraceType,
    Type,
)
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..errors import DeadlinePassed, TokenError

if TYPE_CHECKING:  # the streams call this module: a runtime import would be circular
    from .stream import GraphStream

PROGRESS_INTERVAL_SECONDS = 30.0
# A refined estimate is sent when it differs from the one the platform shows by more than this share of it.
REFINE_TOLERANCE = 0.10
WindowKey = tuple[str, str]  # a window's (start, end), as its slice carries them


def estimate_message(stream: str, namespace: Optional[str], rows: int) -> AirbyteMessage:
    """The platform's row estimate for one stream."""
    estimate = AirbyteEstimateTraceMessage(
        name=stream, namespace=namespace, type=EstimateType.STREAM, row_estimate=rows
    )
    trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=time.time() * 1000, estimate=estimate)
    return AirbyteMessage(type=Type.TRACE, trace=trace)


def counted_estimate(stream: "GraphStream", logger: logging.Logger) -> Iterator[AirbyteMessage]:
    """The estimate `<collection>/$count` gives, or nothing (with a note) when Graph will not count in its one try.

    A token Entra will not issue is not Graph declining to count: it fails the stream here, once, rather than being
    retried again by the read that follows."""
    try:
        response = stream.count()
        rows = int(response.text.strip()) if response.status_code == 200 else None
    except TokenError:
        raise
    except (AirbyteTracedException, requests.RequestException, ValueError, DeadlinePassed) as error:
        _no_estimate(stream.name, logger, type(error).__name__)
        return
    if rows is None:
        _no_estimate(stream.name, logger, f"HTTP {response.status_code}")
        return
    yield estimate_message(stream.name, stream.namespace, rows)


def _no_estimate(stream: str, logger: logging.Logger, cause: str) -> None:
    logger.info(
        f"{stream}: no row estimate, Microsoft Graph did not count ({cause}); reading on without one "
        "(the platform shows no progress bar for this stream)."
    )


def remaining(seconds: float) -> str:
    """`1 h 5 min`, `3 min 20 s`, `40 s`: precise enough for a person, never `0:03:20.412`."""
    whole = timedelta(seconds=round(max(0.0, seconds)))
    hours, rest = divmod(int(whole.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class ReadProgress:
    """One sign-in stream's progress: its estimate (sent through the source's message repository, so it travels
    on the record queue) and the throttled progress line. Workers call `record` and `window_done` concurrently.

    The first estimate trusts the probe's newest page for the whole range; a log that starts inside the range (a
    new tenant, P1 bought last week) holds far fewer. So each window also gets its own expected count (`expect`),
    and as windows finish the estimate becomes what the finished windows held plus what the others are expected to
    hold (never less than they already sent); the platform hears it again when it moves by over
    `REFINE_TOLERANCE`. Windows are handed out oldest first, so the empty ones before the log's start finish first."""

    def __init__(
        self,
        stream: str,
        namespace: Optional[str],
        messages: MessageRepository,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._namespace = namespace
        self._messages = messages
        self._log = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._windows = self._done = self._records = 0
        self._started = self._last_line = clock()
        self._shown: Optional[int] = None
        self._expected: dict[WindowKey, float] = {}
        self._seen: dict[WindowKey, int] = {}
        self._finished: set[WindowKey] = set()

    def estimate(self, rows: int) -> None:
        self._shown = rows
        self._messages.emit_message(estimate_message(self._stream, self._namespace, rows))

    def expect(self, expected: dict[WindowKey, float]) -> None:
        """How many records each window should hold, by the same probe as the first estimate."""
        with self._lock:
            self._expected = dict(expected)

    def start(self, windows: int) -> None:
        """The read begins, in `windows` windows: the clock for the rate and for the first line starts now."""
        with self._lock:
            self._windows, self._done, self._records = windows, 0, 0
            self._started = self._last_line = self._clock()

    def record(self, window: Optional[WindowKey] = None) -> None:
        with self._lock:
            self._records += 1
            if window is not None:
                self._seen[window] = self._seen.get(window, 0) + 1

    def window_done(self, window: Optional[WindowKey] = None) -> None:
        with self._lock:
            self._done += 1
            if window is not None:
                self._finished.add(window)
            refined = self._refined()
        if refined is not None:
            self.estimate(refined)
        with self._lock:
            now = self._clock()
            if now - self._last_line < PROGRESS_INTERVAL_SECONDS:
                return
            self._last_line = now
            line = self._line(now)
        self._log.info(line)

    def _refined(self) -> Optional[int]:
        """The estimate from the finished windows' records and the others' expected counts, when it moved by more
        than `REFINE_TOLERANCE` from the one shown (None otherwise, or without a first estimate to refine)."""
        if self._shown is None or not self._expected:
            return None
        rows = round(
            sum(
                self._seen.get(window, 0) if window in self._finished else max(expected, self._seen.get(window, 0))
                for window, expected in self._expected.items()
            )
        )
        return rows if abs(rows - self._shown) > REFINE_TOLERANCE * max(self._shown, 1) else None

    def _line(self, now: float) -> str:
        left = (now - self._started) / self._done * (self._windows - self._done)
        return (
            f"{self._stream}: window {self._done} of {self._windows} done, {self._records:,} records so far, "
            f"about {remaining(left)} left at the current rate."
        )
