"""`make demo`'s answer: the synced records loaded into DuckDB, examples/license_usage.sql run on them, the result
printed, drawn and written as a worklist (reclaim.csv).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, TextIO

import duckdb

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SQL = EXAMPLES / "license_usage.sql"
EXAMPLE_PRICES = EXAMPLES / "example_prices.csv"
EXAMPLE_THRESHOLDS = EXAMPLES / "thresholds.csv"
# Read only when selected; the SQL reads it always, so an unselected stream becomes an empty table of the same shape.
NON_INTERACTIVE = "non_interactive_sign_ins"
NON_INTERACTIVE_SHAPE_OF = "sign_ins"


@dataclass(frozen=True)
class LicenseUsage:
    """The answer as of one instant: the evidence it stands on, one row per seat SKU, every idle seat, the add-ons,
    the money per currency, and what the price list says about itself."""

    as_of: dt.datetime
    evidence: dict[str, Any]
    skus: list[dict[str, Any]]
    reclaim: list[dict[str, Any]]
    add_ons: list[dict[str, Any]]
    money: list[dict[str, Any]]
    price_note: str | None = None


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


# The SQL's own tables: (name, columns) of each, read from a CSV whose '#' lines are comments. Product names and
# which SKUs are Dynamics 365 come with the subscribed_skus records (the connector's classification), not from here.
LISTS = {
    "sku_prices": {"sku_part_number": "VARCHAR", "monthly_price": "DECIMAL(12,2)", "currency": "VARCHAR"},
    "sku_thresholds": {"sku_part_number": "VARCHAR", "threshold_days": "INTEGER"},
}


def load_lists(con: duckdb.DuckDBPyConnection, prices: Path | None = None, thresholds: Path | None = None) -> None:
    """The optional price list and the optional per-SKU thresholds; an absent list is empty."""
    for table, path in (("sku_prices", prices), ("sku_thresholds", thresholds)):
        columns = LISTS[table]
        con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        if path is not None:
            rows = csv.DictReader(
                line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
            )
            for row in rows:
                con.table(table).insert([row[column] for column in columns])


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
    return LicenseUsage(
        as_of,
        _rows(con, "evidence")[0],
        _rows(con, "license_usage"),
        _rows(con, "reclaim"),
        _rows(con, "add_ons"),
        _rows(con, "money"),
        price_note,
    )


def _rows(con: duckdb.DuckDBPyConnection, view: str) -> list[dict[str, Any]]:
    relation = con.table(view)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


SKU_COLUMNS = (
    ("product_name", "Dynamics 365 product"),
    ("sku_part_number", "part number"),
    ("units_bought", "bought"),
    ("units_assigned", "assigned"),
    ("units_unassigned", "unassigned"),
    ("threshold_days", "threshold d"),
    ("used_last_7_days", "used 7 d"),
    ("used_in_threshold", "used in threshold"),
    ("in_grace", "new (grace)"),
    ("idle", "idle"),
    ("idle_through_group", "of which via group"),
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
    ("assigned", "assigned"),
    ("account_enabled", "enabled"),
    ("licensed_since", "licensed since"),
    ("last_dynamics_interactive", "last Dynamics (interactive)"),
    ("last_dynamics_non_interactive", "last Dynamics (non-interactive)"),
    ("last_sign_in_any_app", "last sign-in, any app"),
    ("days_idle", "days idle"),
)
RECLAIM_SHOWN = 15


def print_answer(usage: LicenseUsage, reclaim_csv: Path | None = None, out: TextIO | None = None) -> None:
    """The evidence, the per-SKU table (with money when priced), the add-ons, the money and the head of the worklist
    (to stdout unless told otherwise)."""
    out = out or sys.stdout
    out.write(f"\nDynamics 365 license usage as of {_cell(usage.as_of)} (examples/license_usage.sql)\n")
    out.write(f"{evidence_line(usage)}\n\n")
    priced = bool(usage.money)
    out.write(_table(SKU_COLUMNS + (MONEY_COLUMNS if priced else ()), usage.skus))
    if usage.add_ons:
        listed = ", ".join(f"{row['product_name']} ({row['units_bought']})" for row in usage.add_ons)
        out.write(f"\nAdd-ons, not seats (appliesTo Company; nobody's to reclaim): {listed}\n")
    out.write(f"\n{money_lines(usage)}\n")
    shown = usage.reclaim[:RECLAIM_SHOWN]
    where = f"; all of them in {reclaim_csv}" if reclaim_csv is not None else ""
    out.write(f"\nIdle seats: {len(usage.reclaim)}, idlest first (showing {len(shown)}{where})\n")
    out.write("(last sign-in, any app: Entra's signInActivity, up to 24 h behind; - : none in the records)\n\n")
    out.write(_table(RECLAIM_COLUMNS, shown))


def evidence_line(usage: LicenseUsage) -> str:
    """Where the sign-in evidence starts, and a warning for each threshold it does not cover."""
    days = usage.evidence["evidence_days"]
    line = f"Sign-in evidence: {_cell(usage.evidence['evidence_start'])} to as of, {days} days."
    short = sorted({row["threshold_days"] for row in usage.skus if row["threshold_days"] > days})
    if short:
        line += (
            f" SHORTER than the {', '.join(map(str, short))}-day threshold(s): a holder is called idle for at most"
            f" {days} days, and 'idle' means no Dynamics 365 sign-in in those {days} days only."
        )
    return line


def money_lines(usage: LicenseUsage) -> str:
    """The monthly cost of idle and unassigned seats, or why there is none."""
    if not usage.money:
        return (
            "No money shown: no price list was given. Load one (sku_part_number, monthly_price, currency) as the "
            "sku_prices table to see what idle and unassigned seats cost a month."
        )
    lines = [
        f"Monthly cost: idle seats {row['idle_monthly_cost']} {row['currency']}, "
        f"unassigned seats {row['unassigned_monthly_cost']} {row['currency']}"
        for row in usage.money
    ]
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
    """One bar per seat SKU: holders by use (used, new, idle direct, idle via group), then the unassigned seats; the
    monthly cost of idle and unassigned seats beside each bar when priced."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = usage.skus
    names = [f"{row['product_name']}\n({row['sku_part_number']}, {row['threshold_days']} d)" for row in rows]
    parts = (
        ("signed in within the threshold", "#2b8a3e", [row["used_in_threshold"] for row in rows]),
        ("new seat, in its grace period", "#74c0fc", [row["in_grace"] for row in rows]),
        ("idle, direct", "#e03131", [row["idle"] - row["idle_through_group"] for row in rows]),
        ("idle, through a group", "#ffa8a8", [row["idle_through_group"] for row in rows]),
        ("bought, unassigned", "#dee2e6", [row["units_unassigned"] for row in rows]),
    )
    figure, axes = plt.subplots(figsize=(11, 2.4 + 0.8 * len(rows)))
    left = [0] * len(rows)
    for label, colour, values in parts:
        axes.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, row in enumerate(rows):
        if row["monthly_price"] is not None:
            cost = row["idle_monthly_cost"] + row["unassigned_monthly_cost"]
            axes.annotate(f" {cost} {row['currency']}/month", (left[y], y), va="center", fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel("seats")
    money = "; ".join(
        f"{row['idle_monthly_cost'] + row['unassigned_monthly_cost']} {row['currency']}/month idle or unassigned"
        for row in usage.money
    )
    axes.set_title(
        f"Dynamics 365 seats as of {_cell(usage.as_of)}, {usage.evidence['evidence_days']} days of sign-ins"
        + (f"\n{money}" if money else "\nno price list: no money")
    )
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small", frameon=False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


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
) -> LicenseUsage:
    """Load, answer, print, draw, write the worklist: `make demo`'s last step."""
    with duckdb.connect() as con:
        load(con, catalog, records_dir)
        load_lists(con, prices, thresholds)
        usage = answer(con, as_of, evidence_start, comments(prices))
    print_answer(usage, reclaim_csv)
    write_chart(usage, chart)
    write_reclaim(usage, reclaim_csv)
    print(f"\nChart: {chart}\nWorklist: {reclaim_csv}")
    return usage
