"""Error translation, in one place: what a Graph or Entra answer means and what the user should do.

    AirbyteTracedException (CDK)
     +-- ConfigError            the user must change the configuration or the app registration
     +-- TokenError             Entra refused to issue a token (AADSTS code -> admin-readable text)

`GraphErrorHandler` maps every Graph response to an `ErrorResolution` (retry, refresh the token,
fail as config error, ...); the CDK's `HttpClient` acts on it. Messages never carry secrets.
"""

import email.utils
import logging
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Union
from urllib.parse import parse_qs, urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .pages import graph_page
from .permissions import permission_for

PERMISSIONS_HINT = (
    "Azure portal: Microsoft Entra ID > App registrations > your app > API permissions > Add a permission > "
    "Microsoft Graph > Application permissions, then 'Grant admin consent'."
)
PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
EXPIRED_PAGE_CODE = "Directory_ExpiredPageToken"
# A 400 to the first request of a sign-in query that names its filter: the stream decides whether Graph refused
# a window start past retention, an `or` (not confirmed on signIns), or something it must report.
FILTER_REFUSED = "Microsoft Graph refused a sign-in $filter (HTTP 400)."
UNSUPPORTED_QUERY_CODE = "Request_UnsupportedQuery"
SIGN_IN_PATH = "/auditLogs/signIns"
# Only the sign-in streams keep a cursor; a full-refresh stream cannot resume (Graph's page tokens expire).
RESUME_NOTE = (
    "sign_ins and non_interactive_sign_ins resume from their last saved state; users and subscribed_skus are "
    "read again in full."
)
# Logged at each retry, and the failure's message once the retries run out.
MALFORMED_PAGE = (
    "Microsoft Graph sent a malformed page (cut short, not JSON, or without its 'value' list of records); fetching "
    f"it again. Should it stay malformed, run the sync again later: {RESUME_NOTE}"
)
TRANSIENT_TOKEN_ERRORS = ("temporarily_unavailable", "server_error", "service_unavailable", "invalid_response")


class ConfigError(AirbyteTracedException):
    """A problem the user fixes in the configuration or in the Azure portal; never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


class TokenError(AirbyteTracedException):
    """Entra answered the token request with an error; `transient` tells a retryable outage apart."""

    def __init__(self, message: str, transient: bool = False) -> None:
        failure = FailureType.transient_error if transient else FailureType.config_error
        super().__init__(message=message, internal_message=message, failure_type=failure)


class SignInActivityRefused(Exception):
    """Graph refused `signInActivity` on /users (no P1/P2 or no AuditLog.Read.All); the roster can go on without it."""


class FilterRefused(Exception):
    """Graph refused a sign-in query's `$filter` on its first request (HTTP 400), with its code, message and clock."""

    def __init__(self, code: str, message: str, graph_now: Optional[datetime]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.graph_now = graph_now

    @classmethod
    def from_response(cls, response: requests.Response) -> "FilterRefused":
        code, message = graph_error(response)
        return cls(code, message, graph_clock(response))

    def explained(self) -> AirbyteTracedException:
        """The refusal as a failure the user can act on, in Graph's own words."""
        return AirbyteTracedException(
            message=(
                f"Microsoft Graph rejected the sign-in query (400 {self.code or 'BadRequest'}): "
                f"{self.message or 'no message'}. The sign_ins stream's state was not moved past it."
            ),
            failure_type=FailureType.system_error,
        )


AADSTS_MESSAGES: dict[str, str] = {
    "7000215": (
        "The client secret is wrong. Paste the secret's Value, not its Secret ID (the ID is a GUID; the value is "
        "about 40 characters and is shown only once). Azure portal: App registrations > your app > "
        "Certificates & secrets > Client secrets; create a new secret if the value is lost."
    ),
    "7000222": (
        "The client secret has expired. Create a new one in Azure portal: App registrations > your app > "
        "Certificates & secrets > Client secrets, and paste its Value here."
    ),
    "700016": (
        "No application with this Client ID exists in the tenant. Check the Application (client) ID in "
        "App registrations > your app > Overview, and that the Tenant ID is the tenant where the app is registered."
    ),
    "90002": "The tenant was not found. Check the Tenant ID: Microsoft Entra ID > Overview > Tenant ID.",
    "7000112": "The application is disabled. Enable it in Enterprise applications > your app > Properties > 'Enabled for users to sign-in?'.",
    "90094": "An administrator has not granted consent to this app. " + PERMISSIONS_HINT,
    "65001": "An administrator has not granted consent to this app. " + PERMISSIONS_HINT,
    "500011": "The Graph endpoint is not known to this tenant's cloud. Check 'cloud' and 'graph_endpoint'.",
    "700027": (
        "The certificate was not accepted. Upload this certificate (its public part) to App registrations > your app > "
        "Certificates & secrets > Certificates, and check that the private key belongs to it."
    ),
    "700024": "The certificate assertion has expired or is not yet valid: check this machine's clock.",
}


def token_error_message(result: Mapping[str, Any]) -> TokenError:
    """Turn msal's error result (Entra's JSON) into a `TokenError` an admin can act on."""
    codes = [str(code) for code in result.get("error_codes") or []]
    for code in codes:
        if code in AADSTS_MESSAGES:
            return TokenError(f"Sign-in to Microsoft Entra failed (AADSTS{code}): {AADSTS_MESSAGES[code]}")
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "").split("\r\n")[0].split(" Trace ID:")[0]
    transient = error in TRANSIENT_TOKEN_ERRORS
    return TokenError(f"Microsoft Entra refused the token request ({error}): {description}", transient=transient)


