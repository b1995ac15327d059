"""`subscriptions` and `directory_role_assignments` against the emulator: the tenant's subscriptions and role
assignments as it holds them, each asked as a sync asks it (by `check` too); and two optional streams: an app without
one's permission passes `check` with a warning naming the permission and the Azure portal page, and the default
catalog (every stream) syncs green, skipping that stream with one warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.harness import connector_config, read_successfully, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked

BOTH = {"subscriptions": "full_refresh", "directory_role_assignments": "full_refresh"}
DEFAULT_CATALOG = json.loads((Path(__file__).parent / "configured_catalog.json").read_text())
REQUIRED_AND_GROUPS = ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All", "GroupMember.Read.All"]
ROUTE = {"subscriptions": "subscriptions", "directory_role_assignments": "roleAssignments"}
PERMISSION = {"subscriptions": "Organization.Read.All", "directory_role_assignments": "RoleManagement.Read.Directory"}
PORTAL = "Azure portal: Microsoft Entra ID > App registrations > your app > API permissions"


def test_subscriptions_and_role_assignments_are_read_as_the_tenant_holds_them(tmp_path: Path):
    with running_emulator(seed=71, users=60, sign_ins=10, days=2, worklist_cases=True) as emu:
        config = connector_config(emu)
        result = read_successfully(emu, tmp_path, config, BOTH)
        subscriptions = emu.tenant.company_subscriptions()
        held = {a.id: a for a in emu.tenant.role_assignments()}
        administrator = next(
            i for i, case in emu.tenant.directory.cast.items() if case.name.startswith("administrator")
        )
        administrator_id = emu.tenant.directory.identity(administrator).id
    assert_no_secret_leaked(result, config)
    # A null property leaves the record as the CDK serialises it (ownerTenantId: no partner created the subscription).
    assert result.records_of("subscriptions") == [{k: v for k, v in s.items() if v is not None} for s in subscriptions]
    assignments = result.records_of("directory_role_assignments")
    assert {a["id"] for a in assignments} == set(held)
    for assignment in assignments:
        role = held[assignment["id"]].role
        assert assignment["principalId"] == held[assignment["id"]].principal_id
        assert assignment["roleDefinition"] == {
            "id": role.template_id,
            "displayName": role.display_name,
            "templateId": role.template_id,
            "isBuiltIn": True,
        }
    assert any(a["principalId"] == administrator_id for a in assignments), "the worklist's administrator"


def test_check_asks_each_as_a_sync_does_and_warns_of_neither(tmp_path: Path):
    with running_emulator(seed=72, users=50, sign_ins=10, days=2) as emu:
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        asked_by_check = {name: emu.request_log(route) for name, route in ROUTE.items()}
        emu.reset_log()
        read_successfully(emu, tmp_path, config, BOTH)
        asked_by_read = {name: emu.request_log(route) for name, route in ROUTE.items()}
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert not [line for line in check.log_lines("WARN") if "subscriptions" in line or "role_assignments" in line]
    for name in ROUTE:
        assert [e["query"] for e in asked_by_check[name]] == [e["query"] for e in asked_by_read[name]], name
        assert all(e["status"] == 200 for e in asked_by_check[name])


@pytest.mark.parametrize("missing", ["subscriptions", "directory_role_assignments"])
def test_without_its_permission_check_warns_and_the_default_catalog_syncs_green_with_one_warning(tmp_path, missing):
    other = next(name for name in PERMISSION if name != missing)
    with running_emulator(seed=73, users=50, sign_ins=10, days=2) as emu:
        emu.grant_roles("full", [*REQUIRED_AND_GROUPS, PERMISSION[other]])
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        read = run_connector("read", tmp_path, config, DEFAULT_CATALOG, emulator=emu, timeout=240)
        asked = emu.request_log(ROUTE[missing])
    assert {entry["stream"]["name"] for entry in DEFAULT_CATALOG["streams"]} >= set(PERMISSION)
    assert check.connection_status == {"status": "SUCCEEDED"}
    (warned,) = [line for line in check.log_lines("WARN") if f"optional {missing} stream" in line]
    assert f"it needs the application permission {PERMISSION[missing]}" in warned and PORTAL in warned
    assert asked == [], "nothing is asked of Graph that the app may not read"
    assert read.returncode == 0 and read.error_messages == [] and read.log_lines("ERROR") == []
    assert read.records_of("users") and read.records_of("groups") and read.records_of(other)
    assert not read.records_of(missing)
    (skipped,) = [line for line in read.log_lines("WARN") if "Skipping the optional" in line]
    assert f"Skipping the optional {missing} stream" in skipped and PERMISSION[missing] in skipped
    assert "Grant admin consent" in skipped and "Traceback" not in check.stderr + read.stderr
    for result in (check, read):
        assert_no_secret_leaked(result, config)


def test_a_403_to_role_assignments_and_a_503_to_subscriptions_leave_the_sync_green(tmp_path: Path):
    with running_emulator(seed=74, users=50, sign_ins=10, days=2) as emu:
        emu.add_fault({"route": "roleAssignments", "kind": "status", "status": 403, "times": None})
        emu.add_fault({"route": "subscriptions", "kind": "status", "status": 503, "nth": 2, "times": 1})
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        read = run_connector("read", tmp_path, config, DEFAULT_CATALOG, emulator=emu, timeout=240)
        truth = emu.tenant.company_subscriptions()
        fired = [rule["fired"] for rule in emu.faults.list()]
    assert check.connection_status == {"status": "SUCCEEDED"}
    (warned,) = [line for line in check.log_lines("WARN") if "optional directory_role_assignments" in line]
    assert "cannot be read now: Microsoft Graph denied access" in warned and "RoleManagement.Read.Directory" in warned
    assert read.returncode == 0 and read.error_messages == [] and read.log_lines("ERROR") == []
    assert fired[1] == 1, "the 503 reached the sync's subscriptions request, which was asked again"
    assert len(read.records_of("subscriptions")) == len(truth) and not read.records_of("directory_role_assignments")
    (skipped,) = [line for line in read.log_lines("WARN") if "Skipping the optional" in line]
    assert "directory_role_assignments" in skipped and "Microsoft Graph refused it (HTTP 403" in skipped
