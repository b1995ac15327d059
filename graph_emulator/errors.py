"""One exception per API error, raised by handlers and serialised in one place (server.py).

ApiError
 ├── GraphError   Graph's {"error": {"code", "message", "innerError"}} body
 └── AadError     Entra's {"error", "error_description", "error_codes", ...} body
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


class ApiError(Exception):
    """An HTTP error answer: status, JSON body, extra headers."""

    status = 500

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers or {}

    def body(self, client_request_id: str | None) -> dict[str, Any]:
        raise NotImplementedError


class GraphError(ApiError):
    """A Microsoft Graph error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.code, self.message = code, message

    def body(self, client_request_id: str | None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": client_request_id or str(uuid.uuid4()),
                },
            }
        }


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def invalid_filter() -> GraphError:
    """Graph's answer to a clause signIns does not take (e.g. `lt`/`gt` on createdDateTime, a quoted date)."""
    return GraphError(400, "BadRequest", "Invalid filter clause")


def unsupported_filter(prop: str, resource: str) -> GraphError:
    """Graph's directory wording for a filter it understands but does not support (here: `or`)."""
    return GraphError(
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.",
    )


def needs_advanced_query(operator: str) -> GraphError:
    """A filter served only as an advanced query, sent without `ConsistencyLevel: eventual` or `$count=true`: the
    answer Microsoft's advanced-query page shows (https://learn.microsoft.com/graph/aad-advanced-queries)."""
    return GraphError(
        400,
        "Request_UnsupportedQuery",
        f"Operator '{operator}' is not supported because the required parameters might be missing. Try adding "
        "$count=true query parameter and ConsistencyLevel:eventual header. Refer to "
        "https://aka.ms/graph-docs/advanced-queries for more information",
    )


def before_retention(oldest: str, days: int) -> GraphError:
    """A createdDateTime lower bound the tenant no longer keeps.

    Graph was seen answering plain "Invalid filter clause" here (its min-date validation); the
    emulator keeps that prefix and says why, so a client can tell this 400 from a bad operator.
    """
    return GraphError(
        400,
        "BadRequest",
        f"Invalid filter clause: createdDateTime must not be earlier than {oldest}: sign-in logs are kept "
        f"for the last {days} days (the retention period).",
    )


def invalid_page_token() -> GraphError:
    """Graph refusing the skiptoken of its own nextLink (reported on signIns as a transient service fault)."""
    return GraphError(400, "BadRequest", "Invalid Skip Token, skip token is null")


def count_needs_consistency_level() -> GraphError:
    """`/users/$count` without `ConsistencyLevel: eventual` (https://learn.microsoft.com/graph/aad-advanced-queries)."""
    return GraphError(400, "Request_BadRequest", "$count is not currently supported.")


def denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def not_premium() -> GraphError:
    return GraphError(
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )


def unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": 'Bearer realm=""'})


def expired_page_token() -> GraphError:
    return GraphError(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
    )


class AadError(ApiError):
    """An Entra ID (AADSTS) token-endpoint error."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(status)
        self.error, self.code, self.description = error, code, description

    def body(self, client_request_id: str | None) -> dict[str, Any]:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), client_request_id or str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.description}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
