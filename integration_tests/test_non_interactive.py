"""`non_interactive_sign_ins` (Graph beta) next to `sign_ins` (v1.0), through `python main.py read` against the
emulator, compared with the emulated tenant's own truth: exact sets, each stream its own state, late arrivals
caught, the `or` fallback and an ignored clause costing nothing, and one request budget for both streams.

The tenant clock runs behind the wall clock (`TENANT_LAG`): the connector freezes its end at the wall-clock now,
so `advance()` never moves emulated sign-ins into the connector's future. Ranges are a few hours, so each sync
needs only a couple of the throttle's 10-second windows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from graph_emulator import Emulator
from graph_emulator.catalog import BUSINESS_CENTRAL, DATAVERSE
from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.signins.instants import parse_ticks
from testing.harness import (
    Result,
    config_since,
    read_successfully,
    running_emulator,
    stream_state_message,
    truth_sign_in_ids,
)

TENANT_LAG = dt.timedelta(minutes=30)
BOTH = {"sign_ins": "incremental", "non_interactive_sign_ins": "incremental"}
NON_INTERACTIVE_ONLY = {"non_interactive_sign_ins": "incremental"}
EVENT_LAMBDA = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
IN_FLIGHT = 0.5  # seconds: a request that reached the emulator this soon after a 429 was sent before the client saw it


def lagging_tenant(**overrides: Any):
    """A small tenant whose clock is TENANT_LAG behind the wall clock."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    return running_emulator(**{"seed": 41, "users": 30, "sign_ins": 2000, "days": 1, "now": now, **overrides})


def config_for(emu: Emulator, start: dt.datetime, **settings: Any) -> dict[str, Any]:
    return config_since(emu, start, include_non_interactive_sign_ins=True, **settings)


def non_interactive_truth(
    emu: Emulator, start: dt.datetime, end: dt.datetime, app_ids: Sequence[str] | None = DYNAMICS_365_APP_IDS
) -> set[str]:
    return truth_sign_in_ids(emu, start, end, app_ids, event_type="nonInteractiveUser")


def emitted_once(result: Result, stream: str) -> set[str]:
    ids = [record["id"] for record in result.records_of(stream)]
    assert len(ids) == len(set(ids)), f"{stream} emitted a sign-in twice"
    return set(ids)


def newest_ticks(result: Result, stream: str) -> int:
    return max(parse_ticks(record["createdDateTime"]) for record in result.records_of(stream))


@dataclass
class TwoSyncs:
    """A full sync of both sign-in streams, then, after `advance(late=...)`, an incremental one from its states; the
    connector paces at Graph's rates on the test's clock (the pacer waits in real time in test_sync.py)."""

    emu: Emulator
    start: dt.datetime
    first: Result
    first_truth: dict[str, set[str]]  # stream -> ids the first sync had to emit (before the late arrivals)
    first_requests: int
    second: Result
    late_non_interactive: set[str]
    stats: dict[str, Any]
    sign_in_requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def two_syncs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSyncs]:
    with pytest.MonkeyPatch.context() as patch, lagging_tenant(paced=True) as emu:
        patch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        emu.set_throttle(5, 10)
        start = emu.tenant.now - dt.timedelta(hours=3)
        config = config_for(emu, start)
        first = read_successfully(emu, tmp_path_factory.mktemp("first"), config, BOTH)
        end = emu.tenant.now
        first_truth = {
            "sign_ins": truth_sign_in_ids(emu, start, end, DYNAMICS_365_APP_IDS),
            "non_interactive_sign_ins": non_interactive_truth(emu, start, end),
        }
        first_requests = len(emu.request_log("signIns"))
        emu.advance(10, late=20)
        late = non_interactive_truth(emu, start, end) - first_truth["non_interactive_sign_ins"]
        state = [stream_state_message(name, first.final_state(name)) for name in BOTH]
        second = read_successfully(emu, tmp_path_factory.mktemp("second"), config, BOTH, state)
        yield TwoSyncs(
            emu, start, first, first_truth, first_requests, second, late, emu.stats(), emu.request_log("signIns")
        )


def test_a_sync_of_both_streams_emits_each_dynamics_sign_in_of_its_event_type_exactly_once(two_syncs) -> None:
    s = two_syncs
    non_interactive = emitted_once(s.first, "non_interactive_sign_ins")
    interactive = emitted_once(s.first, "sign_ins")

    assert non_interactive == s.first_truth["non_interactive_sign_ins"]
    assert interactive == s.first_truth["sign_ins"]
    assert len(non_interactive) > 5 * len(interactive) > 0
    assert all(r["signInEventTypes"] == ["nonInteractiveUser"] for r in s.first.records_of("non_interactive_sign_ins"))


def test_each_sign_in_stream_keeps_its_own_state(two_syncs) -> None:
    first = two_syncs.first
    states = {name: parse_ticks(first.final_state(name)["createdDateTime"]) for name in BOTH}

    assert states == {name: newest_ticks(first, name) for name in BOTH}
    assert states["sign_ins"] != states["non_interactive_sign_ins"]


def test_only_beta_requests_carry_the_event_type_and_every_one_does(two_syncs) -> None:
    beta = two_syncs.emu.sign_in_filters(api_version="beta")
    v1 = two_syncs.emu.sign_in_filters(api_version="v1.0")

    assert beta and all(EVENT_LAMBDA in text for text in beta)
    assert v1 and not any("signInEventTypes" in text for text in v1)


