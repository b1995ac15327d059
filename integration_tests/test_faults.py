"""Faults during a sync, through `python main.py read` against the emulator: each one survived with the sign-ins
equal to the tenant's truth (nothing lost, nothing twice), every state safe, and no secret printed.

Tenants are tiny and start dates a few hours back, so each sync takes seconds; the emulator injects the fault.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import requests_mock
from airbyte_cdk.models import AirbyteStreamStatusReasonType, FailureType, SyncMode, TraceType
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read

from graph_emulator import Emulator
from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.graph.stream import COUNT_SECONDS, READ_TIMEOUT_SECONDS
from source_dynamics365_cc.signins.instants import parse_instant
from testing.graph_fakes import GRAPH, page, register_login, register_user_count
from testing.graph_fakes import config as fake_config
from testing.harness import (
    Result,
    assert_every_state_is_safe,
    assert_no_duplicates,
    config_since,
    configured_catalog,
    connector_config,
    iso,
    run_connector,
    running_emulator,
    stream_state_message,
    truth_rows,
)
from testing.secrets import assert_no_secret_leaked

SMALL = {"seed": 31, "users": 20, "sign_ins": 3000, "days": 30}
# ~1,250 sign-ins an hour: a one-hour window spans two 999-record pages, so a skiptoken is in play.
DENSE = {"seed": 32, "users": 30, "sign_ins": 30000, "days": 1}
HOURS = 3
SIGN_INS_AND_USERS = {"sign_ins": "incremental", "users": "full_refresh"}


def sync(tmp_path: Path, emu: Emulator, streams: dict[str, str] = SIGN_INS_AND_USERS, **settings: Any) -> Result:
    """One read of the last HOURS of every app's sign-ins, with the settings a user would give."""
    config = config_since(emu, emu.tenant.now - dt.timedelta(hours=HOURS), sign_in_app_ids=[], **settings)
    result = run_connector("read", tmp_path, config, configured_catalog(streams), emulator=emu, timeout=240)
    assert_no_secret_leaked(result, config)
    return result


def assert_complete(result: Result, emu: Emulator) -> None:
    """Exit 0, sign-ins equal to the truth with none twice, every state safe, and the roster whole."""
    assert result.returncode == 0, result.error_messages
    truth = truth_rows(emu, emu.tenant.now - dt.timedelta(hours=HOURS), emu.tenant.now)
    assert_no_duplicates(result)
    assert {record["id"] for record in result.records_of("sign_ins")} == set(truth)
    assert_every_state_is_safe(result.messages, truth)
    if result.records_of("users"):
        assert len(result.records_of("users")) == len({user["id"] for user in result.records_of("users")})


def fired(emu: Emulator) -> list[int]:
    return [rule["fired"] for rule in emu.faults.list()]


@pytest.mark.slow
def test_a_429_storm_with_fractional_and_integer_retry_after_on_several_workers_loses_nothing(tmp_path: Path):
    """A budget of 2 requests per 5 s (fractional Retry-After) plus injected 429s with an integer Retry-After,
    hitting three workers that read their windows at the same time."""
    with running_emulator(**SMALL) as emu:
        emu.set_throttle(2, per_seconds=5.0)
        emu.add_fault({"route": "signIns", "kind": "status", "status": 429, "retry_after": 1, "nth": 2, "times": 2})
        emu.add_fault({"route": "signIns", "kind": "status", "status": 429, "retry_after": "0.5", "nth": 3, "times": 1})
        result = sync(tmp_path, emu, max_concurrency=3)
        assert_complete(result, emu)
        assert emu.stats()["throttled"] >= 3 and all(fired(emu))


@pytest.mark.slow
def test_server_errors_with_html_and_json_bodies_are_retried_without_loss(tmp_path: Path):
    """500, 502, 503 and 504, with JSON and with a gateway's HTML page, on every route a sync calls."""
    with running_emulator(**SMALL) as emu:
        for route, status, body, nth in [
            ("users", 500, "json", 1),
            ("subscribedSkus", 502, "html", 1),
            ("signIns", 503, "json", 1),
            ("signIns", 504, "html", 3),
        ]:
            emu.add_fault({"route": route, "kind": "status", "status": status, "body": body, "nth": nth, "times": 1})
        result = sync(tmp_path, emu, {**SIGN_INS_AND_USERS, "subscribed_skus": "full_refresh"})
        assert_complete(result, emu)
        assert len(result.records_of("subscribed_skus")) == len(emu.tenant.subscribed_skus())
        assert fired(emu) == [1, 1, 1, 1]


