"""The license-usage answer from a real sync (main.py against the emulator), checked against the tenant's own truth.

The tenant's sign-ins span 25 days, so a sync from 26 days back reads all of them while the connector, whose clock
runs ahead of the tenant's, stays inside Entra's 30-day retention.
"""

import datetime as dt
import json
from typing import Any

import duckdb
import pytest

from graph_emulator.gen import parse_ticks, ticks_to_datetime
from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.streams.users import ROSTER_FIELDS
from testing.harness import configured_catalog, connector_config, run_connector, running_emulator
from tools.license_usage import answer, load

TENANT_LAG = dt.timedelta(minutes=90)
STREAMS = {"users": "full_refresh", "subscribed_skus": "full_refresh", "sign_ins": "incremental"}
DYNAMICS_PREFIXES = ("DYN365_", "DYNAMICS_365_", "D365_", "CRM")


def instant(text: str | None) -> dt.datetime | None:
    """A Graph timestamp at DuckDB's precision (microseconds)."""
    return None if text is None else ticks_to_datetime(parse_ticks(text))


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One sync of users, subscribed_skus and sign_ins, its records as <stream>.jsonl, and the tenant."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    with running_emulator(seed=13, users=240, sign_ins=1500, days=25, now=now) as emu:
        directory = tmp_path_factory.mktemp("sync")
        start = (emu.tenant.now - dt.timedelta(days=26)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = {**connector_config(emu, "full"), "start_date": start}
        catalog = configured_catalog(STREAMS)
        result = run_connector("read", directory / "inputs", config, catalog, emulator=emu)
        assert result.returncode == 0 and not result.errors, result.errors or result.stderr[-2000:]
        for stream in STREAMS:
            lines = "".join(json.dumps(record) + "\n" for record in result.records(stream))
            (directory / f"{stream}.jsonl").write_text(lines)
        yield emu.tenant, catalog, directory, result


def expected_answer(tenant, as_of: dt.datetime) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The per-SKU numbers and the idle holders' order, from Tenant.users(), subscribed_skus() and sign_ins_between()."""
    skus = {s["skuId"]: s for s in tenant.subscribed_skus() if s["skuPartNumber"].startswith(DYNAMICS_PREFIXES)}
    users = [u for u in tenant.users() if not is_concealed(u)]
    last: dict[str, dt.datetime] = {}
    for row in tenant.sign_ins_between(as_of - dt.timedelta(days=30), as_of, DYNAMICS_365_APP_IDS):
        if row["status"]["errorCode"] == 0:
            when = instant(row["createdDateTime"])
            last[row["userId"]] = max(when, last.get(row["userId"], when))
    rows, holders = {}, {}
    for sku_id, sku in skus.items():
        held = [u for u in users if sku_id in {lic["skuId"] for lic in u["assignedLicenses"]}]
        grouped = {
            u["id"]
            for u in held
            for state in u["licenseAssignmentStates"]
            if state["skuId"] == sku_id and state["assignedByGroup"] and state["state"] == "Active"
        }
        used_7 = [u for u in held if u["id"] in last and last[u["id"]] >= as_of - dt.timedelta(days=7)]
        used_30 = [u for u in held if u["id"] in last]
        unused = [u for u in held if u["id"] not in last]
        rows[sku["skuPartNumber"]] = {
            "sku_part_number": sku["skuPartNumber"],
            "units_bought": sku["prepaidUnits"]["enabled"],
            "units_assigned": sku["consumedUnits"],
            "holders": len(held),
            "used_last_7_days": len(used_7),
            "used_last_30_days": len(used_30),
            "unused_30_days": len(unused),
            "unused_through_group": sum(1 for u in unused if u["id"] in grouped),
        }
        holders.update({u["id"]: u for u in held})
    never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def idleness(user: dict[str, Any]) -> tuple:
        any_app = instant((user["signInActivity"] or {}).get("lastSignInDateTime"))
        return (
            user["id"] in last,
            last.get(user["id"], never),
            any_app is not None,
            any_app or never,
            user["userPrincipalName"],
        )

    idle = sorted(holders.values(), key=idleness)[:10]
    return rows, [u["userPrincipalName"] for u in idle]


def test_the_license_usage_table_matches_the_tenant(synced):
    tenant, catalog, directory, _ = synced
    with duckdb.connect() as con:
        load(con, catalog, directory)
        usage = answer(con, tenant.now)
    rows, idle = expected_answer(tenant, tenant.now)

    assert {row["sku_part_number"]: row for row in usage.skus} == rows
    assert [row["user_principal_name"] for row in usage.idle_holders] == idle
    dynamics = [row for part, row in rows.items() if part != "CRMSTORAGE"]
    assert all(row["holders"] == row["units_assigned"] for row in dynamics), "the roster must explain consumedUnits"
    assert all(0 < row["used_last_7_days"] < row["used_last_30_days"] < row["holders"] for row in dynamics)
    assert sum(row["unused_through_group"] for row in dynamics) > 0
    assert sum(row["unused_30_days"] - row["unused_through_group"] for row in dynamics) > 0


def test_the_tenant_exercises_what_the_answer_must_get_right(synced):
    tenant, *_ = synced
    users = list(tenant.users())
    dynamics = {s["skuId"] for s in tenant.subscribed_skus() if s["skuPartNumber"].startswith(DYNAMICS_PREFIXES)}
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
    assert {u["id"]: u for u in result.records("users")} == expected
