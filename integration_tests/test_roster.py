"""The `users` stream (the roster) against the emulator: its scope, its restarts, its pace, and tenants without
Entra ID P1/P2. Each test compares what the connector emitted with the tenant's truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from graph_emulator import Emulator
from source_dynamics365_cc.graph.concealed import is_concealed
from testing.harness import connector_config, read_successfully, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked

USERS = {"users": "full_refresh"}
HOLDERS = "dynamics_365_license_holders"


def holders_truth(emu: Emulator) -> dict[str, dict[str, Any]]:
    """Every user holding a Dynamics 365 SKU of the tenant (in assignedLicenses: directly or through a group)."""
    skus = set(emu.tenant.dynamics_seat_skus())
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
        emitted = [user["id"] for user in result.records_of("users")]
        assert [rule["fired"] for rule in emu.faults.list()] == [1]
        truth = [user["id"] for user in emu.tenant.users() if not is_concealed(user)]
    assert Counter(emitted).most_common(1)[0][1] == 1
    assert set(emitted) == set(truth)
    assert any("page token expired" in line for line in result.log_lines())


def test_a_user_graph_lists_on_two_pages_is_emitted_once(tmp_path: Path):
    with running_emulator(seed=41, users=2400, sign_ins=10, days=30) as emu:
        emu.add_fault({"route": "users", "kind": "duplicate_row", "nth": 2})
        result = roster(emu, tmp_path, roster_scope="all_users", include_sign_in_activity=False)
        assert [rule["fired"] for rule in emu.faults.list()] == [1]
        truth = [user["id"] for user in emu.tenant.users() if not is_concealed(user)]
    emitted = [user["id"] for user in result.records_of("users")]
    assert len(emitted) == len(set(emitted)) and set(emitted) == set(truth)


def test_the_license_holders_are_read_one_query_per_sku_each_user_once(tmp_path: Path):
    with running_emulator(seed=43, users=300, sign_ins=10, days=30) as emu:
        result = roster(emu, tmp_path, roster_scope=HOLDERS)
        truth = holders_truth(emu)
        queries = [entry for entry in emu.request_log("users") if "$skiptoken" not in entry["query"]]
        skus = emu.tenant.dynamics_seat_skus()
    emitted = [user["id"] for user in result.records_of("users")]
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
    assert all(record["signInActivity"] is not None for record in result.records_of("users"))
    assert len(queries) == len(skus)
    assert all("assignedLicenses/any" in entry["query"]["$filter"] for entry in queries)


def test_a_sync_reads_the_holders_of_mixed_case_and_unprefixed_dynamics_skus_and_names_the_skus_once(tmp_path: Path):
    """Dynamics_365_Business_Central_Essentials_Attach and GUIDES_USER (the tenant's truth marks both Dynamics 365)
    have holders of their own, who hold no other Dynamics 365 SKU; Office 365 E3 carries a Dataverse plan and is no
    Dynamics 365 seat."""
    with running_emulator(seed=43, users=300, sign_ins=10, days=30) as emu:
        result = roster(emu, tmp_path, {**USERS, "subscribed_skus": "full_refresh"}, roster_scope=HOLDERS)
        truth = holders_truth(emu)
        parts = {sku["skuId"]: sku["skuPartNumber"] for sku in emu.tenant.subscribed_skus()}
        seats = emu.tenant.dynamics_seat_skus()
    unusual = {
        sku_id
        for sku_id in seats
        if parts[sku_id] in ("Dynamics_365_Business_Central_Essentials_Attach", "GUIDES_USER")
    }
    only_there = {
        user_id
        for user_id, user in truth.items()
        if {lic["skuId"] for lic in user["assignedLicenses"]} & set(seats) <= unusual
    }
    assert len(unusual) == 2 and only_there, "the tenant has holders of the unusual SKUs only"
    emitted = {user["id"] for user in result.records_of("users")}
    assert only_there <= emitted and emitted == set(truth)
    told = [line for line in result.log_lines("INFO") if "Dynamics 365 SKUs of the tenant" in line]
    assert len(told) == 1, "the classification is said once, though users and subscribed_skus both read the SKUs"
    assert (
        "Dynamics_365_Business_Central_Essentials_Attach (Dynamics 365 Business Central Essentials Attach)" in told[0]
    )
    assert "GUIDES_USER (Dynamics 365 Guides)" in told[0] and "ENTERPRISEPACK" not in told[0]
    assert not [line for line in result.log_lines("WARN") if "not in Microsoft's licence table" in line]
    flags = {sku["skuPartNumber"]: sku["isDynamics365"] for sku in result.records_of("subscribed_skus")}
    assert flags["GUIDES_USER"] and not flags["ENTERPRISEPACK"]


def test_a_refused_license_filter_with_sign_in_activity_falls_back_with_one_warning(tmp_path: Path):
    with running_emulator(seed=43, users=300, sign_ins=10, days=30, license_filter_with_activity=False) as emu:
        result = roster(emu, tmp_path, roster_scope=HOLDERS)
        truth = holders_truth(emu)
    assert sorted(user["id"] for user in result.records_of("users")) == sorted(truth)
    warnings = [line for line in result.log_lines("WARN") if "refused the license filter" in line]
    assert len(warnings) == 1 and "100 minutes per 500,000 users" in warnings[0]
    assert all(user.get("signInActivity") is None for user in result.records_of("users"))


def test_a_licence_moved_between_two_per_sku_queries_leaves_each_holder_in_the_roster_once(tmp_path: Path):
    """An admin moves a licence while the roster is read, right after the first SKU's query (the second `/users`
    request): moved to the second SKU, the holder is emitted once, as the first query read them; moved from the second
    SKU to the first, this sync misses them and the next one has them."""
    with running_emulator(seed=43, users=300, sign_ins=10, days=30) as emu:
        first, second = emu.tenant.dynamics_seat_skus()[:2]
        dynamics = set(emu.tenant.dynamics_seat_skus())
        held = {
            user["id"]: dynamics & {lic["skuId"] for lic in user["assignedLicenses"]} for user in emu.tenant.users()
        }
        forward = next(user_id for user_id, skus in held.items() if skus == {first})
        backward = next(user_id for user_id, skus in held.items() if skus == {second})

        def sync_moving(user_id: str, source: str, target: str) -> Any:
            move = {"kind": "move_licence", "user": user_id, "from_sku": source, "to_sku": target}
            emu.add_fault({"route": "users", "nth": 2, **move})
            result = roster(emu, tmp_path, roster_scope=HOLDERS)
            assert [rule["fired"] for rule in emu.faults.list()] == [1]
            emu.clear_faults()
            return result

        moved_on = sync_moving(forward, first, second)
        truth_after_forward = holders_truth(emu)
        moved_back = sync_moving(backward, second, first)
        truth_after_backward = holders_truth(emu)
        next_sync = roster(emu, tmp_path, roster_scope=HOLDERS)
        truth = holders_truth(emu)

    emitted = [user["id"] for user in moved_on.records_of("users")]
    assert Counter(emitted).most_common(1)[0][1] == 1 and sorted(emitted) == sorted(truth_after_forward)
    record = next(user for user in moved_on.records_of("users") if user["id"] == forward)
    assert first in {lic["skuId"] for lic in record["assignedLicenses"]}, "as the first SKU's query read them"
    assert second in {lic["skuId"] for lic in truth_after_forward[forward]["assignedLicenses"]}
    emitted = [user["id"] for user in moved_back.records_of("users")]
    assert backward in truth_after_backward and sorted(emitted) == sorted(set(truth_after_backward) - {backward})
    assert sorted(user["id"] for user in next_sync.records_of("users")) == sorted(truth), "the next sync has them"


def test_pacing_alone_keeps_the_roster_under_both_limits_without_a_429_paced_on_the_tests_clock(tmp_path: Path):
    """6,000 users with signInActivity: 12 pages of 500, more than Graph's 10 a minute. The connector's pacers wait
    at Graph's rates on the test's clock, which the emulator's throttle reads too: the minute the 11th page waits for
    is skipped, not spent (the pacer waits in real time in test_sync.py's `..._on_the_real_clock` tests)."""
    with running_emulator(seed=47, users=6000, sign_ins=10, days=30, paced=True) as emu:
        emu.set_throttle(5, 10.0)
        emu.set_activity_throttle(10, 60.0)
        result = roster(emu, tmp_path, roster_scope="all_users")
        stats = emu.stats()
        pages = len(emu.request_log("users"))
    assert len(result.records_of("users")) == len({user["id"] for user in result.records_of("users")}) > 5000
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
    assert any("P1 or P2 is missing" in line for line in check.log_lines("WARN"))
    assert [s.name for s in discover.catalog.catalog.streams] == [
        "users",
        "subscribed_skus",
        "groups",
        "subscriptions",
        "directory_role_assignments",
    ]
    assert sorted(user["id"] for user in result.records_of("users")) == sorted(truth)
    assert result.records_of("subscribed_skus") and not any("signInActivity" in select for select in sent)
