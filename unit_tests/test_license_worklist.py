"""examples/license_usage.sql's worklist on records of its own (unit_tests/license_records.py), with real SKU ids so
Microsoft's table names them and the shipped sku_families places them: the connector's classification, product
families, clients shown for review, grace, disabled accounts, right-sizing, conversions, the optional tables,
renewal dates, trials and device licences, exclusions, snapshots, Dataverse activity (who worked, who only signed in,
Team Members writing outside its rights) and the shipped reference tables."""

import datetime as dt
import io

import duckdb
import pytest

from source_dynamics365_cc.licensing import microsoft_products
from tools import sku_families
from tools.license_usage import (
    EXAMPLE_PRICES,
    EXAMPLES,
    OPTIONAL_TABLES,
    answer,
    load,
    load_lists,
    print_answer,
    report,
    unknowns,
    work_line,
)
from unit_tests.license_records import (
    AS_OF,
    BC,
    BC_ATTACH,
    BUSINESS_CENTRAL_APP,
    CRM_ADMIN,
    DAY,
    GUIDES,
    OFFICE,
    POWER_APPS,
    SALES,
    SERVICE,
    TEAM,
    TRIAL,
    WITH_ACTIVITY,
    activity,
    at,
    by_sku,
    catalog,
    listed,
    on_list,
    run,
    sign_in,
    sku,
    user,
    worklist_records,
    write,
)

# The longest unit module (DuckDB answers, matplotlib charts): it starts first under -n (conftest.py).
pytestmark = pytest.mark.slow


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


def test_leavers_come_from_the_users_with_a_leave_date_and_are_counted_by_kind(tmp_path):
    """users carries employeeLeaveDateTime in every catalog (empty without User-LifeCycleInfo.Read.All): only a set
    date makes a leaver, and a table of empty dates is no leave date known."""
    left = {**user("lv", SALES), "employeeLeaveDateTime": "2026-11-20T23:59:59Z"}
    worklist_records(tmp_path, [left, {**user("st", SALES), "employeeLeaveDateTime": None}], [sign_in(1, "lv", DAY)])
    usage = run(tmp_path)
    assert usage.evidence["leave_dates_known"] and on_list(usage)[("lv", "DYN365_ENTERPRISE_SALES")][
        "account_kind"
    ] == ("leaver")
    printed = io.StringIO()
    print_answer(usage, out=printed)
    kinds = next(line for line in printed.getvalue().splitlines() if line.startswith("Accounts: "))
    assert "1 leaver" in kinds.removeprefix("Accounts: ").split(", ")
    unset = tmp_path / "unset"
    unset.mkdir()
    worklist_records(unset, [{**user("st", SALES), "employeeLeaveDateTime": None}], [sign_in(1, "st", DAY)])
    assert not run(unset).evidence["leave_dates_known"]


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
    team_members = (EXAMPLES / "team_members_tables.csv").read_text()
    assert "Dynamics 365 Licensing Guide" in team_members and "A SUMMARY, NOT MICROSOFT'S TEXT" in team_members


def test_dataverse_activity_counts_as_use_of_dataverse_seats_only_and_only_by_people(tmp_path):
    """bea works in Dataverse on a refreshed token (no sign-in): her Sales seat is used, her Business Central seat is
    not; a record of userType ServicePrincipal in sy's name is no use."""
    worklist_records(tmp_path, [user("bea", BC, SALES), user("sy", SALES)], [sign_in(1, "x", 20 * DAY)])
    write(tmp_path, "dynamics_activity", [activity(1, "bea", 3 * DAY), activity(2, "sy", DAY, kind="ServicePrincipal")])
    usage = run(tmp_path, WITH_ACTIVITY, evidence_start=AS_OF - 30 * DAY)
    rows = on_list(usage)
    assert set(rows) == {("bea", "DYN365_BUSCENTRAL_ESSENTIAL"), ("sy", "DYN365_ENTERPRISE_SALES")}
    assert rows[("bea", "DYN365_BUSCENTRAL_ESSENTIAL")]["dataverse_reads"] is None, "no Dataverse seat"
    assert rows[("sy", "DYN365_ENTERPRISE_SALES")]["reason"] == "no Dataverse sign-in or operation in 30 days"
    assert rows[("sy", "DYN365_ENTERPRISE_SALES")]["dataverse_reads"] == 0
    bea = {row["sku_part_number"]: row["reason"] for row in usage.seats if row["user_id"] == "bea"}
    assert bea["DYN365_ENTERPRISE_SALES"] == "in use: Dataverse operations within 30 days"


