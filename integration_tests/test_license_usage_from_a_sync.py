"""The license manager's worklist from a real sync (main.py against the emulator), checked against the tenant's own
facts: who it made disabled, a non-user of a product, an integration, an administrator, a holder of two full bases;
which SKUs are trials and device licences; what the example prices say. The expectations come from how the tenant was
made (graph_emulator.catalog.CASES, Directory, SignInLog.families_used, CrmActivity.works: who only signs in), not
from re-running the SQL's rule.

The tenant's sign-ins span 25 days, so a sync from 26 days back reads all of them while the connector, whose clock
runs ahead of the tenant's, stays inside Entra's 30-day retention. That makes the evidence span shorter than a
90-day threshold (Team Members), as after a first sync; the 10-, 14- and 20-day thresholds of the others it covers.
"""

import csv
import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from graph_emulator import catalog
from graph_emulator.activity import ACTIVITY_LAG
from graph_emulator.crm_activity import ALL_IN_LOG_AFTER
from graph_emulator.gen import TICKS, parse_ticks, ticks_to_datetime
from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.streams.users import ROSTER_FIELDS
from testing.harness import configured_catalog, connector_config, run_connector, running_emulator
from tools.license_usage import EXAMPLE_PRICES, answer, evidence_line, load, load_lists, unknowns, write_reclaim

TENANT_LAG = dt.timedelta(minutes=90)
STREAMS = {
    "users": "full_refresh",
    "subscribed_skus": "full_refresh",
    "sign_ins": "incremental",
    "non_interactive_sign_ins": "incremental",
    "groups": "full_refresh",
    "subscriptions": "full_refresh",
    "directory_role_assignments": "full_refresh",
    "dynamics_activity": "incremental",
}
# The optional streams the answer reads when synced; `usage` is the answer without them (their tables empty).
OPTIONAL = ("subscriptions", "directory_role_assignments", "dynamics_activity")
THRESHOLDS = {
    "DYN365_ENTERPRISE_SALES": 10,
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": 14,
    "DYN365_BUSCENTRAL_ESSENTIAL": 20,
    "DYN365_TEAM_MEMBERS": 90,
    "Dynamics_365_Business_Central_Essentials_Attach": 20,
    "GUIDES_USER": 14,
}
# The example price list, as its file says; trials and device licences are not in it.
PRICES = {
    "DYN365_ENTERPRISE_SALES": Decimal("100.00"),
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": Decimal("100.00"),
    "DYN365_BUSCENTRAL_ESSENTIAL": Decimal("70.00"),
    "DYN365_TEAM_MEMBERS": Decimal("8.00"),
    "Dynamics_365_Business_Central_Essentials_Attach": Decimal("40.00"),
    "GUIDES_USER": Decimal("65.00"),
    "D365_SALES_ENT_ATTACH": Decimal("20.00"),
    "D365_CUSTOMER_SERVICE_ENT_ATTACH": Decimal("20.00"),
}
TRIAL, DEVICE = "Dynamics_365_Sales_Premium_Viral_Trial", "Dynamics_365_for_Operations_Devices"
DAY = dt.timedelta(days=1)


