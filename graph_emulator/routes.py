"""Graph and login handlers: parse the request, ask the backend, return a value to serialise.

Each handler takes a Request and returns (status, body dict, extra headers); errors are raised
as errors.ApiError and serialised by the server in one place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import quote

from . import catalog, errors, odata
from .apps import AUDIT, DIRECTORY, LIFECYCLE, LIFECYCLE_READ_WRITE
from .auth import Login
from .directory import DEFAULT_USER_SELECT, USER_PROPERTIES
from .gen import format_ticks
from .groups import DEFAULT_GROUP_SELECT, GROUP_PROPERTIES, group
from .paging import PageTokens
from .roles import Assignment
from .signins import INTERACTIVE
from .tenant import DAY, Tenant

if TYPE_CHECKING:
    from .audit import AuditLog

SIGNINS_MAX_TOP = 999
SIGNINS_DEFAULT_TOP = 1000  # Graph's default page for signIns (docs: up to 1000); unconfirmed
USERS_DEFAULT_TOP = 100
USERS_MAX_TOP = 999
USERS_MAX_TOP_WITH_ACTIVITY = 500  # "List users": a larger $top with signInActivity is served as pages of 500
GROUPS_DEFAULT_TOP = 100  # "List groups": "The default and maximum page sizes are 100 and 999 group objects"
GROUPS_MAX_TOP = 999
# "List groups" application permissions, least privileged first
GROUP_READ_ROLES = (
    "GroupMember.Read.All",
    "Group.Read.All",
    DIRECTORY,
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
)
# "List subscriptions" application permissions, least privileged first
SUBSCRIPTION_READ_ROLES = ("Organization.Read.All", DIRECTORY, "Organization.ReadWrite.All")
SUBSCRIPTION_PROPERTIES = (
    "createdDateTime",
    "commerceSubscriptionId",
    "id",
    "isTrial",
    "nextLifecycleDateTime",
    "serviceStatus",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
    "ownerId",
    "ownerTenantId",
    "ownerType",
)
# "List unifiedRoleAssignments" application permissions for the directory provider, least privileged first
ROLE_ASSIGNMENT_READ_ROLES = (
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    DIRECTORY,
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
)
ROLE_ASSIGNMENT_PROPERTIES = ("id", "principalId", "resourceScope", "directoryScopeId", "roleDefinitionId")
ROLE_ASSIGNMENT_EXPANDS = ("principal", "roleDefinition", "directoryScope")
ROLE_ASSIGNMENT_FILTERABLE = ("principalId", "roleDefinitionId", "directoryScopeId")
ROLE_ASSIGNMENT_FILTER = re.compile(r"(\w+) eq '([^']*)'")
LICENSE_FILTER = re.compile(
    r"assignedLicenses/any\((\w+):\s*\1/skuId eq ([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\)"
)
IGNORABLE = {  # ignore_filter's clauses
    "application": odata.APPLICATION_PROPS,
    "window": odata.DATE_PROPS,
    "event_type": frozenset({odata.EVENT_TYPES_PROP}),
}
BETA = "beta"


@dataclass
class Request:
    """What a handler needs: path parameters, single-valued query options, form, claims."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    ignore: str | None = None  # signIns: the filter clause Graph ignores for this query (see faults.py)
    repeat_row: bool = False  # users, groups: the page starts one row early (a duplicate_row fault, faults.py)
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive (the server's HTTP headers)
    body: bytes = b""  # the request body as sent (a JSON create, say)
    fault: str | None = None  # a fault the handler itself acts on (faults.HANDLER_KINDS)


Result = tuple[int, "dict[str, Any] | bytes", dict[str, str]]  # bytes: already JSON


def parse_options(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Query pairs -> dict; OData options are case-insensitive and may appear only once."""
    out: dict[str, str] = {}
    for key, value in pairs:
        name = key.lower() if key.startswith("$") else key
        if name in out:
            raise errors.bad_request(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        out[name] = value
    return out


def _only(query: dict[str, str], allowed: set[str], code: str = "BadRequest") -> None:
    for name in query:
        if name.startswith("$") and name not in allowed:
            raise errors.bad_request(f"The query parameter '{name}' is not supported on this resource.", code)


def _top(query: dict[str, str], default: int, maximum: int, code: str) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or not 1 <= int(raw) <= maximum:
        raise errors.bad_request(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.", code
        )
    return int(raw)


def _next_link(base: str, path: str, query: dict[str, str], token: str) -> str:
    kept = [(k, v) for k, v in query.items() if k != "$skiptoken"] + [("$skiptoken", token)]
    return f"{base}{path}?" + "&".join(f"{k}={quote(v, safe=chr(39) + '-_.:/,()')}" for k, v in kept)


def _require_role(claims: dict[str, Any], *any_of: str) -> None:
    if not set(claims.get("roles", ())) & set(any_of):
        raise errors.denied()


def _license_filter(q: dict[str, str], resource: str) -> str | None:
    """The skuId of `assignedLicenses/any(x:x/skuId eq <guid>)`, the one filter users and groups serve; anything else
    is 400 for `resource` (Graph's type name: User, Group)."""
    if "$filter" not in q:
        return None
    found = LICENSE_FILTER.fullmatch(q["$filter"].strip())
    if found is None:
        raise errors.unsupported_filter(q["$filter"].split("/")[0].split(" ")[0], resource)
    return found.group(2).lower()


def _select(q: dict[str, str], known: Iterable[str], default: tuple[str, ...], type_name: str) -> tuple[str, ...]:
    """The `$select`ed properties of `microsoft.graph.<type_name>` in the order asked (names are case-insensitive),
    `default` without `$select`; an unknown name is Graph's 400."""
    if "$select" not in q:
        return default
    by_lower = {p.lower(): p for p in known}
    chosen: list[str] = []
    for name in (p.strip() for p in q["$select"].split(",")):
        prop = by_lower.get(name.lower())
        if prop is None:
            raise errors.bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
        if prop not in chosen:
            chosen.append(prop)
    return tuple(chosen)


def _eventual(req: Request) -> bool:
    """Whether the request sends `ConsistencyLevel: eventual`, half of Graph's advanced query parameters."""
    return (req.headers.get("ConsistencyLevel") or "").lower() == "eventual"


def _count(q: dict[str, str]) -> bool:
    """`$count=true|false` (case-insensitive); another value is 400."""
    raw = q.get("$count", "false")
    if raw.lower() not in ("true", "false"):
        raise errors.bad_request(f"Invalid value '{raw}' for query option '$count': use true or false.")
    return raw.lower() == "true"


class GraphRoutes:
    """Handlers for /v1.0/users, /v1.0/groups, /v1.0/subscribedSkus, /v1.0/directory/subscriptions,
    /v1.0/roleManagement/directory/roleAssignments, /{v1.0,beta}/auditLogs/signIns."""

    def __init__(self, tenant: Tenant, tokens: PageTokens) -> None:
        self.tenant = tenant
        self.tokens = tokens
        self.base_url = ""

    def sign_ins(self, req: Request) -> Result:
        """v1.0 lists interactive sign-ins only; beta lists every event type its `signInEventTypes/any(...)`
        asks for, and interactive ones when the filter names none (as Microsoft documents)."""
        _require_role(req.claims, AUDIT)
        if not self.tenant.premium:
            raise errors.not_premium()
        version = req.params.get("version", "v1.0").lower()
        beta = version == BETA
        q = req.query
        _only(q, {"$filter", "$top", "$skiptoken"})
        top = _top(q, SIGNINS_DEFAULT_TOP, SIGNINS_MAX_TOP, "BadRequest")
        tree = self._sign_in_filter(q, beta)
        self._check_retention(tree)
        if beta and not odata.mentions(tree, odata.EVENT_TYPES_PROP):
            default = odata.AnyEq(odata.EVENT_TYPES_PROP, INTERACTIVE)
            tree = default if tree is None else odata.BoolOp("and", tree, default)
        after = None
        if "$skiptoken" in q:
            position = self.tokens.read(f"signIns/{version}", q, q["$skiptoken"])
            after, req.ignore = tuple(position["after"]), position["ignore"] or req.ignore
        served = odata.ignoring(tree, IGNORABLE[req.ignore]) if req.ignore else tree
        lo, hi = odata.time_bounds(served)
        now = self.tenant.now_ticks
        keep = odata.compile_predicate(served) if served is not None else (lambda row: True)
        lo = self._oldest() if lo is None else lo
        hi = now + 1 if hi is None else min(hi, now + 1)
        types = odata.event_types(served) if beta else {INTERACTIVE}
        rows, cursor = self.tenant.log.page(lo, hi, keep, top, after, types)  # type: ignore[arg-type]
        path = f"/{version}/auditLogs/signIns"
        head: dict[str, Any] = {"@odata.context": f"{self.base_url}/{version}/$metadata#auditLogs/signIns"}
        if cursor is not None:
            position = {"after": list(cursor), "ignore": req.ignore}
            head["@odata.nextLink"] = _next_link(
                self.base_url, path, q, self.tokens.issue(f"signIns/{version}", q, position)
            )
        # records are pre-rendered JSON (see Row.to_json); splice them into the envelope
        records = ",".join(r.to_json(beta) for r in rows)
        text = json.dumps(head, ensure_ascii=False)[:-1] + ',"value":[' + records + "]}"
        return 200, text.encode(), {}

    def _sign_in_filter(self, query: dict[str, str], beta: bool) -> odata.Node | None:
        """The parsed `$filter`, or the 400 Graph answers: invalid clause, a property v1.0 lacks, or `or` on a
        tenant refusing it."""
        if "$filter" not in query:
            return None
        try:
            tree = odata.parse(query["$filter"], lambdas=beta)
        except odata.UnknownProperty as exc:
            raise errors.bad_request(
                f"Could not find a property named '{exc.prop}' on type 'microsoft.graph.signIn'."
            ) from None
        except odata.FilterError:
            raise errors.invalid_filter() from None
        refused = None if self.tenant.or_filter else odata.first_or_property(tree)
        if refused is not None:
            raise errors.unsupported_filter(refused, "signIn")
        return tree

    def _oldest(self) -> int:
        """The oldest instant the tenant still keeps, by the tenant's own clock."""
        return self.tenant.now_ticks - self.tenant.retention_days * DAY

    def _check_retention(self, tree: odata.Node | None) -> None:
        """A `createdDateTime ge` before retention is a 400 (observed as Graph's min-date validation)."""
        oldest = self._oldest()
        if any(bound < oldest for bound in odata.lower_bounds(tree)):
            raise errors.before_retention(format_ticks(oldest), self.tenant.retention_days)

    def users(self, req: Request) -> Result:
        """The directory in its order, `$top` a page; `$filter` only `assignedLicenses/any(x:x/skuId eq <id>)`
        (licenses in effect, direct or through a group), which a tenant may refuse together with signInActivity."""
        _require_role(req.claims, DIRECTORY, "Directory.ReadWrite.All", "User.Read.All", "User.ReadWrite.All")
        q = req.query
        _only(q, {"$select", "$top", "$skiptoken", "$filter"}, "Request_UnsupportedQuery")
        select = _select(q, USER_PROPERTIES, DEFAULT_USER_SELECT, "user")
        with_activity = "signInActivity" in select
        top = _top(q, USERS_DEFAULT_TOP, USERS_MAX_TOP, "Request_UnsupportedQuery")
        if with_activity:
            top = min(top, USERS_MAX_TOP_WITH_ACTIVITY)
            _require_role(req.claims, AUDIT)
            if not self.tenant.premium:
                raise errors.not_premium()
        if "employeeLeaveDateTime" in select:  # the user resource: reading it needs User-LifeCycleInfo.Read.All
            _require_role(req.claims, LIFECYCLE, LIFECYCLE_READ_WRITE)
        sku_id = _license_filter(q, "User")
        if sku_id is not None and with_activity and not self.tenant.license_filter_with_activity:
            raise errors.unsupported_filter("signInActivity", "User")
        directory = self.tenant.directory
        holds = (lambda i: True) if sku_id is None else (lambda i: directory.holds(i, sku_id))
        start = int(self.tokens.read("users", q, q["$skiptoken"])) if "$skiptoken" in q else 0
        if req.repeat_row:
            start = next((index for index in range(start - 1, -1, -1) if holds(index)), start)
        indexes, following = directory.page(start, top, holds)
        context = f"{self.base_url}/v1.0/$metadata#users" + (f"({','.join(select)})" if "$select" in q else "")
        body: dict[str, Any] = {"@odata.context": context}
        if following is not None:
            token = self.tokens.issue("users", q, following)
            body["@odata.nextLink"] = _next_link(self.base_url, "/v1.0/users", q, token)
        body["value"] = [directory.user(i, select) for i in indexes]
        return 200, body, {}

    def users_count(self, req: Request) -> Result:
        """`/users/$count`: the number of users as text/plain, only with `ConsistencyLevel: eventual` (an advanced
        query); without it Graph answers 400, as Microsoft's advanced-query page shows."""
        _require_role(req.claims, DIRECTORY, "Directory.ReadWrite.All", "User.Read.All", "User.ReadWrite.All")
        _only(req.query, set(), "Request_UnsupportedQuery")
        if not _eventual(req):
            raise errors.count_needs_consistency_level()
        return 200, str(self.tenant.directory.count).encode(), {"Content-Type": "text/plain"}

    def groups(self, req: Request) -> Result:
        """The tenant's groups (catalog.GROUPS) in their order, `$top` a page; `$filter` only
        `assignedLicenses/any(x:x/skuId eq <id>)`: the groups that assign that SKU.

        Microsoft lists group `assignedLicenses` as filterable (`eq`) but does not say whether the filter works in a
        default query or only as an advanced one, and its group resource page says specific `$filter` usage needs the
        advanced query parameters. The emulator takes the strict reading: the license filter needs both
        `ConsistencyLevel: eventual` and `$count=true`, on the first page and on every nextLink page (the link keeps
        `$count=true`; the header must be sent again), else the 400 `Request_UnsupportedQuery` Microsoft shows for an
        advanced query sent without them. A client sending them is right either way: Microsoft documents that a
        default query also works with the advanced parameters.

        `$count=true` with the header adds `@odata.count`, the number of matching groups; without the header Graph
        ignores `$count` (documented), so no count.
        """
        _require_role(req.claims, *GROUP_READ_ROLES)
        q = req.query
        _only(q, {"$select", "$top", "$skiptoken", "$filter", "$count"}, "Request_UnsupportedQuery")
        select = _select(q, GROUP_PROPERTIES, DEFAULT_GROUP_SELECT, "group")
        top = _top(q, GROUPS_DEFAULT_TOP, GROUPS_MAX_TOP, "Request_UnsupportedQuery")
        advanced = _count(q) and _eventual(req)
        sku_id = _license_filter(q, "Group")
        if sku_id is not None and not advanced:
            raise errors.needs_advanced_query("any")
        matching = [g for g in catalog.GROUPS if sku_id is None or sku_id in g.sku_ids]
        start = int(self.tokens.read("groups", q, q["$skiptoken"])) if "$skiptoken" in q else 0
        start = max(0, start - 1) if req.repeat_row else start
        context = f"{self.base_url}/v1.0/$metadata#groups" + (f"({','.join(select)})" if "$select" in q else "")
        body: dict[str, Any] = {"@odata.context": context}
        if advanced:
            body["@odata.count"] = len(matching)
        if start + top < len(matching):
            token = self.tokens.issue("groups", q, start + top)
            body["@odata.nextLink"] = _next_link(self.base_url, "/v1.0/groups", q, token)
        body["value"] = [group(g, select) for g in matching[start : start + top]]
        return 200, body, {}

    def subscribed_skus(self, req: Request) -> Result:
        _require_role(
            req.claims,
            DIRECTORY,
            "Directory.ReadWrite.All",
            "LicenseAssignment.Read.All",
            "Organization.Read.All",
            "Organization.ReadWrite.All",
        )
        return (
            200,
            {
                "@odata.context": f"{self.base_url}/v1.0/$metadata#subscribedSkus",
                "value": self.tenant.subscribed_skus(),
            },
            {},
        )

    def subscriptions(self, req: Request) -> Result:
        """The tenant's commercial subscriptions, one page. Microsoft's "List subscriptions" names no query option
        and shows no paging: `$select` (any OData list takes it) is served, every other option is Graph's 400."""
        _require_role(req.claims, *SUBSCRIPTION_READ_ROLES)
        q = req.query
        _only(q, {"$select"})
        records = self.tenant.company_subscriptions()
        select = _select(q, SUBSCRIPTION_PROPERTIES, SUBSCRIPTION_PROPERTIES, "companySubscription")
        context = f"{self.base_url}/v1.0/$metadata#directory/subscriptions" + (
            f"({','.join(select)})" if "$select" in q else ""
        )
        return 200, {"@odata.context": context, "value": [{p: r[p] for p in select} for r in records]}, {}

    def role_assignments(self, req: Request) -> Result:
        """The directory's role assignments, one page (Microsoft documents no paging for the list). "List
        unifiedRoleAssignments" documents `$filter`, `$expand` and `$select` only: another option is Graph's 400, and so
        is a `$filter` other than `eq` on principalId, roleDefinitionId or directoryScopeId, an unknown property, and an
        `$expand` other than principal, roleDefinition or directoryScope (appScope is the entitlement provider's) or
        with options of its own, which Microsoft does not document for this list."""
        _require_role(req.claims, *ROLE_ASSIGNMENT_READ_ROLES)
        q = req.query
        _only(q, {"$filter", "$expand", "$select"})
        select = _select(q, ROLE_ASSIGNMENT_PROPERTIES, ROLE_ASSIGNMENT_PROPERTIES, "unifiedRoleAssignment")
        expand = _expand(q, ROLE_ASSIGNMENT_EXPANDS, "unifiedRoleAssignment")
        keep = _role_assignment_filter(q)
        records = []
        for assignment in self.tenant.role_assignments():
            record = assignment.to_dict()
            if keep(record):
                shown = {p: record[p] for p in select}
                records.append(shown | {name: self._expanded(assignment, name) for name in expand})
        context = f"{self.base_url}/v1.0/$metadata#roleManagement/directory/roleAssignments"
        return 200, {"@odata.context": context, "value": records}, {}

    def _expanded(self, assignment: Assignment, name: str) -> dict[str, Any] | None:
        """An assignment's expanded relationship: its role, its principal (a user, or a service principal), or its
        directory scope (none for the whole directory, "/")."""
        if name == "roleDefinition":
            return assignment.role.to_dict()
        if name == "principal":
            if assignment.user_index is None:
                return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": assignment.principal_id}
            user = self.tenant.directory.user(assignment.user_index, ("id", "displayName", "userPrincipalName"))
            return {"@odata.type": "#microsoft.graph.user", **user}
        return None


def _expand(q: dict[str, str], known: tuple[str, ...], type_name: str) -> tuple[str, ...]:
    """The `$expand`ed relationships in the order asked; an unknown one, or one with options, is Graph's 400."""
    if "$expand" not in q:
        return ()
    by_lower = {name.lower(): name for name in known}
    chosen: list[str] = []
    for name in (part.strip() for part in q["$expand"].split(",")):
        found = by_lower.get(name.lower())
        if found is None:
            raise errors.bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
        chosen.append(found)
    return tuple(chosen)


def _role_assignment_filter(q: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """`<property> eq '<value>'` on one of the filterable properties; no `$filter`: every assignment."""
    if "$filter" not in q:
        return lambda record: True
    found = ROLE_ASSIGNMENT_FILTER.fullmatch(q["$filter"].strip())
    if found is None:
        raise errors.invalid_filter()
    prop = {p.lower(): p for p in ROLE_ASSIGNMENT_FILTERABLE}.get(found.group(1).lower())
    if prop is None:
        raise errors.unsupported_filter(found.group(1), "unifiedRoleAssignment")
    value = found.group(2).lower()
    return lambda record: str(record[prop]).lower() == value


class LoginRoutes:
    """Handlers for the Entra endpoints msal calls."""

    def __init__(self, login: Login) -> None:
        self.login = login

    def openid(self, req: Request) -> Result:
        return 200, self.login.openid_configuration(req.params["tenant"]), {}

    def keys(self, req: Request) -> Result:
        return 200, self.login.jwks(req.params["tenant"]), {}

    def token(self, req: Request) -> Result:
        body = self.login.token(req.params["tenant"], req.form)
        return 200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


Handler = Callable[[Request], Result]


def route_table(
    graph: GraphRoutes, login: LoginRoutes, audit: AuditLog
) -> list[tuple[str, re.Pattern[str], str, Handler, bool]]:
    """(method, path pattern, route name, handler, needs bearer token) — read top to bottom."""
    t = r"(?P<tenant>[^/]+)"
    queries = r"^/(?P<version>v1\.0|beta)/security/auditLog/queries"
    query = queries + r"/(?P<query_id>[^/]+)"
    return [
        ("GET", re.compile(rf"^/{t}/v2\.0/\.well-known/openid-configuration$"), "openid", login.openid, False),
        ("GET", re.compile(rf"^/{t}/discovery/v2\.0/keys$"), "keys", login.keys, False),
        ("POST", re.compile(rf"^/{t}/oauth2/v2\.0/token$"), "token", login.token, False),
        ("GET", re.compile(r"^/v1\.0/users/?$"), "users", graph.users, True),
        ("GET", re.compile(r"^/v1\.0/users/\$count$"), "usersCount", graph.users_count, True),
        ("GET", re.compile(r"^/v1\.0/subscribedSkus/?$"), "subscribedSkus", graph.subscribed_skus, True),
        ("GET", re.compile(r"^/v1\.0/groups/?$"), "groups", graph.groups, True),
        ("GET", re.compile(r"^/v1\.0/directory/subscriptions/?$"), "subscriptions", graph.subscriptions, True),
        (
            "GET",
            re.compile(r"^/v1\.0/roleManagement/directory/roleAssignments/?$"),
            "roleAssignments",
            graph.role_assignments,
            True,
        ),
        ("GET", re.compile(r"^/(?P<version>v1\.0|beta)/auditLogs/signIns/?$", re.I), "signIns", graph.sign_ins, True),
        ("POST", re.compile(queries + "/?$", re.I), "auditQueries", audit.create, True),
        ("GET", re.compile(query + "/?$", re.I), "auditQuery", audit.get, True),
        ("GET", re.compile(query + "/records/?$", re.I), "auditRecords", audit.records, True),
    ]
