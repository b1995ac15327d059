"""The license manager's worklist from a real sync (main.py against the emulator), checked against the tenant's own
truth: every number of the per-SKU table, every reclaim row and every money figure.

The tenant's sign-ins span 25 days, so a sync from 26 days back reads all of them while the connector, whose clock
runs ahead of the tenant's, stays inside Entra's 30-day retention. That makes the evidence span shorter than a
90-day threshold (Team Members), as after a first sync; the 10-, 14- and 20-day thresholds of the others it covers.
"""

import csv
import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from graph_emulator.activity import ACTIVITY_LAG
from graph_emulator.gen import parse_ticks, ticks_to_datetime
from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.streams.users import ROSTER_FIELDS
from testing.harness import configured_catalog, connector_config, run_connector, running_emulator
from tools.license_usage import EXAMPLE_PRICES, answer, evidence_line, load, load_lists, write_reclaim

TENANT_LAG = dt.timedelta(minutes=90)
STREAMS = {
    "users": "full_refresh",
    "subscribed_skus": "full_refresh",
    "sign_ins": "incremental",
    "non_interactive_sign_ins": "incremental",
    "groups": "full_refresh",
}
# Microsoft's table as the connector ships it, read here with Python's csv module for the names the answer shows.
MICROSOFT_TABLE = (
    Path(__file__).resolve().parents[1]
    / "source_dynamics365_cc"
    / "data"
    / "product-names-and-service-plan-identifiers.csv"
)
THRESHOLDS = {
    "DYN365_ENTERPRISE_SALES": 10,
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": 14,
    "DYN365_BUSCENTRAL_ESSENTIAL": 20,
    "DYN365_TEAM_MEMBERS": 90,
    "Dynamics_365_Business_Central_Essentials_Attach": 20,
    "GUIDES_USER": 14,
}
PRICES = {
    "DYN365_ENTERPRISE_SALES": Decimal("100.00"),
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": Decimal("100.00"),
    "DYN365_BUSCENTRAL_ESSENTIAL": Decimal("70.00"),
    "DYN365_TEAM_MEMBERS": Decimal("8.00"),
    "Dynamics_365_Business_Central_Essentials_Attach": Decimal("40.00"),
    "GUIDES_USER": Decimal("65.00"),
}
DAY = dt.timedelta(days=1)
MICROSECOND = dt.timedelta(microseconds=1)