def test_a_holder_who_signed_in_but_never_worked_is_reviewed_while_activity_is_synced(tmp_path):
    worklist_records(
        tmp_path,
        [user("si", SALES), user("wk", SALES), user("new", SALES, licensed=2 * DAY)],
        [sign_in(1, "si", DAY), sign_in(2, "wk", DAY), sign_in(3, "new", DAY)],
    )
    write(tmp_path, "dynamics_activity", [activity(1, "wk", DAY, "RetrieveMultiple"), activity(2, "wk", DAY, "Update")])
    usage = run(tmp_path, WITH_ACTIVITY, evidence_start=AS_OF - 30 * DAY)
    rows = on_list(usage)
    assert set(rows) == {("si", "DYN365_ENTERPRISE_SALES")}, "a new seat is in its grace period; wk works"
    row = rows[("si", "DYN365_ENTERPRISE_SALES")]
    assert (row["action"], row["account_kind"], row["dataverse_reads"], row["dataverse_writes"]) == (
        "review",
        "member",
        0,
        0,
    )
    assert row["reason"].startswith("signed in but never worked: Dataverse sign-ins and not one Dataverse operation")
    sales = by_sku(usage)["DYN365_ENTERPRISE_SALES"]
    assert (sales["used_in_threshold"], sales["worked_in_threshold"], sales["signed_in_not_worked"]) == (3, 1, 1)
    assert "1 signed in but never worked" in work_line(usage)
    unknown = run(tmp_path, evidence_start=AS_OF - 30 * DAY)
    assert not unknown.reclaim and by_sku(unknown)["DYN365_ENTERPRISE_SALES"]["signed_in_not_worked"] is None


def test_team_members_writing_to_tables_outside_its_rights_is_right_sizing_evidence(tmp_path):
    worklist_records(tmp_path, [user("tw", TEAM), user("tc", TEAM)], [sign_in(1, "tw", DAY), sign_in(2, "tc", DAY)])
    write(
        tmp_path,
        "dynamics_activity",
        [
            activity(1, "tw", DAY, "Create", "lead"),
            activity(2, "tw", DAY, "Update", "opportunity"),
            activity(3, "tw", DAY, "Update", "lead"),
            activity(4, "tw", DAY, "Update", "contact"),
            activity(5, "tw", DAY, "Retrieve", "account"),
            activity(6, "tc", DAY, "Create", "task"),
            activity(7, "tc", DAY, "RetrieveMultiple", "opportunity"),
        ],
    )
    rows = on_list(run(tmp_path, WITH_ACTIVITY))
    assert set(rows) == {("tw", "DYN365_TEAM_MEMBERS")}, "writing contacts and tasks, reading anything: in its rights"
    row = rows[("tw", "DYN365_TEAM_MEMBERS")]
    assert row["action"] == "review" and row["reason"] == (
        "right-sizing: Team Members writes to tables outside its rights (lead, opportunity: 3 of its 4 writes; "
        "examples/team_members_tables.csv): the work needs a full licence"
    )
    assert (row["writes_outside_team_members"], row["tables_outside_team_members"]) == (3, "lead, opportunity")
    assert (row["dataverse_reads"], row["dataverse_writes"]) == (1, 4)


def test_without_dynamics_activity_the_answer_is_unchanged_and_says_what_it_cannot_know(records, tmp_path):
    """An unsynced stream becomes an empty table of the stream's own shape; the answer is the one on sign-ins alone."""
    synced_empty = run(records, ("users", "subscribed_skus", "sign_ins", "dynamics_activity"))
    not_synced = run(records)
    assert not_synced == synced_empty
    said = " ".join(unknowns(not_synced))
    assert "Work in Dynamics 365: unknown" in said and "AuditLogsQuery-CRM.Read.All" in said
    assert all(row["dataverse_reads"] is None for row in not_synced.reclaim)
    with duckdb.connect() as con:
        load(con, catalog("users", "subscribed_skus", "sign_ins", "dynamics_activity"), tmp_path)
        shape = con.table("dynamics_activity").types
        columns = con.table("dynamics_activity").columns
        con.execute(f"CREATE TABLE empty_activity ({OPTIONAL_TABLES['dynamics_activity']})")
        assert (columns, shape) == (con.table("empty_activity").columns, con.table("empty_activity").types)
