"""The `$filter` text for sign-ins: a createdDateTime window and the applications to keep.

Windows are half-open (`ge start and lt end`) so that each sign-in, boundary instants included,
falls in exactly one window. An application matches on `appId` (the client) or `resourceId` (what
it signed in to), because Dynamics 365 is often reached through another client app.
"""

from datetime import datetime
from typing import Optional, Sequence

from .instants import format_instant


def window_clause(start: datetime, end: datetime, end_inclusive: bool = False) -> str:
    upper = "le" if end_inclusive else "lt"
    return f"createdDateTime ge {format_instant(start)} and createdDateTime {upper} {format_instant(end)}"


def application_clause(app_ids: Sequence[str]) -> Optional[str]:
    """`None` for an empty list: every application's sign-ins are read."""
    if not app_ids:
        return None
    terms = [f"{field} eq '{app_id}'" for app_id in app_ids for field in ("appId", "resourceId")]
    return "(" + " or ".join(terms) + ")"


def sign_in_filter(start: datetime, end: datetime, app_ids: Sequence[str], end_inclusive: bool = False) -> str:
    clauses = [window_clause(start, end, end_inclusive), application_clause(app_ids)]
    return " and ".join(clause for clause in clauses if clause)
