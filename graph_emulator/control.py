"""The control API under /_emulator/... : JSON in, JSON out, no auth, apart from the API routes.

Each endpoint maps to one Emulator method, so HTTP and in-process tests drive the same code:
    GET    /_emulator/info                              -> info()
    POST   /_emulator/throttle   {requests, per_seconds, integer_retry_after}
    POST   /_emulator/latency    {route, seconds}
    GET    /_emulator/faults  | POST {rule} | DELETE
    POST   /_emulator/revoke
    POST   /_emulator/roles      {app, roles}
    POST   /_emulator/token-lifetime  {seconds}
    POST   /_emulator/skiptoken-ttl   {seconds}
    POST   /_emulator/premium    {enabled}
    POST   /_emulator/or-filter  {enabled}
    POST   /_emulator/advance    {minutes, late}
    GET    /_emulator/log[?route=signIns] | DELETE /_emulator/log
    GET    /_emulator/sign-in-filters[?first_pages_only=true][&api_version=beta]
    GET    /_emulator/stats
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator


def handle(emu: Emulator, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    """Run one control request; (status, JSON value)."""
    name = path[len("/_emulator") :].strip("/")
    try:
        if (method, name) == ("GET", "info"):
            return 200, emu.info()
        if (method, name) == ("POST", "throttle"):
            emu.set_throttle(
                body.get("requests"), body.get("per_seconds", 10.0), body.get("integer_retry_after", False)
            )
            return 200, {"ok": True}
        if (method, name) == ("POST", "latency"):
            emu.set_latency(body["route"], float(body["seconds"]))
            return 200, {"ok": True}
        if name == "faults":
            if method == "GET":
                return 200, emu.faults.list()
            if method == "POST":
                return 201, emu.add_fault(body)
            if method == "DELETE":
                emu.clear_faults()
                return 200, {"ok": True}
        if (method, name) == ("POST", "revoke"):
            emu.revoke_tokens()
            return 200, {"ok": True}
        if (method, name) == ("POST", "roles"):
            emu.grant_roles(str(body["app"]), [str(role) for role in body["roles"]])
            return 200, {"ok": True}
        if (method, name) == ("POST", "token-lifetime"):
            emu.set_token_lifetime(int(body["seconds"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "skiptoken-ttl"):
            emu.set_skiptoken_ttl(float(body["seconds"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "premium"):
            emu.set_premium(bool(body["enabled"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "or-filter"):
            emu.set_or_filter(bool(body["enabled"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "advance"):
            return 200, emu.advance(float(body.get("minutes", 0)), int(body.get("late", 0)))
        if name == "log":
            if method == "GET":
                return 200, emu.request_log(query.get("route"))
            if method == "DELETE":
                emu.reset_log()
                return 200, {"ok": True}
        if (method, name) == ("GET", "sign-in-filters"):
            first_pages_only = query.get("first_pages_only", "").lower() == "true"
            return 200, emu.sign_in_filters(first_pages_only, query.get("api_version"))
        if (method, name) == ("GET", "stats"):
            return 200, emu.stats()
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"bad control request: {exc}"}
    return 404, {"error": f"no control endpoint {method} {path}"}
