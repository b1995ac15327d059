"""WireMock-style fault injection: typed rules matched per route, consumed as they fire.

Rule format (the same dict over HTTP and in Python):
    {"route": "signIns"|"users"|"usersCount"|"groups"|"subscribedSkus"|"subscriptions"|"roleAssignments"
               |"token"|"openid"|"auditQueries"|"auditQuery"|"auditRecords"|"*",
     "kind": "status"|"reset"|"delay"|"malformed"|"expired_skiptoken"|"invalid_skiptoken"
             |"revoke_tokens"|"ignore_filter"|"redirect"|"block_page"|"value_missing"|"value_null"|"link_cycle"
             |"query_failed"|"query_vanished"
             |"duplicate_row"|"move_licence"
             |"foreign_json"|"trickle"|"null_record"|"corrupt_gzip",
     "nth": 1,            # fire from the nth request on this route on (1-based, every request counts)
     "times": 1,          # how many requests it fires on; null = forever
     "for_seconds": null, # alternatively: keep firing this long after first firing
     "status": 503, "body": "json"|"html", "retry_after": null|2|"1.5",   # kind=status (and block_page, redirect)
     "location": "https://elsewhere.example/collect",   # kind=redirect
     "seconds": 30,       # kind=delay; kind=trickle: the pause before each byte of the body
     "clause": "application"|"window"|"event_type",   # kind=ignore_filter
     "length": 2,         # kind=link_cycle: how many links go round
     "user": "<object id>", "from_sku": "<skuId>", "to_sku": "<skuId>",   # kind=move_licence
     "api_version": null|"v1.0"|"beta"}   # signIns: only requests to that version count and fire

Kinds:
    status             answer `status` with Graph's error body for it (or a gateway's HTML page)
    reset              close the connection without an answer
    delay              wait `seconds` before answering
    malformed          cut the JSON answer in half
    expired_skiptoken  400 Directory_ExpiredPageToken; fires only on a request carrying $skiptoken (a page
                       after the first), so nth=k aims it at page k of the first query
    invalid_skiptoken  400 BadRequest "Invalid Skip Token..."; like expired_skiptoken, only with $skiptoken
    revoke_tokens      revoke every access token, then answer normally (401 from then on)
    ignore_filter      signIns only: answer as if the application terms (appId/resourceId), the
                       createdDateTime terms or beta's signInEventTypes lambda were absent; the query's
                       nextLinks keep ignoring them
    redirect           answer `status` (a 3xx: 301, 302, 303, 307 or 308) with `Location: location`, as a hostile
                       or misconfigured middlebox would; a 307/308 asks the client to re-send the same body there
    block_page         answer `status` (e.g. 200 or 403) with an HTML page of a TLS-inspecting proxy or captive
                       portal instead of the service's JSON, as a network device in between does
    value_missing      a 200 page without its `value` list (`{}` when it is the last page)
    value_null         a 200 page whose `value` is null
    link_cycle         the nextLinks of a query's pages after the first go round a ring: the first `length` of them,
                       then the same strings again (A, B, A, B...), each serving its page again; only on a request
                       carrying $skiptoken (a first page, or a density probe, starts no ring); a query needs
                       `length` + 2 pages to cycle; use times=null
    query_failed       auditQueries only: the audit log query this create makes ends `failed`, not `succeeded`
    query_vanished     auditQuery/auditRecords only: the tenant forgets the query the request names, then answers
                       404 (and 404 for that id from then on)

Routes "auditQueries" (POST create), "auditQuery" (GET one) and "auditRecords" (GET its records) are the audit log
query API, v1.0 and beta together.
    duplicate_row      users and groups only, on a request carrying $skiptoken: the page starts one row early, so the
                       previous page's last row is listed again (as when an object is added before the cursor)
    move_licence       reassign `user`'s licence from SKU `from_sku` to SKU `to_sku` in the tenant, then answer the
                       request normally: an admin migrating people between products while a client reads; once
                       (times=1); nth=k aims it at the k-th request on the route, e.g. between two per-SKU queries
    foreign_json       answer 200 with a JSON body that is not the service's (a proxy's `{"error": ...}`), as a
                       gateway that answers in the service's place with JSON does (route "openid": OpenID discovery)
    trickle            answer normally, but write the body one byte at a time, `seconds` apart (a host that keeps a
                       connection alive without finishing its answer: no per-read timeout ever fires)
    null_record        a 200 page whose `value` list holds a null among its records
    corrupt_gzip       answer normally, but with `Content-Encoding: gzip` on a body that is not gzip (a proxy that
                       mangled the answer)

Route "signIns" covers /v1.0/auditLogs/signIns and /beta/auditLogs/signIns (one request count, as
Graph's one throttle budget); `api_version` aims a rule at one of them.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

KINDS = frozenset(
    {
        "status",
        "reset",
        "delay",
        "malformed",
        "expired_skiptoken",
        "invalid_skiptoken",
        "revoke_tokens",
        "ignore_filter",
        "redirect",
        "block_page",
        "value_missing",
        "value_null",
        "link_cycle",
        "query_failed",
        "query_vanished",
        "duplicate_row",
        "move_licence",
        "foreign_json",
        "trickle",
        "null_record",
        "corrupt_gzip",
    }
)
# Kinds the route's handler acts on itself (pipeline.py hands them over in Request.fault), and the routes they fit.
HANDLER_KINDS = {
    "query_failed": frozenset({"auditQueries"}),
    "query_vanished": frozenset({"auditQuery", "auditRecords"}),
}
PAGE_KINDS = frozenset({"value_missing", "value_null", "link_cycle", "null_record"})  # rewrite a served 200 page
WIRE_KINDS = frozenset({"trickle", "corrupt_gzip"})  # change how a served answer goes on the wire
# only on pages after the first
SKIPTOKEN_KINDS = frozenset({"expired_skiptoken", "invalid_skiptoken", "link_cycle", "duplicate_row"})
DIRECTORY_ROUTES = frozenset({"users", "groups"})  # duplicate_row: the directory collections with an index cursor
CLAUSES = frozenset({"application", "window", "event_type"})
API_VERSIONS = frozenset({"v1.0", "beta"})
ROUTES = frozenset(
    {
        "signIns",
        "users",
        "usersCount",
        "groups",
        "subscribedSkus",
        "subscriptions",
        "roleAssignments",
        "token",
        "openid",
        "auditQueries",
        "auditQuery",
        "auditRecords",
        "*",
    }
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ids = itertools.count(1)


@dataclass
class FaultRule:
    """One fault; `fired` and `matched` are its counters."""

    route: str
    kind: str
    nth: int = 1
    times: int | None = 1
    for_seconds: float | None = None
    status: int = 503
    body: str = "json"
    retry_after: float | int | str | None = None
    seconds: float = 0.0
    clause: str | None = None
    api_version: str | None = None
    location: str | None = None
    length: int = 2
    user: str | None = None
    from_sku: str | None = None
    to_sku: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    matched: int = 0
    fired: int = 0
    first_fired_at: float | None = None
    rings: dict[str, list[str]] = field(default_factory=dict)  # link_cycle: per query, its first `length` nextLinks
    turns: dict[str, int] = field(default_factory=dict)  # link_cycle: per query, pages sent round its ring

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(KINDS)}")
        if self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; one of {sorted(ROUTES)}")
        if self.nth < 1:
            raise ValueError("nth is 1-based")
        if self.kind == "ignore_filter" and (self.route != "signIns" or self.clause not in CLAUSES):
            raise ValueError(f"ignore_filter needs route 'signIns' and a clause, one of {sorted(CLAUSES)}")
        if self.kind in HANDLER_KINDS and self.route not in HANDLER_KINDS[self.kind]:
            raise ValueError(f"{self.kind} needs a route, one of {sorted(HANDLER_KINDS[self.kind])}")
        if self.kind == "link_cycle" and self.length < 2:
            raise ValueError("link_cycle needs a length of 2 or more (a link repeating itself is a length of 1)")
        if self.api_version is not None and (self.route != "signIns" or self.api_version not in API_VERSIONS):
            raise ValueError(f"api_version needs route 'signIns' and one of {sorted(API_VERSIONS)}")
        if self.kind == "redirect" and (self.status not in REDIRECT_STATUSES or not self.location):
            raise ValueError(f"redirect needs a location and a status, one of {sorted(REDIRECT_STATUSES)}")
        if self.kind == "duplicate_row" and self.route not in DIRECTORY_ROUTES:
            raise ValueError(f"duplicate_row needs a route, one of {sorted(DIRECTORY_ROUTES)}")
        if self.kind == "move_licence" and not (self.user and self.from_sku and self.to_sku):
            raise ValueError("move_licence needs a user, a from_sku and a to_sku")
        if self.kind == "move_licence" and (self.times != 1 or self.for_seconds is not None):
            raise ValueError("move_licence moves a licence once: times 1, no for_seconds")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {
            "route",
            "kind",
            "nth",
            "times",
            "for_seconds",
            "status",
            "body",
            "retry_after",
            "seconds",
            "clause",
            "api_version",
            "location",
            "length",
            "user",
            "from_sku",
            "to_sku",
        }
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _live(self, now: float) -> bool:
        if self.for_seconds is not None and self.first_fired_at is not None:
            return now - self.first_fired_at < self.for_seconds
        return self.times is None or self.fired < self.times


class Faults:
    """The active rules; the first rule that fires for a request wins."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # for `for_seconds`: the emulator's clock (throttle.EmulatorClock)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        rule = rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def rewrite_page(self, rule: FaultRule, body: dict[str, Any], query: str) -> None:
        """Apply a page kind to a served 200 page (a JSON object with `value`, maybe `@odata.nextLink`); `query`
        names the query the page belongs to (path and options but the skiptoken): a cycle never leaves its query."""
        if rule.kind == "value_missing":
            body.pop("value", None)
        elif rule.kind == "value_null":
            body["value"] = None
        elif rule.kind == "null_record":
            body["value"] = [*body.get("value", [])[:1], None, *body.get("value", [])[1:]]
        elif rule.kind == "link_cycle" and "@odata.nextLink" in body:
            with self._lock:
                ring = rule.rings.setdefault(query, [])
                if len(ring) < rule.length:
                    ring.append(body["@odata.nextLink"])
                    return
                turn = rule.turns.get(query, 0)
                body["@odata.nextLink"] = ring[turn % rule.length]
                rule.turns[query] = turn + 1

    def match(self, route: str, has_skiptoken: bool, api_version: str | None = None) -> FaultRule | None:
        """Count this request against matching rules; return the rule that fires, if any."""
        now = self._clock()
        with self._lock:
            for rule in self._rules:
                if rule.route not in ("*", route):
                    continue
                if rule.api_version is not None and rule.api_version != api_version:
                    continue
                if rule.first_fired_at is None and rule.fired == 0:
                    rule.matched += 1
                    if rule.matched < rule.nth:
                        continue
                if rule.kind in SKIPTOKEN_KINDS and not has_skiptoken:
                    continue
                if not rule._live(now):
                    continue
                rule.fired += 1
                if rule.first_fired_at is None:
                    rule.first_fired_at = now
                return rule
        return None
