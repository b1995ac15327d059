"""The documented (and the reported) Graph contract, end to end through `python main.py read` against the emulator:
a page token that expires inside a same-microsecond burst, a filter clause Graph ignores, a page token Graph calls
invalid, and a default start that Graph's clock already puts past retention."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from graph_emulator import Emulator
from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.signins.instants import format_ticks, parse_instant
from testing.harness import (
    Result,
    assert_every_state_is_safe,
    assert_no_duplicates,
    config_since,
    configured_catalog,
    connector_config,
    run_connector,
    running_emulator,
    truth_sign_in_ids,
)

SIGN_INS = {"sign_ins": "incremental"}
TENANT_LAG = dt.timedelta(minutes=90)  # tenant clock behind the wall clock: the sync's end lies past every sign-in


def lagging(**spec: Any):
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    return running_emulator(**{"seed": 21, "users": 20, "sign_ins": 600, "days": 30, "now": now, **spec})


def read(emu: Emulator, tmp_path: Path, hours: float, **settings: Any) -> tuple[Result, dt.datetime]:
    start = emu.tenant.now - dt.timedelta(hours=hours)
    config = config_since(emu, start, **{"max_concurrency": 1, **settings})
    return run_connector("read", tmp_path, config, configured_catalog(SIGN_INS), emulator=emu, timeout=300), start


def emitted(result: Result) -> set[str]:
    return {record["id"] for record in result.records_of("sign_ins")}


def dynamics_truth(emu: Emulator, start: dt.datetime) -> dict[str, dt.datetime]:
    rows = emu.tenant.sign_ins_between(start, emu.tenant.now, DYNAMICS_365_APP_IDS)
    return {row["id"]: parse_instant(row["createdDateTime"]) for row in rows}


def test_a_page_token_expiring_inside_a_same_microsecond_burst_loses_and_repeats_nothing(tmp_path):
    with lagging(burst_size=2500) as emu:
        emu.add_fault({"route": "signIns", "kind": "expired_skiptoken", "nth": 1, "times": 1})
        result, start = read(emu, tmp_path, hours=3)
        burst = {format_ticks(tick) for tick in emu.tenant.burst_ticks()}
        filters = emu.sign_in_filters(first_pages_only=True)
        truth = dynamics_truth(emu, start)

    assert result.returncode == 0, result.error_messages
    restart_ends = {match for text in filters for match in re.findall(r"createdDateTime le (\S+)", text)} & burst
    assert restart_ends, "the token must expire inside the burst, and the restart end at one of its ticks"
    assert_no_duplicates(result)
    assert emitted(result) == set(truth) and len(truth) >= 2500
    assert_every_state_is_safe(result.messages, truth)


def test_an_ignored_application_clause_costs_no_foreign_sign_ins_and_never_moves_the_cursor(tmp_path):
    with lagging(sign_ins=20000, days=2) as emu:
        emu.add_fault({"route": "signIns", "kind": "ignore_filter", "clause": "application", "times": None})
        result, start = read(emu, tmp_path, hours=2)
        truth = dynamics_truth(emu, start)
        every_app = truth_sign_in_ids(emu, start, emu.tenant.now, None)

    assert result.returncode == 0, result.error_messages
    assert every_app > set(truth), "the tenant must hold other applications' sign-ins for this to mean anything"
    assert emitted(result) == set(truth)
    warnings = [line for line in result.log_lines("WARN") if "'appId eq'/'resourceId eq' clause" in line]
    assert len(warnings) == 1 and f"dropped {len(every_app - set(truth))} records" in warnings[0]
    newest = max(truth.values())
    assert parse_instant(result.final_state("sign_ins")["createdDateTime"]) == newest


def test_an_invalid_page_token_fails_with_graphs_words_and_is_never_taken_for_a_refused_filter(tmp_path):
    with lagging(sign_ins=30000, days=1) as emu:
        emu.add_fault({"route": "signIns", "kind": "invalid_skiptoken", "times": None})
        result, start = read(emu, tmp_path, hours=2, sign_in_app_ids=[])
        pages = [entry["query"] for entry in emu.request_log("signIns")]
        rows = emu.tenant.sign_ins_between(start, emu.tenant.now, None)
        truth = {row["id"]: parse_instant(row["createdDateTime"]) for row in rows}

    assert result.returncode == 1
    assert any("Invalid Skip Token" in error for error in result.error_messages)
    assert len([page for page in pages if "$skiptoken" in page]) == 1, "the refused page was neither retried nor split"
    assert_every_state_is_safe(result.messages, truth)


def test_a_default_start_past_retention_by_graphs_clock_moves_forward_with_a_warning(tmp_path):
    """This machine's clock is 15 minutes behind Graph's: the default start, 30 days back, is already too old."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) + dt.timedelta(minutes=15)
    with running_emulator(seed=22, users=10, sign_ins=300, days=30, now=now) as emu:
        config = connector_config(emu) | {"sign_in_app_ids": [], "max_concurrency": 3}
        result = run_connector("read", tmp_path, config, configured_catalog(SIGN_INS), emulator=emu, timeout=300)
        moved = [line for line in result.log_lines("WARN") if "past Entra's retention by Graph's clock" in line]
        start = (
            parse_instant(re.search(r"Reading this window from (\S+) instead", moved[-1]).group(1)) if moved else None
        )
        expected = truth_sign_in_ids(emu, start, now - dt.timedelta(minutes=20), None) if start else set()

    assert result.returncode == 0, result.error_messages
    assert moved and start is not None
    assert expected <= emitted(result)