@pytest.mark.parametrize("kind", ["reset", "malformed"])
def test_a_dropped_connection_or_a_malformed_json_page_is_fetched_again(tmp_path: Path, kind: str):
    """`reset` closes the connection without an answer; `malformed` cuts a 200 page's JSON in half."""
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "signIns", "kind": kind, "nth": 2, "times": 1})
        emu.add_fault({"route": "users", "kind": kind, "nth": 1, "times": 1})
        result = sync(tmp_path, emu)
        assert_complete(result, emu)
        assert len(result.records_of("users")) == visible_users(emu)
        assert fired(emu) == [1, 1]


def visible_users(emu: Emulator) -> int:
    return sum(1 for user in emu.tenant.users() if not is_concealed(user))


def test_slow_answers_within_the_read_timeout_are_waited_for(tmp_path: Path):
    """A 3-second answer is slow but inside the 120-second read timeout: no retry, no loss. The timeout itself
    is proven below with requests-mock (waiting 120 s here would cost two minutes per run)."""
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "signIns", "kind": "delay", "seconds": 3, "nth": 1, "times": 2})
        result = sync(tmp_path, emu, {"sign_ins": "incremental"})
        assert_complete(result, emu)
        assert fired(emu) == [2]
        assert all(entry["status"] == 200 for entry in emu.request_log("signIns"))


def test_a_read_timeout_is_retried_and_every_request_carries_a_read_timeout():
    """The path a Graph answer slower than READ_TIMEOUT_SECONDS takes: requests raises ReadTimeout, the page is
    fetched again, nothing is lost; and no request is sent without a timeout (it could hang a sync forever)."""
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(
            f"{GRAPH}/v1.0/users",
            [{"exc": requests.exceptions.ReadTimeout}, {"json": page([{"id": "u1"}, {"id": "u2"}])}],
        )
        config = fake_config()
        catalog = CatalogBuilder().with_stream("users", SyncMode.full_refresh).build()
        output = read(SourceDynamics365Cc(catalog, config, None), config, catalog)
    assert [record.record.data["id"] for record in output.records] == ["u1", "u2"]
    graph_requests = [request for request in mocker.request_history if "/v1.0/" in request.url]
    assert len([request for request in graph_requests if urlsplit(request.url).path == "/v1.0/users"]) == 2
    pages = [request for request in graph_requests if not urlsplit(request.url).path.endswith("/$count")]
    assert all(request.timeout[1] == READ_TIMEOUT_SECONDS for request in pages)
    assert all(request.timeout[1] == COUNT_SECONDS for request in graph_requests if request not in pages)


def test_a_token_revoked_mid_sync_is_replaced_and_the_sync_completes(tmp_path: Path):
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "signIns", "kind": "revoke_tokens", "nth": 2, "times": 1})
        result = sync(tmp_path, emu)
        assert_complete(result, emu)
        assert 401 in statuses(emu, "signIns") + statuses(emu, "users")
        assert len([s for s in statuses(emu, "token") if s == 200]) >= 2


def statuses(emu: Emulator, route: str) -> list[int]:
    return [entry["status"] for entry in emu.request_log(route)]


def test_a_token_that_expires_during_the_sync_is_renewed(tmp_path: Path):
    """Tokens live 2 seconds and each sign-in answer takes one: the sync outlives several tokens."""
    with running_emulator(**SMALL) as emu:
        emu.set_token_lifetime(2)
        emu.set_latency("signIns", 1.0)
        result = sync(tmp_path, emu, max_concurrency=1)
        assert_complete(result, emu)
        assert len([s for s in statuses(emu, "token") if s == 200]) >= 2


