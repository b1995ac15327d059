"""HTTPS plumbing: a threaded HTTP/1.1 server with keep-alive, routing, faults, latency, logging.

Handlers return values; this module alone turns them (and ApiErrors) into bytes on the wire.
"""

from __future__ import annotations

import email.utils
import json
import socket
import ssl
import struct
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from . import control, errors
from .errors import AadError, ApiError, GraphError
from .gen import TICKS
from .routes import Request, parse_options

if TYPE_CHECKING:
    from .emulator import Emulator

GATEWAY_HTML = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body>"
    "<h1>{status} {reason}</h1><p>The server encountered a temporary error and could not complete your "
    "request.</p><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body></html>"
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Daemon threads, address reuse, and TLS negotiated in the worker thread, not the accept loop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator, context: ssl.SSLContext) -> None:
        super().__init__(address, Handler)
        self.emulator = emulator
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: D102 - quiet on client hang-ups
        pass


class _Reset(Exception):
    """Abort the connection without an answer."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header by the tenant clock, not this machine's: Graph's clock may run ahead of the
        connector's, and a client that reads Graph's time (retention, say) must see the tenant's."""
        tenant_seconds = self.server.emulator.tenant.now_ticks / TICKS
        return email.utils.formatdate(tenant_seconds if timestamp is None else timestamp, usegmt=True)

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    # -- dispatch --------------------------------------------------------------------------
    def _dispatch(self) -> None:
        emu = self.server.emulator
        url = urlsplit(self.path)
        raw = self._read_body()
        if url.path.startswith("/_emulator"):
            body = json.loads(raw or b"{}") if raw else {}
            status, value = control.handle(emu, self.command, url.path, dict(parse_qsl(url.query)), body)
            self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json"})
            return
        pairs = parse_qsl(url.query, keep_blank_values=True)
        entry: dict[str, Any] = {
            "method": self.command,
            "path": url.path,
            "query": _query_dict(pairs),
            "route": None,
            "client_id": None,
            "status": None,
            "time": time.time(),
        }
        client_request_id = self.headers.get("client-request-id")
        try:
            status, payload, headers = self._handle(emu, url.path, pairs, raw, entry)
        except _Reset:
            entry["status"] = 0
            emu.log.add(entry)
            self._reset()
            return
        except ApiError as exc:
            status, payload, headers = exc.status, json.dumps(exc.body(client_request_id)).encode(), dict(exc.headers)
            headers["Content-Type"] = "application/json"
        entry["status"] = status
        emu.log.add(entry)
        headers.setdefault("request-id", str(uuid.uuid4()))
        if client_request_id:
            headers["client-request-id"] = client_request_id
        self._send(status, payload, headers)

    def _handle(
        self, emu: Emulator, path: str, pairs: list[tuple[str, str]], raw: bytes, entry: dict[str, Any]
    ) -> tuple[int, bytes, dict[str, str]]:
        match = emu.match_route(self.command, path)
        if match is None:
            raise GraphError(
                404, "Request_ResourceNotFound", f"Resource not found for the segment '{path.rsplit('/', 1)[-1]}'."
            )
        route, handler, needs_token, params = match
        entry["route"] = route
        query = parse_options(pairs)
        req = Request(self.command, path, params, query)
        malformed = False
        rule = emu.faults.match(route, "$skiptoken" in query, params.get("version", "").lower() or None)
        if rule is not None:
            entry["fault"] = rule.kind
            if rule.kind == "reset":
                raise _Reset()
            if rule.kind == "delay":
                time.sleep(rule.seconds)
            elif rule.kind == "status":
                return _fault_answer(route, rule.status, rule.body, rule.retry_after)
            elif rule.kind == "expired_skiptoken":
                raise errors.expired_page_token()
            elif rule.kind == "invalid_skiptoken":
                raise errors.invalid_page_token()
            elif rule.kind == "revoke_tokens":
                emu.revoke_tokens()
            elif rule.kind == "malformed":
                malformed = True
            elif rule.kind == "ignore_filter":
                req.ignore = rule.clause
        delay = emu.latency.get(route, 0.0)
        if delay:
            time.sleep(delay)
        if route == "token":
            req.form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            entry["client_id"] = req.form.get("client_id")
        if needs_token:
            req.claims = emu.login.authenticate(self.headers.get("Authorization"))
            entry["client_id"] = req.claims.get("appid")
        if route == "signIns":
            retry_after = emu.throttle.check(entry["client_id"] or "")
            if retry_after is not None:
                raise GraphError(
                    429, "TooManyRequests", "Too many requests, please try again later.", {"Retry-After": retry_after}
                )
        status, body, headers = handler(req)
        if req.ignore:
            entry["ignored_clause"] = req.ignore
        payload = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        if malformed:
            payload = payload[: max(1, len(payload) // 2)]
        headers = {
            **headers,
            "Content-Type": "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        }
        return status, payload, headers

    # -- wire ------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with RST and no answer, as a dropped connection looks to the client."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass


def _query_dict(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            out[key] = out[key] if isinstance(out[key], list) else [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


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


def _fault_answer(route: str, status: int, body: str, retry_after: Any) -> tuple[int, bytes, dict[str, str]]:
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
