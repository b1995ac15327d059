"""Consent: the emulator issues tokens with whichever application permissions a test grants, and each Graph
resource accepts exactly the permissions Microsoft lists for it."""

from __future__ import annotations

import pytest
import requests

from graph_emulator import Emulator

from .conftest import Client

RESOURCES = ("/v1.0/users?$top=1", "/v1.0/subscribedSkus", "/v1.0/auditLogs/signIns?$top=1")


@pytest.mark.parametrize(
    "roles, allowed",
    [
        (["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"], RESOURCES),
        (["Directory.Read.All", "AuditLog.Read.All"], RESOURCES),
        (["Organization.Read.All"], ("/v1.0/subscribedSkus",)),
        (["User.Read.All"], ("/v1.0/users?$top=1",)),
        (["AuditLog.Read.All"], ("/v1.0/auditLogs/signIns?$top=1",)),
    ],
)
def test_each_resource_answers_exactly_the_role_sets_that_cover_it(fresh: Emulator, roles, allowed):
    fresh.grant_roles("full", roles)
    client = Client(fresh, "full")
    statuses = {path: client.get(path).status_code for path in RESOURCES}
    assert statuses == {path: 200 if path in allowed else 403 for path in RESOURCES}


def test_roles_granted_through_the_control_endpoint_are_the_new_tokens_roles(fresh: Emulator):
    before = Client(fresh, "full")
    answer = requests.post(
        f"{fresh.base_url}/_emulator/roles",
        json={"app": "full", "roles": ["User.Read.All"]},
        verify=fresh.ca_path,
        timeout=10,
    )
    assert answer.status_code == 200
    after = Client(fresh, "full")
    assert after.get("/v1.0/subscribedSkus").status_code == 403
    assert before.get("/v1.0/subscribedSkus").status_code == 200, "a token already issued keeps its roles"


@pytest.mark.parametrize(
    "roles, status",
    [
        (["User.Read.All"], 403),
        (["Directory.Read.All", "AuditLog.Read.All"], 403),
        (["User.Read.All", "User-LifeCycleInfo.Read.All"], 200),
        (["User.Read.All", "User-LifeCycleInfo.ReadWrite.All"], 200),
    ],
)
def test_users_serve_the_leave_date_only_to_an_app_holding_the_lifecycle_permission(fresh: Emulator, roles, status):
    fresh.grant_roles("full", roles)
    client = Client(fresh, "full")
    assert client.get("/v1.0/users?$top=1&$select=id,employeeLeaveDateTime").status_code == status
    assert client.get("/v1.0/users?$top=1&$select=id").status_code == 200
    assert "employeeLeaveDateTime" not in client.get("/v1.0/users?$top=1").json()["value"][0], "only when selected"