def test_a_token_endpoint_failing_for_a_while_is_waited_out(tmp_path: Path):
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "token", "kind": "status", "status": 503, "times": None, "for_seconds": 2.5})
        result = sync(tmp_path, emu)
        assert_complete(result, emu)
        token_statuses = statuses(emu, "token")
        assert token_statuses[0] == 503 and token_statuses[-1] == 200


@pytest.mark.slow
def test_an_expired_skiptoken_mid_window_restarts_the_window_without_duplicates(tmp_path: Path):
    with running_emulator(**DENSE) as emu:
        emu.add_fault({"route": "signIns", "kind": "expired_skiptoken", "nth": 1, "times": 1})
        result = sync(tmp_path, emu, {"sign_ins": "incremental"}, max_concurrency=1)
        assert_complete(result, emu)
        assert fired(emu) == [1]
        assert any("page token expired" in line for line in result.log_lines())


@pytest.mark.parametrize("lookback_minutes", [60, 5])
def test_late_sign_ins_are_read_when_inside_the_lookback_window(tmp_path: Path, lookback_minutes: int):
    """Sign-ins that reach Graph late (up to 20 minutes behind the clock here) are read by the next sync when
    they lie within `lookback_window_minutes` of the saved cursor.

    The documented limit: a sign-in that arrives later than the lookback covers (older than cursor - lookback
    when it lands) is never read by an incremental sync; with a 5-minute lookback the test proves exactly
    which ones are missed, so the limit is the lookback and nothing else.
    """
    wall = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    with running_emulator(seed=33, users=20, sign_ins=2000, days=1, now=wall - dt.timedelta(minutes=30)) as emu:
        start = emu.tenant.now - dt.timedelta(hours=2)
        config = connector_config(emu) | {
            "start_date": iso(start),
            "sign_in_app_ids": [],
            "lookback_window_minutes": lookback_minutes,
        }
        catalog = configured_catalog({"sign_ins": "incremental"})
        first = run_connector("read", tmp_path / "1", config, catalog, emulator=emu)
        before = set(truth_rows(emu, start, emu.tenant.now))
        old_now = emu.tenant.now
        emu.advance(10, late=40)
        after = truth_rows(emu, start, emu.tenant.now)
        state = [stream_state_message("sign_ins", first.final_state("sign_ins"))]
        second = run_connector("read", tmp_path / "2", config, catalog, state, emulator=emu)
    cursor = parse_instant(first.final_state("sign_ins")["createdDateTime"])
    reach = cursor - dt.timedelta(minutes=lookback_minutes)
    late = {sign_in: moment for sign_in, moment in after.items() if sign_in not in before and moment < old_now}
    inside = {sign_in for sign_in, moment in late.items() if moment >= reach}
    outside = set(late) - inside
    read_ids = {record["id"] for record in first.records_of("sign_ins") + second.records_of("sign_ins")}
    assert first.returncode == 0 and second.returncode == 0
    assert inside and inside <= read_ids
    assert not outside & read_ids
    assert read_ids == set(after) - outside
    assert bool(outside) == (lookback_minutes < 20)
    for result in (first, second):
        assert_no_duplicates(result)
        assert_no_secret_leaked(result, config)


@pytest.mark.slow
def test_exhausted_retries_end_the_sync_with_a_transient_error_and_a_safe_state(tmp_path: Path):
    """One window's request keeps failing (503 with a short Retry-After, more times than the retry budget):
    the sync fails as transient, says what to do, and no state claims that window."""
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "signIns", "kind": "status", "status": 503, "retry_after": "0.1", "nth": 2, "times": 9})
        result = sync(tmp_path, emu, {"sign_ins": "incremental"}, max_concurrency=1)
        truth = truth_rows(emu, emu.tenant.now - dt.timedelta(hours=HOURS), emu.tenant.now)
    assert result.returncode != 0
    failures = [message.trace.error for message in result.errors]
    window_failures = [failure for failure in failures if failure.stream_descriptor]
    assert window_failures and all(failure.failure_type == FailureType.transient_error for failure in window_failures)
    assert "Run the sync again later" in window_failures[0].message
    assert_no_duplicates(result)
    emitted = assert_every_state_is_safe(result.messages, truth)
    assert emitted < set(truth)


