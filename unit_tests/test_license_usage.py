"""examples/license_usage.sql on the standard set of hand-made records (unit_tests/license_records.py): the windows'
edges, what counts as use, groups, failed assignments, non-interactive sign-ins, grace, money, thresholds, repeated
records, PyAirbyte's lowercased columns and the printed report. The worklist's rules on records of their own are in
unit_tests/test_license_worklist.py (a module of their own, so that a second test worker answers them)."""

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tools.license_usage import EXAMPLE_PRICES, SQL, LicenseUsage, evidence_line, money_lines, report, write_reclaim
from unit_tests.license_records import (
    AS_OF,
    DAY,
    GROUP,
    OUTLOOK_ADD_IN,
    SALES,
    SECOND,
    SIGN_INS,
    SKUS,
    USERS,
    by_sku,
    catalog,
    listed,
    run,
    sign_in,
    standard_records,
    write,
)

# The longest unit module (DuckDB answers, matplotlib charts): it starts first under -n (conftest.py).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def standard(tmp_path_factory) -> LicenseUsage:
    """The answer on the `records` set, computed once per module: the tests that only read it share it (each answer
    costs DuckDB a quarter of a second of CPU planning the stacked views)."""
    return run(standard_records(tmp_path_factory.mktemp("standard")))


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
        "worked_in_threshold": None,  # no Dataverse activity synced: unknown
        "signed_in_not_worked": None,
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
    assert "'idle' means no sign-in to the seat's product in those 10 days" in evidence_line(usage)
    assert "SHORTER" not in evidence_line(standard)


def test_with_dataverse_activity_synced_idle_means_no_operation_either(records):
    usage = run(records, evidence_start=AS_OF - 10 * DAY)
    worked = LicenseUsage(**{**usage.__dict__, "evidence": {**usage.evidence, "activity_known": True}})
    assert "'idle' means no sign-in to the seat's product and no Dataverse operation" in evidence_line(worked)


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


def test_an_actions_seats_outside_the_price_list_say_they_are_not_priced(standard):
    usage = standard
    money = [{"currency": "EUR", "idle_monthly_cost": 1, "unassigned_monthly_cost": 0, "idle_annual_cost": 12}]
    money[0]["unassigned_annual_cost"] = 0
    by_action = [
        {"action": "review", "seats": 1, "monthly_amount": None, "annual_amount": None, "currency": None},
        {
            "action": "review",
            "seats": 2,
            "monthly_amount": Decimal("20.00"),
            "annual_amount": Decimal("240.00"),
            "currency": "EUR",
        },
    ]
    lines = money_lines(LicenseUsage(**{**usage.__dict__, "money": money, "money_by_action": by_action})).splitlines()
    assert "  review: 1 seat(s), not priced (their SKUs are not in the price list)" in lines
    assert "  review: 2 seat(s), 20.00 EUR a month, 240.00 a year" in lines
