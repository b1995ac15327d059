"""Window sizing for sign-ins: how long each window of a sync's range is (cursor.py hands them out).

How long a window is gets decided when the read starts (in the CDK's partition-generation thread),
never when the streams are built: `check` and `discover` build them too and must send no sign-in
request. A long range is sized by volume: one probe page tells how many pages the range holds, and
the windows get about `PAGES_PER_WINDOW` pages each, so a dense range gets more, shorter windows
and one window's failure costs little to redo (Microsoft's own advice for throttled reads: narrower
windows). A short range, or a failed probe, is cut by time.
"""

import logging
import math
from datetime import datetime, timedelta
from typing import Callable, Optional

from ..config import ConnectorConfig
from .density import NewestPage
from .instants import format_instant

MIN_WINDOW = timedelta(hours=1)
WINDOWS_PER_WORKER = 4
# Graph lets 5 sign-in requests through per 10 s: 20 pages are ~40 s of throttle time to redo when a window
# fails, and the partial last page every window ends with (half a request on average) costs ~2.5%.
PAGES_PER_WINDOW = 20
# Below 5 pages a window's partial last page costs over 10%, and a range of a few pages is read within one
# or two throttle windows whatever the window count: more windows than that for idle workers do not pay.
MIN_PAGES_PER_WINDOW = 5
# The estimate trusts the newest page: a login burst just before the sync can make a quiet month look like
# thousands of pages. Each window costs at least one request, so the count is capped: at worst 100 mostly
# empty requests (~200 s of throttle time); a truly large tenant gets windows of more than 20 pages instead.
MAX_VOLUME_WINDOWS = 100
# However dense the range, a window this short still holds only a few seconds of Graph's throttle time.
MIN_VOLUME_WINDOW = timedelta(minutes=1)
# Against two time windows the probe cannot pay: it and one window are two requests already.
MIN_TIME_WINDOWS_TO_PROBE = 3

Probe = Callable[[datetime, datetime], NewestPage]


def time_windows(span: timedelta, workers: int) -> int:
    """A few windows per worker, each at least `MIN_WINDOW`: enough to overlap Graph's slow pages, few enough
    that the partial last page of each window (a request the throttle charges in full) costs little."""
    return max(1, min(WINDOWS_PER_WORKER * workers, span // MIN_WINDOW))


def volume_windows(pages: float, workers: int) -> int:
    """About `PAGES_PER_WINDOW` pages a window, and one window per worker when each gets `MIN_PAGES_PER_WINDOW`
    pages: with Graph's pages taking seconds each, one worker alone may not keep the throttle busy. Never
    more than `MAX_VOLUME_WINDOWS`."""
    by_volume = math.ceil(pages / PAGES_PER_WINDOW)
    busy = min(workers, math.ceil(pages / MIN_PAGES_PER_WINDOW))
    return min(MAX_VOLUME_WINDOWS, max(1, by_volume, busy))


def even_step(span: timedelta, windows: int) -> timedelta:
    """`span / windows` rounded up to the microsecond: `windows` steps cover the span with no sliver left over
    (a sliver is one more request, for nothing)."""
    return -(-span // windows)


def worth_probing(time_cut: int, workers: int, requests_per_10_seconds: int) -> bool:
    """Whether the probe can pay for the throttle slot and the round trip it costs before any window starts.

    It cannot when the time rule's windows all start at once (no more of them than workers, nor than the
    throttle lets through in one go): the range is then read in parallel, and the probe would only add a
    serial request to save a few nearly empty ones. With two windows, the probe and one window are two
    requests too. So the hourly incremental sync (default lookback + 1 hour: two windows) never probes.
    """
    at_once = min(workers, requests_per_10_seconds)
    return time_cut > max(at_once, MIN_TIME_WINDOWS_TO_PROBE - 1)


def time_step(span: timedelta, workers: int) -> timedelta:
    """The window length of the time rule; a range shorter than `MIN_WINDOW` is one window."""
    return max(MIN_WINDOW, even_step(span, time_windows(span, workers)))


class WindowSizer:
    """Chooses the window length for [first, end) when the read starts: by volume for a long range, by time
    for a short one or when the probe fails."""

    def __init__(
        self,
        end: datetime,
        config: ConnectorConfig,
        probe: Probe,
        logger: logging.Logger,
        on_estimate: Callable[[int], None] = lambda rows: None,
    ) -> None:
        """`on_estimate` hears how many sign-ins the probe says the range holds (progress.py)."""
        self._end = end
        self._on_estimate = on_estimate
        self._workers = config.max_concurrency
        self._requests_per_10_seconds = config.sign_in_requests_per_10_seconds
        self._probe = probe
        self._log = logger
        self.newest: Optional[NewestPage] = None  # the probe's page, once a read sized its windows by volume

    def __call__(self, first: datetime) -> timedelta:
        span = self._end - first
        if not worth_probing(time_windows(span, self._workers), self._workers, self._requests_per_10_seconds):
            return time_step(span, self._workers)
        described = f"{format_instant(first)} .. {format_instant(self._end)}"
        try:
            newest = self._probe(first, self._end)
            pages = newest.estimated_pages(first, self._end)
        except Exception as error:  # noqa: BLE001 - any failure: the read sends the same request and reports it
            self._log.warning(
                f"Could not size the sign-in windows by volume ({_reason(error)}); cutting {described} by time instead."
            )
            return time_step(span, self._workers)
        self.newest = newest
        self._on_estimate(newest.estimated_records(first, self._end))
        step = max(MIN_VOLUME_WINDOW, even_step(span, volume_windows(pages, self._workers)))
        self._log.info(
            f"The sign-ins of {described} fill about {pages:.1f} pages: "
            f"reading them in {math.ceil(span / step)} windows of {step}."
        )
        return step


def _reason(error: Exception) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(text)[:200]
