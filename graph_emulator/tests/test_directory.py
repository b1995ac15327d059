"""/users and /subscribedSkus: shapes, $select, $top, paging, signInActivity rules; and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from graph_emulator import Emulator, TenantSpec

from .conftest import NOW, Client

DEFAULT = {
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
}


def test_users_default_page_and_fields(client: Client) -> None:
    body = client.get("/v1.0/users").json()
    assert len(body["value"]) == 100 and set(body["value"][0]) == DEFAULT
    assert body["@odata.context"].endswith("/v1.0/$metadata#users")


def test_users_paging_returns_every_user_once(emu: Emulator, client: Client) -> None:
    r = client.get("/v1.0/users", {"$top": "7", "$select": "id,userPrincipalName,assignedLicenses,userType"})
    got = r.json()["value"]
    while "@odata.nextLink" in r.json():
        r = client.get(r.json()["@odata.nextLink"])
        got += r.json()["value"]
    assert [u["id"] for u in got] == [u["id"] for u in emu.tenant.users()]


def test_users_are_realistic(emu: Emulator) -> None:
    users = list(emu.tenant.users())
    upns = [u["userPrincipalName"] for u in users]
    assert any("#EXT#" in u for u in upns)
    assert any(u["userType"] == "Guest" for u in users)
    assert any(len(u) == 32 and u.isupper() and "@" not in u for u in upns)  # concealed names
    assert any(not u["displayName"].isascii() for u in users)
    assert any(u["mail"] is None for u in users) and any(u["jobTitle"] is None for u in users)
    assert any(not u["accountEnabled"] for u in users)
    dyn = {
        "749742bf-0d37-4158-a120-33567104deeb",
        "1e1a282c-9c54-43a2-9310-98ef728faace",
        "2880026b-2b0c-4251-8656-5d41ff11e3aa",
    }
    assert any({lic["skuId"] for lic in u["assignedLicenses"]} & dyn for u in users)
    assert any(u["signInActivity"]["lastSignInDateTime"] is None for u in users)


LICENCE_ERRORS = {
    "CountViolation",
    "MutuallyExclusiveViolation",
    "DependencyViolation",
    "ProhibitedInUsageLocationViolation",
    "UniquenessViolation",
    "Other",
}


def test_licences_come_directly_through_groups_or_both_and_failed_ones_grant_nothing(emu: Emulator) -> None:
    users = list(emu.tenant.users())
    ways = set()
    for user in users:
        states = user["licenseAssignmentStates"]
        active = [s for s in states if s["state"] == "Active"]
        assert {lic["skuId"] for lic in user["assignedLicenses"]} == {s["skuId"] for s in active}
        for sku in {s["skuId"] for s in active}:
            ways.add(frozenset(s["assignedByGroup"] is not None for s in active if s["skuId"] == sku))
        assert all(s["error"] in LICENCE_ERRORS and s["assignedByGroup"] for s in states if s["state"] == "Error")
        assert all(s["error"] is None for s in active)
        if user["usageLocation"] is None:
            assert all(s["assignedByGroup"] for s in states), "a direct assignment needs a usageLocation"
    assert ways == {frozenset({True}), frozenset({False}), frozenset({True, False})}
    assert any(s["state"] == "Error" for u in users for s in u["licenseAssignmentStates"])


@pytest.mark.parametrize(
    "field", ["usageLocation", "companyName", "officeLocation", "country", "employeeType", "onPremisesSyncEnabled"]
)
def test_roster_fields_are_sometimes_empty_and_can_be_selected(emu: Emulator, client: Client, field: str) -> None:
    values = [u[field] for u in emu.tenant.users()]
    assert None in values and len({v for v in values if v is not None}) >= 2
    body = client.get("/v1.0/users", {"$select": f"id,{field}", "$top": "999"}).json()
    assert [u[field] for u in body["value"]] == values[: len(body["value"])]


def test_unknown_select_property_is_400(client: Client) -> None:
    assert client.get("/v1.0/users", {"$select": "id,shoeSize"}).status_code == 400


@pytest.mark.parametrize(
    ("top", "select", "status"),
    [
        ("999", "id", 200),
        ("1000", "id", 400),
        ("0", "id", 400),
        ("500", "id,signInActivity", 200),
        ("501", "id,signInActivity", 200),
        ("1000", "id,signInActivity", 400),
    ],
)
def test_users_top_bounds(client: Client, top: str, select: str, status: int) -> None:
    assert client.get("/v1.0/users", {"$top": top, "$select": select}).status_code == status


def test_a_top_above_500_with_sign_in_activity_is_served_as_pages_of_500() -> None:
    with Emulator(TenantSpec(seed=3, users=620, sign_ins=10, days=30, now=NOW)) as big:
        pages = Client(big).pages("/v1.0/users", {"$top": "999", "$select": "id,signInActivity"})
        assert [len(page) for page in pages] == [500, 120]
        assert [len(page) for page in Client(big).pages("/v1.0/users", {"$top": "999", "$select": "id"})] == [620]


def test_the_license_filter_serves_exactly_the_holders_direct_or_through_a_group(emu: Emulator, client: Client) -> None:
    users = list(emu.tenant.users())
    for sku in emu.tenant.subscribed_skus():
        sku_id = sku["skuId"]
        params = {"$filter": f"assignedLicenses/any(x:x/skuId eq {sku_id})", "$select": "id", "$top": "7"}
        got = [user["id"] for page in client.pages("/v1.0/users", params) for user in page]
        held = [u["id"] for u in users if any(lic["skuId"] == sku_id for lic in u["assignedLicenses"])]
        assert got == held
    grouped = [
        s for u in users for s in u["licenseAssignmentStates"] if s["assignedByGroup"] and s["state"] == "Active"
    ]
    assert grouped, "some licenses are held through a group"


@pytest.mark.parametrize(
    "clause",
    ["assignedLicenses/any(x:x/skuId ne 6fd2c87f-b296-42f0-b197-1e91e994b900)", "userType eq 'Member'", "id eq 'x'"],
)
def test_any_other_users_filter_is_refused(client: Client, clause: str) -> None:
    r = client.get("/v1.0/users", {"$filter": clause})
    assert r.status_code == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_a_tenant_may_refuse_the_license_filter_with_sign_in_activity(fresh: Emulator) -> None:
    params = {"$filter": "assignedLicenses/any(x:x/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)"}
    assert Client(fresh).get("/v1.0/users", {**params, "$select": "id,signInActivity"}).status_code == 200
    fresh.set_license_filter_with_activity(False)
    refused = Client(fresh).get("/v1.0/users", {**params, "$select": "id,signInActivity"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert Client(fresh).get("/v1.0/users", {**params, "$select": "id"}).status_code == 200


def test_users_pages_with_sign_in_activity_get_ten_a_minute(fresh: Emulator) -> None:
    fresh.set_activity_throttle()
    client = Client(fresh)
    answers = [client.get("/v1.0/users", {"$select": "id,signInActivity", "$top": "1"}) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert 50 < float(answers[-1].headers["Retry-After"]) <= 60
    assert client.get("/v1.0/users", {"$select": "id", "$top": "1"}).status_code == 200
    assert list(fresh.stats()["activity"].values())[0]["throttled"] == 1


def test_sign_in_activity_needs_audit_role_and_premium(fresh: Emulator) -> None:
    params = {"$select": "id,signInActivity"}
    r = Client(fresh, "no_audit").get("/v1.0/users", params)
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    assert Client(fresh, "no_audit").get("/v1.0/users").status_code == 200
    fresh.set_premium(False)
    r = Client(fresh).get("/v1.0/users", params)
    assert r.json()["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


def test_subscribed_skus_inventory(emu: Emulator, client: Client) -> None:
    body = client.get("/v1.0/subscribedSkus").json()
    parts = {s["skuPartNumber"] for s in body["value"]}
    assert {
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
        "DYN365_ENTERPRISE_SALES",
        "DYN365_BUSCENTRAL_ESSENTIAL",
        "CRMSTORAGE",
        "ENTERPRISEPACK",
        "AAD_PREMIUM",
    } <= parts
    sku = body["value"][0]
    assert set(sku["prepaidUnits"]) == {"enabled", "suspended", "warning", "lockedOut"}
    assert "@odata.nextLink" not in body and body["value"] == emu.tenant.subscribed_skus()
    assert Client(emu, "no_consent").get("/v1.0/subscribedSkus").status_code == 403


def test_cli_prints_one_json_line_and_stops_on_sigterm(tmp_path) -> None:
    info_file = tmp_path / "info.json"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graph_emulator",
            "--port",
            "0",
            "--sign-ins",
            "100",
            "--users",
            "10",
            "--throttle",
            "5/10",
            "--now",
            "2026-11-26T12:00:00Z",
            "--info-file",
            str(info_file),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["control_url"] == info["base_url"] + "/_emulator"
        assert "config" not in info and set(info["apps"]["full"]) == {"client_id", "client_secret"}
        assert json.loads(info_file.read_text()) == info
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_users_count_is_plain_text_and_needs_consistency_level_eventual(emu: Emulator, client: Client) -> None:
    url = f"{emu.base_url}/v1.0/users/$count"
    headers = {"Authorization": f"Bearer {client.token}"}
    counted = client.http.get(url, headers={**headers, "ConsistencyLevel": "eventual"}, verify=emu.ca_path)
    assert (counted.status_code, counted.text) == (200, str(len(list(emu.tenant.users()))))
    assert counted.headers["Content-Type"].startswith("text/plain")
    refused = client.http.get(url, headers=headers, verify=emu.ca_path)
    assert refused.status_code == 400
    assert refused.json()["error"] | {"innerError": None} == {
        "code": "Request_BadRequest",
        "message": "$count is not currently supported.",
        "innerError": None,
    }


def test_users_count_needs_the_permissions_users_needs(emu: Emulator) -> None:
    no_consent = Client(emu, "no_consent")
    answer = no_consent.http.get(
        f"{emu.base_url}/v1.0/users/$count",
        headers={"Authorization": f"Bearer {no_consent.token}", "ConsistencyLevel": "eventual"},
        verify=emu.ca_path,
    )
    assert answer.status_code == 403
