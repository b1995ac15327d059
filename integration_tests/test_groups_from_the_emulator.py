"""The `groups` stream against the emulator: the groups that assign the tenant's Dynamics 365 licenses, each once,
through Graph's faults; and an optional stream: an app without a permission to read groups, or whose groups request
Graph refuses, passes `check` with a warning, and the default catalog (every stream) syncs green, skipping `groups`
with one warning."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from graph_emulator import Emulator
from testing.harness import connector_config, read_successfully, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked

GROUPS = {"groups": "full_refresh"}
DEFAULT_CATALOG = json.loads((Path(__file__).parent / "configured_catalog.json").read_text())
WITHOUT_GROUP_PERMISSION = ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"]


def licensing_groups(emu: Emulator) -> dict[str, dict]:
    """The tenant's groups that assign one of its Dynamics 365 SKUs."""
    skus = set(emu.tenant.dynamics_seat_skus())
    return {
        group["id"]: group
        for group in emu.tenant.groups()
        if skus & {license["skuId"] for license in group["assignedLicenses"]}
    }


def test_the_groups_assigning_dynamics_365_are_read_each_once_and_name_every_group_a_holder_has(tmp_path: Path):
    with running_emulator(seed=61, users=200, sign_ins=10, days=2) as emu:
        config = connector_config(emu)
        result = read_successfully(emu, tmp_path, config, {**GROUPS, "users": "full_refresh"})
        truth = licensing_groups(emu)
        every_group = {group["id"] for group in emu.tenant.groups()}
    assert_no_secret_leaked(result, config)
    emitted = [group["id"] for group in result.records_of("groups")]
    assert Counter(emitted).most_common(1)[0][1] == 1, "the group assigning two SKUs is emitted once"
    assert set(emitted) == set(truth) and set(truth) < every_group, "groups assigning no Dynamics 365 SKU are not read"
    for group in result.records_of("groups"):
        assert group["displayName"] == truth[group["id"]]["displayName"]
        assert group["assignedLicenses"] == truth[group["id"]]["assignedLicenses"]
    dynamics = {sku for group in truth.values() for sku in (lic["skuId"] for lic in group["assignedLicenses"])}
    by_group = {
        state["assignedByGroup"]
        for user in result.records_of("users")
        for state in user["licenseAssignmentStates"]
        if state["assignedByGroup"] and state["skuId"] in dynamics
    }
    assert by_group and by_group <= set(emitted), "every group a Dynamics 365 holder has it through is named"


def test_throttled_and_failing_groups_requests_are_retried_and_nothing_is_lost(tmp_path: Path):
    with running_emulator(seed=62, users=50, sign_ins=10, days=2) as emu:
        emu.add_fault({"route": "groups", "kind": "status", "status": 429, "retry_after": 1, "nth": 1, "times": 1})
        emu.add_fault({"route": "groups", "kind": "status", "status": 503, "nth": 3, "times": 1})
        result = read_successfully(emu, tmp_path, connector_config(emu), GROUPS)
        fired = [rule["fired"] for rule in emu.faults.list()]
        truth = licensing_groups(emu)
    assert fired == [1, 1]
    assert sorted(group["id"] for group in result.records_of("groups")) == sorted(truth)


def test_without_a_groups_permission_check_passes_with_a_warning_and_the_default_catalog_syncs_green(tmp_path: Path):
    with running_emulator(seed=63, users=50, sign_ins=10, days=2) as emu:
        emu.grant_roles("full", WITHOUT_GROUP_PERMISSION)
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        asked_by_check = emu.request_log("groups")
        read = run_connector("read", tmp_path, config, DEFAULT_CATALOG, emulator=emu, timeout=240)
        asked_by_read = emu.request_log("groups")
    assert {entry["stream"]["name"] for entry in DEFAULT_CATALOG["streams"]} >= {"groups", "users", "sign_ins"}
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert any("cannot read the optional groups stream" in line for line in check.log_lines("WARN"))
    assert asked_by_check == asked_by_read == [], "nothing is asked of Graph that the app may not read"
    assert read.returncode == 0 and read.error_messages == [] and read.log_lines("ERROR") == []
    assert read.records_of("users") and read.records_of("subscribed_skus") and read.records_of("sign_ins")
    assert not read.records_of("groups")
    (skipped,) = [line for line in read.log_lines("WARN") if "Skipping the optional groups stream" in line]
    assert "GroupMember.Read.All (or one of Group.Read.All" in skipped and "Grant admin consent" in skipped
    assert "Traceback" not in check.stderr + read.stderr
    for result in (check, read):
        assert_no_secret_leaked(result, config)


def test_a_groups_permission_that_graph_refuses_warns_in_check_and_the_default_catalog_syncs_green(tmp_path: Path):
    with running_emulator(seed=64, users=50, sign_ins=10, days=2) as emu:
        emu.add_fault({"route": "groups", "kind": "status", "status": 403, "times": None})
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        read = run_connector("read", tmp_path, config, DEFAULT_CATALOG, emulator=emu, timeout=240)
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert any("The optional groups stream cannot be read now" in line for line in check.log_lines("WARN"))
    assert read.returncode == 0 and read.error_messages == [] and read.log_lines("ERROR") == []
    assert read.records_of("users") and not read.records_of("groups")
    (skipped,) = [line for line in read.log_lines("WARN") if "Skipping the optional groups stream" in line]
    assert "Microsoft Graph refused it (HTTP 403" in skipped
