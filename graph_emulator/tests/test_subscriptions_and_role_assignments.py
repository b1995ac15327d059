"""/directory/subscriptions and /roleManagement/directory/roleAssignments: the tenant's renewal dates, trials and
administrators, the permissions Microsoft lists for each, and the query options it documents, no others."""

from __future__ import annotations

import pytest

from graph_emulator import Emulator, TenantSpec
from graph_emulator.gen import parse_ticks
from graph_emulator.roles import DYNAMICS_ADMINISTRATOR, GLOBAL_ADMINISTRATOR

from .conftest import NOW, Client

SUBSCRIPTIONS = "/v1.0/directory/subscriptions"
ROLE_ASSIGNMENTS = "/v1.0/roleManagement/directory/roleAssignments"


def test_every_sku_in_force_is_made_of_its_subscriptions(emu: Emulator, client: Client) -> None:
    body = client.get(SUBSCRIPTIONS).json()
    assert "@odata.nextLink" not in body and body["value"] == emu.tenant.company_subscriptions()
    by_id = {s["id"]: s for s in body["value"]}
    for sku in emu.tenant.subscribed_skus():
        in_force = [by_id[i] for i in sku["subscriptionIds"]]
        assert all(s["skuId"] == sku["skuId"] and s["status"] == "Enabled" for s in in_force)
        assert sum(s["totalLicenses"] for s in in_force) == sku["prepaidUnits"]["enabled"]


def test_renewal_dates_are_ahead_and_trials_and_a_deleted_trial_are_told(client: Client) -> None:
    subscriptions = client.get(SUBSCRIPTIONS).json()["value"]
    now = parse_ticks(NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    in_force = [s for s in subscriptions if s["status"] == "Enabled"]
    assert all(parse_ticks(s["nextLifecycleDateTime"]) > now > parse_ticks(s["createdDateTime"]) for s in in_force)
    assert {s["skuPartNumber"] for s in in_force if s["isTrial"]} == {"GUIDES_USER"}
    assert [s["skuPartNumber"] for s in in_force].count("DYN365_ENTERPRISE_SALES") == 2
    deleted = [s for s in subscriptions if s["status"] == "Deleted"]
    assert [(s["skuPartNumber"], s["isTrial"]) for s in deleted] == [("DYN365_BUSCENTRAL_ESSENTIAL", True)]
    assert parse_ticks(deleted[0]["nextLifecycleDateTime"]) < now


def test_the_viral_trial_of_the_worklist_cases_is_a_trial() -> None:
    with Emulator(TenantSpec(seed=3, users=60, sign_ins=200, days=30, now=NOW, worklist_cases=True)) as emu:
        subscriptions = Client(emu).get(SUBSCRIPTIONS).json()["value"]
        trial = next(s for s in subscriptions if s["skuPartNumber"] == "Dynamics_365_Sales_Premium_Viral_Trial")
        assert trial["isTrial"] and trial["totalLicenses"] == 10_000
        assignments = Client(emu).get(ROLE_ASSIGNMENTS, {"$expand": "roleDefinition"}).json()["value"]
        administrator = next(
            i for i, case in emu.tenant.directory.cast.items() if case.name.startswith("administrator")
        )
        held = {a["roleDefinition"]["displayName"] for a in assignments if a["principalId"] == _id(emu, administrator)}
        assert held == {DYNAMICS_ADMINISTRATOR.display_name}


def _id(emu: Emulator, index: int) -> str:
    return emu.tenant.directory.identity(index).id


def test_role_assignments_carry_their_role_when_expanded_and_graphs_ids(emu: Emulator, client: Client) -> None:
    plain = client.get(ROLE_ASSIGNMENTS).json()["value"]
    assert [a["id"] for a in plain] == [a.id for a in emu.tenant.role_assignments()]
    assert set(plain[0]) == {"id", "principalId", "resourceScope", "directoryScopeId", "roleDefinitionId"}
    global_admin = next(a for a in plain if a["roleDefinitionId"] == GLOBAL_ADMINISTRATOR.template_id)
    assert global_admin["id"].startswith("lAPpYvVpN0KRkAEhdxReE") and global_admin["id"].endswith("-1")
    params = {"$select": "id,principalId,roleDefinitionId,directoryScopeId", "$expand": "roleDefinition"}
    expanded = client.get(ROLE_ASSIGNMENTS, params).json()["value"]
    assert all(set(a) == {*params["$select"].split(","), "roleDefinition"} for a in expanded)
    assert all(a["roleDefinition"]["id"] == a["roleDefinitionId"] for a in expanded)
    assert {a["roleDefinition"]["displayName"] for a in expanded} >= {"Global Administrator", "Global Reader"}
    principals = client.get(ROLE_ASSIGNMENTS, {"$expand": "principal"}).json()["value"]
    assert {a["principal"]["@odata.type"] for a in principals} == {
        "#microsoft.graph.user",
        "#microsoft.graph.servicePrincipal",
    }


def test_a_role_assignment_filter_on_a_documented_property(emu: Emulator, client: Client) -> None:
    wanted = f"roleDefinitionId eq '{GLOBAL_ADMINISTRATOR.template_id}'"
    found = client.get(ROLE_ASSIGNMENTS, {"$filter": wanted}).json()["value"]
    assert [a["roleDefinitionId"] for a in found] == [GLOBAL_ADMINISTRATOR.template_id]


@pytest.mark.parametrize(
    "path, params",
    [
        (ROLE_ASSIGNMENTS, {"$top": "1"}),
        (ROLE_ASSIGNMENTS, {"$orderby": "principalId"}),
        (ROLE_ASSIGNMENTS, {"$expand": "appScope"}),
        (ROLE_ASSIGNMENTS, {"$expand": "roleDefinition($select=displayName)"}),
        (ROLE_ASSIGNMENTS, {"$select": "id,roleName"}),
        (ROLE_ASSIGNMENTS, {"$filter": "startswith(principalId, 'a')"}),
        (ROLE_ASSIGNMENTS, {"$filter": "id eq 'x'"}),
        (SUBSCRIPTIONS, {"$top": "1"}),
        (SUBSCRIPTIONS, {"$filter": "isTrial eq true"}),
        (SUBSCRIPTIONS, {"$select": "id,renewalDate"}),
    ],
)
def test_an_option_microsoft_does_not_document_is_refused(client: Client, path, params) -> None:
    answer = client.get(path, params)
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "roles, allowed",
    [
        (["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"], ()),
        (["Organization.Read.All"], (SUBSCRIPTIONS,)),
        (["RoleManagement.Read.Directory"], (ROLE_ASSIGNMENTS,)),
        (["RoleManagement.Read.All"], (ROLE_ASSIGNMENTS,)),
        (["Directory.Read.All"], (SUBSCRIPTIONS, ROLE_ASSIGNMENTS)),
    ],
)
def test_each_answers_exactly_the_permissions_microsoft_lists(fresh: Emulator, roles, allowed) -> None:
    fresh.grant_roles("full", roles)
    client = Client(fresh, "full")
    for path in (SUBSCRIPTIONS, ROLE_ASSIGNMENTS):
        answer = client.get(path)
        assert answer.status_code == (200 if path in allowed else 403), (path, answer.text)
        if answer.status_code == 403:
            assert answer.json()["error"]["code"] == "Authorization_RequestDenied"
