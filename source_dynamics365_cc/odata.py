"""The `$filter` text for sign-ins: a createdDateTime window and the applications to keep.

Windows are half-open (`ge start and lt end`) so that each sign-in, boundary instants included,
falls in exactly one window. An application matches on `appId` (the client) or `resourceId` (what
it signed in to), because Dynamics 365 is often reached through another client app: each pair of
field and application is one `Match`, and a sign-in is kept when any of them holds.
"""

from datetime import datetime
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from .instants import format_instant

APPLICATION_FIELDS = ("appId", "resourceId")


class Match(NamedTuple):
    """`field eq 'app_id'`: one term of the application clause."""

    field: str
    app_id: str

    def clause(self) -> str:
        return f"{self.field} eq '{self.app_id}'"

    def holds_for(self, record: Mapping[str, Any]) -> bool:
        """The same test in Python, for telling which query of a split filter a record belongs to."""
        return str(record.get(self.field) or "").lower() == self.app_id.lower()


def application_matches(app_ids: Sequence[str]) -> list[Match]:
    """Every (field, application) term; empty for an empty list, which means every application."""
    return [Match(field, app_id) for app_id in app_ids for field in APPLICATION_FIELDS]


def window_clause(start: datetime, end: datetime, end_inclusive: bool = False) -> str:
    upper = "le" if end_inclusive else "lt"
    return f"createdDateTime ge {format_instant(start)} and createdDateTime {upper} {format_instant(end)}"


def application_clause(matches: Sequence[Match]) -> Optional[str]:
    """`None` when there is nothing to match: every application's sign-ins are read."""
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0].clause()
    return "(" + " or ".join(match.clause() for match in matches) + ")"


def sign_in_filter(start: datetime, end: datetime, matches: Sequence[Match], end_inclusive: bool = False) -> str:
    clauses = [window_clause(start, end, end_inclusive), application_clause(matches)]
    return " and ".join(clause for clause in clauses if clause)
