"""The throttle policy: pace every request Graph counts against a documented limit, obey Retry-After.

A `GraphLimit` is one limit Microsoft documents per app and tenant; the table of them is `limits.DOCUMENTED_LIMITS`,
and each query names the limits it counts against (`GraphQuery.limits`): nothing here reads a URL. One
`SlidingWindowPacer` per limit keeps every worker under it together; `GraphApiBudget` holds them for a command, and
its `for_limits` plugs the pacers of one query's limits into the CDK's request path (every request of that query,
retries included): a request is counted in every limit of its query at once, and when Graph still answers 429
(another tool using the same app, say) its Retry-After pauses every request under those limits, not only the one
that was told.
`RetryAfterBackoff` tells the CDK how long to wait.
"""

import email.utils
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, AbstractCallRatePolicy
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..clock import utc_now
from ..errors import WaitLimitReached

WINDOW_SECONDS = 10.0
# Graph counts a request when it arrives, we when we send it: a quarter second covers the jitter.
SAFETY_MARGIN_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 60.0
# The longest Retry-After obeyed (documented in docs/dynamics365-cc.md). Graph's own waits are seconds; a
# header of hours, `inf` or a date years ahead would hang a sync, so a longer wait ends it as a transient
# error instead: the state stays at the last finished window and the next sync resumes there.
MAX_RETRY_AFTER_SECONDS = 300.0
# The CDK reads a backoff of 0 as "no opinion" and falls back to its own exponential default (up to 61 tries and
# 15 minutes). Graph's `Retry-After: 0` means "ask again now", so a wait is never shorter than this: the CDK then
# retries after its extra second, as Graph asks, and every wait still counts against a WaitLimit.
MIN_BACKOFF_SECONDS = 0.001


def retry_after_seconds(response: requests.Response) -> Optional[float]:
    """Seconds to wait from a Retry-After header: integer, fractional ("2.128") or an HTTP date; `inf` for a
    wait too long to represent, `None` for no header or one that is not a wait (`soon`, `nan`)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value)
    return None if math.isnan(seconds) else max(0.0, seconds)


def _seconds_until(http_date: str) -> Optional[float]:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - utc_now()).total_seconds())


def obeyed_retry_after(response: requests.Response, resume_note: str) -> Optional[float]:
    """The Retry-After wait if it is within `MAX_RETRY_AFTER_SECONDS`; a longer one ends the request with a
    transient error that says so, rather than hanging the sync."""
    seconds = retry_after_seconds(response)
    if seconds is None or seconds <= MAX_RETRY_AFTER_SECONDS:
        return seconds
    wait = "an endless wait" if math.isinf(seconds) else f"a wait of {seconds:,.0f} seconds"
    raise AirbyteTracedException(
        message=(
            f"Microsoft Graph asked for {wait} (HTTP {response.status_code}, Retry-After "
            f"{str(response.headers.get('Retry-After'))[:40]!r}), longer than the {MAX_RETRY_AFTER_SECONDS / 60:.0f} "
            f"minutes this connector waits. Run the sync again later: {resume_note}"
        ),
        failure_type=FailureType.transient_error,
    )


class SlidingWindowPacer:
    """At most `limit` sends in any `window` seconds, shared by all threads; `pause` holds them all."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        margin: float = SAFETY_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limit = limit
        self._span = window + margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: list[float] = []
        self._paused_until = 0.0

    def acquire(self) -> None:
        """Block until one more request may be sent, then count it."""
        while True:
            with self._lock:
                wait = self._wait_time(self._clock())
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
            self._sleep(wait)

    def wait_time(self) -> float:
        """Seconds until one more request may be sent (0 when it may go now); counts nothing."""
        with self._lock:
            return self._wait_time(self._clock())

    def count(self) -> None:
        """Count a request sent now (after `wait_time` said it may go)."""
        with self._lock:
            self._sent.append(self._clock())

    def pause(self, seconds: float) -> None:
        """Hold every worker for `seconds` (Graph's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_time(self, now: float) -> float:
        self._sent = [sent for sent in self._sent if sent > now - self._span]
        window_wait = self._sent[0] + self._span - now if len(self._sent) >= self._limit else 0.0
        return max(window_wait, self._paused_until - now)


@dataclass(frozen=True)
class GraphLimit:
    """A throttling limit Microsoft documents per app and tenant: so many requests in so many seconds. Which requests
    count against it is the queries' to say (`GraphQuery.limits`)."""

    name: str
    requests: int
    seconds: float


