"""Fake Entra and Graph answers for requests-mock: a token endpoint and paged collections."""

import base64
import json
from typing import Any, Iterable, Optional

import requests_mock

LOGIN = "https://login.example.test"
GRAPH = "https://graph.example.test"
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t-value-never-printed"
ALL_ROLES = ["AuditLog.Read.All", "Directory.Read.All"]


def config(**overrides: Any) -> dict:
    base = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "credentials": {"auth_type": "client_secret", "client_secret": SECRET},
        "login_endpoint": LOGIN,
        "graph_endpoint": GRAPH,
        "roster_scope": "all_users",  # these fakes serve /users unfiltered, as the whole roster
    }
    base.update(overrides)
    return base


def access_token(roles: Optional[list] = None, serial: int = 1) -> str:
    claims = {"aud": GRAPH, "appid": CLIENT_ID, "serial": serial}
    if roles is not None:
        claims["roles"] = roles
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{payload}.signature"


def register_user_count(mocker: requests_mock.Mocker, count: int = 1) -> None:
    """`/users/$count` answered as Graph does (text/plain)."""
    mocker.get(f"{GRAPH}/v1.0/users/$count", text=str(count), headers={"Content-Type": "text/plain"})


def register_groups(mocker: requests_mock.Mocker, groups: Iterable[dict] = ()) -> Any:
    """`/groups`, one page: what check's groups probe and a groups read ask for."""
    return mocker.get(f"{GRAPH}/v1.0/groups", json=page(groups))


def register_optional_reads(mocker: requests_mock.Mocker) -> None:
    """`/directory/subscriptions` and `/roleManagement/directory/roleAssignments`, each one empty page: what check
    probes when the token carries their permissions (Directory.Read.All does)."""
    mocker.get(f"{GRAPH}/v1.0/directory/subscriptions", json=page([]))
    mocker.get(f"{GRAPH}/v1.0/roleManagement/directory/roleAssignments", json=page([]))


def register_login(mocker: requests_mock.Mocker, roles: Optional[list] = ALL_ROLES, tokens: int = 1) -> Any:
    """Only the login: the OpenID document msal reads first and a token endpoint handing out `tokens` distinct
    tokens (a users read's `/users/$count` and check's `/groups` probe are registered by the tests that send them)."""
    authority = f"{LOGIN}/{TENANT}"
    mocker.get(
        f"{authority}/v2.0/.well-known/openid-configuration",
        json={
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "issuer": f"{LOGIN}/{TENANT}/v2.0",
        },
    )
    answers = [
        {"json": {"token_type": "Bearer", "expires_in": 3600, "access_token": access_token(roles, serial)}}
        for serial in range(1, tokens + 1)
    ]
    return mocker.post(f"{authority}/oauth2/v2.0/token", answers)


def token_error(mocker: requests_mock.Mocker, code: int, error: str = "invalid_client", status: int = 401) -> None:
    authority = f"{LOGIN}/{TENANT}"
    register_login(mocker)
    mocker.post(
        f"{authority}/oauth2/v2.0/token",
        status_code=status,
        json={"error": error, "error_description": f"AADSTS{code}: something. Trace ID: x", "error_codes": [code]},
    )


def page(records: Iterable[dict], next_link: Optional[str] = None) -> dict:
    body: dict = {"value": list(records)}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def graph_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "r"}}}


def sign_ins_in_window(records: list):
    """A requests-mock callback that answers each sign-in `$filter` as the emulator does (graph_emulator/odata.py:
    only what Graph documents, such as `ge`/`le` on createdDateTime compared at 100-ns ticks; anything else is
    "Invalid filter clause"), newest first."""
    from urllib.parse import parse_qs, urlsplit

    from graph_emulator import odata
    from graph_emulator.gen import parse_ticks

    rows = [(record, {**record, "createdDateTime": parse_ticks(record["createdDateTime"])}) for record in records]
    rows.sort(key=lambda pair: pair[1]["createdDateTime"], reverse=True)

    def respond(request, context):
        text = parse_qs(urlsplit(request.url).query)["$filter"][0]
        try:
            matches = odata.compile_predicate(odata.parse(text, lambdas="/beta/" in request.url))
        except odata.FilterError:
            context.status_code = 400
            return graph_error("BadRequest", "Invalid filter clause")
        return page([record for record, row in rows if matches(row)])

    return respond


def fake_runtime() -> Any:
    """Fakes do not throttle and need no waiting: an unpaced pacer and a sleep that returns at once."""
    from testing.runtime import unpaced_runtime

    return unpaced_runtime(sleep=lambda _seconds: None)


def read_streams(cfg: dict, *streams: tuple, state: Any = None, runtime: Any = None) -> Any:
    """An in-process `read` of the given (stream name, SyncMode) pairs, on `runtime` (fake_runtime()'s unless given:
    a test pins its `now` to know each window's bounds); returns the CDK's EntrypointOutput."""
    from airbyte_cdk.test.catalog_builder import CatalogBuilder
    from airbyte_cdk.test.entrypoint_wrapper import read

    from source_dynamics365_cc import SourceDynamics365Cc

    builder = CatalogBuilder()
    for name, mode in streams:
        builder.with_stream(name, mode)
    catalog = builder.build()
    return read(SourceDynamics365Cc(catalog, cfg, state, runtime or fake_runtime()), cfg, catalog, state)
