"""The density probe: one sign-in page for a whole range, to tell how many pages the range holds.

Graph answers newest first, so the first page of a range holds its newest sign-ins: if it has no
`@odata.nextLink` the whole range is that page; otherwise its records span [oldest, end), and the
range holds about (end - start) / (end - oldest) pages of that size. The estimate assumes the newest
page is as dense as the rest: a tenant busier now than on average gets more (smaller) windows than it
needs, a quieter one fewer (larger) ones; both only move the window size, never what is read. The row
estimate the platform shows is refined as windows finish (graph/progress.py), from each window's own
expected count (`records_in`): a log that starts inside the range is then told by its empty windows.

The probe is the stream's own query sent by `GraphStream.probe`, so the shared sign-in pacer, Retry-After backoff and the
Graph error handler apply to it exactly as to a window's first page.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from ..errors import FilterRefused
from ..graph.pages import graph_page
from ..graph.road import NEXT_LINK
from ..graph.stream import GraphStream
from .instants import format_instant, parse_instant


@dataclass(frozen=True)
class NewestPage:
    """What a range's first page says: how many sign-ins it holds, the oldest of them, whether more follow."""

    records: int
    oldest: Optional[datetime]
    more: bool

    def estimated_pages(self, start: datetime, end: datetime) -> float:
        """Pages of this page's size in [start, end): at most 1 when Graph had nothing after this page."""
        if not self.more:
            return 1.0 if self.records else 0.0
        if self.oldest is None or not start <= self.oldest < end:
            raise ValueError("the probe page has a next link but no sign-in inside the range")
        return (end - start) / (end - self.oldest)

    def records_in(self, start: datetime, end: datetime, range_end: datetime) -> float:
        """Sign-ins expected in the window [start, end) of a range ending at `range_end`, at this page's density:
        the page's records over [oldest, range_end), spread back to the range's start when more pages follow."""
        if not self.records or self.oldest is None:
            return 0.0
        density = self.records / max((range_end - self.oldest).total_seconds(), 1e-6)
        earliest = start if self.more else max(start, self.oldest)
        return density * max(0.0, (end - earliest).total_seconds())

    def estimated_records(self, start: datetime, end: datetime) -> int:
        """Sign-ins in [start, end): this page's count for each page the range holds (progress.py's estimate)."""
        return round(self.records * self.estimated_pages(start, end))


class RangeProbe:
    """Sends the first page request a window covering the whole range would send, and reads its density."""

    def __init__(self, stream: GraphStream) -> None:
        self._stream = stream

    def __call__(self, start: datetime, end: datetime) -> NewestPage:
        window = {"start": format_instant(start), "end": format_instant(end)}
        response, refused = self._stream.probe(self._stream.query_of(window))
        if isinstance(refused, FilterRefused):  # says nothing of the density; the read sends the same query, handles it
            raise ValueError(f"Microsoft Graph answered HTTP 400 {refused.code}: {refused.message}")
        body = graph_page(response)
        instants = [parse_instant(record["createdDateTime"]) for record in body.get("value") or []]
        return NewestPage(len(instants), min(instants, default=None), bool(body.get(NEXT_LINK)))
