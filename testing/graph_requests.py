"""The Graph requests the connector must send and the pages Graph answers, for the CDK's `HttpMocker`.

A mock is the assertion: `HttpMocker` matches path, every query parameter (no more, no fewer) and the headers a
request builder names. A request the connector spells differently finds no mock: requests-mock raises NoMockAddress
where it is sent, which a read reports as an error trace (so tests on these mocks assert their read had no error, or
the one error they expect); the `http_mocker` fixture fails a test whose mocks were not all used, and
`assert_number_of_calls` pins how often one was. The parameters are spelled here, from Microsoft's documentation,
not imported from the connector, so that a change to what the connector asks is seen by a test.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlencode

import pytest
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from .graph_fakes import ALL_ROLES, CLIENT_ID, GRAPH, LOGIN, SECRET, TENANT, access_token, page

ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
GROUP_FIELDS = (
    "id,displayName,description,mail,mailEnabled,mailNickname,securityEnabled,groupTypes,createdDateTime,"
    "assignedLicenses"
)
ROSTER_FIELDS = (
    "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,userType,createdDateTime,jobTitle,"
    "department,employeeId,assignedLicenses,assignedPlans,licenseAssignmentStates,usageLocation,companyName,"
    "officeLocation,country,employeeType,onPremisesSyncEnabled"
)
# The default `sign_in_app_ids`: the Dynamics 365 applications (docs/dynamics365-cc.md lists them).
DYNAMICS_365_APPS = (
    "00000007-0000-0000-c000-000000000000",
    "996def3d-b36c-4153-8607-a6fd3c01b89f",
    "00000015-0000-0000-c000-000000000000",
    "637fcc9f-4a9b-4aaa-8713-a2a3cfda1505",
)
AUTHORITY = f"{LOGIN}/{TENANT}"


@pytest.fixture
def http_mocker() -> Iterator[HttpMocker]:
    """The CDK's `HttpMocker` around one test: a mock left unused fails it (a request no mock matches raises where
    it is sent).

    The CDK checks the unused mocks only when its decorator hands the mocker to a function, which pytest takes for
    a fixture request; this fixture runs the same check when the test's body has passed."""
    mocker = HttpMocker()
    with mocker:
        yield mocker
    mocker._validate_all_matchers_called()


def graph_request(path: str, query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None):
    """GET `path` under the Graph endpoint with exactly `query` (none when not given) and at least `headers`."""
    return HttpRequest(f"{GRAPH}{path}", query_params=dict(query or {}), headers=dict(headers or {}))


def subscribed_skus_request() -> HttpRequest:
    """GET /v1.0/subscribedSkus: the tenant's SKUs, one unpaged answer."""
    return graph_request("/v1.0/subscribedSkus")


def roster_select(sign_in_activity: bool, leave_dates: bool) -> str:
    """The roster's fields, then `signInActivity` and `employeeLeaveDateTime` when asked for, in that order."""
    extra = ("signInActivity",) * sign_in_activity + ("employeeLeaveDateTime",) * leave_dates
    return ",".join((ROSTER_FIELDS, *extra))


def users_request(sign_in_activity: bool = True, sku: str | None = None, leave_dates: bool = False) -> HttpRequest:
    """Every user (or the holders of `sku`), the roster's fields named, `signInActivity` and `employeeLeaveDateTime`
    (only with User-LifeCycleInfo.Read.All) after them when asked for: with signInActivity at Graph's documented
    500-user page for that property, else at the 999 maximum."""
    query = {"$select": roster_select(sign_in_activity, leave_dates), "$top": "500" if sign_in_activity else "999"}
    if sku is not None:
        query["$filter"] = f"assignedLicenses/any(x:x/skuId eq {sku})"
    return graph_request("/v1.0/users", query)


def user_count_request() -> HttpRequest:
    """`/users/$count`, which Graph answers only as an advanced query: every users read asks it first (its
    estimate)."""
    return graph_request("/v1.0/users/$count", headers=ADVANCED_QUERY)


def count_response(count: int) -> HttpResponse:
    """`/users/$count`'s answer, a bare number as text/plain."""
    return HttpResponse(str(count), 200, {"Content-Type": "text/plain"})


def user_probe_request(sign_in_activity: bool = True, leave_dates: bool = False) -> HttpRequest:
    """check's probe of the directory: the roster's own query (every user) for one user."""
    return graph_request("/v1.0/users", {"$select": roster_select(sign_in_activity, leave_dates), "$top": "1"})


