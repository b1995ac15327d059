"""examples/license_usage.sql on hand-made records: the windows' edges, what counts as use, groups, failed assignments,
non-interactive sign-ins, repeated records and PyAirbyte's lowercased columns."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tools.license_usage import SQL, answer, load

SCHEMAS = Path(__file__).resolve().parents[1] / "source_dynamics365_cc" / "schemas"
AS_OF = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
SALES, SERVICE, OFFICE, STORAGE = "sku-sales", "sku-service", "sku-office", "sku-storage"
DATAVERSE = "00000007-0000-0000-c000-000000000000"
OUTLOOK_ADD_IN = "5b1c3a7e-2f44-4d1b-9a61-0c7e3d9f8a21"
OFFICE_APP = "d3590ed6-52b3-4102-aeff-aad2292ab01c"
GROUP = "group-1"


def at(delta: dt.timedelta) -> str:
    """A Graph timestamp `delta` before AS_OF, with Graph's seven fractional digits."""
    return (AS_OF - delta).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def user(name: str, *licenses: str, groups: tuple[str, ...] = (), failed: tuple[str, ...] = ()) -> dict[str, Any]:
    """A user holding `licenses` directly, `groups` (SKUs) through GROUP, and `failed` group assignments in error."""
    states = [_state(sku, None) for sku in licenses]
    states += [_state(sku, GROUP) for sku in groups]
    states += [{**_state(sku, GROUP), "state": "Error", "error": "CountViolation"} for sku in failed]
    return {
        "id": name,
        "userPrincipalName": f"{name}@contoso.com",
        "displayName": name.title(),
        "accountEnabled": True,
        "assignedLicenses": [{"skuId": sku, "disabledPlans": []} for sku in dict.fromkeys(licenses + groups)],
        "licenseAssignmentStates": states,
        "signInActivity": {"lastSignInDateTime": at(dt.timedelta(hours=1))},
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


def sku(sku_id: str, part: str, bought: int, assigned: int) -> dict[str, Any]:
    return {"skuId": sku_id, "skuPartNumber": part, "prepaidUnits": {"enabled": bought}, "consumedUnits": assigned}


DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
USERS = [
    user("ada", SALES),  # signed in exactly 7 days ago: inside the 7-day window
    user("bo", SALES, groups=(SALES,)),  # 7 days and a second ago: inside 30 days only; held both ways
    user("cy", groups=(SALES,)),  # only a failed sign-in: unused, through a group
    user("di", SALES),  # the Outlook add-in reaching Dataverse (resourceId only): used
    user("ed", SALES, SERVICE),  # only Office: unused, counted for both SKUs
    user("fay", OFFICE, failed=(SALES,)),  # a failed group assignment grants nothing
    user("gus", SALES),  # only a non-interactive sign-in
    user("hal", SALES),  # a sign-in after as_of does not count
    user("ivy", SALES),  # 30 days and a second ago: unused
    user("jo", SALES, failed=(SALES,)),  # direct; the group's assignment failed, so not through a group
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
    sku(SALES, "DYN365_ENTERPRISE_SALES", 10, 9),
    sku(SERVICE, "DYN365_ENTERPRISE_CUSTOMER_SERVICE", 5, 1),
    sku(STORAGE, "CRMSTORAGE", 3, 0),
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
):
    """Load and answer; `reshape` statements run in between (to give the tables another client's shape)."""
    with duckdb.connect() as con:
        load(con, catalog(*streams, rename=rename), directory)
        for statement in reshape:
            con.execute(statement)
        return answer(con, AS_OF)


@pytest.fixture
def records(tmp_path: Path) -> Path:
    write(tmp_path, "users", USERS)
    write(tmp_path, "subscribed_skus", SKUS)
    write(tmp_path, "sign_ins", SIGN_INS)
    return tmp_path


def by_sku(usage) -> dict[str, dict[str, Any]]:
    return {row["sku_part_number"]: row for row in usage.skus}


def test_one_row_per_dynamics_sku_with_use_in_7_and_30_days(records):
    rows = by_sku(run(records))
    assert set(rows) == {"CRMSTORAGE", "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "DYN365_ENTERPRISE_SALES"}
    assert rows["DYN365_ENTERPRISE_SALES"] == {
        "sku_part_number": "DYN365_ENTERPRISE_SALES",
        "units_bought": 10,
        "units_assigned": 9,
        "holders": 9,  # everyone but fay, whose group assignment failed
        "used_last_7_days": 2,  # ada (exactly 7 days), di (through the Outlook add-in)
        "used_last_30_days": 3,  # and bo
        "unused_30_days": 6,  # cy (failed sign-in), ed (Office only), gus, hal (after as_of), ivy (31st day), jo
        "unused_through_group": 1,  # cy; bo holds it through a group too, but uses it
    }
    assert rows["DYN365_ENTERPRISE_CUSTOMER_SERVICE"]["unused_30_days"] == 1
    assert rows["CRMSTORAGE"]["holders"] == 0 and rows["CRMSTORAGE"]["units_bought"] == 3


def test_non_interactive_sign_ins_count_as_use_when_read(records):
    write(records, "non_interactive_sign_ins", [sign_in(9, "gus", 2 * DAY)])
    with_them = by_sku(run(records, ("users", "subscribed_skus", "sign_ins", "non_interactive_sign_ins")))
    without = by_sku(run(records))
    assert with_them["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 3
    assert without["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 2


def test_idle_holders_come_without_any_dynamics_sign_in_first_then_oldest_sign_in_first(records):
    idle = run(records).idle_holders
    assert [row["user_principal_name"] for row in idle] == [
        f"{name}@contoso.com" for name in ("cy", "ed", "gus", "hal", "jo", "ivy", "bo", "ada", "di")
    ]
    assert idle[1]["skus"] == "DYN365_ENTERPRISE_CUSTOMER_SERVICE, DYN365_ENTERPRISE_SALES"
    assert idle[0]["through_group"] and not idle[1]["through_group"]
    assert [row["days_idle"] for row in idle[4:7]] == [None, 30, 7]


def test_a_record_read_twice_counts_once_and_the_last_read_wins(records):
    write(records, "sign_ins", SIGN_INS)
    write(records, "users", [{**USERS[0], "assignedLicenses": [], "licenseAssignmentStates": []}])
    write(records, "subscribed_skus", SKUS)
    rows = by_sku(run(records))
    assert rows["DYN365_ENTERPRISE_SALES"]["holders"] == 8
    assert rows["DYN365_ENTERPRISE_SALES"]["used_last_7_days"] == 1


def test_the_same_sql_answers_on_pyairbyte_lowercased_columns_and_utc_timestamps(records, tmp_path_factory):
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
    assert run(lowered, rename=str.lower, reshape=pyairbyte_shape) == run(records)


def test_the_docs_quote_the_sql_file_as_it_is():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "dynamics365-cc.md").read_text()
    section = doc.split("## From records to an answer\n", 1)[1].split("\n## ", 1)[0]
    quoted = [block.split("```", 1)[0] for block in section.split("```sql\n")[1:]]
    sql = SQL.read_text()
    assert quoted and all(block in sql for block in quoted)
