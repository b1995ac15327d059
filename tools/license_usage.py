"""`make demo`'s answer: the synced records loaded into DuckDB, examples/license_usage.sql run on them, the result
printed, drawn and written as a worklist (reclaim.csv), and kept as a dated snapshot whose trend is drawn too.

The connector stays a source; this is what a data team does downstream. Tables get the shape PyAirbyte's DuckDB
cache gives them (one table per stream, one row per primary key, JSON columns for Graph's nested objects), so the
SQL runs unchanged on either. Date-times become TIMESTAMP WITH TIME ZONE; PyAirbyte's cache holds them as UTC
TIMESTAMPs, which the SQL reads alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, TextIO

import duckdb

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SQL = EXAMPLES / "license_usage.sql"
EXAMPLE_PRICES = EXAMPLES / "example_prices.csv"
EXAMPLE_THRESHOLDS = EXAMPLES / "thresholds.csv"
EXAMPLE_EXCLUSIONS = EXAMPLES / "exclusions.csv"
# Read only when selected; the SQL reads it always, so an unselected stream becomes an empty table of the same shape.
NON_INTERACTIVE = "non_interactive_sign_ins"
NON_INTERACTIVE_SHAPE_OF = "sign_ins"
# The optional streams the SQL reads (their permissions are optional, so a sync may skip them): created empty unless the
# catalog has them, and the answer says what that leaves unknown.
OPTIONAL_TABLES = {
    "subscriptions": "skuId VARCHAR, status VARCHAR, isTrial BOOLEAN, totalLicenses INTEGER, "
    "nextLifecycleDateTime TIMESTAMPTZ, createdDateTime TIMESTAMPTZ",
    "directory_role_assignments": "principalId VARCHAR, roleDefinitionId VARCHAR",
    "dynamics_activity": "id VARCHAR, createdDateTime TIMESTAMPTZ, auditLogRecordType VARCHAR, operation VARCHAR, "
    "service VARCHAR, userId VARCHAR, userPrincipalName VARCHAR, userType VARCHAR, clientIp VARCHAR, objectId VARCHAR, "
    "organizationId VARCHAR, administrativeUnits JSON, auditData JSON",
}
LEAVE_DATE = "employeeLeaveDateTime"
# The users with a leave date: the column is in every catalog's users schema, empty unless the app holds
# User-LifeCycleInfo.Read.All, so `leavers` empty means "none known" either way.
LEAVERS_FROM_USERS = (
    "CREATE TABLE leavers AS SELECT id, employeeLeaveDateTime FROM users WHERE employeeLeaveDateTime IS NOT NULL"
)
LEAVERS_EMPTY = "CREATE TABLE leavers (id VARCHAR, employeeLeaveDateTime TIMESTAMPTZ)"


@dataclass(frozen=True)
class LicenseUsage:
    """The answer as of one instant: the evidence it stands on, one row per seat SKU, the worklist, the add-ons, the
    money per currency, what the price list says about itself, the money per action, the excluded seats and every
    holder's seat with what the worklist does with it."""

    as_of: dt.datetime
    evidence: dict[str, Any]
    skus: list[dict[str, Any]]
    reclaim: list[dict[str, Any]]
    add_ons: list[dict[str, Any]]
    money: list[dict[str, Any]]
    price_note: str | None = None
    money_by_action: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    seats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def example_prices(self) -> bool:
        """The price list says it holds example prices: every figure drawn from it must say so too."""
        return "EXAMPLE" in (self.price_note or "").upper()


def column_type(prop: Mapping[str, Any]) -> str:
    """The DuckDB type for a JSON-schema property: PyAirbyte's, but for date-times, which keep their time zone."""
    types = prop.get("type", "string")
    kind = next((t for t in ([types] if isinstance(types, str) else types) if t != "null"), "string")
    if kind == "string" and prop.get("format") == "date-time":
        return "TIMESTAMPTZ"
    return {"boolean": "BOOLEAN", "integer": "BIGINT", "number": "DOUBLE", "object": "JSON", "array": "JSON"}.get(
        kind, "VARCHAR"
    )


def latest_records(lines: Iterable[str], key: str) -> list[dict[str, Any]]:
    """One record per primary key, the last one read winning, as an append_dedup destination keeps them."""
    latest: dict[Any, dict[str, Any]] = {}
    for line in lines:
        if line.strip():
            record = json.loads(line)
            latest[record.get(key)] = record
    return list(latest.values())


