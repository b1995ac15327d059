"""`make demo`'s answer: the synced records loaded into DuckDB, examples/license_usage.sql run on them, the result
printed and drawn.

The connector stays a source; this is what a data team does downstream. Tables get the shape PyAirbyte's DuckDB
cache gives them (one table per stream, one row per primary key, JSON columns for Graph's nested objects), so the
SQL runs unchanged on either. Date-times become TIMESTAMP WITH TIME ZONE; PyAirbyte's cache holds them as UTC
TIMESTAMPs, which the SQL reads alike.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, TextIO

import duckdb

SQL = Path(__file__).resolve().parent.parent / "examples" / "license_usage.sql"
# Read only when selected; the SQL reads it always, so an unselected stream becomes an empty table of the same shape.
NON_INTERACTIVE = "non_interactive_sign_ins"
NON_INTERACTIVE_SHAPE_OF = "sign_ins"


@dataclass(frozen=True)
class LicenseUsage:
    """The answer: one row per Dynamics 365 SKU and the ten longest-idle holders, as of one instant."""

    as_of: dt.datetime
    skus: list[dict[str, Any]]
    idle_holders: list[dict[str, Any]]


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
            records = latest_records(source.open() if source.exists() else [], key)
            deduplicated = Path(scratch) / f"{stream['name']}.jsonl"
            deduplicated.write_text("".join(json.dumps(record) + "\n" for record in records))
            columns = {name: column_type(prop) for name, prop in stream["json_schema"]["properties"].items()}
            con.read_json(str(deduplicated), format="newline_delimited", columns=columns).create(stream["name"])
            names.append(stream["name"])
    if NON_INTERACTIVE not in names:
        con.table(NON_INTERACTIVE_SHAPE_OF).limit(0).create(NON_INTERACTIVE)


def answer(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> LicenseUsage:
    """Run examples/license_usage.sql with as_of as "now" and read its two views."""
    con.execute("SET VARIABLE as_of = CAST(? AS TIMESTAMPTZ)", [as_of])
    con.execute(SQL.read_text())
    return LicenseUsage(as_of, _rows(con, "license_usage"), _rows(con, "idle_holders"))


def _rows(con: duckdb.DuckDBPyConnection, view: str) -> list[dict[str, Any]]:
    relation = con.table(view)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


SKU_COLUMNS = (
    ("sku_part_number", "Dynamics 365 SKU"),
    ("units_bought", "bought"),
    ("units_assigned", "assigned"),
    ("holders", "holders"),
    ("used_last_7_days", "used 7 d"),
    ("used_last_30_days", "used 30 d"),
    ("unused_30_days", "unused 30 d"),
    ("unused_through_group", "of which via group"),
)
IDLE_COLUMNS = (
    ("user_principal_name", "user"),
    ("skus", "holds"),
    ("last_dynamics_sign_in", "last Dynamics sign-in"),
    ("days_idle", "days idle"),
    ("through_group", "via group"),
    ("account_enabled", "enabled"),
    ("last_sign_in_any_app", "last sign-in, any app"),
)


def print_answer(usage: LicenseUsage, out: TextIO = sys.stdout) -> None:
    """Both tables as plain text."""
    out.write(f"\nDynamics 365 license usage as of {_cell(usage.as_of)} (examples/license_usage.sql)\n\n")
    out.write(_table(SKU_COLUMNS, usage.skus))
    out.write("\nThe ten longest-idle holders (- : no Dynamics 365 sign-in in the records read)\n\n")
    out.write(_table(IDLE_COLUMNS, usage.idle_holders))


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


def write_chart(usage: LicenseUsage, path: Path) -> None:
    """One bar per SKU: holders split by recency of use, unused ones by whether a group gives them the license."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = usage.skus
    names = [row["sku_part_number"] for row in rows]
    parts = (
        ("signed in, last 7 days", "#2b8a3e", [row["used_last_7_days"] for row in rows]),
        (
            "signed in, 8-30 days ago",
            "#94d82d",
            [row["used_last_30_days"] - row["used_last_7_days"] for row in rows],
        ),
        (
            "no sign-in in 30 days, direct",
            "#e03131",
            [row["unused_30_days"] - row["unused_through_group"] for row in rows],
        ),
        ("no sign-in in 30 days, through a group", "#ffa8a8", [row["unused_through_group"] for row in rows]),
    )
    figure, axes = plt.subplots(figsize=(10, 2.2 + 0.7 * len(rows)))
    left = [0] * len(rows)
    for label, colour, values in parts:
        axes.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.scatter([row["units_bought"] for row in rows], names, marker="|", s=400, color="black", label="units bought")
    axes.invert_yaxis()
    axes.set_xlabel("licenses")
    axes.set_title(f"Dynamics 365 licenses: assigned and used, as of {_cell(usage.as_of)}")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize="small", frameon=False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def report(records_dir: Path, catalog: Mapping[str, Any], as_of: dt.datetime, chart: Path) -> LicenseUsage:
    """Load, answer, print, draw: `make demo`'s last step."""
    with duckdb.connect() as con:
        load(con, catalog, records_dir)
        usage = answer(con, as_of)
    print_answer(usage)
    write_chart(usage, chart)
    print(f"\nChart: {chart}")
    return usage
