"""What the HTTP side needs of the emulator, each side no more than it uses.

    Gateway   what an API request's steps (pipeline.py) read and update (a move_licence fault: the tenant too)
    Controls  what the control API (control.py) drives
    Served    what the server (server.py) hands both of them, plus the tenant clock and the request log

`Emulator` (emulator.py) is the one implementation: it wires tenant, login, faults, throttle and log
together and serves itself. These protocols keep pipeline.py, control.py and server.py from reaching
into anything else it holds.
"""

from __future__ import annotations

from typing import Any, Protocol

from .auth import Login
from .faults import Faults
from .reqlog import RequestLog
from .routes import Handler
from .throttle import EmulatorClock, Throttle

# (route name, handler, needs a bearer token, path parameters) of the route a request is for.
RouteMatch = tuple[str, Handler, bool, dict[str, str]]


class Gateway(Protocol):
    """Routes, fault rules, sign-in, the sign-in throttle and per-route latency, as an API request meets them."""

    faults: Faults
    login: Login
    throttle: Throttle
    activity_throttle: Throttle
    latency: dict[str, float]  # route -> seconds to sleep before serving

    def match_route(self, method: str, path: str) -> RouteMatch | None: ...

    def revoke_tokens(self) -> None: ...

    def move_licence(self, user_id: str, from_sku: str, to_sku: str) -> None: ...


class Controls(Protocol):
    """One method per control endpoint (the table in control.py), and the fault rules to list."""

    faults: Faults

    def info(self) -> dict[str, Any]: ...

    def set_throttle(self, requests: int | None, per_seconds: float = ..., integer_retry_after: bool = ...) -> None: ...

    def set_activity_throttle(self, requests: int | None = ..., per_seconds: float = ...) -> None: ...

    def set_latency(self, route: str, seconds: float) -> None: ...

    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]: ...

    def clear_faults(self) -> None: ...

    def revoke_tokens(self) -> None: ...

    def grant_roles(self, app: str, roles: list[str]) -> None: ...

    def set_token_lifetime(self, seconds: int) -> None: ...

    def set_skiptoken_ttl(self, seconds: float) -> None: ...

    def set_premium(self, enabled: bool) -> None: ...

    def set_or_filter(self, enabled: bool) -> None: ...

    def set_license_filter_with_activity(self, enabled: bool) -> None: ...

    def advance(self, minutes: float, late: int = ...) -> dict[str, Any]: ...

    def set_audit_latency(self, seconds: float) -> None: ...

    def set_audit_limits(
        self, max_unfinished: int = ..., submissions_per_day: int = ..., record_count_limit: int = ...
    ) -> None: ...

    def set_crm_auditing(self, enabled: bool) -> None: ...

    def set_audit_query_v1(self, enabled: bool) -> None: ...

    def audit_queries(self) -> list[dict[str, Any]]: ...

    def request_log(self, route: str | None = ...) -> list[dict[str, Any]]: ...

    def reset_log(self) -> None: ...

    def sign_in_filters(self, first_pages_only: bool = ..., api_version: str | None = ...) -> list[str]: ...

    def stats(self) -> dict[str, Any]: ...


class TenantClock(Protocol):
    """The tenant's clock in 100-ns ticks: every answer's `Date` header reads it."""

    @property
    def now_ticks(self) -> int: ...


class Served(Gateway, Controls, Protocol):
    """What the server holds: it passes API requests through the Gateway and control requests to Controls,
    dates every answer by the tenant clock and logs every API request at the time of the emulator's clock."""

    log: RequestLog
    clock: EmulatorClock

    @property
    def tenant(self) -> TenantClock: ...
