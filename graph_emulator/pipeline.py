"""An API request's way through the emulator, as an ordered list of small steps.

    route -> fault -> token form -> authenticate -> throttle -> latency -> serve (-> truncate)

Each step reads and updates one `Exchange`; a step may answer early (a fault's status) or raise an
`ApiError` (404, 401, 429, an expired page token) or `Reset` (a dropped connection). The order is
Graph's: its gateway authenticates and counts a request when it arrives, then the page takes its
time to be served. server.py puts the answer on the wire.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qsl

from . import errors
from .errors import AadError, ApiError, GraphError
from .faults import HANDLER_KINDS, PAGE_KINDS, WIRE_KINDS, FaultRule
from .ports import Gateway
from .routes import Request

Answer = tuple[int, bytes, dict[str, str]]
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
GATEWAY_HTML = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body>"
    "<h1>{status} {reason}</h1><p>The server encountered a temporary error and could not complete your "
    "request.</p><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body></html>"
)

# What a TLS-inspecting proxy or captive portal answers in the service's place.
BLOCK_PAGE = (
    "<!DOCTYPE html><html><head><title>Access Denied</title></head><body><h1>Web page blocked</h1>"
    "<p>Access to the requested site has been denied by your organization's web filter policy.</p>"
    "<p>Category: Uncategorized. Contact your network administrator.</p></body></html>"
)

# What a gateway answering with JSON in the service's place says (an API gateway's or proxy's own error object).
FOREIGN_JSON = {"error": "Request blocked by the gateway policy", "error_description": "Contact your administrator."}


class Reset(Exception):
    """Abort the connection without an answer."""


@dataclass
class Exchange:
    """One API request on its way through the steps, and what they learnt of it."""

    emu: Gateway
    method: str
    path: str
    query: dict[str, Any]
    raw: bytes
    entry: dict[str, Any]  # the request log's line, filled in as the steps go
    headers: Mapping[str, str]
    route: str = ""
    handler: Optional[Callable[[Request], Any]] = None
    needs_token: bool = False
    req: Optional[Request] = None
    malformed: bool = False
    page_fault: Optional[FaultRule] = None  # a page kind (faults.PAGE_KINDS) rewriting the served page
    wire_fault: Optional[FaultRule] = None  # a wire kind (faults.WIRE_KINDS): how server.py sends the answer


def route(x: Exchange) -> Optional[Answer]:
    match = x.emu.match_route(x.method, x.path)
    if match is None:
        raise GraphError(
            404, "Request_ResourceNotFound", f"Resource not found for the segment '{x.path.rsplit('/', 1)[-1]}'."
        )
    x.route, x.handler, x.needs_token, params = match
    x.entry["route"] = x.route
    x.req = Request(x.method, x.path, params, x.query, headers=x.headers, body=x.raw)
    return None


def inject_fault(x: Exchange) -> Optional[Answer]:
    """The first fault rule that matches this request, if any (faults.py)."""
    assert x.req is not None
    rule = x.emu.faults.match(x.route, "$skiptoken" in x.query, x.req.params.get("version", "").lower() or None)
    if rule is None:
        return None
    x.entry["fault"] = rule.kind
    if rule.kind == "reset":
        raise Reset()
    if rule.kind == "delay":
        time.sleep(rule.seconds)
    elif rule.kind == "status":
        return fault_answer(x.route, rule.status, rule.body, rule.retry_after)
    elif rule.kind == "expired_skiptoken":
        raise errors.expired_page_token()
    elif rule.kind == "invalid_skiptoken":
        raise errors.invalid_page_token()
    elif rule.kind == "revoke_tokens":
        x.emu.revoke_tokens()
    elif rule.kind == "malformed":
        x.malformed = True
    elif rule.kind == "ignore_filter":
        x.req.ignore = rule.clause
    elif rule.kind == "redirect":
        assert rule.location is not None
        return rule.status, b"", {"Location": rule.location}
    elif rule.kind == "block_page":
        return rule.status, BLOCK_PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"}
    elif rule.kind in PAGE_KINDS:
        x.page_fault = rule
    elif rule.kind in HANDLER_KINDS:
        x.req.fault = rule.kind
    elif rule.kind == "duplicate_row":
        x.req.repeat_row = True
    elif rule.kind == "move_licence":
        assert rule.user is not None and rule.from_sku is not None and rule.to_sku is not None
        x.emu.move_licence(rule.user, rule.from_sku, rule.to_sku)
    elif rule.kind in WIRE_KINDS:
        x.wire_fault = rule
    elif rule.kind == "foreign_json":
        return 200, json.dumps(FOREIGN_JSON).encode(), {"Content-Type": "application/json"}
    return None


def read_token_form(x: Exchange) -> Optional[Answer]:
    if x.route == "token":
        assert x.req is not None
        x.req.form = dict(parse_qsl(x.raw.decode("utf-8", "replace"), keep_blank_values=True))
        x.entry["client_id"] = x.req.form.get("client_id")
    return None


def authenticate(x: Exchange) -> Optional[Answer]:
    if x.needs_token:
        assert x.req is not None
        x.req.claims = x.emu.login.authenticate(x.headers.get("Authorization"))
        x.entry["client_id"] = x.req.claims.get("appid")
    return None


def throttle(x: Exchange) -> Optional[Answer]:
    """Graph's identity-reports budgets, per app, counted when the request arrives: sign-ins (v1.0 and beta
    together), and users pages that select signInActivity."""
    if x.route == "signIns":
        budget = x.emu.throttle
    elif x.route == "users" and "signinactivity" in str(x.query.get("$select", "")).lower():
        budget = x.emu.activity_throttle
    else:
        return None
    retry_after = budget.check(x.entry["client_id"] or "")
    if retry_after is not None:
        raise GraphError(
            429, "TooManyRequests", "Too many requests, please try again later.", {"Retry-After": retry_after}
        )
    return None


def add_latency(x: Exchange) -> Optional[Answer]:
    delay = x.emu.latency.get(x.route, 0.0)
    if delay:
        time.sleep(delay)
    return None


STEPS: tuple[Callable[[Exchange], Optional[Answer]], ...] = (
    route,
    inject_fault,
    read_token_form,
    authenticate,
    throttle,
    add_latency,
)


def answer(x: Exchange) -> Answer:
    """Run the steps in order; the first to answer wins, else the route's handler serves the request."""
    for step in STEPS:
        early = step(x)
        if early is not None:
            return early
    return serve(x)


