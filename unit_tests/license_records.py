"""Hand-made connector records for examples/license_usage.sql and the tests that answer on them
(unit_tests/test_license_usage.py, the standard set; unit_tests/test_license_worklist.py, the worklist's rules on
records of their own): users, sign-ins and SKUs as the connector emits them, written as the JSON lines a sync leaves,
loaded and answered by tools/license_usage.py."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb

from source_dynamics365_cc.licensing import classify
from tools.license_usage import answer, load, load_lists

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


def standard_records(directory: Path) -> Path:
    """The standard set (USERS, SKUS, SIGN_INS) written to `directory`."""
    for stream, rows in (("users", USERS), ("subscribed_skus", SKUS), ("sign_ins", SIGN_INS)):
        write(directory, stream, rows)
    return directory


def by_sku(usage) -> dict[str, dict[str, Any]]:
    return {row["sku_part_number"]: row for row in usage.skus}


def listed(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


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


def activity(
    number: int, user_id: str, ago: dt.timedelta, operation: str = "Retrieve", table: str = "account", kind="Regular"
) -> dict[str, Any]:
    """A dynamics_activity record as the connector emits it: one Dataverse operation on `table` by `user_id`."""
    upn = f"{user_id}@contoso.com"
    return {
        "id": f"a{number}",
        "createdDateTime": at(ago),
        "auditLogRecordType": "CRM",
        "operation": operation,
        "service": "CRM",
        "userId": user_id,
        "userPrincipalName": upn,
        "userType": kind,
        "auditData": {"EntityName": table, "Message": operation, "InstanceUrl": "https://contoso.crm4.dynamics.com"},
    }


WITH_ACTIVITY = ("users", "subscribed_skus", "sign_ins", "dynamics_activity")
