"""Leave dates (`users.employeeLeaveDateTime`) against the emulator, which serves them only when selected and only to
an app holding User-LifeCycleInfo.Read.All (403 otherwise, the strict reading of Microsoft's user resource): with the
role, the worklist cases' dates are synced; without it, no request asks for them and the sync is green; refused all
the same, the users are read without them, with one warning."""

from __future__ import annotations

from pathlib import Path

from graph_emulator import Emulator
from testing.harness import connector_config, read_successfully, running_emulator

USERS = {"users": "full_refresh"}
TENANT = {"seed": 14, "users": 240, "sign_ins": 300, "days": 25, "worklist_cases": True}
FIELD = "employeeLeaveDateTime"


def leave_dates(emu: Emulator) -> dict[str, str]:
    """The tenant's truth: user id -> leave date, for the users that have one."""
    return {user["id"]: user[FIELD] for user in emu.tenant.users() if user[FIELD] is not None}


def selects_leave_dates(emu: Emulator) -> list[bool]:
    """For each users request sent, whether its `$select` asks for the leave date (a nextLink carries the first
    page's `$select`)."""
    return [FIELD in (entry["query"].get("$select") or "") for entry in emu.request_log("users")]


def test_with_the_role_the_leavers_dates_are_synced(tmp_path: Path):
    with running_emulator(**TENANT) as emu:
        result = read_successfully(
            emu, tmp_path, {**connector_config(emu, "activity"), "roster_scope": "all_users"}, USERS
        )
        truth, asked = leave_dates(emu), selects_leave_dates(emu)
    synced = {user["id"]: user.get(FIELD) for user in result.records_of("users")}
    assert len(truth) == 2 and all(asked)
    assert {user_id: date for user_id, date in synced.items() if date} == truth
    assert not [line for line in result.log_lines() if FIELD in line]


def test_without_the_role_no_request_selects_the_leave_date_and_the_users_are_read(tmp_path: Path):
    with running_emulator(**TENANT) as emu:
        result = read_successfully(emu, tmp_path, {**connector_config(emu, "full"), "roster_scope": "all_users"}, USERS)
        asked, served = selects_leave_dates(emu), {user["id"] for user in emu.tenant.users()}
    users = result.records_of("users")
    assert asked and not any(asked)
    assert not any(FIELD in user for user in users) and {user["id"] for user in users} <= served
    said = [line for line in result.log_lines() if FIELD in line]
    assert len(said) == 1 and "User-LifeCycleInfo.Read.All" in said[0]
    assert said[0] not in result.log_lines("WARN")


def test_a_refused_leave_date_leaves_the_users_read_without_it_and_warns_once(tmp_path: Path):
    """The app holds the role, but Graph answers 403 to the first users page (a fault): the roster is read again
    without the field, every user once."""
    with running_emulator(**TENANT) as emu:
        emu.add_fault({"route": "users", "kind": "status", "status": 403, "nth": 1, "times": 1})
        config = {**connector_config(emu, "activity"), "roster_scope": "all_users", "include_sign_in_activity": False}
        result = read_successfully(emu, tmp_path, config, USERS)
        asked = selects_leave_dates(emu)
        everyone = {user["id"] for user in emu.tenant.users()}
    ids = [user["id"] for user in result.records_of("users")]
    assert len(ids) == len(set(ids)) and len(ids) > 200 and set(ids) <= everyone
    assert asked == [True, False] and not any(FIELD in user for user in result.records_of("users"))
    warned = [line for line in result.log_lines("WARN") if FIELD in line]
    assert len(warned) == 1 and "User-LifeCycleInfo.Read.All" in warned[0] and "API permissions" in warned[0]