ALL_STREAMS = {**SIGN_INS_AND_USERS, "subscribed_skus": "full_refresh"}


@pytest.mark.parametrize("failing", ["signIns", "users"])
def test_a_stream_that_fails_does_not_cost_the_other_streams_their_records(tmp_path: Path, failing: str):
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": failing, "kind": "status", "status": 400, "times": None})
        result = sync(tmp_path, emu, ALL_STREAMS)
        truth = truth_rows(emu, emu.tenant.now - dt.timedelta(hours=HOURS), emu.tenant.now)
        users = {user["id"] for user in emu.tenant.users() if not is_concealed(user)}
        skus = {sku["skuId"] for sku in emu.tenant.subscribed_skus()}

    assert result.returncode != 0, "the failed stream must still fail the sync"
    assert {sku["skuId"] for sku in result.records_of("subscribed_skus")} == skus
    if failing == "signIns":
        assert {user["id"] for user in result.records_of("users")} == users
    else:
        assert {record["id"] for record in result.records_of("sign_ins")} == set(truth)
        assert result.final_state("sign_ins") is not None


def rate_limited_streams(result: Result) -> set[str]:
    """The streams the platform was told are waiting on a rate limit (a RUNNING status with reason RATE_LIMITED)."""
    traces = (m.trace for m in result.trace_messages)
    statuses = (t.stream_status for t in traces if t.type == TraceType.STREAM_STATUS)
    return {
        status.stream_descriptor.name
        for status in statuses
        if any(reason.type == AirbyteStreamStatusReasonType.RATE_LIMITED for reason in status.reasons or [])
    }


def test_a_429_is_shown_to_the_platform_as_a_rate_limit_on_the_stream_that_waits(tmp_path: Path):
    """The CDK names the stream of the HttpClient that got the 429 in its RATE_LIMITED status: that is why each
    stream sends through its own client (the token provider, authenticator and sign-in pacer are one per sync)."""
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "users", "kind": "status", "status": 429, "retry_after": 1, "nth": 1, "times": 1})
        emu.add_fault({"route": "signIns", "kind": "status", "status": 429, "retry_after": 1, "nth": 1, "times": 1})
        result = sync(tmp_path, emu)
        assert_complete(result, emu)
        assert fired(emu) == [1, 1]

    assert rate_limited_streams(result) == {"users", "sign_ins"}


def test_pages_without_a_value_list_are_fetched_again_and_lose_nothing(tmp_path: Path):
    """`{...}` without `value`, then `"value": null`: read as empty pages, they would close windows whose sign-ins
    Graph never sent and move the state past them."""
    with running_emulator(**SMALL) as emu:
        emu.add_fault({"route": "signIns", "kind": "value_missing", "nth": 1, "times": 1})
        emu.add_fault({"route": "signIns", "kind": "value_null", "nth": 1, "times": 1})
        emu.add_fault({"route": "users", "kind": "value_missing", "nth": 1, "times": 1})
        result = sync(tmp_path, emu)
        assert_complete(result, emu)
        assert len(result.records_of("users")) == visible_users(emu)
        assert fired(emu) == [1, 1, 1]


def test_a_next_link_cycle_longer_than_one_page_fails_the_sync_clearly_and_emits_nothing_twice(tmp_path: Path):
    """Graph's nextLinks go round two links (A, B, A...): the query stops when A comes back, naming the stream."""
    with running_emulator(**{**DENSE, "sign_ins": 100000}) as emu:
        emu.add_fault({"route": "signIns", "kind": "link_cycle", "length": 2, "times": None})
        result = sync(tmp_path, emu, {"sign_ins": "incremental"}, max_concurrency=1)
        truth = truth_rows(emu, emu.tenant.now - dt.timedelta(hours=HOURS), emu.tenant.now)

    assert result.returncode != 0
    assert any("repeated a page link while reading the sign_ins stream" in error for error in result.error_messages)
    assert_no_duplicates(result)
    assert_every_state_is_safe(result.messages, truth)
