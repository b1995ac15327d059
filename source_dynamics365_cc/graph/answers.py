"""What each Graph answer means: `GraphErrorHandler` maps every response to an `ErrorResolution` (retry, refresh
the token, fail as config error, ...), and the CDK's `HttpClient` acts on it.

A query that handles some answers itself (users without signInActivity, a refused sign-in filter, an optional
stream's 403) names them (graph/query.py): the handler lets them through, unjudged, for the road to return
(graph/road.py). What the handler needs to know of the question (the permission a 403 names) it reads from the query,
so the classification here knows no stream's path. Messages never carry secrets.
"""

import email.utils
import logging
from datetime import datetime, timezone
from typing import Optional, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from ..auth.permissions import StreamPermissions, forbidden_message
from ..errors import TokenError
from .pages import graph_entity, graph_page
from .query import ExpectedRefusal

PREMIUM_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
EXPIRED_PAGE_CODE = "Directory_ExpiredPageToken"


def malformed_page(resume_note: str) -> str:
    """Logged at each retry, and the failure's message once the retries run out; `resume_note` says what the next
    sync does (the streams word it: streams/restarts.py)."""
    return (
        "Microsoft Graph sent a malformed page (cut short, not JSON, or without its 'value' list of records); fetching "
        f"it again. Should it stay malformed, run the sync again later: {resume_note}"
    )


def corrupted_answer(resume_note: str) -> str:
    """A body that cannot be decoded as its Content-Encoding says (gzip that is not gzip): something in between, a
    proxy most often, changed the answer on its way. Retried like a malformed page; the text is the sentence once
    the retries run out."""
    return (
        "An answer from Microsoft Graph arrived corrupted (its body could not be decoded as its Content-Encoding says; "
        "a proxy between this machine and Graph may be altering answers); fetching it again. Should it stay so, check "
        f"that proxy, then run the sync again: {resume_note}"
    )


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


def _retry(cause: str, resume_note: str) -> ErrorResolution:
    """Retried quietly; the text is what the user reads once the retries run out, so it says what to do then."""
    return ErrorResolution(
        ResponseAction.RETRY,
        FailureType.transient_error,
        f"Microsoft Graph was unavailable ({cause}). Run the sync again later: {resume_note}",
    )


RATE_LIMITED = ErrorResolution(
    ResponseAction.RATE_LIMITED, FailureType.transient_error, "Microsoft Graph is throttling; waiting."
)
SUCCESS = ErrorResolution(ResponseAction.SUCCESS)


def no_refusal(response: requests.Response) -> Optional[object]:
    """A query that expects no refusal: every answer is judged here."""
    return None


class GraphErrorHandler(ErrorHandler):
    """Decides what each Graph answer to one query means; the CDK's HttpClient then retries, refreshes or fails. An
        answer the query `expected` as a refusal (graph/query.py) is passed back unjudged, for the road to return as the
        read's outcome (graph/road.py). A 403 names the query's `permission`. A 2xx must be a page of records, or one entity
    when the query answers one. `resume_note` ends a failure's message with
        what the next sync does, in the streams' words."""

    def __init__(
        self,
        logger: logging.Logger,
        resume_note: str,
        max_retries: int = 8,
        max_time_seconds: int = 900,
        expected: ExpectedRefusal = no_refusal,
        permission: Optional[StreamPermissions] = None,
        entity: bool = False,
    ) -> None:
        """`entity`: the query answers one entity (graph/query.py `GraphQuery.entity`), not a page of records."""
        self._logger = logger
        self._decode = graph_entity if entity else graph_page
        self._expected = expected
        self._permission = permission
        self._resume_note = resume_note
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
            if self._expected(response_or_exception) is not None:
                return SUCCESS
            return self._interpret_status(response_or_exception)
        if isinstance(response_or_exception, requests.exceptions.ContentDecodingError):
            return ErrorResolution(
                ResponseAction.RETRY, FailureType.transient_error, corrupted_answer(self._resume_note)
            )
        if isinstance(
            response_or_exception,
            (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
        ):
            return _retry(type(response_or_exception).__name__, self._resume_note)
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
            return _retry(f"HTTP {status}", self._resume_note)
        code, message = graph_error(response)
        if status == 401:
            return ErrorResolution(
                ResponseAction.REFRESH_TOKEN_THEN_RETRY,
                FailureType.transient_error,
                "The access token was rejected; fetching a new one.",
            )
        if status == 403:
            return self._interpret_forbidden(code, message)
        if code == EXPIRED_PAGE_CODE:
            return ErrorResolution(
                ResponseAction.RESET_PAGINATION,
                FailureType.transient_error,
                "The page token expired; restarting the window.",
            )
        return _fail(f"Microsoft Graph rejected the request ({status} {code}): {message}", FailureType.system_error)

    def _interpret_page(self, response: requests.Response) -> ErrorResolution:
        """A 200 whose body is cut short, not JSON, without its `value` list or with something other than records in
        it is a transport fault: fetch the page again (graph/pages.py says why a page without records is one)."""
        try:
            self._decode(response)
        except ValueError:
            return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, malformed_page(self._resume_note))
        return SUCCESS

    def _interpret_forbidden(self, code: str, message: str) -> ErrorResolution:
        if code == PREMIUM_CODE:
            return _fail(
                "Sign-in logs need Microsoft Entra ID P1 or P2 in this tenant (Graph: 'tenant doesn't have premium license'). "
                "Add a P1/P2 license (Microsoft 365 admin center > Billing > Licenses), or turn off the setting 'Read the "
                "sign-in log (needs Entra ID P1/P2)' (include_sign_in_log) in the source's settings."
            )
        return _fail(forbidden_message(self._permission, message))


def graph_clock(response: requests.Response) -> Optional[datetime]:
    """Graph's own time from the `Date` header: this machine's clock may be minutes off."""
    try:
        moment = email.utils.parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