def graph_error(response: requests.Response) -> tuple[str, str]:
    """The `(code, message)` of a Graph error body; HTML gateway pages and empty bodies give empty strings."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _fail(message: str, failure_type: FailureType = FailureType.config_error) -> ErrorResolution:
    return ErrorResolution(ResponseAction.FAIL, failure_type, message)


def _retry(cause: str) -> ErrorResolution:
    """Retried quietly; the text is what the user reads once the retries run out, so it says what to do then."""
    return ErrorResolution(
        ResponseAction.RETRY,
        FailureType.transient_error,
        f"Microsoft Graph was unavailable ({cause}). Run the sync again later: {RESUME_NOTE}",
    )


RATE_LIMITED = ErrorResolution(
    ResponseAction.RATE_LIMITED, FailureType.transient_error, "Microsoft Graph is throttling; waiting."
)
SUCCESS = ErrorResolution(ResponseAction.SUCCESS)


class GraphErrorHandler(ErrorHandler):
    """Decides what each Graph answer means; the CDK's HttpClient then retries, refreshes or fails."""

    def __init__(self, logger: logging.Logger, max_retries: int = 8, max_time_seconds: int = 900) -> None:
        self._logger = logger
        self._max_retries = max_retries
        self._max_time = max_time_seconds

    @property
    def max_retries(self) -> Optional[int]:
        return self._max_retries

    @property
    def max_time(self) -> Optional[int]:
        return self._max_time

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]] = None
    ) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response):
            return self._interpret_status(response_or_exception)
        if isinstance(
            response_or_exception,
            (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
        ):
            return _retry(type(response_or_exception).__name__)
        if isinstance(response_or_exception, TokenError):
            return _fail(response_or_exception.message or "", response_or_exception.failure_type)
        return _fail(
            f"Unexpected error talking to Microsoft Graph: {type(response_or_exception).__name__}",
            FailureType.system_error,
        )

    def _interpret_status(self, response: requests.Response) -> ErrorResolution:
        status = response.status_code
        if status < 400:
            return self._interpret_page(response)
        if status == 429:
            return RATE_LIMITED
        if status == 408 or status >= 500:
            return _retry(f"HTTP {status}")
        code, message = graph_error(response)
        if status == 401:
            return ErrorResolution(
                ResponseAction.REFRESH_TOKEN_THEN_RETRY,
                FailureType.transient_error,
                "The access token was rejected; fetching a new one.",
            )
        if status == 403:
            return self._interpret_forbidden(response, code, message)
        if code == EXPIRED_PAGE_CODE:
            return ErrorResolution(
                ResponseAction.RESET_PAGINATION,
                FailureType.transient_error,
                "The page token expired; restarting the window.",
            )
        if refuses_filter(response):
            return ErrorResolution(ResponseAction.IGNORE, None, FILTER_REFUSED)
        return _fail(f"Microsoft Graph rejected the request ({status} {code}): {message}", FailureType.system_error)

    def _interpret_page(self, response: requests.Response) -> ErrorResolution:
        """A 200 whose body is cut short, not JSON or without its `value` list is a transport fault: fetch the page
        again (pages.py says why a page without records is one)."""
        try:
            graph_page(response)
        except ValueError:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, MALFORMED_PAGE)
        return SUCCESS

    def _interpret_forbidden(self, response: requests.Response, code: str, message: str) -> ErrorResolution:
        path = response.request.path_url if response.request is not None else ""
        if "signInActivity" in path and "/users" in path:
            return ErrorResolution(ResponseAction.IGNORE, None, "Graph refused signInActivity on users.")
        if code == PREMIUM_CODE:
            return _fail(
                "Sign-in logs need Microsoft Entra ID P1 or P2 in this tenant (Graph: 'tenant doesn't have premium license'). "
                "Add a P1/P2 license (Microsoft 365 admin center > Billing > Licenses), or deselect the sign_ins stream."
            )
        return _fail(forbidden_message(path, message))


def refuses_filter(response: requests.Response) -> bool:
    """A 400 to the FIRST request of a sign-in query whose error names the filter or an unsupported query.

    Graph judges a filter on a query's first request; a 400 on a nextLink (an invalid or expired page token, say)
    is another failure and is never read as a refused filter.
    """
    if response.status_code != 400 or response.request is None:
        return False
    parts = urlsplit(response.request.url or "")
    params = parse_qs(parts.query)
    if SIGN_IN_PATH not in parts.path or "$filter" not in params or "$skiptoken" in params:
        return False
    code, message = graph_error(response)
    text = message.lower()
    return code == UNSUPPORTED_QUERY_CODE or "filter" in text or "not supported" in text or "unsupported" in text


def graph_clock(response: requests.Response) -> Optional[datetime]:
    """Graph's own time from the `Date` header: this machine's clock may be minutes off."""
    try:
        moment = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def forbidden_message(path: str, message: str) -> str:
    """Name the least-privileged application permission for the resource a 403 came from."""
    stream = permission_for(path)
    needs = f"the application permission {stream.requirement()}" if stream else "its application permissions"
    return (
        f"Microsoft Graph denied access ({message or 'Authorization_RequestDenied'}): the app needs {needs} "
        f"with admin consent. {PERMISSIONS_HINT}"
    )