def instant(text: str | None) -> dt.datetime | None:
    """A Graph timestamp at DuckDB's precision (microseconds)."""
    return None if text is None else ticks_to_datetime(parse_ticks(text))


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One sync of users, subscribed_skus, both sign-in streams, groups, subscriptions, directory role assignments and
    Dataverse activity (the app `activity`, which holds AuditLogsQuery-CRM.Read.All) from a tenant with the worklist's
    cases."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    tenant_spec = {"seed": 14, "users": 240, "sign_ins": 1500, "days": 25, "non_interactive_ratio": 2}
    with running_emulator(now=now, worklist_cases=True, **tenant_spec) as emu:
        directory = tmp_path_factory.mktemp("sync")
        start = (emu.tenant.now - dt.timedelta(days=26)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = {
            **connector_config(emu, "activity"),
            "start_date": start,
            "include_non_interactive_sign_ins": True,
            "include_dynamics_activity": True,
        }
        catalog_ = configured_catalog(STREAMS)
        result = run_connector("read", directory / "inputs", config, catalog_, emulator=emu)
        assert result.returncode == 0 and not result.error_messages, result.error_messages or result.stderr[-2000:]
        for stream in STREAMS:
            lines = "".join(json.dumps(record) + "\n" for record in result.records_of(stream))
            (directory / f"{stream}.jsonl").write_text(lines)
        yield emu.tenant, catalog_, directory, result


def answer_on(synced, tmp_path_factory, streams: set[str]):
    """The answer on the synced records of `streams` (the others' tables empty, as when not synced), with the example
    prices and per-SKU thresholds."""
    tenant, catalog_, directory, _ = synced
    thresholds = tmp_path_factory.mktemp("lists") / "thresholds.csv"
    thresholds.write_text("sku_part_number,threshold_days\n" + "".join(f"{k},{v}\n" for k, v in THRESHOLDS.items()))
    chosen = {**catalog_, "streams": [entry for entry in catalog_["streams"] if entry["stream"]["name"] in streams]}
    with duckdb.connect() as con:
        load(con, chosen, directory)
        load_lists(con, EXAMPLE_PRICES, thresholds)
        return answer(con, tenant.now)


@pytest.fixture(scope="module")
def usage(synced, tmp_path_factory):
    """The answer without the optional streams: what an app without their permissions gets."""
    return answer_on(synced, tmp_path_factory, set(STREAMS) - set(OPTIONAL))


@pytest.fixture(scope="module")
def usage_with_directory(synced, tmp_path_factory):
    """The answer with subscriptions and directory role assignments synced."""
    return answer_on(synced, tmp_path_factory, set(STREAMS) - {"dynamics_activity"})


@pytest.fixture(scope="module")
def usage_with_activity(synced, tmp_path_factory):
    """The answer with every stream synced, Dataverse activity included."""
    return answer_on(synced, tmp_path_factory, set(STREAMS))


def cast(tenant) -> dict[str, dict[str, Any]]:
    """The worklist's cases as the tenant serves them: case name -> the user."""
    users = {user["id"]: user for user in tenant.users()}
    return {case.name: users[tenant.directory.identity(index).id] for index, case in tenant.directory.cast.items()}


def rows_of(usage, user: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The worklist's rows of one user, by part number."""
    return {row["sku_part_number"]: row for row in usage.reclaim if row["user_id"] == user["id"]}


def skus_by_id(tenant) -> dict[str, dict[str, Any]]:
    seats = set(tenant.dynamics_seat_skus())
    return {sku["skuId"]: sku for sku in tenant.subscribed_skus() if sku["skuId"] in seats}


def assigned_at(user: dict[str, Any], sku_id: str) -> dt.datetime:
    """When the tenant first assigned the SKU to the user: its earliest active assignment."""
    states = [s for s in user["licenseAssignmentStates"] if s["skuId"] == sku_id and s["state"] == "Active"]
    return min(instant(s["lastUpdatedDateTime"]) for s in states)


def non_user_seats(tenant) -> dict[tuple[str, str], str]:
    """(user id, part number) -> why the tenant made the holder a non-user of that seat: disabled, never signs in,
    never signs in to the seat's product family, or stopped before the seat's whole window."""
    skus = skus_by_id(tenant)
    families = {sku.sku_id: set(sku.families) for sku in tenant.directory.skus}
    log, directory, now = tenant.log, tenant.directory, tenant.now
    out = {}
    for index in range(directory.count):
        ident = directory.identity(index)
        if ident.kind == "concealed":
            continue
        user = directory.user(index, ("accountEnabled",))
        for sku in directory.licences(index):
            if sku.sku_id not in skus:
                continue
            stop = directory.stops_using_dynamics(index)
            window_start = now - THRESHOLDS.get(sku.part_number, 30) * DAY
            why = None
            if not user["accountEnabled"]:
                why = "disabled"
            elif not families[sku.sku_id] & log.families_used(index):
                why = "never signs in to the product"
            elif stop is not None and ticks_to_datetime(stop) < window_start and index in log.stopped:
                why = "stopped before the window"
            if why:
                out[(ident.id, sku.part_number)] = why
    return out


def test_every_seat_of_a_non_user_is_listed_or_has_a_stated_reason(synced, usage):
    tenant, *_ = synced
    expected = non_user_seats(tenant)
    seats = {(row["user_id"], row["sku_part_number"]): row for row in usage.seats}
    listed = {(row["user_id"], row["sku_part_number"]) for row in usage.reclaim}
    unexplained = [
        (key, why, seats.get(key))
        for key, why in expected.items()
        if key not in listed and not (seats.get(key) or {}).get("reason", "").startswith("new seat, in its grace")
    ]
    assert not unexplained, unexplained[:3]
    assert len(expected) > 20 and {"disabled", "never signs in to the product", "stopped before the window"} <= set(
        expected.values()
    )
    assert set(seats) >= set(expected), "every holder's seat is in the seats view"
    assert all(row["reason"] for row in usage.seats), "a seat left alone says why"


def test_no_disabled_account_is_in_grace_and_disabled_accounts_come_first(synced, usage):
    tenant, *_ = synced
    disabled = {u["id"] for u in tenant.users() if not u["accountEnabled"] and not is_concealed(u)}
    skus = skus_by_id(tenant)
    held = {
        (u["id"], skus[lic["skuId"]]["skuPartNumber"])
        for u in tenant.users()
        if u["id"] in disabled
        for lic in u["assignedLicenses"]
        if lic["skuId"] in skus
    }
    rows = {(row["user_id"], row["sku_part_number"]): row for row in usage.reclaim}
    assert held and held <= set(rows)
    assert all(rows[key]["action"] == "remove" and rows[key]["account_kind"] == "disabled" for key in held)
    new = cast(tenant)["disabled, licensed days ago"]
    assert rows[(new["id"], "DYN365_ENTERPRISE_SALES")]["reason"].startswith("account disabled")
    assert assigned_at(new, catalog.SKU_BY_PART["DYN365_ENTERPRISE_SALES"].sku_id) > tenant.now - 5 * DAY
    order = [row["account_enabled"] for row in usage.reclaim]
    assert order == sorted(order), "disabled accounts first"
    enabled = [row["monthly_amount"] or Decimal(0) for row in usage.reclaim if row["account_enabled"]]
    assert enabled == sorted(enabled, reverse=True), "then by money"


def test_a_business_central_seat_without_business_central_use_is_idle(synced, usage):
    tenant, *_ = synced
    users = cast(tenant)
    unused = rows_of(usage, users["Business Central unused"])
    assert set(unused) == {"DYN365_BUSCENTRAL_ESSENTIAL"}, "the Sales seat it uses stays off the list"
    assert unused["DYN365_BUSCENTRAL_ESSENTIAL"]["action"] == "remove"
    assert unused["DYN365_BUSCENTRAL_ESSENTIAL"]["reason"].startswith("no Business Central sign-in in ")
    assert "but signs in to Dataverse" in unused["DYN365_BUSCENTRAL_ESSENTIAL"]["reason"]
    assert not rows_of(usage, users["Business Central only"]), "a user of the product they hold is left alone"


def test_the_two_base_user_gets_a_downgrade(synced, usage):
    tenant, *_ = synced
    rows = rows_of(usage, cast(tenant)["two full bases"])
    assert list(rows) == ["DYN365_ENTERPRISE_SALES"], "one base stays, the other becomes its attach"
    row = rows["DYN365_ENTERPRISE_SALES"]
    assert row["action"] == "downgrade" and "D365_SALES_ENT_ATTACH" in row["reason"]
    assert row["monthly_amount"] == PRICES["DYN365_ENTERPRISE_SALES"] - PRICES["D365_SALES_ENT_ATTACH"]
    assert row["annual_amount"] == 12 * row["monthly_amount"]
    both = {catalog.SKU_BY_PART[p].sku_id for p in ("DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_CUSTOMER_SERVICE")}
    holders = [u for u in tenant.users() if both <= {lic["skuId"] for lic in u["assignedLicenses"]}]
    assert len(holders) > 1 and all(rows_of(usage, u) for u in holders), "every holder of two bases is on the list"


def test_trials_and_devices_are_outside_unassigned(synced, usage):
    tenant, *_ = synced
    rows = {row["sku_part_number"]: row for row in usage.skus}
    inventory = {sku["skuPartNumber"]: sku for sku in tenant.subscribed_skus()}
    assert inventory[TRIAL]["prepaidUnits"]["enabled"] == 10_000 and inventory[DEVICE]["consumedUnits"] == 0
    assert rows[TRIAL]["units_unassigned"] is None and rows[TRIAL]["not_counted_unassigned"].startswith("a trial")
    assert rows[DEVICE]["units_unassigned"] is None and "device" in rows[DEVICE]["not_counted_unassigned"]
    unassigned = sum(
        (inventory[part]["prepaidUnits"]["enabled"] - inventory[part]["consumedUnits"]) * price
        for part, price in PRICES.items()
        if part in rows
    )
    assert usage.money[0]["unassigned_monthly_cost"] == unassigned
    assert usage.money[0]["unassigned_annual_cost"] == 12 * unassigned
    assert not rows_of(usage, cast(tenant)["viral trial"]), "a trial in use is nothing to act on"


def test_the_integration_is_converted_and_only_accounts_never_seen_interactively_are(synced, usage):
    tenant, *_ = synced
    integration = cast(tenant)["integration"]
    row = rows_of(usage, integration)["DYN365_ENTERPRISE_SALES"]
    assert row["action"] == "convert" and row["account_kind"] == "integration"
    assert row["last_dynamics_interactive"] is None and row["last_dynamics_non_interactive"] is not None
    users = {u["id"]: u for u in tenant.users()}
    start = tenant.now - 26 * DAY
    for convert in (r for r in usage.reclaim if r["action"] == "convert"):
        last = instant(users[convert["user_id"]]["signInActivity"]["lastSignInDateTime"])
        assert last is None or last < start, convert["user_principal_name"]


def test_the_administrator_without_use_is_reviewed_and_the_missing_roles_are_said(synced, usage):
    tenant, *_ = synced
    row = rows_of(usage, cast(tenant)["administrator without use"])["DYN365_ENTERPRISE_SALES"]
    assert row["action"] == "review"
    assert "Dynamics CRM Online Administration (admin centre), which is no use of the seat" in row["reason"]
    assert not usage.evidence["directory_roles_known"] and not usage.evidence["renewal_dates_known"]
    said = " ".join(unknowns(usage))
    assert "Administrators: not classified" in said and "Renewal dates: unknown" in said
    assert all(row["saves_from"] is None for row in usage.reclaim)


def in_force(tenant) -> dict[str, list[dict[str, Any]]]:
    """skuId -> the tenant's subscriptions of it still in force (Enabled or Warning)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for subscription in tenant.company_subscriptions():
        if subscription["status"] in ("Enabled", "Warning"):
            found.setdefault(subscription["skuId"], []).append(subscription)
    return found


def test_with_subscriptions_synced_each_seat_saves_from_its_skus_earliest_renewal(synced, usage_with_directory):
    tenant, *_ = synced
    renewal = {sku: min(instant(s["nextLifecycleDateTime"]) for s in subs) for sku, subs in in_force(tenant).items()}
    assert usage_with_directory.evidence["renewal_dates_known"]
    assert not any("Renewal" in line for line in unknowns(usage_with_directory))
    assert usage_with_directory.reclaim and all(
        row["saves_from"] == renewal[row["sku_id"]] for row in usage_with_directory.reclaim
    )
    skus = {sku["skuPartNumber"]: sku["skuId"] for sku in tenant.subscribed_skus()}
    for row in usage_with_directory.skus:
        assert row["renewal_date"] == renewal[skus[row["sku_part_number"]]], row["sku_part_number"]
    sales = in_force(tenant)[skus["DYN365_ENTERPRISE_SALES"]]
    assert len(sales) == 2, "the Sales top-up: two dates, the earlier counts"


def test_with_subscriptions_synced_every_trial_the_tenant_bought_is_outside_unassigned(synced, usage_with_directory):
    tenant, *_ = synced
    trials = {subs[0]["skuPartNumber"] for subs in in_force(tenant).values() if all(s["isTrial"] for s in subs)}
    assert {"GUIDES_USER", TRIAL} <= trials, "one trial its part number does not tell"
    rows = {row["sku_part_number"]: row for row in usage_with_directory.skus}
    for part in trials:
        assert rows[part]["units_unassigned"] is None and rows[part]["not_counted_unassigned"].startswith("a trial")
    inventory = {sku["skuPartNumber"]: sku for sku in tenant.subscribed_skus()}
    unassigned = sum(
        (inventory[part]["prepaidUnits"]["enabled"] - inventory[part]["consumedUnits"]) * price
        for part, price in PRICES.items()
        if part in rows and part not in trials
    )
    assert usage_with_directory.money[0]["unassigned_monthly_cost"] == unassigned


def test_with_role_assignments_synced_idle_administrators_are_administrators_only(synced, usage, usage_with_directory):
    tenant, *_ = synced
    holders = {a.principal_id for a in tenant.role_assignments()}
    administrator = cast(tenant)["administrator without use"]
    assert usage_with_directory.evidence["directory_roles_known"]
    assert not any("Administrators" in line for line in unknowns(usage_with_directory))
    kinds = {(row["user_id"], row["sku_part_number"]): row["account_kind"] for row in usage_with_directory.reclaim}
    named = {user for (user, _), kind in kinds.items() if kind == "administrator only"}
    assert administrator["id"] in named and named <= holders
    row = rows_of(usage_with_directory, administrator)["DYN365_ENTERPRISE_SALES"]
    assert row["reason"].startswith("administrator only: holds a directory role")
    before = {(row["user_id"], row["sku_part_number"]) for row in usage.reclaim}
    assert set(kinds) == before, "the roles change why a seat is listed, never which"


def test_right_sizing_and_the_guest(synced, usage):
    tenant, *_ = synced
    users = cast(tenant)
    team = rows_of(usage, users["Team Members beside a full licence"])
    assert list(team) == ["DYN365_TEAM_MEMBERS"] and team["DYN365_TEAM_MEMBERS"]["action"] == "remove"
    assert "beside the full licence DYN365_ENTERPRISE_SALES" in team["DYN365_TEAM_MEMBERS"]["reason"]
    attach = rows_of(usage, users["attach without a base"])
    part = "Dynamics_365_Business_Central_Essentials_Attach"
    assert attach[part]["action"] == "review" and attach[part]["reason"].startswith("compliance:")
    guest = rows_of(usage, users["guest with a seat"])["DYN365_TEAM_MEMBERS"]
    assert guest["action"] == "review" and guest["account_kind"] == "guest"


def test_a_leaver_past_the_date_is_removed_and_one_leaving_later_is_not_a_leaver(synced, usage):
    """The app `activity` holds User-LifeCycleInfo.Read.All, so users carry the leave dates the tenant set: the leaver
    (12 days ago, still signing in) is removed as a leaver; the one leaving in 9 days is judged by use."""
    tenant, *_ = synced
    users = cast(tenant)
    leaver, leaving = users["leaver"], users["leaving soon"]
    row = rows_of(usage, leaver)["DYN365_ENTERPRISE_SALES"]
    day = leaver["employeeLeaveDateTime"][:10]
    assert row["action"] == "remove" and row["account_kind"] == "leaver"
    assert row["reason"] == f"a leaver: employeeLeaveDateTime {day} has passed"
    assert instant(leaving["employeeLeaveDateTime"]) > tenant.now
    assert all(row["account_kind"] != "leaver" for row in rows_of(usage, leaving).values())
    assert usage.evidence["leave_dates_known"] and not any("Leavers" in line for line in unknowns(usage))


def test_the_worklist_csv_carries_ids_actions_and_reasons_and_names_groups_as_the_tenant_does(synced, usage, tmp_path):
    tenant, *_ = synced
    path = tmp_path / "reclaim.csv"
    write_reclaim(usage, path)
    with path.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    users = {u["id"] for u in tenant.users()}
    groups = {g["id"] for g in tenant.groups()}
    assert len(written) == len(usage.reclaim)
    assert all(row["user_id"] in users and row["sku_id"] and row["action"] and row["reason"] for row in written)
    assert {row["action"] for row in written} == {"remove", "review", "convert", "downgrade"}
    grouped = [row for row in written if row["group_ids"]]
    assert grouped and all(set(row["group_ids"].split(";")) <= groups for row in grouped)
    assert any("Customer Service, Europe – Dynamics 365" in row["assigned"] for row in written)


def test_every_money_figure_follows_the_example_prices(usage):
    for row in usage.skus:
        price = PRICES.get(row["sku_part_number"])
        assert row["monthly_price"] == price
        assert row["idle_monthly_cost"] == (None if price is None else row["idle"] * price)
    actions = {}
    for row in usage.reclaim:
        actions.setdefault(row["action"], []).append(row)
    assert {row["action"]: row["seats"] for row in usage.money_by_action} == {k: len(v) for k, v in actions.items()}
    for row in usage.money_by_action:
        assert row["annual_amount"] == 12 * row["monthly_amount"]
    assert "EXAMPLE PRICES, NOT MICROSOFT'S" in EXAMPLE_PRICES.read_text()


def test_the_per_sku_table_accounts_for_every_holder(synced, usage):
    tenant, *_ = synced
    inventory = {sku["skuPartNumber"]: sku for sku in skus_by_id(tenant).values() if sku["appliesTo"] == "User"}
    rows = {row["sku_part_number"]: row for row in usage.skus}
    assert set(rows) == set(inventory)
    for part, row in rows.items():
        assert (row["units_bought"], row["units_assigned"]) == (
            inventory[part]["prepaidUnits"]["enabled"],
            inventory[part]["consumedUnits"],
        )
        assert row["holders"] == row["units_assigned"], "the roster explains consumedUnits"
        assert row["holders"] == row["used_in_threshold"] + row["in_grace"] + row["idle"]
    assert sum(row["idle"] for row in rows.values()) > 0 and sum(row["in_grace"] for row in rows.values()) > 0


def test_a_member_licensed_days_ago_without_use_is_in_grace_not_idle(synced, usage):
    tenant, *_ = synced
    skus = skus_by_id(tenant)
    new = [
        (user["id"], skus[lic["skuId"]]["skuPartNumber"])
        for user in tenant.users()
        if not is_concealed(user) and user["accountEnabled"] and user["userType"] == "Member"
        for lic in user["assignedLicenses"]
        if lic["skuId"] in skus and assigned_at(user, lic["skuId"]) > tenant.now - 10 * DAY
    ]
    assert new, "the tenant must hold a Dynamics 365 seat assigned days ago"
    listed = {(row["user_id"], row["sku_part_number"]): row for row in usage.reclaim}
    idle = [key for key in new if key in listed and listed[key]["reason"].startswith("no ")]
    assert not idle, "a new seat is in its grace period, whatever its sign-ins"


def test_the_short_evidence_span_caps_days_idle_and_is_said(synced, usage):
    tenant, *_ = synced
    earliest = min(
        instant(row["createdDateTime"])
        for event_type in ("interactiveUser", "nonInteractiveUser")
        for row in tenant.sign_ins_between(0, tenant.now_ticks + 1, DYNAMICS_365_APP_IDS, event_type)
    )
    days = math.floor((tenant.now - earliest) / DAY)
    assert usage.evidence["evidence_days"] == days < 30
    assert max(row["days_idle"] for row in usage.reclaim) == days
    # The trial and the device licence take the default 30 days: longer than the evidence too.
    assert f"SHORTER than the 30, 90-day threshold(s): a holder is called idle for at most {days} days" in (
        evidence_line(usage)
    )


def test_add_ons_apart_and_every_seat_named_as_microsoft_names_it(usage):
    assert [row["sku_part_number"] for row in usage.add_ons] == ["CRMSTORAGE"]
    names = {row["sku_part_number"]: row["product_name"] for row in usage.skus}
    assert names == {
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE": "Dynamics 365 for Customer Service Enterprise Edition",
        "DYN365_ENTERPRISE_SALES": "Dynamics 365 for Sales Enterprise Edition",
        "DYN365_BUSCENTRAL_ESSENTIAL": "Dynamics 365 Business Central Essentials",
        "DYN365_TEAM_MEMBERS": "Dynamics 365 Team Members_wDynamicsRetail",
        "Dynamics_365_Business_Central_Essentials_Attach": "Dynamics 365 Business Central Essentials Attach",
        "GUIDES_USER": "Dynamics 365 Guides",
        TRIAL: "Dynamics 365 Sales Premium Viral Trial",
        DEVICE: "Dynamics 365 Operations - Device",
    }


def test_last_sign_in_any_app_is_the_last_success_not_an_attempt(synced, usage):
    tenant, *_ = synced
    users = {u["id"]: u for u in tenant.users()}
    for row in usage.reclaim:
        activity = users[row["user_id"]]["signInActivity"]
        assert row["last_sign_in_any_app"] == instant(activity["lastSuccessfulSignInDateTime"])


def test_sign_in_activity_is_never_older_than_a_dynamics_sign_in_a_day_before(synced):
    """The emulator's one story, as the synced records tell it: signInActivity covers every sign-in 24 h old."""
    tenant, _, _, result = synced
    horizon = ticks_to_datetime(tenant.now_ticks - ACTIVITY_LAG)
    latest: dict[str, dict[bool, dt.datetime]] = {}
    for stream, interactive in (("sign_ins", True), ("non_interactive_sign_ins", False)):
        for record in result.records_of(stream):
            when = instant(record["createdDateTime"])
            if when <= horizon:
                mine = latest.setdefault(record["userId"], {})
                mine[interactive] = max(when, mine.get(interactive, when))
    assert latest
    for user in result.records_of("users"):
        activity = user.get("signInActivity") or {}
        for interactive, field in ((True, "lastSignInDateTime"), (False, "lastNonInteractiveSignInDateTime")):
            last = latest.get(user["id"], {}).get(interactive)
            if last is not None:
                assert instant(activity[field]) >= last.replace(microsecond=0), (user["userPrincipalName"], field)


def test_the_tenant_exercises_what_the_answer_must_get_right(synced):
    tenant, *_ = synced
    users = list(tenant.users())
    dynamics = set(tenant.dynamics_seat_skus())
    failed = [
        s for u in users for s in u["licenseAssignmentStates"] if s["state"] == "Error" and s["skuId"] in dynamics
    ]
    both = [
        u
        for u in users
        if any(
            {s["assignedByGroup"] is None for s in u["licenseAssignmentStates"] if s["skuId"] == sku} == {True, False}
            for sku in dynamics
        )
    ]
    assert failed, "a failed group assignment of a Dynamics 365 SKU must not count as a holder"
    assert both, "a license held directly and through a group must count once"
    assert {case.name for case in catalog.CASES} == set(cast(tenant))
    assert tenant.now_ticks % TICKS == 0


def test_users_carry_the_roster_fields_as_the_tenant_holds_them(synced):
    """Record for record; the Airbyte CDK's message serializer leaves out a record's top-level null fields."""
    tenant, _, _, result = synced
    fields = (*ROSTER_FIELDS, "signInActivity", "employeeLeaveDateTime")  # the app holds the lifecycle role
    expected = {u["id"]: {f: u[f] for f in fields if u[f] is not None} for u in tenant.users() if not is_concealed(u)}
    assert {u["id"]: u for u in result.records_of("users")} == expected


def dataverse_holders(tenant) -> dict[str, int]:
    """User id -> directory index of every holder of a Dataverse seat (a SKU of the Dataverse family, catalog)."""
    dataverse = {sku.sku_id for sku in tenant.directory.skus if "Dataverse" in sku.families}
    directory = tenant.directory
    return {
        directory.identity(index).id: index
        for index in range(directory.count)
        if directory.identity(index).kind != "concealed"
        and any(sku.sku_id in dataverse for sku in directory.licences(index))
    }


def test_with_activity_synced_those_the_tenant_made_sign_in_without_working_are_reviewed(
    synced, usage, usage_with_activity
):
    """The tenant decides who works (CrmActivity: a working session follows some users' Dataverse sign-ins, others
    only sign in): nobody with a working session in the seat's window, its records all in the log by now, is called
    "signed in but never worked", and no seat of a user who never works is called in use."""
    tenant, *_ = synced
    holders = dataverse_holders(tenant)
    days = usage_with_activity.evidence["evidence_days"]
    never = [row for row in usage_with_activity.reclaim if row["reason"].startswith("signed in but never worked")]
    assert never and all(row["action"] == "review" for row in never)
    for row in never:
        window = dt.timedelta(days=min(row["threshold_days"], days))
        worked = tenant.crm.working_users(
            tenant.now_ticks - int(window.total_seconds()) * TICKS, tenant.now_ticks - ALL_IN_LOG_AFTER
        )
        assert holders[row["user_id"]] not in worked, ("a worker called a non-worker", row["user_principal_name"])
    non_workers = {user for user, index in holders.items() if not tenant.crm.works(index)}
    in_use = [row for row in usage_with_activity.seats if row["reason"].startswith("in use")]
    assert in_use and not [row for row in in_use if row["user_id"] in non_workers], "a non-worker's seat in use"
    assert {row["user_id"] for row in never} & non_workers, "the tenant's non-workers are among them"
    assert {(row["user_id"], row["sku_part_number"]) for row in usage.reclaim} <= {
        (row["user_id"], row["sku_part_number"]) for row in usage_with_activity.reclaim
    }, "every operation here follows an interactive sign-in: activity adds cases and takes no idle seat away"
    assert usage_with_activity.evidence["activity_known"] and not usage.evidence["activity_known"]
    assert "Work in Dynamics 365: unknown" in " ".join(unknowns(usage))
