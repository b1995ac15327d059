"""The sign-in throttle policy: a shared sliding window, Retry-After for every worker, backoff."""

import math
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import requests
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.graph.throttle import (
    MAX_RETRY_AFTER_SECONDS,
    MIN_BACKOFF_SECONDS,
    GraphApiBudget,
    QueryBudget,
    RetryAfterBackoff,
    SlidingWindowPacer,
    retry_after_seconds,
)
from source_dynamics365_cc.limits import (
    DOCUMENTED_LIMITS,
    SIGN_IN_ACTIVITY_LIMIT,
    SIGN_IN_ACTIVITY_LIMITS,
    SIGN_IN_LOG_LIMIT,
    SIGN_IN_LOG_LIMITS,
    graph_budget,
)
from source_dynamics365_cc.signins.instants import format_instant
from source_dynamics365_cc.streams.restarts import RESUME_NOTE
from testing.clock import FakeClock
from testing.graph_fakes import GRAPH, config, read_streams, register_login


def response(status: int, retry_after: str | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    if retry_after is not None:
        answer.headers["Retry-After"] = retry_after
    return answer


def request(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_no_more_than_the_limit_is_sent_in_any_window():
    clock = FakeClock()
    pacer = SlidingWindowPacer(5, window=10, margin=0.25, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(23):
        pacer.acquire()
        sent.append(clock.now)
    for index in range(len(sent) - 5):
        assert sent[index + 5] - sent[index] >= 10.25
    assert sent[:5] == [0, 0, 0, 0, 0]


def test_the_pacer_runs_at_the_limit_not_below_it():
    clock = FakeClock()
    pacer = SlidingWindowPacer(5, window=10, margin=0.25, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        pacer.acquire()
    assert clock.now <= 9 * 10.25 + 1e-6


def test_a_retry_after_pause_holds_every_caller():
    clock = FakeClock()
    pacer = SlidingWindowPacer(5, clock=clock, sleep=clock.sleep)
    pacer.pause(2.128)
    pacer.acquire()
    assert clock.now >= 2.128


def test_retry_after_accepts_integer_fractional_and_missing_values():
    assert retry_after_seconds(response(429, "3")) == 3.0
    assert retry_after_seconds(response(429, "2.128")) == 2.128
    assert retry_after_seconds(response(429)) is None
    assert retry_after_seconds(response(429, "soon")) is None


def sign_in_budget(clock: FakeClock, limit: int = 5, margin: float = 0.25) -> QueryBudget:
    """The budget of a sign-in query, in a command's budget that paces the sign-in log only."""
    pacer = SlidingWindowPacer(limit, window=10, margin=margin, clock=clock, sleep=clock.sleep)
    return GraphApiBudget([(SIGN_IN_LOG_LIMIT, pacer)], sleep=clock.sleep).for_limits(SIGN_IN_LOG_LIMITS)


def test_budget_paces_only_the_queries_that_count_against_a_limit_and_pauses_them_on_429():
    clock = FakeClock()
    pacer = SlidingWindowPacer(1, window=10, margin=0, clock=clock, sleep=clock.sleep)
    budget = GraphApiBudget([(SIGN_IN_LOG_LIMIT, pacer)], sleep=clock.sleep)
    users, sign_ins = budget.for_limits(()), budget.for_limits(SIGN_IN_LOG_LIMITS)
    page = request("https://graph.example.test/v1.0/auditLogs/signIns?$top=999")
    for _ in range(3):
        users.acquire_call(page)  # the URL says sign-ins; the query says no limit, and the query decides
    assert clock.now == 0
    sign_ins.update_from_response(page, response(429, "4.5"))
    sign_ins.acquire_call(page)
    assert clock.now == 4.5


def paced_budget(clock: FakeClock) -> GraphApiBudget:
    return graph_budget(
        5, lambda limit, seconds: SlidingWindowPacer(limit, seconds, clock=clock, sleep=clock.sleep), clock.sleep
    )


ACTIVITY_PAGE = "https://graph.example.test/v1.0/users?%24select=id%2CsignInActivity&%24top=500"


def test_the_documented_limits_are_graphs_and_an_activity_page_counts_under_both():
    assert [(limit.requests, limit.seconds) for limit in DOCUMENTED_LIMITS] == [(5, 10.0), (10, 60.0)]
    assert SIGN_IN_LOG_LIMITS == (SIGN_IN_LOG_LIMIT,)
    assert set(SIGN_IN_ACTIVITY_LIMITS) == {SIGN_IN_LOG_LIMIT, SIGN_IN_ACTIVITY_LIMIT}  # both readings of the table


def test_users_pages_with_sign_in_activity_go_at_ten_per_minute():
    clock = FakeClock()
    budget = paced_budget(clock).for_limits(SIGN_IN_ACTIVITY_LIMITS)
    sent = []
    for _ in range(25):
        budget.acquire_call(request(ACTIVITY_PAGE))
        sent.append(clock.now)
    assert all(sent[index + 10] - sent[index] >= 60 for index in range(len(sent) - 10))
    assert sent[:5] == [0] * 5 and sent[-1] <= 2 * 60.25 + 10.25 + 1e-6


def test_a_request_under_two_limits_is_counted_in_both_when_it_is_sent():
    clock = FakeClock()
    budget = paced_budget(clock)
    sign_in_query, activity_query = budget.for_limits(SIGN_IN_LOG_LIMITS), budget.for_limits(SIGN_IN_ACTIVITY_LIMITS)
    sign_ins = request("https://graph.example.test/v1.0/auditLogs/signIns?$top=999")
    for _ in range(5):
        sign_in_query.acquire_call(sign_ins)
    activity_query.acquire_call(request(ACTIVITY_PAGE))  # the sign-in log's window is full: it waits for it
    assert clock.now == 10.25
    for _ in range(4):
        sign_in_query.acquire_call(sign_ins)
    assert clock.now == 10.25
    sign_in_query.acquire_call(sign_ins)
    assert clock.now == 10.25 + 10.25, "the activity page took one of the sign-in log's five slots when it was sent"


def test_a_retry_after_on_an_activity_page_pauses_every_request_under_its_limits_only():
    clock = FakeClock()
    budget = paced_budget(clock)
    budget.for_limits(SIGN_IN_ACTIVITY_LIMITS).update_from_response(request(ACTIVITY_PAGE), response(429, "30"))
    budget.for_limits(()).acquire_call(request("https://graph.example.test/v1.0/subscribedSkus"))
    assert clock.now == 0
    budget.for_limits(SIGN_IN_LOG_LIMITS).acquire_call(request("https://graph.example.test/v1.0/auditLogs/signIns"))
    assert clock.now == 30


def test_backoff_prefers_retry_after_then_grows_exponentially_with_a_cap():
    backoff = RetryAfterBackoff(RESUME_NOTE)
    assert backoff.backoff_time(response(503, "1.5"), 1) == 1.5
    assert backoff.backoff_time(response(500), 1) == 2
    assert backoff.backoff_time(response(500), 3) == 8
    assert backoff.backoff_time(requests.ConnectionError(), 10) == 60


FAR_FUTURE_DATE = "Fri, 31 Dec 9999 23:59:59 GMT"


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("1e9", 1e9),
        ("inf", math.inf),
        ("1e999", math.inf),
        ("-5", 0.0),
        ("nan", None),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
        ("Thu, 01 Jan 1970 00:00:00 -0000", 0.0),
    ],
)
def test_retry_after_reads_absurd_values_without_raising(header, seconds):
    assert retry_after_seconds(response(429, header)) == seconds


def test_a_far_future_retry_after_date_is_read_as_years():
    assert retry_after_seconds(response(429, FAR_FUTURE_DATE)) > 200 * 365 * 86400


@pytest.mark.parametrize("header", ["1e9", "inf", "301", FAR_FUTURE_DATE])
def test_a_retry_after_beyond_the_cap_ends_the_request_as_a_transient_error(header):
    with pytest.raises(AirbyteTracedException) as ended:
        RetryAfterBackoff(RESUME_NOTE).backoff_time(response(429, header), 1)
    assert ended.value.failure_type == FailureType.transient_error
    assert "longer than the 5 minutes this connector waits" in ended.value.message
    assert RESUME_NOTE in ended.value.message


def test_a_retry_after_up_to_the_cap_is_obeyed():
    assert RetryAfterBackoff(RESUME_NOTE).backoff_time(response(429, str(MAX_RETRY_AFTER_SECONDS)), 1) == 300.0
    assert RetryAfterBackoff(RESUME_NOTE).backoff_time(response(503, "nan"), 2) == 4


@pytest.mark.parametrize("header, paused", [("300", 300.0), ("301", 0.0), ("inf", 0.0)])
def test_other_workers_pause_for_a_retry_after_up_to_the_cap_and_not_for_one_that_ends_the_sync(header, paused):
    clock = FakeClock()
    budget = sign_in_budget(clock)
    sign_ins = request("https://graph.example.test/v1.0/auditLogs/signIns")
    budget.update_from_response(sign_ins, response(429, header))
    budget.acquire_call(sign_ins)
    assert clock.now == paused


@pytest.mark.parametrize("header", ["inf", "1e9", FAR_FUTURE_DATE])
def test_a_sync_told_to_wait_forever_ends_quickly_and_keeps_its_state(header):
    now = datetime.now(timezone.utc)
    saved = format_instant(now - timedelta(hours=2))
    state = StateBuilder().with_stream_state("sign_ins", {"createdDateTime": saved}).build()
    catalog = CatalogBuilder().with_stream("users", SyncMode.full_refresh).with_stream("sign_ins", SyncMode.incremental)
    started = time.monotonic()
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        busy = {"status_code": 429, "headers": {"Retry-After": header}, "json": {"error": {"code": "TooManyRequests"}}}
        mocker.get(f"{GRAPH}/v1.0/users", **busy)
        mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", **busy)
        source = SourceDynamics365Cc(catalog.build(), config(), state)
        output = read(source, config(), catalog.build(), state)
    assert time.monotonic() - started < 30
    told = [error.trace.error for error in output.errors if "longer than the 5 minutes" in error.trace.error.message]
    assert told and all(error.failure_type == FailureType.transient_error for error in told)
    states = [message.state.stream.stream_state.__dict__ for message in output.state_messages]
    assert states and all(state == {"createdDateTime": saved} for state in states)


@pytest.mark.parametrize("header", ["0", "0.0", "-5", "Thu, 01 Jan 1970 00:00:00 -0000"])
def test_a_retry_after_of_zero_is_a_wait_the_cdk_obeys_not_no_opinion(header):
    """The CDK takes a backoff of 0 for "none given" and waits its own exponential default (up to 15 minutes)
    instead; Graph's "ask again now" must stay a short wait, the CDK's extra second included."""
    wait = RetryAfterBackoff(RESUME_NOTE).backoff_time(response(429, header), 7)
    assert wait and wait <= MIN_BACKOFF_SECONDS


def test_a_sync_told_retry_after_zero_asks_again_after_a_second(monkeypatch):
    sleeps: list = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=sleeps.append))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cfg = config(start_date=format_instant(now - timedelta(minutes=50)), max_concurrency=1)
    busy = {"status_code": 429, "headers": {"Retry-After": "0"}, "json": {"error": {"code": "TooManyRequests"}}}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", [busy, busy, {"json": {"value": []}}])
        output = read_streams(cfg, ("sign_ins", SyncMode.incremental))
    assert not output.errors
    assert len(sleeps) == 2 and all(1 < sleep <= 1 + MIN_BACKOFF_SECONDS for sleep in sleeps)