def serve(x: Exchange) -> Answer:
    assert x.handler is not None and x.req is not None
    status, body, headers = x.handler(x.req)
    if x.req.ignore:
        x.entry["ignored_clause"] = x.req.ignore
    if x.page_fault is not None and status == 200:
        body = json.loads(body) if isinstance(body, bytes) else body  # sign-in pages come pre-rendered
        query = json.dumps([x.path, sorted((k, str(v)) for k, v in x.query.items() if k != "$skiptoken")])
        x.emu.faults.rewrite_page(x.page_fault, body, query)
    payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    if x.malformed:
        payload = payload[: max(1, len(payload) // 2)]
    if x.wire_fault is not None and x.wire_fault.kind == "corrupt_gzip":
        headers = {**headers, "Content-Encoding": "gzip"}
    return status, payload, {"Content-Type": JSON_TYPE, **headers}  # a handler may answer in another type


_FAULT_ERRORS = {  # status -> (Graph error code, message) for a `status` fault's JSON body
    400: ("BadRequest", "Cannot process the request because it is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource not found."),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("generalException", "Internal Server Error. The service is temporarily unavailable; retry later."),
    502: ("badGateway", "Bad Gateway. The service is temporarily unavailable; retry later."),
    503: ("serviceNotAvailable", "Service Unavailable. The service is temporarily unavailable; retry later."),
    504: ("gatewayTimeout", "Gateway Timeout. The service is temporarily unavailable; retry later."),
}
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def fault_answer(route: str, status: int, body: str, retry_after: Any) -> tuple[int, bytes, dict[str, str]]:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if body == "html":
        headers["Content-Type"] = "text/html"
        reason = _REASONS.get(status, "Error")
        return status, GATEWAY_HTML.format(status=status, reason=reason).encode(), headers
    if route == "token":
        err: ApiError = AadError(
            status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
        )
    else:
        code, message = _FAULT_ERRORS.get(status, ("generalException", "The service could not complete the request."))
        err = GraphError(status, code, message)
    headers["Content-Type"] = "application/json"
    return status, json.dumps(err.body(None)).encode(), headers
