"""The control API under /_emulator/... : JSON in, JSON out, no auth, apart from the API routes.

Each endpoint maps to one method of `Controls` (ports.py; the Emulator's), so HTTP and in-process tests drive
the same code:
    GET    /_emulator/info                              -> info()
    POST   /_emulator/throttle   {requests, per_seconds, integer_retry_after}
    POST   /_emulator/activity-throttle   {requests, per_seconds}
    POST   /_emulator/latency    {route, seconds}
    GET    /_emulator/faults  | POST {rule} | DELETE
    POST   /_emulator/revoke
    POST   /_emulator/roles      {app, roles}
    POST   /_emulator/token-lifetime  {seconds}
    POST   /_emulator/skiptoken-ttl   {seconds}
    POST   /_emulator/premium    {enabled}
    POST   /_emulator/or-filter  {enabled}
    POST   /_emulator/license-filter-with-activity  {enabled}
    POST   /_emulator/advance    {minutes, late}
    POST   /_emulator/audit-latency   {seconds}
    POST   /_emulator/audit-limits    {max_unfinished, submissions_per_day, record_count_limit}
    POST   /_emulator/crm-auditing    {enabled}
    POST   /_emulator/audit-query-v1  {enabled}
    GET    /_emulator/audit-queries
    GET    /_emulator/log[?route=signIns] | DELETE /_emulator/log
    GET    /_emulator/sign-in-filters[?first_pages_only=true][&api_version=beta]
    GET    /_emulator/stats
"""

from __future__ import annotations

from typing import Any, Callable

from .ports import Controls

OK = {"ok": True}
# (status, JSON value) from the emulator, the query string and the JSON body.
Handler = Callable[[Controls, dict[str, str], dict[str, Any]], tuple[int, Any]]


def _done(action: Callable[[], object]) -> tuple[int, Any]:
    action()
    return 200, OK


ENDPOINTS: dict[tuple[str, str], Handler] = {
    ("GET", "info"): lambda emu, q, b: (200, emu.info()),
    ("POST", "throttle"): lambda emu, q, b: _done(
        lambda: emu.set_throttle(b.get("requests"), b.get("per_seconds", 10.0), b.get("integer_retry_after", False))
    ),
    ("POST", "activity-throttle"): lambda emu, q, b: _done(
        lambda: emu.set_activity_throttle(b.get("requests", 10), b.get("per_seconds", 60.0))
    ),
    ("POST", "latency"): lambda emu, q, b: _done(lambda: emu.set_latency(b["route"], float(b["seconds"]))),
    ("GET", "faults"): lambda emu, q, b: (200, emu.faults.list()),
    ("POST", "faults"): lambda emu, q, b: (201, emu.add_fault(b)),
    ("DELETE", "faults"): lambda emu, q, b: _done(emu.clear_faults),
    ("POST", "revoke"): lambda emu, q, b: _done(emu.revoke_tokens),
    ("POST", "roles"): lambda emu, q, b: _done(
        lambda: emu.grant_roles(str(b["app"]), [str(role) for role in b["roles"]])
    ),
    ("POST", "token-lifetime"): lambda emu, q, b: _done(lambda: emu.set_token_lifetime(int(b["seconds"]))),
    ("POST", "skiptoken-ttl"): lambda emu, q, b: _done(lambda: emu.set_skiptoken_ttl(float(b["seconds"]))),
    ("POST", "premium"): lambda emu, q, b: _done(lambda: emu.set_premium(bool(b["enabled"]))),
    ("POST", "or-filter"): lambda emu, q, b: _done(lambda: emu.set_or_filter(bool(b["enabled"]))),
    ("POST", "license-filter-with-activity"): lambda emu, q, b: _done(
        lambda: emu.set_license_filter_with_activity(bool(b["enabled"]))
    ),
    ("POST", "advance"): lambda emu, q, b: (200, emu.advance(float(b.get("minutes", 0)), int(b.get("late", 0)))),
    ("POST", "audit-latency"): lambda emu, q, b: _done(lambda: emu.set_audit_latency(float(b["seconds"]))),
    ("POST", "audit-limits"): lambda emu, q, b: _done(
        lambda: emu.set_audit_limits(
            int(b.get("max_unfinished", 50)),
            int(b.get("submissions_per_day", 200)),
            int(b.get("record_count_limit", 1_000_000)),
        )
    ),
    ("POST", "crm-auditing"): lambda emu, q, b: _done(lambda: emu.set_crm_auditing(bool(b["enabled"]))),
    ("POST", "audit-query-v1"): lambda emu, q, b: _done(lambda: emu.set_audit_query_v1(bool(b["enabled"]))),
    ("GET", "audit-queries"): lambda emu, q, b: (200, emu.audit_queries()),
    ("GET", "log"): lambda emu, q, b: (200, emu.request_log(q.get("route"))),
    ("DELETE", "log"): lambda emu, q, b: _done(emu.reset_log),
    ("GET", "sign-in-filters"): lambda emu, q, b: (
        200,
        emu.sign_in_filters(q.get("first_pages_only", "").lower() == "true", q.get("api_version")),
    ),
    ("GET", "stats"): lambda emu, q, b: (200, emu.stats()),
}


def handle(emu: Controls, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    """Run one control request; (status, JSON value)."""
    handler = ENDPOINTS.get((method, path[len("/_emulator") :].strip("/")))
    if handler is None:
        return 404, {"error": f"no control endpoint {method} {path}"}
    try:
        return handler(emu, query, body)
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"bad control request: {exc}"}
