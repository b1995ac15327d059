"""Microsoft Purview's audit log query API: `POST /{version}/security/auditLog/queries`, `GET .../queries/{id}` and
`GET .../queries/{id}/records`, for the tenant's CRM (Dataverse) records (crm_activity.py).

A query is asynchronous, as Graph's is: the create answers 201 with `status` `notStarted`; the query is `running` from a
quarter of its latency on and `succeeded` (or `failed`, fault `query_failed`) once its latency has passed, measured on the
emulator's clock (`clock`, monotonic seconds: tests pass their own). Queries live on the emulator, not on a connection,
so a client that restarts finds the query it created. It answers with the records Purview holds at the tenant time the
query was created.

What Microsoft documents and what is assumed is listed in graph_emulator/README.md ("Audit log queries"); in short the
emulator takes the strict reading where the pages are silent: records only once the query `succeeded` (else 400), no
promised order (records come sorted by id, not by time), both filter bounds inclusive, only `$top` and `$skiptoken` on
`/records`, and the documented per-tenant baselines (50 unfinished queries, 200 submissions a day, 1,000,000 records a
query) enforced as limits.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import errors
from .apps import AUDIT_QUERY_CRM as CRM_ROLE
from .crm_activity import CrmRecord
from .errors import GraphError
from .gen import datetime_to_ticks, format_ticks, parse_ticks
from .paging import PageTokens
from .routes import Request, Result, _next_link, _only, _top
from .tenant import DAY, Tenant

ALL_ROLE = "AuditLogsQuery.Read.All"
# Every application permission the audit log query pages list; any of them reads a query, as the pages say.
QUERY_ROLES = (
    "AuditLogsQuery-Entra.Read.All",
    CRM_ROLE,
    "AuditLogsQuery-Endpoint.Read.All",
    "AuditLogsQuery-Exchange.Read.All",
    "AuditLogsQuery-OneDrive.Read.All",
    "AuditLogsQuery-SharePoint.Read.All",
    ALL_ROLE,
)
# Record types the emulator knows (the Dynamics 365 ones), lower-cased, and the permissions that read each.
RECORD_TYPE_ROLES = {"crm": (CRM_ROLE, ALL_ROLE), "dynamics365businesscentral": (ALL_ROLE,)}
# Audit (Standard); Audit (Premium) keeps CRM records 180 days too, unless a custom retention policy says more.
RETENTION_DAYS = 180
RECORDS_DEFAULT_TOP = 150  # unconfirmed: Microsoft documents no page size for /records
RECORDS_MAX_TOP = 1000  # unconfirmed: clients are seen sending $top=1000
DAY_SECONDS = 86400.0
LIST_TYPE = "#microsoft.graph.security.auditLogQuery"
_COLLECTIONS = (
    "recordTypeFilters",
    "operationFilters",
    "userPrincipalNameFilters",
    "ipAddressFilters",
    "objectIdFilters",
    "administrativeUnitIdFilters",
    "serviceFilters",
)
_WRITABLE = frozenset(
    {
        "@odata.type",
        "displayName",
        "filterStartDateTime",
        "filterEndDateTime",
        "keywordFilter",
        "serviceFilter",
        "status",
    }
    | set(_COLLECTIONS)
)
NOT_STARTED, RUNNING, SUCCEEDED, FAILED = "notStarted", "running", "succeeded", "failed"


@dataclass
class AuditSettings:
    """The query latency and the per-tenant limits (Microsoft's documented baselines by default)."""

    latency: float = 2.0  # seconds from create to a final status
    max_unfinished: int = 50  # "Queued or running queries: at least 50"
    submissions_per_day: int = 200  # "at least 200" submissions per rolling 24 hours
    record_count_limit: int = 1_000_000  # "at least 1,000,000" records a query


@dataclass
class AuditQuery:
    """One submitted query: its definition as echoed, and what the emulator needs to run it."""

    id: str
    definition: dict[str, Any]
    start: int
    end: int
    created: float
    as_of: int
    latency: float
    fails: bool
    records: list[CrmRecord] | None = None
    exceeded: bool = False

    def status(self, now: float) -> str:
        elapsed = now - self.created
        if elapsed < self.latency / 4:
            return NOT_STARTED
        if elapsed < self.latency:
            return RUNNING
        return FAILED if self.fails else SUCCEEDED

    def finishes_at(self) -> float:
        return self.created + self.latency


@dataclass
class AuditLog:
    """The tenant's audit log queries: create, read, list records; thread-safe."""

    tenant: Tenant
    tokens: PageTokens
    clock: Callable[[], float] = time.monotonic
    settings: AuditSettings = field(default_factory=AuditSettings)
    base_url: str = ""
    _queries: dict[str, AuditQuery] = field(default_factory=dict)
    _submitted: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- handlers ----------------------------------------------------------------------------
    def create(self, req: Request) -> Result:
        """201 and the query, `notStarted`; 429 with Retry-After past the tenant's limits."""
        version = self._version(req)
        body = _json_body(req.body)
        types = _record_types(body.get("recordTypeFilters"))
        _require_any(req.claims, _roles_for(types))
        start, end = self._range(body)
        now = self.clock()
        with self._lock:
            self._check_limits(now)
            query = AuditQuery(
                id=str(uuid.uuid4()),
                definition=_definition(body, types, start, end),
                start=start,
                end=end,
                created=now,
                as_of=self.tenant.now_ticks,
                latency=self.settings.latency,
                fails=req.fault == "query_failed",
            )
            self._queries[query.id] = query
            self._submitted.append(now)
        location = f"{self.base_url}/{version}/security/auditLog/queries/{query.id}"
        return 201, self._query_body(query, version, now), {"Location": location}

    def get(self, req: Request) -> Result:
        """The query with its current status; 404 for an id the tenant does not hold (or no longer does)."""
        version = self._version(req)
        _require_any(req.claims, QUERY_ROLES)
        _only(req.query, set())
        query = self._find(req)
        return 200, self._query_body(query, version, self.clock()), {}

    def records(self, req: Request) -> Result:
        """A page of the query's records, only once it `succeeded`; `$top` and `$skiptoken` only."""
        version = self._version(req)
        _require_any(req.claims, QUERY_ROLES)
        query = self._find(req)
        _require_any(req.claims, _roles_for(query.definition["recordTypeFilters"]))
        q = req.query
        _only(q, {"$top", "$skiptoken"})
        top = _top(q, RECORDS_DEFAULT_TOP, RECORDS_MAX_TOP, "BadRequest")
        status = query.status(self.clock())
        if status != SUCCEEDED:
            raise errors.bad_request(
                f"The audit log query '{query.id}' is {status}: its records can be listed once its status is "
                f"'{SUCCEEDED}'."
            )
        served = self._results(query)
        route = f"auditRecords/{query.id}"
        start = int(self.tokens.read(route, q, q["$skiptoken"])) if "$skiptoken" in q else 0
        path = f"/{version}/security/auditLog/queries/{query.id}/records"
        body: dict[str, Any] = {
            "@odata.context": f"{self.base_url}/{version}/$metadata#security/auditLog/queries('{query.id}')/records"
        }
        if start + top < len(served):
            body["@odata.nextLink"] = _next_link(self.base_url, path, q, self.tokens.issue(route, q, start + top))
        body["value"] = [record.to_dict() for record in served[start : start + top]]
        return 200, body, {}

    # -- what tests and controls see ------------------------------------------------------------
    def summaries(self) -> list[dict[str, Any]]:
        """Every query the tenant holds: id, status, range, and whether it was made to fail (control endpoint)."""
        now = self.clock()
        with self._lock:
            return [
                {
                    "id": q.id,
                    "status": q.status(now),
                    "filterStartDateTime": q.definition["filterStartDateTime"],
                    "filterEndDateTime": q.definition["filterEndDateTime"],
                    "created_seconds_ago": round(now - q.created, 3),
                }
                for q in self._queries.values()
            ]

    def forget(self, query_id: str) -> None:
        """The tenant no longer holds this query (Purview keeps search jobs 30 days; a fault takes it sooner)."""
        with self._lock:
            self._queries.pop(query_id, None)

    # -- helpers ------------------------------------------------------------------------------
    def _version(self, req: Request) -> str:
        """v1.0 or beta; v1.0 answers as Graph answers a segment it does not know when the tenant lacks it."""
        version = req.params.get("version", "v1.0").lower()
        if version == "v1.0" and not self.tenant.audit_query_v1:
            raise errors.bad_request("Resource not found for the segment 'auditLog'.")
        return version

    def _find(self, req: Request) -> AuditQuery:
        query_id = req.params["query_id"]
        if req.fault == "query_vanished":
            self.forget(query_id)
        with self._lock:
            query = self._queries.get(query_id)
        if query is None:
            raise GraphError(404, "ResourceNotFound", f"The audit log query '{query_id}' was not found.")
        return query

    def _range(self, body: dict[str, Any]) -> tuple[int, int]:
        """filterStartDateTime..filterEndDateTime in ticks (optional, as documented: retention start..now)."""
        now = self.tenant.now_ticks
        start = _instant(body, "filterStartDateTime", now - RETENTION_DAYS * DAY)
        end = _instant(body, "filterEndDateTime", now)
        if start > end:
            raise errors.bad_request("filterStartDateTime must not be later than filterEndDateTime.")
        return start, end

    def _check_limits(self, now: float) -> None:
        """The documented per-tenant baselines: unfinished queries, and submissions per rolling 24 hours."""
        while self._submitted and self._submitted[0] <= now - DAY_SECONDS:
            self._submitted.popleft()
        if len(self._submitted) >= self.settings.submissions_per_day:
            raise _too_many(self._submitted[0] + DAY_SECONDS - now)
        unfinished = [q.finishes_at() for q in self._queries.values() if q.status(now) in (NOT_STARTED, RUNNING)]
        if len(unfinished) >= self.settings.max_unfinished:
            raise _too_many(min(unfinished) - now)

    def _results(self, query: AuditQuery) -> list[CrmRecord]:
        """The query's records (computed once): its range and filters, in id order, cut at the record-count limit."""
        with self._lock:
            if query.records is None:
                found = sorted(self._matching(query), key=lambda r: r.record_id)
                limit = self.settings.record_count_limit
                query.records, query.exceeded = found[:limit], len(found) > limit
            return query.records

    def _matching(self, query: AuditQuery) -> Iterable[CrmRecord]:
        d = query.definition
        types = {t.lower() for t in d["recordTypeFilters"]}
        if not self.tenant.crm_auditing or (types and "crm" not in types):
            return
        ops = {o.lower() for o in d["operationFilters"]}
        upns = {u.lower() for u in d["userPrincipalNameFilters"]}
        ips, objects = set(d["ipAddressFilters"]), set(d["objectIdFilters"])
        services = {s.lower() for s in d["serviceFilters"]}
        keyword = (d["keywordFilter"] or "").lower()
        if d["administrativeUnitIdFilters"] or (services and "crm" not in services):
            return  # no CRM record is tagged with an administrative unit
        for record in self.tenant.crm.records(query.start, query.end + 1, query.as_of):
            if (
                (not ops or record.operation.lower() in ops)
                and (not upns or record.upn.lower() in upns)
                and (not ips or record.ip in ips)
                and (not objects or record.object_id in objects)
                and (not keyword or keyword in json.dumps(record.body["auditData"]).lower())
            ):
                yield record

    def _query_body(self, query: AuditQuery, version: str, now: float) -> dict[str, Any]:
        status = query.status(now)
        done = status == SUCCEEDED
        if done:
            self._results(query)
        return {
            "@odata.context": f"{self.base_url}/{version}/$metadata#security/auditLog/queries/$entity",
            "@odata.type": LIST_TYPE,
            "id": query.id,
            **query.definition,
            "status": status,
            "approximateReturnedRecordCount": len(query.records or []) if done else None,
            "isRecordCountLimitExceeded": query.exceeded if done else False,
            "recordCountLimit": self.settings.record_count_limit,
        }


def _json_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object, or Graph's 400 for a body it cannot read or a property auditLogQuery lacks."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise errors.bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
            "JSON format."
        )
    for name in body:
        if name not in _WRITABLE:
            raise errors.bad_request(
                f"The property '{name}' does not exist on type 'microsoft.graph.security.auditLogQuery'. Make sure to "
                "only use property names that are defined by the type."
            )
    if body.get("@odata.type", LIST_TYPE) != LIST_TYPE:
        raise errors.bad_request(f"A type named '{body['@odata.type']}' could not be resolved by the model.")
    for name in _COLLECTIONS:
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise errors.bad_request(f"Cannot convert the value of '{name}' to a collection of strings.")
    return body