def load(con: duckdb.DuckDBPyConnection, catalog: Mapping[str, Any], records_dir: Path) -> None:
    """A table per stream of the configured catalog from <records_dir>/<stream>.jsonl (missing file: empty table),
    into a fresh connection."""
    names = []
    with tempfile.TemporaryDirectory() as scratch:
        for entry in catalog["streams"]:
            stream = entry["stream"]
            key = (entry.get("primary_key") or stream.get("source_defined_primary_key") or [["id"]])[0][0]
            source = records_dir / f"{stream['name']}.jsonl"
            records = latest_records(source.open(encoding="utf-8") if source.exists() else [], key)
            deduplicated = Path(scratch) / f"{stream['name']}.jsonl"
            deduplicated.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
            columns = {name: column_type(prop) for name, prop in stream["json_schema"]["properties"].items()}
            con.read_json(str(deduplicated), format="newline_delimited", columns=columns).create(stream["name"])
            names.append(stream["name"])
    if NON_INTERACTIVE not in names:
        con.table(NON_INTERACTIVE_SHAPE_OF).limit(0).create(NON_INTERACTIVE)
    if "groups" not in names:
        con.execute("CREATE TABLE groups (id VARCHAR, displayName VARCHAR)")
    for table, columns in OPTIONAL_TABLES.items():
        if table not in names:
            con.execute(f"CREATE TABLE {table} ({columns})")
    has_leave_dates = LEAVE_DATE.lower() in {column.lower() for column in con.table("users").columns}
    con.execute(LEAVERS_FROM_USERS if has_leave_dates else LEAVERS_EMPTY)


# The SQL's own tables: (name, columns) of each, read from a CSV whose '#' lines are comments (an empty cell is NULL).
# Product names and which SKUs are Dynamics 365 come with the subscribed_skus records (the connector's
# classification), not from here.
LISTS = {
    "sku_prices": {"sku_part_number": "VARCHAR", "monthly_price": "DECIMAL(12,2)", "currency": "VARCHAR"},
    "sku_thresholds": {"sku_part_number": "VARCHAR", "threshold_days": "INTEGER"},
    "exclusions": {
        "holder": "VARCHAR",
        "sku_part_number": "VARCHAR",
        "reason": "VARCHAR",
        "owner": "VARCHAR",
        "until": "DATE",
    },
    "dynamics_apps": {"app_id": "VARCHAR", "app_name": "VARCHAR", "family": "VARCHAR", "evidence": "VARCHAR"},
    "sku_families": {"sku_id": "VARCHAR", "sku_part_number": "VARCHAR", "family": "VARCHAR"},
    "sku_roles": {
        "sku_part_number": "VARCHAR",
        "role": "VARCHAR",
        "attach_sku": "VARCHAR",
        "qualifying_bases": "VARCHAR",
    },
    "team_members_tables": {"entity_name": "VARCHAR", "may_write": "BOOLEAN", "scenario": "VARCHAR"},
}
# The reference tables shipped with the SQL, each with its sources in its header: always loaded.
REFERENCE = {
    name: EXAMPLES / f"{name}.csv" for name in ("dynamics_apps", "sku_families", "sku_roles", "team_members_tables")
}


def load_lists(
    con: duckdb.DuckDBPyConnection,
    prices: Path | None = None,
    thresholds: Path | None = None,
    exclusions: Path | None = None,
) -> None:
    """The optional price list, per-SKU thresholds and exclusions (an absent list is empty), and the shipped
    reference tables: which applications are evidence of which product, each SKU's family and its role, and the
    tables a Team Members licence may write."""
    given = {"sku_prices": prices, "sku_thresholds": thresholds, "exclusions": exclusions, **REFERENCE}
    for table, path in given.items():
        columns = LISTS[table]
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        if path is not None:
            for row in read_list(path):
                con.table(table).insert([row[column] or None for column in columns])


