"""progress.py: row estimates for the platform and progress lines at most every 30 s (fake clock, no process)."""

import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import requests
import requests_mock
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.graph.answers import GraphErrorHandler
from source_dynamics365_cc.graph.progress import ReadProgress, counted_estimate, remaining
from source_dynamics365_cc.signins.density import NewestPage
from source_dynamics365_cc.signins.windows import WindowSizer
from source_dynamics365_cc.streams.restarts import RESUME_NOTE
from testing.graph_fakes import config

END = datetime(2026, 12, 1, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repository() -> InMemoryMessageRepository:
    return InMemoryMessageRepository()


def progress_for(clock: FakeClock, repository: InMemoryMessageRepository) -> ReadProgress:
    return ReadProgress("sign_ins", None, repository, logging.getLogger("airbyte"), clock=clock)


def finish_window(progress: ReadProgress, clock: FakeClock, at: float, records: int) -> None:
    clock.now = 1000.0 + at
    for _ in range(records):
        progress.record()
    progress.window_done()


def test_progress_lines_come_at_most_every_30_seconds_and_stop_with_the_last_window(clock, repository, caplog):
    progress = progress_for(clock, repository)
    progress.start(5)
    with caplog.at_level(logging.INFO, logger="airbyte"):
        for at in (10, 31, 45, 62, 70):
            finish_window(progress, clock, at, 999)
        clock.now += 600
    assert [record.getMessage() for record in caplog.records] == [
        "sign_ins: window 2 of 5 done, 1,998 records so far, about 46 s left at the current rate.",
        "sign_ins: window 4 of 5 done, 3,996 records so far, about 16 s left at the current rate.",
    ]


def test_a_read_shorter_than_30_seconds_logs_no_progress(clock, repository, caplog):
    progress = progress_for(clock, repository)
    progress.start(3)
    with caplog.at_level(logging.INFO, logger="airbyte"):
        for at in (5, 12, 29):
            finish_window(progress, clock, at, 10)
    assert caplog.records == []


def test_the_estimate_is_an_airbyte_estimate_trace_of_type_stream(clock, repository):
    progress_for(clock, repository).estimate(12_345)
    [message] = list(repository.consume_queue())
    assert message.trace.type.value == "ESTIMATE"
    assert (message.trace.estimate.name, message.trace.estimate.type.value) == ("sign_ins", "STREAM")
    assert message.trace.estimate.row_estimate == 12_345


def counting_stream(answer):
    """A stream whose `count()` answers `answer` (a status and body), or raises it."""

    def count():
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, response._content = answer
        return response

    return SimpleNamespace(name="users", namespace=None, count=count)


def test_a_count_graph_answers_becomes_the_users_estimate():
    [message] = list(counted_estimate(counting_stream((200, b"1234")), logging.getLogger("airbyte")))
    assert (message.trace.estimate.name, message.trace.estimate.row_estimate) == ("users", 1234)


@pytest.mark.parametrize("answer", [(400, b'{"error": {}}'), AirbyteTracedException("denied")])
def test_a_count_graph_refuses_leaves_the_estimate_out_with_a_note(answer, caplog):
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert list(counted_estimate(counting_stream(answer), logging.getLogger("airbyte"))) == []
    assert "users: no row estimate, Microsoft Graph did not count" in caplog.text


def test_the_probe_estimate_is_the_newest_pages_count_for_each_page_the_range_holds():
    newest = NewestPage(records=999, oldest=END - timedelta(days=1), more=True)
    assert newest.estimated_records(END - timedelta(days=10), END) == 9_990
    assert NewestPage(records=42, oldest=END - timedelta(days=1), more=False).estimated_records(END, END) == 42


def test_the_window_sizer_reports_the_probes_estimate():
    heard = []
    newest = NewestPage(records=999, oldest=END - timedelta(days=3), more=True)
    sizer = WindowSizer(
        END, parse_config(config()), lambda start, end: newest, logging.getLogger("airbyte"), on_estimate=heard.append
    )
    sizer(END - timedelta(days=30))
    assert heard == [9_990]


def graph_answer(path: str, body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = 200, body
    response.headers["Content-Type"] = content_type
    response.request = requests.Request("GET", f"https://graph.microsoft.com{path}").prepare()
    return response


def test_a_page_holding_a_null_among_its_records_is_malformed_and_fetched_again():
    handler = GraphErrorHandler(logging.getLogger("airbyte"), RESUME_NOTE)
    answer = handler.interpret_response(
        graph_answer("/v1.0/users", b'{"value": [{"id": "u1"}, null]}', "application/json")
    )
    assert answer.response_action.value == "RETRY" and "malformed page" in answer.error_message


def test_a_body_a_proxy_corrupted_is_fetched_again_with_a_sentence_for_when_retries_run_out():
    handler = GraphErrorHandler(logging.getLogger("airbyte"), RESUME_NOTE)
    answer = handler.interpret_response(requests.exceptions.ContentDecodingError("incorrect header check"))
    assert answer.response_action.value == "RETRY" and "arrived corrupted" in answer.error_message


@pytest.mark.parametrize("seconds,text", [(0.4, "0 s"), (40, "40 s"), (200, "3 min 20 s"), (3900, "1 h 5 min")])
def test_time_left_reads_like_a_person_says_it(seconds, text):
    assert remaining(seconds) == text


def test_the_users_estimate_gets_one_request_and_no_wait_when_the_count_answers_503(monkeypatch, caplog):
    from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
    from source_dynamics365_cc.streams import Users
    from testing.graph_fakes import GRAPH, register_login

    sleeps = []
    monkeypatch.setattr("time.sleep", sleeps.append)  # the CDK's retries wait through time.sleep
    parsed = parse_config(config(roster_scope="all_users"))
    stream = Users(parsed, GraphAuthenticator(GraphTokenProvider(parsed, sleep=sleeps.append)))
    with requests_mock.Mocker() as mocker, caplog.at_level(logging.INFO, logger="airbyte"):
        register_login(mocker)
        count = mocker.get(
            f"{GRAPH}/v1.0/users/$count", status_code=503, json={"error": {"code": "serviceNotAvailable"}}
        )
        assert list(counted_estimate(stream, logging.getLogger("airbyte"))) == []
    assert count.call_count == 1 and sleeps == []
    assert "users: no row estimate, Microsoft Graph did not count (HTTP 503); reading on without one" in caplog.text


def test_the_sign_in_estimate_is_refined_as_windows_finish_when_the_log_starts_inside_the_range(clock, repository):
    """A 29-day range whose log holds only the newest 12 days: the probe's first estimate is 29 days' worth; the
    empty windows before the log's start bring it down to what the rest are expected to hold."""
    progress = progress_for(clock, repository)
    days = [(f"d{day:02}", f"d{day + 1:02}") for day in range(29)]
    progress.estimate(29_000)
    progress.expect({window: 1000.0 for window in days})
    progress.start(len(days))
    for window in days[:17]:  # before the log's start: nothing
        progress.window_done(window)
    shown = [message.trace.estimate.row_estimate for message in repository.consume_queue()]
    assert shown[0] == 29_000 and abs(shown[-1] - 12_000) <= 0.10 * 12_000


def test_a_refined_estimate_is_sent_only_when_it_moves_by_more_than_ten_percent(clock, repository):
    progress = progress_for(clock, repository)
    progress.estimate(2_000)
    progress.expect({("a", "b"): 1000.0, ("b", "c"): 1000.0})
    progress.start(2)
    for _ in range(950):
        progress.record(("a", "b"))
    progress.window_done(("a", "b"))
    assert len(list(repository.consume_queue())) == 1, "1,950 is within 10% of 2,000: nothing new to show"


def test_a_newest_page_spreads_its_density_over_the_windows_it_reaches():
    newest = NewestPage(records=100, oldest=END - timedelta(days=1), more=False)
    assert newest.records_in(END - timedelta(days=3), END - timedelta(days=2), END) == 0.0
    assert newest.records_in(END - timedelta(hours=12), END, END) == pytest.approx(50.0)
    dense = NewestPage(records=100, oldest=END - timedelta(days=1), more=True)
    assert dense.records_in(END - timedelta(days=3), END - timedelta(days=2), END) == pytest.approx(100.0)
