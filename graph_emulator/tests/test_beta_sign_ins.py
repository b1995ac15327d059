"""/beta/auditLogs/signIns: event types, beta's fields, and the same budget, paging and strictness as v1.0."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections import Counter
from typing import Iterator

import pytest

from graph_emulator import Emulator, TenantSpec
from graph_emulator.catalog import DATAVERSE, DYNAMICS_APP_IDS

from .conftest import NOW, Client

BETA = "/beta/auditLogs/signIns"
V1 = "/v1.0/auditLogs/signIns"
WINDOW = "createdDateTime ge 2026-11-25T00:00:00Z and createdDateTime le 2026-11-25T05:59:59.9999999Z"
WINDOW_END = "2026-11-25T06:00:00Z"
NON_INTERACTIVE = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
DYNAMICS = "(" + " or ".join(f"appId eq '{a}' or resourceId eq '{a}'" for a in sorted(DYNAMICS_APP_IDS)) + ")"
BETA_ONLY_FIELDS = {"signInEventTypes", "incomingTokenType", "userType", "authenticationRequirement"}


@pytest.fixture(scope="module")
def tenant() -> Iterator[Emulator]:
    with Emulator(TenantSpec(seed=5, users=60, sign_ins=3000, days=30, now=NOW)) as e:
        yield e


@pytest.fixture(scope="module")
def beta_client(tenant: Emulator) -> Client:
    return Client(tenant)


def crawl(client: Client, path: str, params: dict) -> list[dict]:
    return [row for page in client.pages(path, params) for row in page]


def truth(emu: Emulator, event_type: str | None, app_ids=None) -> list[str]:
    return [r["id"] for r in emu.tenant.sign_ins_between("2026-11-25T00:00:00Z", WINDOW_END, app_ids, event_type)]


def test_beta_without_an_event_type_lists_the_interactive_sign_ins_v1_lists(tenant, beta_client) -> None:
    beta = crawl(beta_client, BETA, {"$filter": WINDOW, "$top": "200"})
    v1 = crawl(beta_client, V1, {"$filter": WINDOW, "$top": "200"})

    assert [r["id"] for r in beta] == [r["id"] for r in v1] == truth(tenant, "interactiveUser")
    assert all(r["signInEventTypes"] == ["interactiveUser"] and r["isInteractive"] for r in beta)
    assert all(BETA_ONLY_FIELDS <= set(r) for r in beta)
    assert not any(BETA_ONLY_FIELDS & set(r) for r in v1)


def test_beta_lists_exactly_the_non_interactive_dynamics_sign_ins_asked_for(tenant, beta_client) -> None:
    served = crawl(beta_client, BETA, {"$filter": f"{WINDOW} and {NON_INTERACTIVE} and {DYNAMICS}", "$top": "50"})
    ids = [r["id"] for r in served]

    assert ids == truth(tenant, "nonInteractiveUser", DYNAMICS_APP_IDS) and len(set(ids)) == len(ids) > 50
    assert all(r["signInEventTypes"] == ["nonInteractiveUser"] and r["isInteractive"] is False for r in served)
    assert {r["incomingTokenType"] for r in served} == {"none", "primaryRefreshToken"}
    assert {r["authenticationRequirement"] for r in served} == {
        "singleFactorAuthentication",
        "multiFactorAuthentication",
    }
    assert {r["userType"] for r in served} <= {"member", "guest"}


def test_non_interactive_sign_ins_are_about_ten_times_as_many_and_often_dynamics(tenant) -> None:
    interactive = truth(tenant, "interactiveUser")
    non_interactive = list(tenant.tenant.sign_ins_between("2026-11-25T00:00:00Z", WINDOW_END, None, None))
    mine = [r for r in non_interactive if r["signInEventTypes"] == ["nonInteractiveUser"]]
    dynamics = truth(tenant, "nonInteractiveUser", DYNAMICS_APP_IDS)
    shared_instants = [n for n in Counter(r["createdDateTime"] for r in mine).values() if n > 1]

    assert 8 * len(interactive) <= len(mine) <= 12 * len(interactive)
    assert len(non_interactive) == len(mine) + len(interactive)
    assert 0.35 <= len(dynamics) / len(mine) <= 0.55
    assert shared_instants, "some non-interactive sign-ins must share one instant"


def test_an_event_type_filter_is_refused_on_v1_where_the_property_does_not_exist(beta_client) -> None:
    r = beta_client.get(V1, {"$filter": f"{WINDOW} and {NON_INTERACTIVE}"})

    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Could not find a property named 'signInEventTypes' on type 'microsoft.graph.signIn'."
    )


@pytest.mark.parametrize(
    "flt",
    [
        "signInEventTypes/any(t: t eq 'robot')",
        "signInEventTypes/any(t: x eq 'nonInteractiveUser')",
        "signInEventTypes/any(t: t ne 'nonInteractiveUser')",
        "signineventtypes/any(t: t eq 'nonInteractiveUser')",
        "createdDateTime lt 2026-11-25T00:00:00Z and " + NON_INTERACTIVE,
    ],
)
def test_beta_refuses_what_graph_does_not_document_as_400_invalid_filter_clause(beta_client, flt: str) -> None:
    r = beta_client.get(BETA, {"$filter": flt})

    assert r.status_code == 400 and r.json()["error"]["message"].startswith("Invalid filter clause")


def test_beta_keeps_the_retention_rule(beta_client) -> None:
    r = beta_client.get(BETA, {"$filter": f"createdDateTime ge 2026-10-01T00:00:00Z and {NON_INTERACTIVE}"})

    assert r.status_code == 400 and "retention" in r.json()["error"]["message"]


def test_a_tenant_refusing_or_refuses_it_on_beta_too(fresh: Emulator) -> None:
    fresh.set_or_filter(False)
    client = Client(fresh)
    one = f"{WINDOW} and {NON_INTERACTIVE} and appId eq '{DATAVERSE}'"

    assert client.get(BETA, {"$filter": f"{WINDOW} and {NON_INTERACTIVE} and {DYNAMICS}"}).status_code == 400
    assert client.get(BETA, {"$filter": one}).status_code == 200


def test_a_page_token_is_bound_to_its_api_version(beta_client) -> None:
    first = beta_client.get(BETA, {"$filter": f"{WINDOW} and {NON_INTERACTIVE}", "$top": "5"}).json()
    next_link = first["@odata.nextLink"]

    assert next_link.startswith(beta_client.emu.base_url + BETA)
    assert beta_client.get(next_link.replace("/beta/", "/v1.0/")).status_code == 400


def test_v1_and_beta_share_one_budget_of_5_requests_per_10_seconds(fresh: Emulator) -> None:
    fresh.set_throttle(5, 10)
    client = Client(fresh)
    answers = [client.get(V1 if k % 2 else BETA, {"$filter": WINDOW, "$top": "1"}) for k in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert float(answers[-1].headers["Retry-After"]) > 0
    assert fresh.stats()["max_requests_in_10s"] == 6


def test_a_fault_aimed_at_beta_leaves_v1_alone(fresh: Emulator) -> None:
    fresh.add_fault({"route": "signIns", "api_version": "beta", "kind": "status", "status": 429, "retry_after": 2})
    client = Client(fresh)

    assert client.get(V1, {"$filter": WINDOW}).status_code == 200
    hit = client.get(BETA, {"$filter": WINDOW})
    assert hit.status_code == 429 and hit.headers["Retry-After"] == "2"
    assert client.get(BETA, {"$filter": WINDOW}).status_code == 200


def test_an_ignored_event_type_clause_returns_every_event_type(fresh: Emulator) -> None:
    fresh.add_fault({"route": "signIns", "kind": "ignore_filter", "clause": "event_type", "times": None})
    served = crawl(Client(fresh), BETA, {"$filter": f"{WINDOW} and {NON_INTERACTIVE}", "$top": "999"})

    assert {r["signInEventTypes"][0] for r in served} == {"interactiveUser", "nonInteractiveUser"}
    assert sorted(r["id"] for r in served) == sorted(truth(fresh, None))


def test_advance_brings_new_and_late_non_interactive_sign_ins(fresh: Emulator) -> None:
    window = ("2026-11-26T11:00:00Z", "2026-11-26T12:00:01Z")
    before = {r["id"] for r in fresh.tenant.sign_ins_between(*window, event_type="nonInteractiveUser")}

    info = fresh.advance(60, late=5)

    after = {r["id"] for r in fresh.tenant.sign_ins_between(*window, event_type="nonInteractiveUser")}
    assert info["late_non_interactive"] == 50 and len(after - before) == 50 and before < after
    fresh_ones = list(fresh.tenant.sign_ins_between(window[1], "2026-11-26T13:00:01Z", None, "nonInteractiveUser"))
    assert len(fresh_ones) == info["new_non_interactive"] == 10 * info["new"] > 0


def test_the_date_header_follows_the_tenant_clock_on_graph_and_token_answers() -> None:
    ahead = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(minutes=15)
    with Emulator(TenantSpec(seed=2, users=10, sign_ins=100, days=2, now=ahead)) as emu:
        client = Client(emu)
        token_answer = client.http.post(
            f"{emu.base_url}/{emu.tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            verify=emu.ca_path,
        )
        graph_answer = client.get(BETA, {"$top": "1"})
        emu.advance(30)
        later = client.get(V1, {"$top": "1"})

    for answer in (token_answer, graph_answer):
        assert email.utils.parsedate_to_datetime(answer.headers["Date"]) == emu.tenant.now - dt.timedelta(minutes=30)
    assert email.utils.parsedate_to_datetime(later.headers["Date"]) == emu.tenant.now
