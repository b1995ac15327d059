"""The `users` stream (the roster) against the emulator: its scope, its restarts, its pace, and tenants without
Entra ID P1/P2. Each test compares what the connector emitted with the tenant's truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graph_emulator import Emulator
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.streams.licenses import dynamics_skus
from testing.harness import connector_config, read_successfully, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked

USERS = {"users": "full_refresh"}
HOLDERS = "dynamics_365_license_holders"


def holders_truth(emu: Emulator) -> dict[str, dict[str, Any]]:
    """Every user holding a Dynamics 365 SKU of the tenant (in assignedLicenses: directly or through a group)."""
    skus = set(dynamics_skus(emu.tenant.subscribed_skus()))
    return {
        user["id"]: user
        for user in emu.tenant.users()
        if skus & {license["skuId"] for license in user["assignedLicenses"]}
    }


def roster(emu: Emulator, tmp_path: Path, streams: dict[str, str] = USERS, **settings: Any) -> Any:
    config = {**connector_config(emu), **settings}
    result = read_successfully(emu, tmp_path, config, streams)
    assert_no_secret_leaked(result, config)
    return result


def test_an_expired_roster_page_token_restarts_the_roster_and_emits_each_user_once(tmp_path: Path):
    with running_emulator(seed=41, users=2400, sign_ins=10, days=30) as emu:
        emu.add_fault({"route": "users", "kind": "expired_skiptoken", "nth": 3})
        result = roster(emu, tmp_path, roster_scope="all_users", include_sign_in_activity=False)
        emitted = [user["id"] for user in result.records("users")]
        assert [rule["fired"] for rule in emu.faults.list()] == [1]
        truth = [user["id"] for user in emu.tenant.users() if not is_concealed(user)]
    assert Counter(emitted).most_common(1)[0][1] == 1
    assert set(emitted) == set(truth)
    assert any("page token expired" in line for line in result.logs())


def test_the_license_holders_are_read_one_query_per_sku_each_user_once(tmp_path: Path):
    with running_emulator(seed=43, users=300, sign_ins=10, days=30) as emu:
        result = roster(emu, tmp_path, roster_scope=HOLDERS)
        truth = holders_truth(emu)
        queries = [entry for entry in emu.request_log("users") if "$skiptoken" not in entry["query"]]
        skus = dynamics_skus(emu.tenant.subscribed_skus())
    emitted = [user["id"] for user in result.records("users")]
    assert sorted(emitted) == sorted(truth)
    dynamics = set(skus)
    two = [u for u in truth.values() if len(dynamics & {lic["skuId"] for lic in u["assignedLicenses"]}) >= 2]
    assert two, "the tenant has a user holding two Dynamics 365 SKUs"
    through_group = [
        u
        for u in truth.values()
        if any(s["skuId"] in dynamics and s["assignedByGroup"] for s in u["licenseAssignmentStates"])
        and not any(s["skuId"] in dynamics and not s["assignedByGroup"] for s in u["licenseAssignmentStates"])
    ]
    assert through_group, "the tenant has a user holding Dynamics 365 through a group only"
    assert all(record["signInActivity"] is not None for record in result.records("users"))
    assert len(queries) == len(skus)
    assert all("assignedLicenses/any" in entry["query"]["$filter"] for entry in queries)


def test_a_refused_license_filter_with_sign_in_activity_falls_back_with_one_warning(tmp_path: Path):
    with running_emulator(seed=43, users=300, sign_ins=10, days=30, license_filter_with_activity=False) as emu:
        result = roster(emu, tmp_path, roster_scope=HOLDERS)
        truth = holders_truth(emu)
    assert sorted(user["id"] for user in result.records("users")) == sorted(truth)
    warnings = [line for line in result.logs("WARN") if "refused the license filter" in line]
    assert len(warnings) == 1 and "100 minutes per 500,000 users" in warnings[0]
    assert all(user.get("signInActivity") is None for user in result.records("users"))


@pytest.mark.slow
def test_pacing_alone_keeps_the_roster_under_both_limits_without_a_429_on_the_real_clock(tmp_path: Path):
    """6,000 users with signInActivity: 12 pages of 500, more than Graph's 10 a minute."""
    with running_emulator(seed=47, users=6000, sign_ins=10, days=30, real_clock=True) as emu:
        emu.set_throttle(5, 10.0)
        emu.set_activity_throttle(10, 60.0)
        result = roster(emu, tmp_path, roster_scope="all_users")
        stats = emu.stats()
        pages = len(emu.request_log("users"))
    assert len(result.records("users")) == len({user["id"] for user in result.records("users")}) > 5000
    assert pages == 12 and stats["throttled"] == 0 and stats["violations"] == 0


def test_a_tenant_without_p1_passes_check_and_syncs_the_roster_and_skus_without_the_sign_in_log(tmp_path: Path):
    with running_emulator(seed=53, users=200, sign_ins=10, days=30, premium=False) as emu:
        config = {**connector_config(emu), "include_sign_in_log": False, "roster_scope": HOLDERS}
        check = run_connector("check", tmp_path, config, emulator=emu)
        discover = run_connector("discover", tmp_path, config, emulator=emu)
        result = read_successfully(emu, tmp_path, config, {"users": "full_refresh", "subscribed_skus": "full_refresh"})
        sent = [entry["query"].get("$select", "") for entry in emu.request_log("users")]
        truth = holders_truth(emu)
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert any("P1 or P2 is missing" in line for line in check.logs("WARN"))
    assert [s["name"] for s in discover.of_type("CATALOG")[0]["catalog"]["streams"]] == [
        "users",
        "subscribed_skus",
        "groups",
    ]
    assert sorted(user["id"] for user in result.records("users")) == sorted(truth)
    assert result.records("subscribed_skus") and not any("signInActivity" in select for select in sent)
