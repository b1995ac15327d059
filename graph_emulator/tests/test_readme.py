"""The README stays in step with the code: every fault kind and control endpoint, and the assumptions table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graph_emulator import control, faults, odata

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
ASSUMPTIONS_HEADING = "## What the connector assumes about Graph"
REQUIRED_ASSUMPTIONS = (
    "`createdDateTime` filters take `eq`, `le`, `ge` only",
    "7 fractional digits",
    "newest first",
    "at most 999",
    "nextLink is followed exactly",
    "page token cannot be kept",
    "5 requests per 10 seconds",
    "`or` combines",
    "ignore a filter clause",
    "before retention",
    "arrive late",
    "P1/P2, else 403",
    "`signInActivity` is refused",
)


def section(heading: str) -> str:
    start = README.index(heading)
    end = README.find("\n## ", start + len(heading))
    return README[start : end if end != -1 else None]


def table_rows(heading: str) -> list[list[str]]:
    """Cells of a section's table, without the header and separator lines."""
    lines = [line for line in section(heading).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


ASSUMPTIONS = table_rows(ASSUMPTIONS_HEADING)


def test_every_fault_kind_is_described() -> None:
    described = {row[0].strip("`") for row in table_rows("## Fault kinds")}
    assert described == set(faults.KINDS)


def test_every_control_endpoint_is_described() -> None:
    endpoints = set(re.findall(r"/_emulator/[a-z-]+", control.__doc__ or ""))
    assert endpoints and all(endpoint in section("## Control API") for endpoint in endpoints)


@pytest.mark.parametrize("row", ASSUMPTIONS, ids=[row[0][:40] for row in ASSUMPTIONS])
def test_each_assumption_is_marked_with_its_evidence_and_the_emulator_behaviour(row: list[str]) -> None:
    assumption, status, evidence, behaviour = row
    assert status in ("**documented**", "**observed/assumed**")
    if status == "**documented**":
        assert "https://learn.microsoft.com/" in evidence
    assert assumption and evidence and behaviour


@pytest.mark.parametrize("topic", REQUIRED_ASSUMPTIONS)
def test_the_table_covers_what_the_connector_relies_on(topic: str) -> None:
    assert any(topic in row[0] for row in ASSUMPTIONS), topic


def test_the_emulator_accepts_exactly_the_documented_created_date_time_operators() -> None:
    row = next(row for row in ASSUMPTIONS if row[0].startswith("`createdDateTime` filters take"))
    assert row[1] == "**documented**"
    assert set(re.findall(r"`(eq|le|ge|lt|gt|ne)`", row[0])) == set(odata.DATE_OPS)
