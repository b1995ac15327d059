"""Entra's sign-in retention edge, judged by Graph's clock rather than this machine's.

Entra keeps sign-ins 30 days (P1/P2) and answers a filter that reaches further back with a 400
("Invalid filter clause", the same words as a malformed filter). The default start is computed when
the sync starts, from this machine's clock: if that clock is minutes behind Graph's, or the roster
takes long to read first, the oldest window starts past the edge by the time it is sent. Such a
refusal moves the window's start just inside the edge (by Graph's `Date` header) and reads on.
"""

from datetime import datetime, timedelta
from typing import Optional

from ..clock import utc_now
from ..config import RETENTION
from .instants import ticks_of

# A refused window starting this close to the edge (or before it) is taken for a retention refusal.
EDGE_SLACK = timedelta(days=1)
# How far inside the edge each successive retry starts: Graph's own edge may lag its clock a little.
MARGINS = (timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6))


def reaches_past_retention(first_ticks: int, graph_now: Optional[datetime]) -> bool:
    """Whether a window starting at `first_ticks` may have been refused for reaching past retention."""
    return first_ticks < ticks_of(_now(graph_now) - RETENTION + EDGE_SLACK)


def start_inside_retention(first_ticks: int, graph_now: Optional[datetime], attempt: int) -> Optional[int]:
    """The start (in ticks) for retry `attempt` (0-based): just inside the edge by the next margin that starts later
    than the refused `first_ticks`; None once every margin has been tried."""
    edge = _now(graph_now) - RETENTION
    later = (ticks_of(edge + margin) for margin in MARGINS[attempt:])
    return next((start for start in later if start > first_ticks), None)


def _now(graph_now: Optional[datetime]) -> datetime:
    return graph_now or utc_now()