def _record_types(value: list[str] | None) -> list[str]:
    """recordTypeFilters as sent; a value the emulator does not model is 400 (Graph knows more: see the README)."""
    for name in value or []:
        if name.lower() not in RECORD_TYPE_ROLES:
            raise errors.bad_request(f"Requested value '{name}' was not found.")
    return list(value or [])


def _roles_for(types: Iterable[str]) -> tuple[str, ...]:
    """The permissions that read every record type asked for; no type at all is every workload: the all-logs one."""
    wanted = [t.lower() for t in types]
    if not wanted:
        return (ALL_ROLE,)
    return tuple(r for r in (CRM_ROLE, ALL_ROLE) if all(r in RECORD_TYPE_ROLES[t] for t in wanted))


def _require_any(claims: dict[str, Any], roles: Iterable[str]) -> None:
    if not set(claims.get("roles", ())) & set(roles):
        raise errors.denied()


def _instant(body: dict[str, Any], name: str, default: int) -> int:
    """A DateTimeOffset property in ticks (any UTC offset, 0-7 fractional digits), or Graph's 400."""
    raw = body.get(name)
    if raw is None:
        return default
    ticks = parse_ticks(raw) if isinstance(raw, str) else None
    if ticks is None and isinstance(raw, str):
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError:
            when = None
        ticks = datetime_to_ticks(when) if when is not None and when.tzinfo is not None else None
    if ticks is None:
        raise errors.bad_request(f"Cannot convert the literal '{raw}' to the expected type 'Edm.DateTimeOffset'.")
    return ticks


def _definition(body: dict[str, Any], types: list[str], start: int, end: int) -> dict[str, Any]:
    """The query's properties as Graph echoes them (`serviceFilter` in a create body is `serviceFilters` after)."""
    services = list(body.get("serviceFilters") or [])
    if body.get("serviceFilter"):
        services.append(str(body["serviceFilter"]))
    definition: dict[str, Any] = {
        "displayName": body.get("displayName"),
        "filterStartDateTime": format_ticks(start),
        "filterEndDateTime": format_ticks(end),
        "recordTypeFilters": types,
        "keywordFilter": body.get("keywordFilter"),
    }
    for name in _COLLECTIONS[1:]:
        definition[name] = list(body.get(name) or [])
    definition["serviceFilters"] = services
    return definition


def _too_many(wait: float) -> GraphError:
    seconds = max(1, math.ceil(wait))
    return GraphError(
        429, "TooManyRequests", "Too many requests, please try again later.", {"Retry-After": str(seconds)}
    )
