"""Progress a person and the platform can see while a long read runs.

A first sync of a large tenant reads for half an hour or more at Graph's 5 sign-in requests per 10 s. Two
signs of progress come from here:

- Estimates for the platform: Airbyte's `AirbyteEstimateTraceMessage` (type STREAM, `row_estimate`), which its UI
  turns into a progress bar. The sign-in streams send one from the density probe (windows.py: the newest page's
  density times the range), `users` one from `GET /users/$count` where Graph counts (an advanced query, so it needs
  `ConsistencyLevel: eventual`, and the read permission `users` needs anyway); when Graph will not count, no
  estimate is sent and the read goes on.
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

from ..errors import TokenError

if TYPE_CHECKING:  # the streams call this module: a runtime import would be circular
    from .stream import GraphStream

PROGRESS_INTERVAL_SECONDS = 30.0


def estimate_message(stream: str, namespace: Optional[str], rows: int) -> AirbyteMessage:
    """The platform's row estimate for one stream."""
    estimate = AirbyteEstimateTraceMessage(
        name=stream, namespace=namespace, type=EstimateType.STREAM, row_estimate=rows
    )
    trace = AirbyteTraceMessage(type=TraceType.ESTIMATE, emitted_at=time.time() * 1000, estimate=estimate)
    return AirbyteMessage(type=Type.TRACE, trace=trace)


def counted_estimate(stream: "GraphStream", logger: logging.Logger) -> Iterator[AirbyteMessage]:
    """The estimate `<collection>/$count` gives, or nothing (with a note) when Graph will not count.

    A token Entra will not issue is not Graph declining to count: it fails the stream here, once, rather than being
    retried again by the read that follows."""
    try:
        response = stream.count()
        rows = int(response.text.strip()) if response.status_code == 200 else None
    except TokenError:
        raise
    except (AirbyteTracedException, requests.RequestException, ValueError) as error:
        logger.info(f"{stream.name}: no row estimate, Microsoft Graph did not count ({type(error).__name__}).")
        return
    if rows is None:
        logger.info(f"{stream.name}: no row estimate, Microsoft Graph did not count (HTTP {response.status_code}).")
        return
    yield estimate_message(stream.name, stream.namespace, rows)


def remaining(seconds: float) -> str:
    """`1 h 5 min`, `3 min 20 s`, `40 s`: precise enough for a person, never `0:03:20.412`."""
    whole = timedelta(seconds=round(max(0.0, seconds)))
    hours, rest = divmod(int(whole.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


class WindowProgress:
    """One sign-in stream's progress: its estimate (sent through the source's message repository, so it travels
    on the record queue) and the throttled progress line. Workers call `record` and `window_done` concurrently."""

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

    def estimate(self, rows: int) -> None:
        self._messages.emit_message(estimate_message(self._stream, self._namespace, rows))

    def start(self, windows: int) -> None:
        """The read begins, in `windows` windows: the clock for the rate and for the first line starts now."""
        with self._lock:
            self._windows, self._done, self._records = windows, 0, 0
            self._started = self._last_line = self._clock()

    def record(self) -> None:
        with self._lock:
            self._records += 1

    def window_done(self) -> None:
        with self._lock:
            self._done += 1
            now = self._clock()
            if now - self._last_line < PROGRESS_INTERVAL_SECONDS:
                return
            self._last_line = now
            line = self._line(now)
        self._log.info(line)

    def _line(self, now: float) -> str:
        left = (now - self._started) / self._done * (self._windows - self._done)
        return (
            f"{self._stream}: window {self._done} of {self._windows} done, {self._records:,} records so far, "
            f"about {remaining(left)} left at the current rate."
        )
