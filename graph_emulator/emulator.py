"""The Emulator: wires tenant, login, routes, faults, throttle and the HTTPS server together.

The HTTP side (server.py, pipeline.py, control.py) reaches it only through the protocols in ports.py.
"""

from __future__ import annotations

import functools
import shutil
import ssl
import tempfile
import threading
from typing import Any

from . import routes as routes_mod
from .apps import App, make_apps
from .audit import AuditLog
from .auth import Login
from .faults import FaultRule, Faults
from .paging import PageTokens
from .ports import RouteMatch
from .reqlog import RequestLog
from .server import EmulatorHTTPServer
from .tenant import Tenant, TenantSpec
from .throttle import EmulatorClock, Throttle
from .tls import make_server_tls, new_signing_key

_signing_key = functools.lru_cache(maxsize=1)(new_signing_key)


class Emulator:
    """A local Entra tenant + Microsoft Graph over HTTPS on 127.0.0.1; usable as a context manager."""

    def __init__(
        self,
        spec: TenantSpec | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        token_lifetime: int = 3600,
        skiptoken_ttl: float = 600.0,
        clock: EmulatorClock | None = None,
    ) -> None:
        """`clock` is what the throttles, fault durations and request log read (default: the machine's); a test
        whose client skips its waits passes one that those skipped seconds move on (testing/clock.py)."""
        self.spec = spec or TenantSpec()
        self.clock = clock or EmulatorClock()
        self.host, self._port = host, port
        self.tenant = Tenant(self.spec)
        self.tenant_id = self.tenant.tenant_id
        self.apps: dict[str, App] = make_apps(self.spec.seed)
        self.login = Login(self.tenant, self.apps, _signing_key(), token_lifetime)
        self.tokens = PageTokens(skiptoken_ttl)
        self.graph = routes_mod.GraphRoutes(self.tenant, self.tokens)
        self.audit = AuditLog(self.tenant, self.tokens, clock=self.clock.monotonic)
        self._routes = routes_mod.route_table(self.graph, routes_mod.LoginRoutes(self.login), self.audit)
        self.faults = Faults(self.clock.monotonic)
        self.throttle = Throttle(self.clock.monotonic)
        self.activity_throttle = Throttle(self.clock.monotonic, stats_window=60.0)
        self.log = RequestLog()
        self.latency: dict[str, float] = {}
        self.base_url = ""
        self.ca_path = ""
        self._dir: str | None = None
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Generate TLS material, bind, and serve in a background thread."""
        self._dir = tempfile.mkdtemp(prefix="graph-emulator-")
        tls = make_server_tls(self._dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_path, tls.key_path)
        self._server = EmulatorHTTPServer((self.host, self._port), self, context)
        port = self._server.server_address[1]
        self.base_url = f"https://{self.host}:{port}"
        self.ca_path = tls.ca_path
        self.login.base_url = self.graph.base_url = self.audit.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="graph-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the generated certificates."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def match_route(self, method: str, path: str) -> RouteMatch | None:
        """(route name, handler, needs token, path params) for a request, or None."""
        for m, pattern, name, handler, needs_token in self._routes:
            found = pattern.match(path)
            if found and m == method:
                return name, handler, needs_token, found.groupdict()
        return None

    # -- what a client needs to know -------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the CLI prints and `GET /_emulator/info` answers: where the tenant is served, its clock, and
        its app registrations (by name) with the client id and secret each signs in with."""
        return {
            "base_url": self.base_url,
            "ca_path": self.ca_path,
            "tenant_id": self.tenant_id,
            "control_url": self.base_url + "/_emulator",
            "now": self.tenant.now.isoformat().replace("+00:00", "Z"),
            "apps": {
                name: {"client_id": app.client_id, "client_secret": app.client_secret}
                for name, app in self.apps.items()
            },
        }

    # -- control ---------------------------------------------------------------------------
    def set_throttle(self, requests: int | None, per_seconds: float = 10.0, integer_retry_after: bool = False) -> None:
        """Per-app budget on signIns: `requests` per sliding `per_seconds`; None turns it off."""
        self.throttle.configure(requests, per_seconds, integer_retry_after)

    def set_activity_throttle(self, requests: int | None = 10, per_seconds: float = 60.0) -> None:
        """Per-app budget on users pages that select signInActivity (Graph: 10 per 60 s); None turns it off."""
        self.activity_throttle.configure(requests, per_seconds)

    def set_latency(self, route: str, seconds: float) -> None:
        """Sleep this long before answering each request on route (users/groups/signIns/subscribedSkus/token)."""
        self.latency[route] = seconds

    def add_fault(self, rule: FaultRule | dict[str, Any]) -> dict[str, Any]:
        """Add a fault rule (see faults.py for the format); returns it with its id. A licence move is checked
        against the tenant now (ValueError: the control API's 400), not when it fires."""
        rule = rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule)
        if rule.kind == "move_licence":
            assert rule.user is not None and rule.from_sku is not None and rule.to_sku is not None
            self.tenant.directory.moved_licences(rule.user, rule.from_sku, rule.to_sku)
        return self.faults.add(rule).to_dict()

    def clear_faults(self) -> None:
        self.faults.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        self.login.revoke_all()

    def move_licence(self, user_id: str, from_sku: str, to_sku: str) -> None:
        """Reassign a user's licence from one SKU to another (a move_licence fault firing); see Directory."""
        self.tenant.directory.move_licence(user_id, from_sku, to_sku)

    def grant_roles(self, app: str, roles: list[str] | tuple[str, ...]) -> None:
        """Consent exactly these application permissions for a registered app (by name); new tokens carry them."""
        self.login.grant(self.apps[app].client_id, roles)

    def set_token_lifetime(self, seconds: int) -> None:
        self.login.lifetime = seconds

    def set_skiptoken_ttl(self, seconds: float) -> None:
        self.tokens.ttl = seconds

    def set_premium(self, enabled: bool) -> None:
        self.tenant.premium = enabled

    def set_license_filter_with_activity(self, enabled: bool) -> None:
        """Whether /users accepts `assignedLicenses/any(...)` together with `$select=signInActivity` (undocumented)."""
        self.tenant.license_filter_with_activity = enabled

    def set_or_filter(self, enabled: bool) -> None:
        """Whether signIns accepts `or` in `$filter`; the connector must fall back to one query per application."""
        self.tenant.or_filter = enabled

    def set_audit_latency(self, seconds: float) -> None:
        """Seconds from an audit log query's create to its final status (notStarted the first quarter, then running)."""
        self.audit.settings.latency = seconds

    def set_audit_limits(
        self, max_unfinished: int = 50, submissions_per_day: int = 200, record_count_limit: int = 1_000_000
    ) -> None:
        """The tenant's audit log query limits (Microsoft's documented baselines by default)."""
        self.audit.settings.max_unfinished = max_unfinished
        self.audit.settings.submissions_per_day = submissions_per_day
        self.audit.settings.record_count_limit = record_count_limit

    def set_crm_auditing(self, enabled: bool) -> None:
        """Whether Dataverse activity logging feeds Purview: off, every audit log query finds no CRM record."""
        self.tenant.crm_auditing = enabled

    def set_audit_query_v1(self, enabled: bool) -> None:
        """Whether v1.0 serves the audit log query API (False: beta only, as after MC1052169 in 2025)."""
        self.tenant.audit_query_v1 = enabled

    def audit_queries(self) -> list[dict[str, Any]]:
        """Every audit log query the tenant holds, with its status now (whichever client or connection made it)."""
        return self.audit.summaries()

    def advance(self, minutes: float, late: int = 0) -> dict[str, Any]:
        """Move the tenant clock; see Tenant.advance."""
        return self.tenant.advance(minutes, late)

    def request_log(self, route: str | None = None) -> list[dict[str, Any]]:
        """Every request so far (method, path, query, route, client_id, status, time, fault, ignored_clause)."""
        return self.log.entries(route)

    def sign_in_filters(self, first_pages_only: bool = False, api_version: str | None = None) -> list[str]:
        """Every signIns `$filter` a client sent, in order: first pages and those nextLinks carried.

        What tests assert on to prove a client used only documented operators; `first_pages_only`
        keeps the queries it built itself (no `$skiptoken`), `api_version` ("v1.0"/"beta") one version's.
        """
        return self.log.sign_in_filters(first_pages_only, api_version)

    def reset_log(self) -> None:
        """Forget logged requests and throttle statistics."""
        self.log.reset()
        self.throttle.reset_stats()
        self.activity_throttle.reset_stats()

    def stats(self) -> dict[str, Any]:
        """Throttle statistics per app client_id, plus counts of requests and 429s."""
        entries = self.log.entries()
        return {
            "apps": self.throttle.stats(),
            "violations": sum(v["violations"] for v in self.throttle.stats().values()),
            "throttled": sum(1 for e in entries if e["status"] == 429),
            "requests": len(entries),
            "max_requests_in_10s": max((v["max_requests_in_10s"] for v in self.throttle.stats().values()), default=0),
            "activity": self.activity_throttle.stats(),
        }