PacedLimit = tuple[GraphLimit, SlidingWindowPacer]


class GraphApiBudget:
    """A command's pacers, one per documented limit, shared by every stream and worker of the command. A query's
    requests go through `for_limits(query.limits)`; a limit this budget does not pace is not waited for."""

    def __init__(self, limits: Sequence[PacedLimit], sleep: Callable[[float], None] = time.sleep) -> None:
        self._pacers = dict(limits)
        self._sleep = sleep
        self._lock = threading.Lock()

    def for_limits(self, limits: Iterable[GraphLimit]) -> "QueryBudget":
        """The budget of a query counting against `limits`, for the CDK's request path."""
        return QueryBudget([self._pacers[limit] for limit in limits if limit in self._pacers], self._lock, self._sleep)


class QueryBudget(AbstractAPIBudget):
    """Paces each request of a query through the pacers of the query's limits, and feeds them Graph's Retry-After.

    A request under several limits waits until all have room and is counted in all of them at once, under the
    command's one lock, so no pacer counts it earlier than it is sent."""

    def __init__(
        self, pacers: Sequence[SlidingWindowPacer], lock: threading.Lock, sleep: Callable[[float], None]
    ) -> None:
        self._pacers = tuple(pacers)
        self._lock = lock
        self._sleep = sleep

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        while self._pacers:
            with self._lock:
                wait = max(pacer.wait_time() for pacer in self._pacers)
                if wait <= 0:
                    for pacer in self._pacers:
                        pacer.count()
                    return
            self._sleep(wait)

    def get_matching_policy(self, request: Any) -> Optional[AbstractCallRatePolicy]:
        return None

    def update_from_response(self, request: Any, response: Any) -> None:
        if not isinstance(response, requests.Response) or response.status_code not in (429, 503):
            return
        seconds = retry_after_seconds(response)
        if seconds and seconds <= MAX_RETRY_AFTER_SECONDS:  # a longer wait ends the sync instead
            for pacer in self._pacers:
                pacer.pause(seconds)


class RetryAfterBackoff(BackoffStrategy):
    """Retry-After when Graph sends one (429, 503), up to `MAX_RETRY_AFTER_SECONDS` and never 0 (see
    `MIN_BACKOFF_SECONDS`); otherwise exponential, capped. Raising from here is how the CDK's own capped
    strategies end a request whose wait is too long, with `resume_note` (what the next sync does, in the streams'
    words) at the end of its message."""

    def __init__(self, resume_note: str) -> None:
        self._resume_note = resume_note

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if isinstance(response_or_exception, requests.Response):
            seconds = obeyed_retry_after(response_or_exception, self._resume_note)
            if seconds is not None:
                return max(seconds, MIN_BACKOFF_SECONDS)
        return min(float(2**attempt_count), MAX_BACKOFF_SECONDS)


# The CDK sleeps one second more than a strategy asks for ("to cover any fractions of second").
CDK_EXTRA_SECONDS = 1.0


class WaitLimit(BackoffStrategy):
    """Another strategy's waits, each logged, until they add up to `seconds`: for a command a person sits through
    (the caller says which). The next wait that would pass the limit raises `WaitLimitReached` instead of starting."""

    def __init__(self, strategy: BackoffStrategy, seconds: float, logger: logging.Logger) -> None:
        self._strategy = strategy
        self._seconds = seconds
        self._logger = logger
        self.waited = 0.0

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        try:
            wait = self._strategy.backoff_time(response_or_exception, attempt_count)
        except AirbyteTracedException:  # longer than a sync would wait, so longer than this limit too
            wait = math.inf
        status = response_or_exception.status_code if isinstance(response_or_exception, requests.Response) else None
        cause = f"HTTP {status}" if status else type(response_or_exception).__name__
        wait = max(wait or 0.0, MIN_BACKOFF_SECONDS)  # never "no opinion": that is the CDK's 15-minute default
        if self.waited + wait + CDK_EXTRA_SECONDS > self._seconds:
            raise WaitLimitReached(self.waited, status)
        self.waited += wait + CDK_EXTRA_SECONDS
        self._logger.info(
            f"Microsoft Graph is busy ({cause}); waiting {wait + CDK_EXTRA_SECONDS:.1f} s before asking again "
            f"({self.waited:.0f} of at most {self._seconds:.0f} s)."
        )
        return wait
