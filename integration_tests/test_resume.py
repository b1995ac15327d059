"""Resuming: a sync killed at any point and restarted from its last state loses no sign-in, and no state it ever
emitted claims a sign-in that was not yet emitted.

`assert_every_state_is_safe` is the invariant the fault tests check too: for each sign_ins STATE, every sign-in
from the start date up to the state's cursor was emitted before that STATE (in this run or an earlier one).
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from graph_emulator import Emulator
from source_dynamics365_cc.signins.instants import parse_instant
from testing.harness import (
    Result,
    assert_every_state_is_safe,
    assert_no_duplicates,
    configured_catalog,
    connector_config,
    iso,
    run_connector,
    running_emulator,
    start_connector,
    stream_state_message,
    truth_rows,
)
from testing.secrets import assert_no_secret_leaked

SIGN_INS = configured_catalog({"sign_ins": "incremental"})
KILLS = 4
KILL_AFTER_SECONDS = (1.0, 4.5)


def last_state(messages: list[dict[str, Any]], previous: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The state a platform would hand the next attempt: the newest sign_ins STATE, else what it had."""
    states = [
        m["state"]["stream"]["stream_state"]
        for m in messages
        if m.get("type") == "STATE"
        and m["state"].get("stream", {}).get("stream_descriptor", {}).get("name") == "sign_ins"
    ]
    return [stream_state_message("sign_ins", states[-1])] if states else previous


def killed_attempt(tmp_path: Path, emu: Emulator, config: dict, state, delay: float) -> list[dict[str, Any]]:
    """Start a read, SIGKILL it after `delay` seconds (or let it finish first), and return what it printed."""
    process = start_connector("read", tmp_path, config, SIGN_INS, state, emulator=emu)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert_no_secret_leaked(f"{stdout}\n{stderr}", config)
    return Result(process.returncode, stdout, stderr, process.args).messages


@pytest.mark.slow
def test_a_sync_killed_at_random_points_and_resumed_from_its_last_state_loses_nothing(tmp_path: Path):
    """Four SIGKILLs at random moments (seeded), each attempt resumed from the last state it emitted, then one
    attempt runs to completion. lookback 0 makes any gap visible: no re-read window hides a lost sign-in."""
    chance = random.Random(20261126)
    with running_emulator(seed=21, users=10, sign_ins=4000, days=1) as emu:
        emu.set_latency("signIns", 0.6)
        start = emu.tenant.now - dt.timedelta(hours=4)
        config = connector_config(emu) | {
            "start_date": iso(start),
            "sign_in_app_ids": [],
            "lookback_window_minutes": 0,
            "max_concurrency": 2,
        }
        truth = truth_rows(emu, start, emu.tenant.now)
        emitted: set[str] = set()
        state = None
        for attempt in range(KILLS):
            messages = killed_attempt(tmp_path / f"a{attempt}", emu, config, state, chance.uniform(*KILL_AFTER_SECONDS))
            emitted = assert_every_state_is_safe(messages, truth, emitted)
            state = last_state(messages, state)
        final = run_connector("read", tmp_path / "final", config, SIGN_INS, state, emulator=emu)
        emitted = assert_every_state_is_safe(final.messages, truth, emitted)
    assert final.returncode == 0, final.error_messages
    assert_no_duplicates(final)
    assert emitted == set(truth)
    assert_no_secret_leaked(final, config)


def test_a_second_sync_resumes_at_the_state_and_re_reads_only_the_lookback(tmp_path: Path):
    """The state of one sync starts the next: it reads from the cursor minus the lookback, not from start_date."""
    with running_emulator(seed=22, users=10, sign_ins=2000, days=1) as emu:
        start = emu.tenant.now - dt.timedelta(hours=3)
        config = connector_config(emu) | {
            "start_date": iso(start),
            "sign_in_app_ids": [],
            "lookback_window_minutes": 30,
        }
        first = run_connector("read", tmp_path / "1", config, SIGN_INS, emulator=emu)
        cursor = parse_instant(first.final_state("sign_ins")["createdDateTime"])
        state = [stream_state_message("sign_ins", first.final_state("sign_ins"))]
        second = run_connector("read", tmp_path / "2", config, SIGN_INS, state, emulator=emu)
        truth = truth_rows(emu, start, emu.tenant.now)
    assert first.returncode == 0 and second.returncode == 0
    assert {r["id"] for r in first.records_of("sign_ins")} == set(truth)
    reread = {sign_in for sign_in, moment in truth.items() if moment >= cursor - dt.timedelta(minutes=30)}
    assert {r["id"] for r in second.records_of("sign_ins")} == reread
    assert parse_instant(second.final_state("sign_ins")["createdDateTime"]) == cursor
    for result in (first, second):
        assert_no_duplicates(result)
        assert_no_secret_leaked(result, config)