def read_list(path: Path) -> list[dict[str, str]]:
    """A list's rows: a CSV whose '#' lines are comments."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def comments(path: Path | None) -> str | None:
    """A list's '#' lines, joined: what the file says about itself (an example price list says it is one)."""
    if path is None:
        return None
    lines = [line[1:].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    return " ".join(lines) or None


def answer(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.datetime,
    evidence_start: dt.datetime | None = None,
    price_note: str | None = None,
) -> LicenseUsage:
    """Run examples/license_usage.sql with as_of as "now" (and where the sign-in evidence starts) and read its views."""
    con.execute("SET VARIABLE as_of = CAST(? AS TIMESTAMPTZ)", [as_of])
    con.execute("SET VARIABLE evidence_start = CAST(? AS TIMESTAMPTZ)", [evidence_start])
    con.execute(SQL.read_text(encoding="utf-8"))
    for statement in HOLDER_SEATS_ONCE:
        con.execute(statement)
    return LicenseUsage(
        as_of,
        _rows(con, "evidence")[0],
        _rows(con, "license_usage"),
        _rows(con, "reclaim"),
        _rows(con, "add_ons"),
        _rows(con, "money"),
        price_note,
        _rows(con, "money_by_action"),
        _rows(con, "excluded"),
        _rows(con, "seats"),
    )


# Every view the answer reads stands on holder_seats, whose plan DuckDB would otherwise build again for each of
# them (three times the CPU of the whole answer): it is computed once, as of this answer, and the view reads that
# table. The rows are the same: the SQL's variables do not change within an answer.
HOLDER_SEATS_ONCE = (
    "CREATE OR REPLACE TEMP TABLE holder_seats_answered AS SELECT * FROM holder_seats",
    "CREATE OR REPLACE TEMP VIEW holder_seats AS SELECT * FROM holder_seats_answered",
)


def _rows(con: duckdb.DuckDBPyConnection, view: str) -> list[dict[str, Any]]:
    relation = con.table(view)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


SKU_COLUMNS = (
    ("product_name", "Dynamics 365 product"),
    ("sku_part_number", "part number"),
    ("role", "role"),
    ("units_bought", "bought"),
    ("units_assigned", "assigned"),
    ("units_unassigned", "unassigned"),
    ("threshold_days", "threshold d"),
    ("used_last_7_days", "used 7 d"),
    ("used_in_threshold", "used in threshold"),
    ("worked_in_threshold", "of which worked"),
    ("signed_in_not_worked", "signed in, never worked"),
    ("in_grace", "new (grace)"),
    ("idle", "idle"),
    ("idle_through_group", "of which via group"),
    ("worklist", "on the worklist"),
    ("renewal_date", "renews"),
)
MONEY_COLUMNS = (
    ("monthly_price", "price/month"),
    ("idle_monthly_cost", "idle/month"),
    ("unassigned_monthly_cost", "unassigned/month"),
    ("currency", "currency"),
)
RECLAIM_COLUMNS = (
    ("user_principal_name", "user"),
    ("sku_part_number", "SKU"),
    ("action", "action"),
    ("monthly_amount", "per month"),
    ("annual_amount", "per year"),
    ("assigned", "assigned"),
    ("last_sign_in_any_app", "last sign-in, any app"),
    ("dataverse_reads", "reads"),
    ("dataverse_writes", "writes"),
    ("days_idle", "days idle"),
    ("reason", "reason"),
)
RECLAIM_SHOWN = 15


def print_answer(usage: LicenseUsage, reclaim_csv: Path | None = None, out: TextIO | None = None) -> None:
    """The evidence, the per-SKU table (with money when priced), the add-ons, the money by action and term, what the
    answer cannot know yet, and the head of the worklist (to stdout unless told otherwise)."""
    out = out or sys.stdout
    out.write(f"\nDynamics 365 license usage as of {_cell(usage.as_of)} (examples/license_usage.sql)\n")
    out.write(f"{evidence_line(usage)}\n\n")
    priced = bool(usage.money)
    out.write(_table(SKU_COLUMNS + (MONEY_COLUMNS if priced else ()), usage.skus))
    kept_out = [
        f"{row['sku_part_number']} ({row['not_counted_unassigned']})"
        for row in usage.skus
        if row["not_counted_unassigned"]
    ]
    if kept_out:
        out.write(f"\nNot counted as unassigned seats: {'; '.join(kept_out)}\n")
    if usage.add_ons:
        listed = ", ".join(f"{row['product_name']} ({row['units_bought']})" for row in usage.add_ons)
        out.write(f"\nAdd-ons, not seats (appliesTo Company; nobody's to reclaim): {listed}\n")
    out.write(f"\n{work_line(usage)}\n")
    out.write(f"\n{money_lines(usage)}\n")
    out.write("\n" + "\n".join(unknowns(usage)) + "\n")
    shown = usage.reclaim[:RECLAIM_SHOWN]
    where = f"; all of them, with the ids a script needs, in {reclaim_csv}" if reclaim_csv is not None else ""
    out.write(
        f"\nWorklist: {len(usage.reclaim)} seats, disabled accounts first, then by money (showing {len(shown)}{where})\n"
    )
    if usage.reclaim:
        out.write(f"{kinds_line(usage)}\n")
    if usage.excluded:
        out.write(f"Left out by the exclusions table: {len(usage.excluded)} seats\n")
    out.write(
        "(last sign-in, any app: Entra's last successful sign-in, up to 24 h behind; - : none in the records)\n\n"
    )
    out.write(_table(RECLAIM_COLUMNS, shown))


def kinds_line(usage: LicenseUsage) -> str:
    """The worklist's seats by the kind of account holding them, most first: the head shown sorts by money, so a
    leaver or a guest further down is still seen here."""
    kinds = Counter(row["account_kind"] for row in usage.reclaim)
    return "Accounts: " + ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())