def test_an_incremental_sync_catches_late_non_interactive_sign_ins_without_duplicates(two_syncs) -> None:
    s = two_syncs
    second = emitted_once(s.second, "non_interactive_sign_ins")
    both = emitted_once(s.first, "non_interactive_sign_ins") | second

    assert s.late_non_interactive and s.late_non_interactive <= second
    assert both == non_interactive_truth(s.emu, s.start, s.emu.tenant.now)
    assert emitted_once(s.first, "sign_ins") | emitted_once(s.second, "sign_ins") == truth_sign_in_ids(
        s.emu, s.start, s.emu.tenant.now, DYNAMICS_365_APP_IDS
    )


def test_both_streams_together_stay_within_five_sign_in_requests_per_ten_seconds_paced_on_the_tests_clock(
    two_syncs,
) -> None:
    s = two_syncs
    versions = {entry["path"].split("/")[1] for entry in s.sign_in_requests}

    assert s.first_requests > 5 and versions == {"v1.0", "beta"}
    assert s.stats["max_requests_in_10s"] <= 5
    assert s.stats["throttled"] == 0 and s.stats["violations"] == 0


def test_the_or_fallback_reads_exactly_the_non_interactive_sign_ins_of_each_application(tmp_path: Path) -> None:
    apps = [DATAVERSE, BUSINESS_CENTRAL]
    with lagging_tenant(or_filter=False) as emu:
        start = emu.tenant.now - dt.timedelta(minutes=50)
        result = read_successfully(emu, tmp_path, config_for(emu, start, sign_in_app_ids=apps), NON_INTERACTIVE_ONLY)
        expected = non_interactive_truth(emu, start, emu.tenant.now, apps)
        filters = emu.sign_in_filters(first_pages_only=True, api_version="beta")

    assert emitted_once(result, "non_interactive_sign_ins") == expected
    assert any(" or " in text for text in filters), "the combined query must have been tried and refused"
    assert any(text.endswith(f"resourceId eq '{DATAVERSE}'") for text in filters)
    assert any("refused 'or'" in line for line in result.log_lines("WARN"))


@pytest.mark.parametrize("clause", ["application", "event_type"])
def test_an_ignored_filter_clause_costs_no_foreign_sign_ins(tmp_path: Path, clause: str) -> None:
    with lagging_tenant() as emu:
        emu.add_fault(
            {"route": "signIns", "api_version": "beta", "kind": "ignore_filter", "clause": clause, "times": None}
        )
        start = emu.tenant.now - dt.timedelta(minutes=50)
        result = read_successfully(emu, tmp_path, config_for(emu, start), NON_INTERACTIVE_ONLY)
        expected = non_interactive_truth(emu, start, emu.tenant.now)
        ignored = [entry for entry in emu.request_log("signIns") if entry.get("ignored_clause") == clause]

    assert ignored, "the fault must have fired"
    assert emitted_once(result, "non_interactive_sign_ins") == expected
    assert any("non_interactive_sign_ins: dropped" in line for line in result.log_lines("WARN"))


def test_a_429_on_beta_pauses_both_streams_for_its_retry_after(tmp_path: Path) -> None:
    """Every answer takes a second, so sign_ins' pages are still in flight when beta is told to wait, and their
    next pages would follow within the pause; Retry-After (12 s) also outlasts the pacer's 10-s window."""
    retry_after = 12.0
    with lagging_tenant(sign_ins=12000, non_interactive_ratio=1) as emu:
        emu.set_latency("signIns", 1.0)
        emu.add_fault(
            {"route": "signIns", "api_version": "beta", "kind": "status", "status": 429, "retry_after": retry_after}
        )
        start = emu.tenant.now - dt.timedelta(hours=4)
        result = read_successfully(emu, tmp_path, config_for(emu, start, sign_in_app_ids=[]), BOTH)
        log = emu.request_log("signIns")
        expected = {
            "sign_ins": truth_sign_in_ids(emu, start, emu.tenant.now, None),
            "non_interactive_sign_ins": non_interactive_truth(emu, start, emu.tenant.now, None),
        }

    told = next(entry["time"] for entry in log if entry["status"] == 429)
    during = [e["path"] for e in log if told + IN_FLIGHT < e["time"] < told + retry_after]
    held_v1 = [e for e in log if e["path"].startswith("/v1.0/") and e["time"] >= told + retry_after]
    assert during == []
    assert held_v1, "sign_ins must have had requests waiting for the pause to end"
    assert {name: emitted_once(result, name) for name in BOTH} == expected


def test_an_expired_page_token_on_beta_restarts_the_window_without_loss_or_duplicates(tmp_path: Path) -> None:
    with lagging_tenant() as emu:
        emu.add_fault({"route": "signIns", "api_version": "beta", "kind": "expired_skiptoken", "nth": 1})
        start = emu.tenant.now - dt.timedelta(hours=2)
        config = config_for(emu, start, sign_in_app_ids=[], max_concurrency=1)
        result = read_successfully(emu, tmp_path, config, NON_INTERACTIVE_ONLY)
        expected = non_interactive_truth(emu, start, emu.tenant.now, None)

    assert [rule["fired"] for rule in emu.faults.list()] == [1]
    assert emitted_once(result, "non_interactive_sign_ins") == expected
    assert any("page token expired" in line for line in result.log_lines())