def instant(text: str | None) -> dt.datetime | None:
    """A Graph timestamp at DuckDB's precision (microseconds)."""
    return None if text is None else ticks_to_datetime(parse_ticks(text))


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One sync of users, subscribed_skus and both sign-in streams, its records as <stream>.jsonl, and the tenant."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    with running_emulator(seed=14, users=240, sign_ins=1500, days=25, now=now, non_interactive_ratio=2) as emu:
        directory = tmp_path_factory.mktemp("sync")
        start = (emu.tenant.now - dt.timedelta(days=26)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = {**connector_config(emu, "full"), "start_date": start, "include_non_interactive_sign_ins": True}
        catalog = configured_catalog(STREAMS)
        result = run_connector("read", directory / "inputs", config, catalog, emulator=emu)
        assert result.returncode == 0 and not result.error_messages, result.error_messages or result.stderr[-2000:]
        for stream in STREAMS:
            lines = "".join(json.dumps(record) + "\n" for record in result.records_of(stream))
            (directory / f"{stream}.jsonl").write_text(lines)
        yield emu.tenant, catalog, directory, result


@pytest.fixture(scope="module")
def usage(synced, tmp_path_factory):
    """The answer on the synced records, with the example prices and per-SKU thresholds."""
    tenant, catalog, directory, _ = synced
    thresholds = tmp_path_factory.mktemp("lists") / "thresholds.csv"
    thresholds.write_text("sku_part_number,threshold_days\n" + "".join(f"{k},{v}\n" for k, v in THRESHOLDS.items()))
    with duckdb.connect() as con:
        load(con, catalog, directory)
        load_lists(con, EXAMPLE_PRICES, thresholds)
        return answer(con, tenant.now)


def dynamics_sign_ins(tenant) -> dict[str, list[tuple[dt.datetime, bool]]]:
    """Per user id, their successful Dynamics 365 sign-ins (instant, interactive) in the tenant's whole log."""
    out: dict[str, list[tuple[dt.datetime, bool]]] = {}
    for event_type, interactive in (("interactiveUser", True), ("nonInteractiveUser", False)):
        for row in tenant.sign_ins_between(0, tenant.now_ticks + 1, DYNAMICS_365_APP_IDS, event_type):
            if row["status"]["errorCode"] == 0:
                out.setdefault(row["userId"], []).append((instant(row["createdDateTime"]), interactive))
    return out


def evidence_start(tenant) -> dt.datetime:
    """The earliest sign-in the sync read: the connector reads the Dynamics 365 applications' sign-ins only."""
    earliest = [
        instant(row["createdDateTime"])
        for event_type in ("interactiveUser", "nonInteractiveUser")
        for row in tenant.sign_ins_between(0, tenant.now_ticks + 1, DYNAMICS_365_APP_IDS, event_type)
    ]
    return min(earliest)


def licensed_since(user: dict[str, Any], sku: dict[str, Any]) -> dt.datetime | None:
    """The SKU's newest plan's first assignment, as the SQL reads assignedPlans."""
    plans = {plan["servicePlanId"] for plan in sku["servicePlans"]}
    first: dict[str, dt.datetime] = {}
    for plan in user["assignedPlans"]:
        if plan["servicePlanId"] in plans and plan["capabilityStatus"] == "Enabled":
            when = instant(plan["assignedDateTime"])
            first[plan["servicePlanId"]] = min(when, first.get(plan["servicePlanId"], when))
    return max(first.values(), default=None)


def route(user: dict[str, Any], sku_id: str, names: dict[str, str]) -> str:
    """How the user holds the SKU, a group by its name (`names`: the tenant's groups, id -> displayName)."""
    states = [s for s in user["licenseAssignmentStates"] if s["skuId"] == sku_id and s["state"] == "Active"]
    groups = ", ".join(sorted({names[s["assignedByGroup"]] for s in states if s["assignedByGroup"]}))
    direct = any(s["assignedByGroup"] is None for s in states)
    if direct and groups:
        return f"direct and group: {groups}"
    return f"group: {groups}" if groups else "direct"


def expected_answer(tenant, as_of: dt.datetime):
    """The per-SKU rows and the reclaim rows from Tenant.users(), subscribed_skus() and the sign-in log."""
    seats = set(tenant.dynamics_seat_skus())
    skus = [s for s in tenant.subscribed_skus() if s["skuId"] in seats]
    users = [u for u in tenant.users() if not is_concealed(u)]
    used = dynamics_sign_ins(tenant)
    start = evidence_start(tenant)
    names = {group["id"]: group["displayName"] for group in tenant.groups()}
    rows, reclaim = {}, {}
    for sku in (s for s in skus if s["appliesTo"] == "User"):
        part, price = sku["skuPartNumber"], PRICES.get(sku["skuPartNumber"])
        threshold = THRESHOLDS.get(part, 30)
        window_start = max(as_of - threshold * DAY, start)
        counts = dict.fromkeys(("used_last_7_days", "used_in_threshold", "in_grace", "idle", "idle_through_group"), 0)
        held = [u for u in users if sku["skuId"] in {lic["skuId"] for lic in u["assignedLicenses"]}]
        for user in held:
            mine = used.get(user["id"], [])
            last = max((when for when, _ in mine), default=None)
            since = licensed_since(user, sku)
            grace = since is not None and since > as_of - threshold * DAY
            in_window = last is not None and last >= window_start
            counts["used_last_7_days"] += last is not None and last >= as_of - 7 * DAY
            counts["used_in_threshold"] += in_window
            counts["in_grace"] += grace and not in_window
            if grace or in_window:
                continue
            counts["idle"] += 1
            counts["idle_through_group"] += "group" in route(user, sku["skuId"], names)
            activity = user["signInActivity"]
            any_app = [instant(activity[f]) for f in ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")]
            reclaim[(user["userPrincipalName"], part)] = {
                "user_principal_name": user["userPrincipalName"],
                "display_name": user["displayName"],
                "sku_part_number": part,
                "product_name": product_names().get(sku["skuId"], part),
                "assigned": route(user, sku["skuId"], names),
                "account_enabled": user["accountEnabled"],
                "licensed_since": since,
                "last_dynamics_interactive": max((w for w, i in mine if i), default=None),
                "last_dynamics_non_interactive": max((w for w, i in mine if not i), default=None),
                "last_sign_in_any_app": max((a for a in any_app if a is not None), default=None),
                "days_idle": math.floor((as_of - max(last or start, since or start, start)) / DAY),
                "idle_longer_than_evidence": (last is None or last < start) and (since is None or since < start),
                "threshold_days": threshold,
                "monthly_price": price,
                "currency": "USD" if price is not None else None,
            }
        unassigned = max(sku["prepaidUnits"]["enabled"] - sku["consumedUnits"], 0)
        rows[part] = {
            "sku_part_number": part,
            "units_bought": sku["prepaidUnits"]["enabled"],
            "units_assigned": sku["consumedUnits"],
            "units_unassigned": unassigned,
            "holders": len(held),
            "threshold_days": threshold,
            **counts,
            "monthly_price": price,
            "currency": "USD" if price is not None else None,
            "idle_monthly_cost": None if price is None else counts["idle"] * price,
            "unassigned_monthly_cost": None if price is None else unassigned * price,
        }
    return rows, reclaim, start


def product_names() -> dict[str, str]:
    """GUID -> product name, from Microsoft's table as the connector ships it."""
    with MICROSOFT_TABLE.open(encoding="utf-8", newline="") as handle:
        return {row["GUID"]: row["Product_Display_Name"] for row in csv.DictReader(handle)}


def same_instants(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal, instants within a microsecond (DuckDB may round Graph's seventh digit where Python truncates)."""
    if actual.keys() != expected.keys():
        return False
    for key, value in expected.items():
        got = actual[key]
        if isinstance(value, dt.datetime) and isinstance(got, dt.datetime):
            if abs(got - value) > MICROSECOND:
                return False
        elif got != value:
            return False
    return True


def test_every_number_of_the_per_sku_table_matches_the_tenant(synced, usage):
    tenant, *_ = synced
    rows, _, _ = expected_answer(tenant, tenant.now)
    actual = {row["sku_part_number"]: {k: v for k, v in row.items() if k != "product_name"} for row in usage.skus}
    assert actual == rows
    assert all(row["holders"] == row["units_assigned"] for row in rows.values()), "the roster explains consumedUnits"
    assert all(row["holders"] == row["used_in_threshold"] + row["in_grace"] + row["idle"] for row in rows.values())
    assert sum(row["idle"] for row in rows.values()) > 0 and sum(row["in_grace"] for row in rows.values()) > 0


def test_every_reclaim_row_matches_the_tenant(synced, usage):
    tenant, *_ = synced
    _, reclaim, _ = expected_answer(tenant, tenant.now)
    actual = {(row["user_principal_name"], row["sku_part_number"]): row for row in usage.reclaim}
    assert actual.keys() == reclaim.keys()
    wrong = [key for key, row in reclaim.items() if not same_instants(actual[key], row)]
    assert not wrong, [(actual[key], reclaim[key]) for key in wrong[:2]]
    assert any(row["assigned"].startswith("group: ") for row in usage.reclaim), "a holder through a group"
    assert any(row["assigned"] == "direct" for row in usage.reclaim)
    stopped = [row for row in usage.reclaim if row["last_dynamics_interactive"] or row["last_dynamics_non_interactive"]]
    assert stopped and all(row["threshold_days"] < usage.evidence["evidence_days"] for row in stopped), (
        "someone who stopped using Dynamics 365 longer ago than a threshold shorter than the evidence"
    )


def test_the_worklist_csv_names_each_group_as_the_tenant_does_commas_and_dashes_included(usage, tmp_path):
    path = tmp_path / "reclaim.csv"
    write_reclaim(usage, path)
    with path.open(encoding="utf-8", newline="") as handle:
        written = [row["assigned"] for row in csv.DictReader(handle)]
    assert written == [row["assigned"] for row in usage.reclaim]
    assert any("Customer Service, Europe – Dynamics 365" in assigned for assigned in written)


def test_every_money_figure_matches_the_example_prices(synced, usage):
    tenant, *_ = synced
    rows, _, _ = expected_answer(tenant, tenant.now)
    idle = sum(row["idle_monthly_cost"] for row in rows.values())
    unassigned = sum(row["unassigned_monthly_cost"] for row in rows.values())
    assert usage.money == [{"currency": "USD", "idle_monthly_cost": idle, "unassigned_monthly_cost": unassigned}]
    assert idle > 0 and unassigned > 0
    assert "EXAMPLE PRICES, NOT MICROSOFT'S" in EXAMPLE_PRICES.read_text()


def test_a_holder_licensed_days_ago_without_use_is_in_grace_not_idle(synced, usage):
    tenant, *_ = synced
    seats = set(tenant.dynamics_seat_skus())
    skus = {s["skuId"]: s for s in tenant.subscribed_skus() if s["skuId"] in seats}
    used = dynamics_sign_ins(tenant)
    new = [
        (user["userPrincipalName"], skus[lic["skuId"]]["skuPartNumber"])
        for user in tenant.users()
        if not is_concealed(user) and user["id"] not in used
        for lic in user["assignedLicenses"]
        if lic["skuId"] in skus and licensed_since(user, skus[lic["skuId"]]) > tenant.now - 10 * DAY
    ]
    assert new, "the tenant must hold a Dynamics 365 seat assigned days ago and not yet used"
    assert not {(row["user_principal_name"], row["sku_part_number"]) for row in usage.reclaim} & set(new)


def test_the_short_evidence_span_caps_days_idle_and_is_said(synced, usage):
    tenant, *_ = synced
    _, _, start = expected_answer(tenant, tenant.now)
    days = math.floor((tenant.now - start) / DAY)
    assert usage.evidence["evidence_days"] == days < 30
    assert max(row["days_idle"] for row in usage.reclaim) == days
    assert f"SHORTER than the 90-day threshold(s): a holder is called idle for at most {days} days" in (
        evidence_line(usage)
    )


def test_add_ons_apart_and_every_seat_named_as_microsoft_names_it_mixed_case_and_unprefixed_skus_included(usage):
    assert [row["sku_part_number"] for row in usage.add_ons] == ["CRMSTORAGE"]
    names = {row["sku_part_number"]: row["product_name"] for row in usage.skus}
    assert names == {
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE": "Dynamics 365 for Customer Service Enterprise Edition",
        "DYN365_ENTERPRISE_SALES": "Dynamics 365 for Sales Enterprise Edition",
        "DYN365_BUSCENTRAL_ESSENTIAL": "Dynamics 365 Business Central Essentials",
        "DYN365_TEAM_MEMBERS": "Dynamics 365 Team Members_wDynamicsRetail",
        "Dynamics_365_Business_Central_Essentials_Attach": "Dynamics 365 Business Central Essentials Attach",
        "GUIDES_USER": "Dynamics 365 Guides",
    }


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
        activity = user["signInActivity"]
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
    assert any(not u["accountEnabled"] for u in users)


def test_users_carry_the_roster_fields_as_the_tenant_holds_them(synced):
    """Record for record; the Airbyte CDK's message serializer leaves out a record's top-level null fields."""
    tenant, _, _, result = synced
    fields = (*ROSTER_FIELDS, "signInActivity")
    expected = {u["id"]: {f: u[f] for f in fields if u[f] is not None} for u in tenant.users() if not is_concealed(u)}
    assert {u["id"]: u for u in result.records_of("users")} == expected
