"""HTTPS plumbing: a threaded HTTP/1.1 server with keep-alive, the control API, logging, bytes on the wire.

An API request goes through pipeline.py's ordered steps (route, fault, authenticate, throttle, latency,
serve); this module alone turns their answer (or an ApiError) into bytes on the wire.
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
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import control
from .errors import ApiError
from .gen import TICKS
from .pipeline import Exchange, Reset, answer
from .ports import Served
from .routes import parse_options


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Daemon threads, address reuse, and TLS negotiated in the worker thread, not the accept loop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Served, context: ssl.SSLContext) -> None:
        super().__init__(address, Handler)
        self.emulator = emulator
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: D102 - quiet on client hang-ups
        pass


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
            "time": emu.clock.time(),
        }
        client_request_id = self.headers.get("client-request-id")
        exchange: Exchange | None = None
        try:
            exchange = Exchange(emu, self.command, url.path, parse_options(pairs), raw, entry, self.headers)
            status, payload, headers = answer(exchange)
        except Reset:
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
        wire = exchange.wire_fault if exchange is not None else None
        self._send(status, payload, headers, wire.seconds if wire is not None and wire.kind == "trickle" else 0.0)

    # -- wire ------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, headers: dict[str, str], pause: float = 0.0) -> None:
        """The answer; with a `pause`, its body one byte at a time, `pause` seconds apart (the trickle fault), until
        the client hangs up."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not pause:
            self.wfile.write(payload)
            return
        self.wfile.flush()
        for byte in payload:
            time.sleep(pause)
            self.wfile.write(bytes((byte,)))
            self.wfile.flush()

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