def sign_ins_request(
    start: str, last: str, apps: Sequence[str], top: int, term: str | None = None, non_interactive: bool = False
) -> HttpRequest:
    """Sign-ins with `start` <= createdDateTime <= `last` (instants as sent, to the 100-ns tick), `top` a page: of
    `apps` as client or resource (one `or` group), or of the one `term` of that group a split query sends instead
    ("appId eq '...'"); v1.0's interactive sign-ins, or beta's non-interactive ones (filtered on the event type)."""
    clauses = [f"createdDateTime ge {start}", f"createdDateTime le {last}"]
    if non_interactive:
        clauses.append("signInEventTypes/any(t: t eq 'nonInteractiveUser')")
    if term is not None:
        clauses.append(term)
    elif apps:
        clauses.append("(" + " or ".join(f"appId eq '{app}' or resourceId eq '{app}'" for app in apps) + ")")
    version = "beta" if non_interactive else "v1.0"
    return graph_request(f"/{version}/auditLogs/signIns", {"$filter": " and ".join(clauses), "$top": str(top)})


def groups_request(sku: str, top: int = 999) -> HttpRequest:
    """One SKU's groups as an advanced query (Graph's `assignedLicenses/any` filter on groups needs `$count` and
    `ConsistencyLevel: eventual`); `top=1` is check's probe."""
    query = {
        "$select": GROUP_FIELDS,
        "$filter": f"assignedLicenses/any(x:x/skuId eq {sku})",
        "$count": "true",
        "$top": str(top),
    }
    return graph_request("/v1.0/groups", query, ADVANCED_QUERY)


def subscriptions_request() -> HttpRequest:
    """GET /v1.0/directory/subscriptions as Microsoft's example sends it: no query option (the list documents none by
    name)."""
    return graph_request("/v1.0/directory/subscriptions")


def role_assignments_request() -> HttpRequest:
    """Every directory role assignment with its role: the list documents `$select` and `$expand`, and the
    unifiedRoleAssignment resource `$expand` of `roleDefinition`."""
    query = {"$select": "id,principalId,roleDefinitionId,directoryScopeId", "$expand": "roleDefinition"}
    return graph_request("/v1.0/roleManagement/directory/roleAssignments", query)


def audit_query_create_request(start: str, end: str, version: str = "v1.0") -> HttpRequest:
    """The create of an audit log query for Dataverse's records (`crm`) in [start, end], as a JSON body."""
    body = {
        "displayName": f"source-dynamics365-cc dynamics_activity {start} to {end}",
        "filterStartDateTime": start,
        "filterEndDateTime": end,
        "recordTypeFilters": ["crm"],
    }
    # As text, the way requests serializes `json=` (a Mapping here would make HttpMocker parse the token request's
    # form body as JSON when it tries this matcher on it).
    return HttpRequest(f"{GRAPH}/{version}/security/auditLog/queries", body=json.dumps(body))


def audit_query_request(query_id: str, version: str = "v1.0") -> HttpRequest:
    """One audit log query's status."""
    return graph_request(f"/{version}/security/auditLog/queries/{query_id}")


def audit_records_request(query_id: str, version: str = "v1.0") -> HttpRequest:
    """The first page of a succeeded audit log query's records."""
    return graph_request(f"/{version}/security/auditLog/queries/{query_id}/records", {"$top": "1000"})


def audit_query_response(query_id: str, status: str, exceeded: bool = False, code: int = 200) -> HttpResponse:
    """An audit log query as Graph answers a create (201, `notStarted`) or a status read."""
    return json_response({"id": query_id, "status": status, "isRecordCountLimitExceeded": exceeded}, code)


def next_page_request(link: str, headers: Mapping[str, str] | None = None) -> HttpRequest:
    """A nextLink followed exactly as Graph gave it (its query is in the link)."""
    return HttpRequest(link, headers=dict(headers or {}))


def page_response(records: Iterable[dict], next_link: str | None = None, status: int = 200) -> HttpResponse:
    """One page of a collection, with `@odata.nextLink` when another follows."""
    return json_response(page(records, next_link), status)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """Any JSON answer (an error body, an expired page token) with its status."""
    return HttpResponse(json.dumps(body), status, {"Content-Type": "application/json", **(headers or {})})


def login(http_mocker: HttpMocker, roles: list[str] | None = ALL_ROLES, tokens: int = 1) -> None:
    """Only the login: the OpenID document msal reads first and a token endpoint handing out `tokens` tokens."""
    http_mocker.get(
        HttpRequest(f"{AUTHORITY}/v2.0/.well-known/openid-configuration"),
        json_response(
            {
                "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
                "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                "issuer": f"{AUTHORITY}/v2.0",
            }
        ),
    )
    answers = [
        json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": access_token(roles, serial)})
        for serial in range(1, tokens + 1)
    ]
    http_mocker.post(token_request(), answers)


def token_request() -> HttpRequest:
    """The client-credentials POST with the fakes' secret, form fields in the order msal sends them."""
    body = {
        "client_id": CLIENT_ID,
        "grant_type": "client_credentials",
        "client_info": "1",
        "client_secret": SECRET,
        "scope": f"{GRAPH}/.default",
    }
    return HttpRequest(f"{AUTHORITY}/oauth2/v2.0/token", body=urlencode(body))