def evidence_line(usage: LicenseUsage) -> str:
    """Where the sign-in evidence starts, and a warning for each threshold it does not cover (what 'idle' means: no
    sign-in, or, with Dataverse activity synced, no sign-in and no operation)."""
    days = usage.evidence["evidence_days"]
    line = f"Sign-in evidence: {_cell(usage.evidence['evidence_start'])} to as of, {days} days."
    short = sorted({row["threshold_days"] for row in usage.skus if row["threshold_days"] > days})
    use = "sign-in to the seat's product" + (" and no Dataverse operation" if usage.evidence["activity_known"] else "")
    if short:
        line += (
            f" SHORTER than the {', '.join(map(str, short))}-day threshold(s): a holder is called idle for at most"
            f" {days} days, and 'idle' means no {use} in those {days} days only."
        )
    return line


def unknowns(usage: LicenseUsage) -> list[str]:
    """What the answer cannot say because a table it reads is empty (a stream not synced), one sentence each."""
    facts = usage.evidence
    lines = []
    if not facts["renewal_dates_known"]:
        lines.append(
            "Renewal dates: unknown (the subscriptions table is empty: its stream was not synced, or the app lacks "
            "Organization.Read.All); a reduction saves money from each subscription's renewal, and a trial is known "
            "by its part number only."
        )
    if not facts["directory_roles_known"]:
        lines.append(
            "Administrators: not classified (the directory_role_assignments table is empty: its stream was not "
            "synced, or the app lacks RoleManagement.Read.Directory); an idle administrator shows as an idle seat."
        )
    if not facts["activity_known"]:
        lines.append(
            "Work in Dynamics 365: unknown (the dynamics_activity table is empty: the stream was not synced "
            "(include_dynamics_activity off, or the app lacks AuditLogsQuery-CRM.Read.All), or Dataverse activity "
            "logging is off); a Dataverse seat counts as used on a sign-in alone, nobody is shown as signed in but "
            "never worked, and Team Members writes outside its rights are not seen."
        )
    if not facts["leave_dates_known"]:
        lines.append(
            "Leavers: not classified (no user carries an employeeLeaveDateTime: the connector reads it only when the "
            "app holds User-LifeCycleInfo.Read.All, and HR or a provisioning tool must have set it)."
        )
    return lines


def work_line(usage: LicenseUsage) -> str:
    """Who signed in and who worked: the Dataverse seats used in their threshold that show operations, and those that
    show sign-ins only (the worklist reviews them), or why the answer cannot tell."""
    if not usage.evidence["activity_known"]:
        return "Who worked: unknown, no Dataverse activity synced (below)."
    dataverse = [row for row in usage.skus if row["worked_in_threshold"] is not None]
    used = sum(row["used_in_threshold"] for row in dataverse)
    worked = sum(row["worked_in_threshold"] for row in dataverse)
    signed_in = sum(row["signed_in_not_worked"] for row in dataverse)
    outside = sum(1 for row in usage.reclaim if row["writes_outside_team_members"])
    return (
        f"Who worked (dynamics_activity: {usage.evidence['activity_records']} Dataverse operations by people): of "
        f"the {used} Dataverse seats used within their threshold, {worked} show operations (worked) and {signed_in} "
        f"signed in but never worked (review); {outside} Team Members seats write to tables outside its rights "
        "(review)."
    )


