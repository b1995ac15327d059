"""The sign-in throttle policy: a shared sliding window, Retry-After for every worker, backoff."""

import threading

import requests

from source_dynamics365_cc.throttle import (
    GraphApiBudget,
    RetryAfterBackoff,
    SlidingWindowPacer,
    is_sign_in_request,
    retry_after_seconds,
)


class FakeClock:
    """Time that moves only when someone sleeps, so pacing is exact and instant to test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


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


def test_budget_paces_only_sign_in_requests_and_pauses_on_429():
    clock = FakeClock()
    pacer = SlidingWindowPacer(1, window=10, margin=0, clock=clock, sleep=clock.sleep)
    budget = GraphApiBudget(pacer, is_sign_in_request)
    users = request("https://graph.example.test/v1.0/users")
    sign_ins = request("https://graph.example.test/v1.0/auditLogs/signIns?$top=999")
    for _ in range(3):
        budget.acquire_call(users)
    assert clock.now == 0
    budget.update_from_response(sign_ins, response(429, "4.5"))
    budget.acquire_call(sign_ins)
    assert clock.now == 4.5


def test_backoff_prefers_retry_after_then_grows_exponentially_with_a_cap():
    backoff = RetryAfterBackoff()
    assert backoff.backoff_time(response(503, "1.5"), 1) == 1.5
    assert backoff.backoff_time(response(500), 1) == 2
    assert backoff.backoff_time(response(500), 3) == 8
    assert backoff.backoff_time(requests.ConnectionError(), 10) == 60
