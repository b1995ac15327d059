"""The sign-in query: a createdDateTime window and the applications to keep, as Graph's `$filter` and in Python.

Only the operators Microsoft documents on `signIn.createdDateTime` are sent: `ge` and `le` (`lt` and
`gt` are not documented, and Graph has answered them with "Invalid filter clause" or ignored them). A
window is the closed tick range [first, last]; the half-open [start, end) the cursor hands out becomes
`ge start and le end - 100 ns`, so every sign-in, boundary instants included, falls in exactly one
window at Graph's full 100-ns precision.

An application matches on `appId` (the client) or `resourceId` (what it signed in to), because Dynamics
365 is often reached through another client app: each pair of field and application is one `Match`.
`SignInQuery.rejects` applies the same filter in Python, because Graph has been reported to ignore a
clause and answer anyway: what the query did not ask for is never emitted.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from ..graph.dropped import AFTERWORD, DropReason
from .instants import format_ticks, parse_ticks, ticks_of

APPLICATION_FIELDS = ("appId", "resourceId")
CURSOR_FIELD = "createdDateTime"
# Why `SignInQuery.rejects` drops a record, naming the clause of the `$filter` Graph ignored (quoted as they stand in
# the docs' troubleshooting; a test holds the two together).
OUTSIDE_WINDOW = DropReason(
    "window",
    "{stream}: dropped {count} records outside the createdDateTime window their query asked for: Microsoft "
    "Graph ignored the 'createdDateTime ge/le' clause of the $filter. " + AFTERWORD,
)
OTHER_APPLICATION = DropReason(
    "application",
    "{stream}: dropped {count} records of applications their query did not ask for: Microsoft Graph ignored "
    "the 'appId eq'/'resourceId eq' clause of the $filter. " + AFTERWORD,
)
OTHER_EVENT_TYPE = DropReason(
    "event_type",
    "{stream}: dropped {count} records of other sign-in event types than their query asked for: Microsoft "
    "Graph ignored the 'signInEventTypes/any(...)' clause of the $filter. " + AFTERWORD,
)
NO_INSTANT = DropReason(
    "instant",
    "{stream}: dropped {count} records without a valid createdDateTime (a UTC timestamp): they cannot be "
    "placed in a window. " + AFTERWORD,
)


class Match(NamedTuple):
    """`field eq 'app_id'`: one term of the application clause."""

    field: str
    app_id: str

    def clause(self) -> str:
        return f"{self.field} eq '{self.app_id}'"

    def holds_for(self, record: Mapping[str, Any]) -> bool:
        """The same test in Python: GUIDs compare without case; a missing field never matches."""
        return str(record.get(self.field) or "").lower() == self.app_id.lower()


def application_matches(app_ids: Sequence[str]) -> list[Match]:
    """Every (field, application) term; empty for an empty list, which means every application."""
    return [Match(field, app_id) for app_id in app_ids for field in APPLICATION_FIELDS]


@dataclass(frozen=True)
class Window:
    """The sign-ins with first <= createdDateTime <= last, both in 100-ns ticks."""

    first: int
    last: int

    @classmethod
    def half_open(cls, start: datetime, end: datetime) -> "Window":
        """[start, end) as Graph can be asked for it: `le` the last tick before `end`."""
        return cls(ticks_of(start), ticks_of(end) - 1)

    def clause(self) -> str:
        return f"{CURSOR_FIELD} ge {format_ticks(self.first)} and {CURSOR_FIELD} le {format_ticks(self.last)}"

    def holds(self, ticks: int) -> bool:
        return self.first <= ticks <= self.last

    def is_empty(self) -> bool:
        return self.last < self.first

    def describe(self) -> str:
        return f"{format_ticks(self.first)} .. {format_ticks(self.last)}"


def application_clause(matches: Sequence[Match]) -> Optional[str]:
    """`None` when there is nothing to match: every application's sign-ins are read."""
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0].clause()
    return "(" + " or ".join(match.clause() for match in matches) + ")"


def event_type_clause(event_type: Optional[str]) -> Optional[str]:
    """Beta's `signInEventTypes` lambda (e.g. 'nonInteractiveUser'); `None` for v1.0's interactive sign-ins."""
    return f"signInEventTypes/any(t: t eq '{event_type}')" if event_type else None


@dataclass(frozen=True)
class SignInQuery:
    """One sign-in request's question: a window, the application terms (all of them, or one after Graph
    refused `or`) and, on beta, the sign-in event type."""

    window: Window
    matches: tuple[Match, ...]
    event_type: Optional[str] = None

    def filter(self) -> str:
        clauses = [self.window.clause(), event_type_clause(self.event_type), application_clause(self.matches)]
        return " and ".join(clause for clause in clauses if clause)

    def combines_applications(self) -> bool:
        return len(self.matches) > 1

    def rejects(self, record: Mapping[str, Any]) -> Optional[DropReason]:
        """Why the query did not ask for this record, or None when it did."""
        try:
            ticks = parse_ticks(record.get(CURSOR_FIELD))
        except ValueError:
            return NO_INSTANT
        if not self.window.holds(ticks):
            return OUTSIDE_WINDOW
        if self.event_type and self.event_type not in (record.get("signInEventTypes") or ()):
            return OTHER_EVENT_TYPE
        if self.matches and not any(match.holds_for(record) for match in self.matches):
            return OTHER_APPLICATION
        return None