def _action_money(row: Mapping[str, Any]) -> str:
    """One action's seats and amounts; seats of SKUs the price list leaves out have no amount, and say so."""
    if row["currency"] is None:
        return f"  {row['action']}: {row['seats']} seat(s), not priced (their SKUs are not in the price list)"
    return (
        f"  {row['action']}: {row['seats']} seat(s), {_cell(row['monthly_amount'])} {row['currency']} a month, "
        f"{_cell(row['annual_amount'])} a year"
    )


def money_lines(usage: LicenseUsage) -> str:
    """The monthly and annual cost of idle and unassigned seats and what each action saves, or why there is none."""
    if not usage.money:
        return (
            "No money shown: no price list was given. Load one (sku_part_number, monthly_price, currency) as the "
            "sku_prices table to see what idle and unassigned seats cost a month and a year."
        )
    example = " (EXAMPLE prices)" if usage.example_prices else ""
    lines = [
        f"Cost{example}: idle seats {row['idle_monthly_cost']} {row['currency']} a month, "
        f"{row['idle_annual_cost']} a year; unassigned seats {row['unassigned_monthly_cost']} {row['currency']} a "
        f"month, {row['unassigned_annual_cost']} a year"
        for row in usage.money
    ]
    lines += [_action_money(row) for row in usage.money_by_action]
    unpriced = [row["sku_part_number"] for row in usage.skus if row["monthly_price"] is None]
    if unpriced:
        lines.append(f"Not priced (not in the price list): {', '.join(unpriced)}")
    if usage.price_note:
        lines.append(f"Prices: {usage.price_note}")
    return "\n".join(lines)


