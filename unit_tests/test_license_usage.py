"""examples/license_usage.sql on hand-made records: the windows' edges, what counts as use (and for which product),
groups, failed assignments, non-interactive sign-ins, the kind of account and the action per seat, right-sizing,
money by term, exclusions, snapshots, repeated records and PyAirbyte's lowercased columns."""

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from source_dynamics365_cc.licensing import classify, microsoft_products
from tools import sku_families
from tools.license_usage import (
    EXAMPLE_PRICES,
    EXAMPLES,
    SQL,
    LicenseUsage,
    answer,
    evidence_line,
    load,
    load_lists,
    money_lines,
    print_answer,
    report,
    unknowns,
    write_reclaim,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "source_dynamics365_cc" / "schemas"
AS_OF = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
# Real SKU IDs, so Microsoft's table names them; TEAM and OFFICE are ids it does not list (SKUs newer than the table).
SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
SERVICE = "749742bf-0d37-4158-a120-33567104deeb"
STORAGE = "328dc228-00bc-48c6-8b09-1fbc8bc3435d"
GUIDES = "0a389a77-9850-4dc4-b600-bc66fdfefc60"
TEAM = "sku-team"
OFFICE = "sku-office"
PLAN = {
    SALES: "plan-sales",
    SERVICE: "plan-service",
    STORAGE: "plan-storage",
    GUIDES: "plan-guides",
    TEAM: "plan-team",
    OFFICE: "plan-o",
}
DATAVERSE = "00000007-0000-0000-c000-000000000000"
OUTLOOK_ADD_IN = "5b1c3a7e-2f44-4d1b-9a61-0c7e3d9f8a21"
OFFICE_APP = "d3590ed6-52b3-4102-aeff-aad2292ab01c"
GROUP = "group-1"
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def at(delta: dt.timedelta) -> str:
    """A Graph timestamp `delta` before AS_OF, with Graph's seven fractional digits."""
    return (AS_OF - delta).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def user(
    name: str,
    *licenses: str,
    groups: tuple[str, ...] = (),
    failed: tuple[str, ...] = (),
    licensed: dt.timedelta = 60 * DAY,
) -> dict[str, Any]:
    """A user holding `licenses` directly, `groups` (SKUs) through GROUP, and `failed` group assignments in error,
    all assigned `licensed` before AS_OF."""
    states = [_state(sku, None) for sku in licenses]
    states += [_state(sku, GROUP) for sku in groups]
    states += [{**_state(sku, GROUP), "state": "Error", "error": "CountViolation"} for sku in failed]
    held = list(dict.fromkeys(licenses + groups))
    return {
        "id": name,
        "userPrincipalName": f"{name}@contoso.com",
        "displayName": name.title(),
        "accountEnabled": name != "ed",
        "assignedLicenses": [{"skuId": sku, "disabledPlans": []} for sku in held],
        "assignedPlans": [
            {
                "assignedDateTime": at(licensed),
                "capabilityStatus": "Enabled",
                "service": "CRM",
                "servicePlanId": PLAN[s],
            }
            for s in held
        ],
        "licenseAssignmentStates": states,
        # A failed attempt an hour ago, the last success two hours ago: "last sign-in, any app" is the success.
        "signInActivity": {
            "lastSignInDateTime": at(dt.timedelta(hours=1)),
            "lastNonInteractiveSignInDateTime": None,
            "lastSuccessfulSignInDateTime": at(dt.timedelta(hours=2)),
        },
    }


def _state(sku: str, group: str | None) -> dict[str, Any]:
    return {"skuId": sku, "assignedByGroup": group, "state": "Active", "error": None, "disabledPlans": []}


def sign_in(number: int, user_id: str, ago: dt.timedelta, app: str = DATAVERSE, error: int = 0) -> dict[str, Any]:
    resource = DATAVERSE if app == OUTLOOK_ADD_IN else app
    return {
        "id": f"s{number}",
        "userId": user_id,
        "createdDateTime": at(ago),
        "appId": app,
        "resourceId": resource,
        "status": {"errorCode": error},
    }


def sku(sku_id: str, part: str, bought: int, assigned: int, applies_to: str = "User") -> dict[str, Any]:
    """A subscribed_skus record as the connector emits it: Graph's fields and the connector's classification."""
    record = {
        "skuId": sku_id,
        "skuPartNumber": part,
        "appliesTo": applies_to,
        "prepaidUnits": {"enabled": bought},
        "consumedUnits": assigned,
        "servicePlans": [{"servicePlanId": PLAN[sku_id], "appliesTo": applies_to}],
    }
    found = classify(record)
    return {**record, "productDisplayName": found.product_name, "isDynamics365": found.is_dynamics365}


USERS = [
    user("ada", SALES),  # signed in exactly 7 days ago: inside the 7-day window
    user("bo", SALES, groups=(SALES,)),  # 7 days and a second ago: inside 30 days only; held both ways
    user("cy", groups=(SALES,)),  # only a failed sign-in: idle, through a group
    user("di", SALES),  # only the Outlook add-in reaching Dataverse (resourceId only): shown, not use; idle
    user("ed", SALES, SERVICE),  # only Office: idle, for both SKUs; account disabled
    user("fay", OFFICE, failed=(SALES,)),  # a failed group assignment grants nothing
    user("gus", SALES),  # only a non-interactive sign-in
    user("hal", SALES),  # a sign-in after as_of does not count
    user("ivy", SALES),  # 30 days and a second ago: idle
    user("jo", SALES, failed=(SALES,)),  # direct; the group's assignment failed, so not through a group
    user("kai", SALES, licensed=2 * DAY),  # licensed two days ago: in the grace period, not idle
]
SIGN_INS = [
    sign_in(1, "ada", 7 * DAY),
    sign_in(2, "bo", 7 * DAY + SECOND),
    sign_in(3, "cy", DAY, error=50126),
    sign_in(4, "di", DAY, app=OUTLOOK_ADD_IN),
    sign_in(5, "ed", DAY, app=OFFICE_APP),
    sign_in(6, "hal", -DAY),
    sign_in(7, "ivy", 30 * DAY + SECOND),
    sign_in(8, "fay", DAY),
]
SKUS = [
    sku(SALES, "DYN365_ENTERPRISE_SALES", 12, 10),
    sku(SERVICE, "DYN365_ENTERPRISE_CUSTOMER_SERVICE", 5, 1),
    sku(STORAGE, "CRMSTORAGE", 3, 0, "Company"),
    sku(TEAM, "DYN365_TEAM_MEMBERS", 4, 0),
    sku(OFFICE, "ENTERPRISEPACK", 20, 1),
]


def catalog(*names: str, rename=lambda field: field) -> dict[str, Any]:
    """A configured catalog as discover describes the streams (`rename` changes top-level column names)."""
    streams = []
    for name in names:
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        schema["properties"] = {rename(field): prop for field, prop in schema["properties"].items()}
        key = rename("skuId" if name == "subscribed_skus" else "id")
        streams.append({"stream": {"name": name, "json_schema": schema, "source_defined_primary_key": [[key]]}})
    return {"streams": streams}


def write(directory: Path, stream: str, records: list[dict[str, Any]], rename=lambda field: field) -> None:
    with (directory / f"{stream}.jsonl").open("a") as out:
        for record in records:
            out.write(json.dumps({rename(field): value for field, value in record.items()}) + "\n")


def run(
    directory: Path,
    streams: tuple[str, ...] = ("users", "subscribed_skus", "sign_ins"),
    rename=lambda field: field,
    reshape: tuple[str, ...] = (),
    prices: Path | None = None,
    thresholds: Path | None = None,
    evidence_start: dt.datetime | None = None,
):
    """Load and answer; `reshape` statements run in between (to give the tables another client's shape)."""
    with duckdb.connect() as con:
        load(con, catalog(*streams, rename=rename), directory)
        load_lists(con, prices, thresholds)
        for statement in reshape:
            con.execute(statement)
        return answer(con, AS_OF, evidence_start)


@pytest.fixture
def records(tmp_path: Path) -> Path:
    write(tmp_path, "users", USERS)
    write(tmp_path, "subscribed_skus", SKUS)
    write(tmp_path, "sign_ins", SIGN_INS)
    return tmp_path


@pytest.fixture(scope="module")
def standard(tmp_path_factory) -> LicenseUsage:
    """The answer on the `records` set, computed once per module: the tests that only read it share it (each answer
    costs DuckDB about a second of CPU binding the stacked views)."""
    directory = tmp_path_factory.mktemp("standard")
    for stream, rows in (("users", USERS), ("subscribed_skus", SKUS), ("sign_ins", SIGN_INS)):
        write(directory, stream, rows)
    return run(directory)


def by_sku(usage) -> dict[str, dict[str, Any]]:
    return {row["sku_part_number"]: row for row in usage.skus}


def listed(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_one_row_per_dynamics_seat_sku_with_use_grace_and_idle_seats(standard):
    rows = by_sku(standard)
    assert set(rows) == {"DYN365_ENTERPRISE_CUSTOMER_SERVICE", "DYN365_ENTERPRISE_SALES", "DYN365_TEAM_MEMBERS"}
    assert rows["DYN365_ENTERPRISE_SALES"] == {
        "sku_part_number": "DYN365_ENTERPRISE_SALES",
        "product_name": "Dynamics 365 for Sales Enterprise Edition",
        "role": "base",
        "units_bought": 12,
        "units_assigned": 10,
        "units_unassigned": 2,
        "not_counted_unassigned": None,
        "holders": 10,  # everyone but fay, whose group assignment failed
        "threshold_days": 30,
        "used_last_7_days": 1,  # ada (exactly 7 days)
        "used_in_threshold": 2,  # and bo
        "in_grace": 1,  # kai, licensed two days ago
        "idle": 7,  # cy (failed sign-in), di (Outlook add-in only), ed (Office only), gus, hal (after as_of), ivy
        # (31st day), jo
        "idle_through_group": 1,  # cy; bo holds it through a group too, but uses it
        "worklist": 7,
        "renewal_date": None,
        "monthly_price": None,
        "currency": None,
        "idle_monthly_cost": None,
        "unassigned_monthly_cost": None,
    }
    assert rows["DYN365_ENTERPRISE_CUSTOMER_SERVICE"]["idle"] == 1


def test_a_sku_the_name_table_does_not_know_shows_its_part_number(standard):
    team = by_sku(standard)["DYN365_TEAM_MEMBERS"]
    assert team["product_name"] == "DYN365_TEAM_MEMBERS" and team["units_unassigned"] == 4


def test_company_add_ons_are_listed_apart_not_as_seats(standard):
    usage = standard
    assert usage.add_ons == [
        {
            "sku_part_number": "CRMSTORAGE",
            "product_name": "Dynamics 365 - Additional Database Storage (Qualified Offer)",
            "units_bought": 3,
        }
    ]
    assert "CRMSTORAGE" not in by_sku(usage)


def test_non_interactive_sign_ins_count_as_use_when_read(records, standard):
    write(records, "non_interactive_sign_ins", [sign_in(9, "gus", 2 * DAY)])
    usage = run(records, ("users", "subscribed_skus", "sign_ins", "non_interactive_sign_ins"))
    assert by_sku(usage)["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 2
    assert by_sku(standard)["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 1
    assert "gus@contoso.com" not in {row["user_principal_name"] for row in usage.reclaim}


def test_the_reclaim_list_has_every_idle_seat_with_its_evidence(records):
    usage = run(records, reshape=("INSERT INTO groups VALUES ('group-1', 'Sales licences')",))
    rows = {(row["user_principal_name"].split("@")[0], row["sku_part_number"]): row for row in usage.reclaim}
    assert sorted(rows) == sorted(
        [(name, "DYN365_ENTERPRISE_SALES") for name in ("cy", "di", "ed", "gus", "hal", "ivy", "jo")]
        + [("ed", "DYN365_ENTERPRISE_CUSTOMER_SERVICE")]
    )
    cy = rows[("cy", "DYN365_ENTERPRISE_SALES")]
    assert (
        cy["assigned"] == "group: Sales licences" and cy["product_name"] == "Dynamics 365 for Sales Enterprise Edition"
    )
    assert cy["days_idle"] == 30 and cy["idle_longer_than_evidence"]
    assert cy["last_dynamics_interactive"] is None and cy["last_dynamics_non_interactive"] is None
    assert cy["licensed_since"] == AS_OF - 60 * DAY
    assert cy["last_sign_in_any_app"] == AS_OF - dt.timedelta(hours=2), "the last success, not the failed attempt"
    assert (cy["user_id"], cy["sku_id"], cy["group_ids"]) == ("cy", SALES, GROUP)
    assert (cy["action"], cy["reason"]) == ("remove", "no Dataverse sign-in in 30 days")
    ivy = rows[("ivy", "DYN365_ENTERPRISE_SALES")]
    assert ivy["last_dynamics_interactive"] == AS_OF - 30 * DAY - SECOND and not ivy["idle_longer_than_evidence"]
    assert rows[("jo", "DYN365_ENTERPRISE_SALES")]["assigned"] == "direct"
    assert rows[("ed", "DYN365_ENTERPRISE_SALES")]["account_enabled"] is False
    di = rows[("di", "DYN365_ENTERPRISE_SALES")]
    assert di["action"] == "review" and di["other_clients"] == f"{OUTLOOK_ADD_IN} (other client)"
    assert [row["user_principal_name"] for row in usage.reclaim][:2] == ["ed@contoso.com"] * 2, "disabled first"


def test_a_holder_licensed_two_days_ago_is_in_grace_not_idle(standard):
    usage = standard
    assert "kai@contoso.com" not in {row["user_principal_name"] for row in usage.reclaim}


def test_a_short_evidence_span_caps_days_idle_and_says_so(records, standard):
    usage = run(records, evidence_start=AS_OF - 10 * DAY)
    assert usage.evidence["evidence_days"] == 10
    assert max(row["days_idle"] for row in usage.reclaim) == 10
    assert by_sku(usage)["DYN365_ENTERPRISE_SALES"]["used_in_threshold"] == 2  # bo's 7-day-old sign-in still counts
    assert {row["user_principal_name"] for row in usage.reclaim if row["idle_longer_than_evidence"]} >= {
        "ivy@contoso.com"
    }
    assert "SHORTER than the 30-day threshold" in evidence_line(usage)
    assert "SHORTER" not in evidence_line(standard)


def test_no_sign_in_records_call_nobody_idle_but_a_disabled_account_is_still_listed(tmp_path):
    write(tmp_path, "users", USERS)
    write(tmp_path, "subscribed_skus", SKUS)
    usage = run(tmp_path)
    assert usage.evidence["evidence_days"] == 0
    assert {(row["user_principal_name"], row["action"]) for row in usage.reclaim} == {("ed@contoso.com", "remove")}
    assert {row["reason"] for row in usage.seats if row["user_principal_name"] == "ada@contoso.com"} == {
        "not judged: no sign-in records"
    }


def test_a_threshold_per_sku(records, tmp_path_factory):
    lists = tmp_path_factory.mktemp("lists")
    thresholds = listed(lists, "t.csv", "# days\nsku_part_number,threshold_days\nDYN365_ENTERPRISE_SALES,5\n")
    sales = by_sku(run(records, thresholds=thresholds))["DYN365_ENTERPRISE_SALES"]
    assert sales["threshold_days"] == 5
    assert sales["used_in_threshold"] == 0  # ada's sign-in is 7 days old, bo's older
    assert sales["in_grace"] == 1  # kai, licensed two days ago
    assert sales["idle"] == 9  # ada and bo now too


def test_money_from_a_price_list_and_none_without_one(records, standard, tmp_path_factory):
    lists = tmp_path_factory.mktemp("lists")
    prices = listed(
        lists, "p.csv", "# example\nsku_part_number,monthly_price,currency\nDYN365_ENTERPRISE_SALES,95.50,EUR\n"
    )
    usage = run(records, prices=prices)
    sales = by_sku(usage)["DYN365_ENTERPRISE_SALES"]
    assert (sales["idle_monthly_cost"], sales["unassigned_monthly_cost"]) == (7 * 95.5, 2 * 95.5)
    assert by_sku(usage)["DYN365_ENTERPRISE_CUSTOMER_SERVICE"]["idle_monthly_cost"] is None
    assert usage.money == [
        {
            "currency": "EUR",
            "idle_monthly_cost": 7 * 95.5,
            "unassigned_monthly_cost": 2 * 95.5,
            "idle_annual_cost": 12 * 7 * 95.5,
            "unassigned_annual_cost": 12 * 2 * 95.5,
        }
    ]
    assert {row["action"]: (row["seats"], row["annual_amount"]) for row in usage.money_by_action} == {
        "remove": (6, 12 * 6 * 95.5),
        "review": (1, 12 * 95.5),
    }
    assert "Not priced" in money_lines(usage) and "DYN365_ENTERPRISE_CUSTOMER_SERVICE" in money_lines(usage)
    unpriced = standard
    assert unpriced.money == [] and money_lines(unpriced).startswith("No money shown: no price list was given.")


def test_reclaim_csv_holds_one_row_per_idle_seat(standard, tmp_path_factory):
    usage = standard
    path = tmp_path_factory.mktemp("out") / "reclaim.csv"
    write_reclaim(usage, path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(usage.reclaim) == 8
    assert rows[0]["licensed_since"].endswith("Z") and set(rows[0]) == set(usage.reclaim[0])


def test_a_record_read_twice_counts_once_and_the_last_read_wins(records):
    write(records, "sign_ins", SIGN_INS)
    write(records, "users", [{**USERS[0], "assignedLicenses": [], "licenseAssignmentStates": []}])
    write(records, "subscribed_skus", SKUS)
    rows = by_sku(run(records))
    assert rows["DYN365_ENTERPRISE_SALES"]["holders"] == 9
    assert rows["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 0


def test_the_same_sql_answers_on_pyairbyte_lowercased_columns_and_utc_timestamps(standard, tmp_path_factory):
    """PyAirbyte's DuckDB cache lowercases column names and stores date-times as TIMESTAMP (UTC, no time zone)."""
    lowered = tmp_path_factory.mktemp("lowered")
    for stream, rows in (("users", USERS), ("subscribed_skus", SKUS), ("sign_ins", SIGN_INS)):
        write(lowered, stream, rows, rename=str.lower)
    pyairbyte_shape = (
        "SET TimeZone = 'UTC'",
        "ALTER TABLE sign_ins ALTER createddatetime TYPE TIMESTAMP",
        "ALTER TABLE users ALTER createddatetime TYPE TIMESTAMP",
        "SET TimeZone = 'America/Los_Angeles'",
    )
    assert run(lowered, rename=str.lower, reshape=pyairbyte_shape) == standard


def test_the_docs_quote_the_sql_file_as_it_is():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "dynamics365-cc.md").read_text()
    section = doc.split("## From records to an answer\n", 1)[1].split("\n## ", 1)[0]
    quoted = [block.split("```", 1)[0] for block in section.split("```sql\n")[1:]]
    sql = SQL.read_text()
    assert quoted and all(block in sql for block in quoted)


def test_the_report_prints_names_money_and_where_the_prices_come_from(records, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("report")
    streams = catalog("users", "subscribed_skus", "sign_ins")
    report(records, streams, AS_OF, out / "chart.png", out / "reclaim.csv", prices=EXAMPLE_PRICES)
    printed = capsys.readouterr().out
    assert "Dynamics 365 for Sales Enterprise Edition" in printed and "unassigned/month" in printed
    assert "Prices: EXAMPLE PRICES, NOT MICROSOFT'S" in printed
    assert "Add-ons, not seats" in printed and "Worklist: 8 seats" in printed and "(EXAMPLE prices)" in printed
    assert (out / "chart.png").stat().st_size > 0 and len((out / "reclaim.csv").read_text().splitlines()) == 9
    report(records, streams, AS_OF, out / "chart.png", out / "reclaim.csv")
    assert "No money shown: no price list was given." in capsys.readouterr().out


def test_the_answer_reads_the_connectors_classification_not_a_part_number_rule_of_its_own(tmp_path):
    """GUIDES_USER has no Dynamics prefix and is Dynamics 365 ("Dynamics 365 Guides"); a record the connector marked
    no Dynamics 365 stays out whatever its part number looks like."""
    skus = [sku(GUIDES, "GUIDES_USER", 3, 1), {**sku(OFFICE, "DYN365_LOOKALIKE", 2, 1), "isDynamics365": False}]
    write(tmp_path, "users", [user("lu", GUIDES, OFFICE)])
    write(tmp_path, "subscribed_skus", skus)
    write(tmp_path, "sign_ins", [])
    rows = by_sku(run(tmp_path))
    assert set(rows) == {"GUIDES_USER"}
    assert rows["GUIDES_USER"]["product_name"] == "Dynamics 365 Guides" and rows["GUIDES_USER"]["holders"] == 1


# The worklist's rules on records of their own: real SKU ids, so Microsoft's table names them and the shipped
# sku_families places them.
BC = "2880026b-2b0c-4251-8656-5d41ff11e3aa"
BC_ATTACH = "1d506c23-1702-46f1-b940-160c55f98d05"
TRIAL = "6ec92958-3cc1-49db-95bd-bc6b3798df71"
DEVICE = "3bbd44ed-8a70-4c07-9088-6232ddbd5ddd"
PLAN.update({BC: "plan-bc", BC_ATTACH: "plan-bc-attach", TRIAL: "plan-trial", DEVICE: "plan-device"})
BUSINESS_CENTRAL_APP = "996def3d-b36c-4153-8607-a6fd3c01b89f"
POWER_APPS = "4e291c71-d680-4d0e-9640-0a3358e31177"
CRM_ADMIN = "637fcc9f-4a9b-4aaa-8713-a2a3cfda1505"


def worklist_records(directory: Path, users: list[dict[str, Any]], sign_ins: list[dict[str, Any]]) -> None:
    skus = [
        sku(SALES, "DYN365_ENTERPRISE_SALES", 20, 5),
        sku(SERVICE, "DYN365_ENTERPRISE_CUSTOMER_SERVICE", 10, 2),
        sku(BC, "DYN365_BUSCENTRAL_ESSENTIAL", 5, 2),
        sku(BC_ATTACH, "Dynamics_365_Business_Central_Essentials_Attach", 5, 1),
        sku(TEAM, "DYN365_TEAM_MEMBERS", 5, 1),
        sku(TRIAL, "Dynamics_365_Sales_Premium_Viral_Trial", 10_000, 1),
        sku(DEVICE, "Dynamics_365_for_Operations_Devices", 5, 0),
    ]
    write(directory, "users", users)
    write(directory, "subscribed_skus", skus)
    write(directory, "sign_ins", sign_ins)


def on_list(usage) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["user_id"], row["sku_part_number"]): row for row in usage.reclaim}


def test_a_sign_in_counts_only_for_the_seats_of_its_product_family(tmp_path):
    worklist_records(
        tmp_path,
        [user("bea", BC, SALES), user("bo", BC)],
        [sign_in(1, "bea", DAY), sign_in(2, "bo", DAY, app=BUSINESS_CENTRAL_APP)],
    )
    rows = on_list(run(tmp_path, evidence_start=AS_OF - 30 * DAY))
    assert set(rows) == {("bea", "DYN365_BUSCENTRAL_ESSENTIAL")}, "a Dataverse sign-in is no use of Business Central"
    assert rows[("bea", "DYN365_BUSCENTRAL_ESSENTIAL")]["reason"] == (
        "no Business Central sign-in in 30 days (but signs in to Dataverse)"
    ), "and Sales beside Business Central is no second base to downgrade: Business Central qualifies for no attach"


def test_power_apps_and_the_admin_centre_are_shown_for_review_not_counted_as_use(tmp_path):
    worklist_records(
        tmp_path,
        [user("pa", SALES), user("ad", SALES)],
        [sign_in(1, "pa", DAY, app=POWER_APPS), sign_in(2, "ad", DAY, app=CRM_ADMIN), sign_in(3, "x", 20 * DAY)],
    )
    rows = on_list(run(tmp_path))
    assert rows[("pa", "DYN365_ENTERPRISE_SALES")]["action"] == "review"
    assert rows[("pa", "DYN365_ENTERPRISE_SALES")]["other_clients"] == "PowerApps (Power Apps)"
    assert "Dynamics CRM Online Administration (admin centre)" in rows[("ad", "DYN365_ENTERPRISE_SALES")]["reason"]


def test_licensed_since_does_not_move_when_microsoft_adds_a_plan_to_the_sku(tmp_path):
    held = user("al", SALES)
    held["assignedPlans"].append(
        {"assignedDateTime": at(DAY), "capabilityStatus": "Enabled", "service": "CRM", "servicePlanId": "plan-new"}
    )
    worklist_records(tmp_path, [held], [sign_in(1, "x", 20 * DAY)])
    write(
        tmp_path,
        "subscribed_skus",
        [
            {
                **sku(SALES, "DYN365_ENTERPRISE_SALES", 20, 1),
                "servicePlans": [
                    {"servicePlanId": "plan-sales", "appliesTo": "User"},
                    {"servicePlanId": "plan-new", "appliesTo": "User"},
                ],
            }
        ],
    )
    row = on_list(run(tmp_path))[("al", "DYN365_ENTERPRISE_SALES")]
    assert row["licensed_since"] == AS_OF - 60 * DAY and row["action"] == "remove", "not back in its grace period"


def test_a_disabled_account_is_never_in_grace_and_comes_first(tmp_path):
    worklist_records(
        tmp_path,
        [user("ed", SALES, licensed=2 * DAY), user("cy", SALES, SERVICE)],
        [sign_in(1, "x", 20 * DAY)],
    )
    usage = run(tmp_path, prices=EXAMPLE_PRICES)
    assert [(row["user_id"], row["action"], row["account_kind"]) for row in usage.reclaim][0] == (
        "ed",
        "remove",
        "disabled",
    )
    assert [row["user_id"] for row in usage.reclaim] == ["ed", "cy", "cy"]


def test_right_sizing_two_bases_team_members_beside_a_full_licence_and_an_attach_alone(tmp_path):
    worklist_records(
        tmp_path,
        [user("two", SALES, SERVICE), user("tm", SALES, TEAM), user("att", BC_ATTACH)],
        [sign_in(1, "two", DAY), sign_in(2, "tm", DAY), sign_in(3, "att", DAY, app=BUSINESS_CENTRAL_APP)],
    )
    usage = run(tmp_path, prices=EXAMPLE_PRICES)
    rows = on_list(usage)
    assert set(rows) == {
        ("two", "DYN365_ENTERPRISE_SALES"),
        ("tm", "DYN365_TEAM_MEMBERS"),
        ("att", "Dynamics_365_Business_Central_Essentials_Attach"),
    }
    downgrade = rows[("two", "DYN365_ENTERPRISE_SALES")]
    assert downgrade["action"] == "downgrade" and "D365_SALES_ENT_ATTACH" in downgrade["reason"]
    assert (downgrade["monthly_amount"], downgrade["annual_amount"]) == (80, 960)
    assert rows[("tm", "DYN365_TEAM_MEMBERS")]["action"] == "remove"
    assert rows[("att", "Dynamics_365_Business_Central_Essentials_Attach")]["reason"].startswith("compliance:")


def test_an_account_seen_only_in_non_interactive_sign_ins_is_converted(tmp_path):
    robot = user("svc", SALES)
    robot["signInActivity"] = {"lastSignInDateTime": None, "lastSuccessfulSignInDateTime": at(DAY)}
    worklist_records(tmp_path, [robot, user("gus", SALES)], [sign_in(1, "x", 20 * DAY)])
    write(tmp_path, "non_interactive_sign_ins", [sign_in(2, "svc", DAY), sign_in(3, "gus", DAY)])
    rows = on_list(run(tmp_path, ("users", "subscribed_skus", "sign_ins", "non_interactive_sign_ins")))
    assert rows[("svc", "DYN365_ENTERPRISE_SALES")]["action"] == "convert"
    assert ("gus", "DYN365_ENTERPRISE_SALES") not in rows, "a person on a refreshed token uses the seat"


def test_guests_leavers_and_administrators_from_the_optional_tables(tmp_path):
    guest = {**user("gu", SALES), "userType": "Guest"}
    worklist_records(tmp_path, [guest, user("lv", SALES), user("adm", SALES)], [sign_in(1, "lv", DAY)])
    reshape = (
        "INSERT INTO leavers VALUES ('lv', TIMESTAMPTZ '2026-11-20 00:00:00+00')",
        "INSERT INTO directory_role_assignments VALUES ('adm', '62e90394-69f5-4237-9190-012177145e10')",
    )
    rows = on_list(run(tmp_path, reshape=reshape))
    assert (
        rows[("gu", "DYN365_ENTERPRISE_SALES")]["action"],
        rows[("gu", "DYN365_ENTERPRISE_SALES")]["account_kind"],
    ) == (
        "review",
        "guest",
    )
    assert rows[("lv", "DYN365_ENTERPRISE_SALES")]["reason"] == "a leaver: employeeLeaveDateTime 2026-11-20 has passed"
    assert rows[("adm", "DYN365_ENTERPRISE_SALES")]["account_kind"] == "administrator only"
    plain = on_list(run(tmp_path))
    assert (
        plain[("adm", "DYN365_ENTERPRISE_SALES")]["account_kind"] == "member"
        and ("lv", "DYN365_ENTERPRISE_SALES") not in plain
    )


def test_the_renewal_date_from_subscriptions_and_unknown_said_without_them(tmp_path):
    worklist_records(tmp_path, [user("cy", SALES)], [sign_in(1, "x", DAY)])
    renewal = "INSERT INTO subscriptions VALUES (?, 'Enabled', FALSE, 20, TIMESTAMPTZ '2027-03-01 00:00:00+00', NULL)"
    usage = run(tmp_path, reshape=(renewal.replace("?", f"'{SALES}'"),))
    assert usage.reclaim[0]["saves_from"] == dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)
    assert usage.evidence["renewal_dates_known"] and not any("Renewal" in line for line in unknowns(usage))
    unknown = run(tmp_path)
    assert unknown.reclaim[0]["saves_from"] is None and "Renewal dates: unknown" in " ".join(unknowns(unknown))


def test_the_printed_answer_gives_each_skus_renewal_date_and_a_dash_while_unknown(tmp_path):
    worklist_records(tmp_path, [user("cy", SALES)], [sign_in(1, "x", DAY)])
    renewal = f"INSERT INTO subscriptions VALUES ('{SALES}', 'Enabled', FALSE, 20, TIMESTAMPTZ '2027-03-01 00:00:00+00', NULL)"
    known, unknown = io.StringIO(), io.StringIO()
    print_answer(run(tmp_path, reshape=(renewal,)), out=known)
    print_answer(run(tmp_path), out=unknown)
    sales_line = next(line for line in known.getvalue().splitlines() if "DYN365_ENTERPRISE_SALES " in line)
    assert "renews" in known.getvalue() and "2027-03-01 00:00 UTC" in sales_line
    assert "2027-03-01" not in unknown.getvalue() and "Renewal dates: unknown" in unknown.getvalue()


def test_a_sku_whose_subscriptions_in_force_are_trials_is_a_trial_whatever_its_part_number(tmp_path):
    worklist_records(tmp_path, [user("cy", SALES)], [sign_in(1, "cy", DAY)])
    subscription = "INSERT INTO subscriptions VALUES ('{sku}', '{status}', {trial}, 25, TIMESTAMPTZ '{ends}', NULL)"
    trial = subscription.format(sku=SALES, status="Enabled", trial="TRUE", ends="2026-12-20 00:00:00+00")
    ran_out = subscription.format(sku=SALES, status="Deleted", trial="TRUE", ends="2026-06-01 00:00:00+00")
    bought = subscription.format(sku=SALES, status="Enabled", trial="FALSE", ends="2027-03-01 00:00:00+00")
    sales = by_sku(run(tmp_path, reshape=(trial,)))["DYN365_ENTERPRISE_SALES"]
    assert (sales["units_unassigned"], sales["not_counted_unassigned"]) == (
        None,
        "a trial: free units, not seats bought",
    )
    assert sales["renewal_date"] == dt.datetime(2026, 12, 20, tzinfo=dt.timezone.utc), "a trial's end"
    paid = by_sku(run(tmp_path, reshape=(ran_out, bought)))["DYN365_ENTERPRISE_SALES"]
    assert paid["units_unassigned"] == 15 and paid["not_counted_unassigned"] is None, "a deleted trial is no trial"
    assert paid["renewal_date"] == dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc)


def test_trials_and_device_licences_are_kept_out_of_unassigned_seats(tmp_path):
    worklist_records(tmp_path, [user("tr", TRIAL)], [sign_in(1, "tr", DAY)])
    rows = by_sku(run(tmp_path, prices=EXAMPLE_PRICES))
    trial, device = rows["Dynamics_365_Sales_Premium_Viral_Trial"], rows["Dynamics_365_for_Operations_Devices"]
    assert (trial["role"], trial["units_unassigned"], trial["unassigned_monthly_cost"]) == ("trial", None, None)
    assert device["units_unassigned"] is None and device["not_counted_unassigned"].startswith("a device licence")
    assert rows["DYN365_ENTERPRISE_SALES"]["units_unassigned"] == 15


def test_the_exclusions_table_is_honoured_until_its_date(tmp_path):
    worklist_records(tmp_path, [user("cy", SALES), user("jo", SALES)], [sign_in(1, "x", DAY)])
    exclusions = listed(
        tmp_path,
        "x.csv",
        "holder,sku_part_number,reason,owner,until\n"
        "cy@contoso.com,DYN365_ENTERPRISE_SALES,on parental leave,Ann,2027-01-31\n"
        "jo,,left the list too early,Ann,2026-11-01\n",
    )
    with duckdb.connect() as con:
        load(con, catalog("users", "subscribed_skus", "sign_ins"), tmp_path)
        load_lists(con, exclusions=exclusions)
        usage = answer(con, AS_OF)
    assert [row["user_id"] for row in usage.reclaim] == ["jo"], "an exclusion past its date no longer holds"
    assert usage.excluded[0]["excluded_because"] == "on parental leave" and usage.excluded[0]["excluded_by"] == "Ann"
    assert {row["reason"] for row in usage.seats if row["user_principal_name"] == "cy@contoso.com"} == {
        "excluded: on parental leave"
    }


def test_each_run_is_kept_as_a_snapshot_and_the_trend_is_drawn(records, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("history")
    streams = catalog("users", "subscribed_skus", "sign_ins")
    for day in (0, 1, 1):
        last = report(
            records,
            streams,
            AS_OF + day * DAY,
            out / "c.png",
            out / "r.csv",
            prices=EXAMPLE_PRICES,
            history=out / "h.duckdb",
            trend_chart=out / "t.png",
        )
    assert "History: " in capsys.readouterr().out and (out / "t.png").stat().st_size > 0
    with duckdb.connect(str(out / "h.duckdb")) as con:
        kept = con.sql("SELECT taken_at, count(*) FROM worklist_snapshots GROUP BY taken_at ORDER BY 1").fetchall()
    assert [count for _, count in kept] == [8, len(last.reclaim)], "one snapshot per as_of; a rerun replaces its own"


def test_the_shipped_sku_families_are_what_microsofts_table_derives(tmp_path):
    """examples/sku_families.csv cannot drift from the shipped licence table or the rules."""
    derived = tmp_path / "sku_families.csv"
    with derived.open("w", encoding="utf-8") as out:
        sku_families.write(sku_families.families(microsoft_products()), out)
    assert (EXAMPLES / "sku_families.csv").read_text(encoding="utf-8") == derived.read_text(encoding="utf-8")
    families = {(row[1], row[2]) for row in sku_families.families(microsoft_products())}
    assert ("DYN365_BUSCENTRAL_ESSENTIAL", "Business Central") in families
    assert ("DYN365_ENTERPRISE_SALES", "Dataverse") in families
    assert ("DYN365_FINANCE", "Finance and Operations") in families
    assert not any(part == "DYN365_BUSCENTRAL_ESSENTIAL" and family != "Business Central" for part, family in families)


def test_the_reference_tables_name_their_sources():
    apps = (EXAMPLES / "dynamics_apps.csv").read_text()
    assert "Verify first-party Microsoft applications in sign-in reports" in apps
    for app_id in (
        "00000007-0000-0000-c000-000000000000",
        BUSINESS_CENTRAL_APP,
        "00000015-0000-0000-c000-000000000000",
    ):
        assert f"{app_id}," in apps
    assert "Dynamics 365 Licensing Guide" in (EXAMPLES / "sku_roles.csv").read_text()