def _table(columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title in columns]] + [[_cell(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def write_reclaim(usage: LicenseUsage, path: Path) -> None:
    """The whole worklist as CSV, one row per user and SKU; instants in ISO 8601 UTC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(usage.reclaim[0]) if usage.reclaim else ["user_principal_name", "sku_part_number"]
    with path.open("w", newline="", encoding="utf-8") as handle:  # group and product names are not ASCII
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in usage.reclaim:
            writer.writerow({key: _iso(value) for key, value in row.items()})


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def write_chart(usage: LicenseUsage, path: Path) -> None:
    """One bar per seat SKU: holders by use (used, new, idle direct, idle via group), then the unassigned seats (none
    for a trial or a device licence); the monthly and annual cost of idle and unassigned seats beside each bar when
    priced, marked as example prices when the price list says it holds examples."""
    plt = _pyplot()
    rows = usage.skus
    example = " (example prices)" if usage.example_prices else ""
    names = [f"{row['product_name']}\n({row['sku_part_number']}, {row['threshold_days']} d)" for row in rows]
    parts = (
        ("signed in within the threshold", "#2b8a3e", [row["used_in_threshold"] for row in rows]),
        ("new seat, in its grace period", "#74c0fc", [row["in_grace"] for row in rows]),
        ("idle, direct", "#e03131", [row["idle"] - row["idle_through_group"] for row in rows]),
        ("idle, through a group", "#ffa8a8", [row["idle_through_group"] for row in rows]),
        ("bought, unassigned", "#dee2e6", [row["units_unassigned"] or 0 for row in rows]),
    )
    figure, axes = plt.subplots(figsize=(11, 2.4 + 0.8 * len(rows)))
    left = [0] * len(rows)
    for label, colour, values in parts:
        axes.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, row in enumerate(rows):
        if row["monthly_price"] is not None:
            cost = row["idle_monthly_cost"] + (row["unassigned_monthly_cost"] or 0)
            label = f" {cost} {row['currency']}/month, {cost * 12}/year{example}"
            axes.annotate(label, (left[y], y), va="center", fontsize="small")
    axes.invert_yaxis()
    axes.margins(x=0.5)  # room for the money beside the longest bar
    axes.set_xlabel("seats")
    money = "; ".join(
        f"{row['idle_monthly_cost'] + row['unassigned_monthly_cost']} {row['currency']}/month, "
        f"{row['idle_annual_cost'] + row['unassigned_annual_cost']}/year idle or unassigned{example}"
        for row in usage.money
    )
    axes.set_title(
        f"Dynamics 365 seats as of {_cell(usage.as_of)}, {usage.evidence['evidence_days']} days of sign-ins"
        + (f"\n{money}" if money else "\nno price list: no money")
    )
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small", frameon=False)
    _save(plt, figure, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path: Path) -> None:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


# The history a DuckDB file keeps: each run's worklist, and its totals per currency, under the run's as_of.
SNAPSHOT_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS history.worklist_snapshots AS SELECT CAST(? AS TIMESTAMPTZ) AS taken_at, * FROM reclaim "
    "LIMIT 0",
    "DELETE FROM history.worklist_snapshots WHERE taken_at = ?",
    "INSERT INTO history.worklist_snapshots BY NAME SELECT CAST(? AS TIMESTAMPTZ) AS taken_at, * FROM reclaim",
)
TOTALS = (
    "SELECT taken_at, coalesce(currency, '-') AS currency, count(*) AS seats, count(CASE WHEN idle THEN 1 END) AS "
    "seats_idle, sum(monthly_amount) AS monthly_amount, sum(annual_amount) AS annual_amount "
    "FROM history.worklist_snapshots GROUP BY taken_at, coalesce(currency, '-') ORDER BY taken_at, currency"
)


def keep_snapshot(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, history: Path) -> list[dict[str, Any]]:
    """Add the answered worklist (the reclaim view of `con`) to the history file as a snapshot dated as_of (a run of
    the same as_of replaces it) and return the totals of every snapshot, oldest first: the trend."""
    history.parent.mkdir(parents=True, exist_ok=True)
    quoted = str(history).replace("'", "''")  # ATTACH takes no parameters
    con.execute(f"ATTACH '{quoted}' AS history")
    try:
        for statement in SNAPSHOT_STATEMENTS:
            con.execute(statement, [as_of])
        relation = con.sql(TOTALS)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.execute("DETACH history")


def write_trend(trend: list[dict[str, Any]], path: Path, example_prices: bool) -> None:
    """Seats on the worklist (and of them idle) and the money they hold a month, per snapshot: is the list shrinking?"""
    plt = _pyplot()
    figure, seats = plt.subplots(figsize=(9, 4))
    when = [row["taken_at"] for row in trend]
    seats.plot(when, [row["seats"] for row in trend], marker="o", color="#495057", label="seats on the worklist")
    seats.plot(when, [row["seats_idle"] for row in trend], marker="o", color="#e03131", label="of them idle")
    seats.set_ylabel("seats")
    money = seats.twinx()
    for currency in sorted({row["currency"] for row in trend if row["monthly_amount"] is not None}):
        mine = [row for row in trend if row["currency"] == currency]
        money.plot(
            [row["taken_at"] for row in mine],
            [row["monthly_amount"] for row in mine],
            marker="s",
            linestyle="--",
            color="#1c7ed6",
            label=f"{currency} a month" + (" (example prices)" if example_prices else ""),
        )
    money.set_ylabel("money a month")
    lines = seats.get_legend_handles_labels()[0] + money.get_legend_handles_labels()[0]
    labels = seats.get_legend_handles_labels()[1] + money.get_legend_handles_labels()[1]
    seats.legend(lines, labels, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize="small")
    seats.set_title(f"The worklist over {len({row['taken_at'] for row in trend})} snapshot(s)")
    figure.autofmt_xdate()
    _save(plt, figure, path)


def report(
    records_dir: Path,
    catalog: Mapping[str, Any],
    as_of: dt.datetime,
    chart: Path,
    reclaim_csv: Path,
    *,
    evidence_start: dt.datetime | None = None,
    prices: Path | None = None,
    thresholds: Path | None = None,
    exclusions: Path | None = None,
    history: Path | None = None,
    trend_chart: Path | None = None,
) -> LicenseUsage:
    """Load, answer, print, draw, write the worklist, and (given a history file) keep it as a snapshot and draw the
    trend: `make demo`'s last step."""
    with duckdb.connect() as con:
        load(con, catalog, records_dir)
        load_lists(con, prices, thresholds, exclusions)
        usage = answer(con, as_of, evidence_start, comments(prices))
        trend = keep_snapshot(con, as_of, history) if history is not None else []
    print_answer(usage, reclaim_csv)
    write_chart(usage, chart)
    write_reclaim(usage, reclaim_csv)
    print(f"\nChart: {chart}\nWorklist: {reclaim_csv}")
    if history is not None and trend_chart is not None:
        write_trend(trend, trend_chart, usage.example_prices)
        print(f"History: {history} ({len({row['taken_at'] for row in trend})} snapshots), trend: {trend_chart}")
    return usage
