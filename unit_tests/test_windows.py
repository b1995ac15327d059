"""How the sign-in range is cut: by volume after one probe page for a long range, by time for a short one."""

import math
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.signins.instants import MICROSECOND, format_instant, parse_instant, parse_ticks
from source_dynamics365_cc.signins.windows import (
    PAGES_PER_WINDOW,
    even_step,
    time_windows,
    volume_windows,
    worth_probing,
)
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, page, register_login, sign_ins_in_window

SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"
BOUND = re.compile(r"createdDateTime (ge|le) (\S+)")
PROBE_WARNING = "Could not size the sign-in windows by volume"
DAYS = 10


def ten_days_config() -> dict:
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=DAYS)
    return config(start_date=start.strftime("%Y-%m-%dT%H:%M:%SZ"), sign_in_app_ids=[])


def sign_ins_catalog():
    return CatalogBuilder().with_stream("sign_ins", SyncMode.incremental).build()


def read_sign_ins(mocker: requests_mock.Mocker, answers: list[dict], cfg: dict, state=None) -> EntrypointOutput:
    """A read of sign_ins alone; `answers` are requests-mock responses for the sign-in requests, in turn."""
    register_login(mocker)
    mocker.get(SIGN_INS, answers)
    catalog = sign_ins_catalog()
    return read(SourceDynamics365Cc(catalog, cfg, state, fake_runtime()), cfg, catalog, state)


def bounds(mocker: requests_mock.Mocker) -> list[tuple[datetime, datetime]]:
    """(ge, lt) of every sign-in request, in the order they were sent."""
    found = []
    for request in mocker.request_history:
        if "/auditLogs/signIns" in request.url:
            clauses = dict(BOUND.findall(parse_qs(urlsplit(request.url).query)["$filter"][0]))
            found.append((parse_instant(clauses["ge"]), exclusive_end(clauses["le"])))
    return found


def exclusive_end(last: str) -> datetime:
    """The window's end from its `le` tick, which must be the last 100-ns tick before a microsecond."""
    assert parse_ticks(last) % 10 == 9, last
    return parse_instant(last) + MICROSECOND


def contiguous(windows: list[tuple[datetime, datetime]]) -> bool:
    ordered = sorted(windows)
    return all(end == start for (_, end), (start, _) in zip(ordered, ordered[1:]))


def probe_then_empty(span: timedelta, more: bool = True):
    """The first request (the probe) gets 999 sign-ins spread evenly over the newest `span` of its range; every
    later one (a window) an empty page."""
    calls = []

    def respond(request, context):
        calls.append(request.url)
        if len(calls) > 1:
            return page([])
        end = exclusive_end(BOUND.findall(parse_qs(urlsplit(request.url).query)["$filter"][0])[1][1])
        step = span / 999
        records = [{"id": f"p{n}", "createdDateTime": format_instant(end - step * (n + 1))} for n in range(999)]
        return page(records, f"{SIGN_INS}?$skiptoken=next" if more else None)

    return respond


def window_requests(span: timedelta) -> list[tuple[datetime, datetime]]:
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(mocker, [{"json": probe_then_empty(span)}], ten_days_config())
    assert output.errors == []
    probe, *windows = bounds(mocker)
    assert contiguous(windows) and min(windows)[0] == probe[0] and max(windows)[1] == probe[1]
    return windows


def test_a_short_range_is_cut_by_time_without_a_probe():
    """The hourly incremental sync: cursor an hour ago, one hour of lookback, two one-hour windows, no probe."""
    now = datetime.now(timezone.utc)
    records = [{"id": "s1", "createdDateTime": format_instant(now - timedelta(minutes=10)), "appId": "a"}]
    state = StateBuilder().with_stream_state("sign_ins", {"createdDateTime": format_instant(now - timedelta(hours=1))})
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(
            mocker, [{"json": sign_ins_in_window(records)}], config(sign_in_app_ids=[]), state.build()
        )
    windows = bounds(mocker)

    assert [r.record.data["id"] for r in output.records] == ["s1"]
    assert len(windows) == 2 and contiguous(windows)
    assert min(windows)[0] == parse_instant(format_instant(now - timedelta(hours=2)))


def test_a_dense_range_gets_more_and_shorter_windows_than_a_sparse_one():
    """Ten days; the newest 999 sign-ins span 31 minutes (about 465 pages in range) or two and a half days (4 pages)."""
    dense = window_requests(timedelta(minutes=31))
    sparse = window_requests(timedelta(days=2.5))

    assert len(dense) == math.ceil(DAYS * 24 * 60 / 31 / PAGES_PER_WINDOW) > time_windows(timedelta(days=DAYS), 3)
    assert len(sparse) == 1
    assert max(end - start for start, end in dense) < min(end - start for start, end in sparse)


def test_a_range_that_fits_one_page_is_read_in_one_window():
    now = datetime.now(timezone.utc)
    records = [
        {"id": f"s{n}", "createdDateTime": format_instant(now - timedelta(days=n + 1)), "appId": "a"} for n in range(3)
    ]
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(mocker, [{"json": sign_ins_in_window(records)}], ten_days_config())
    probe, window = bounds(mocker)

    assert probe == window
    assert sorted(r.record.data["id"] for r in output.records) == ["s0", "s1", "s2"]


def test_a_failing_probe_falls_back_to_time_windows_with_one_warning():
    answers = [{"status_code": 400, "json": graph_error("BadRequest", "Invalid filter clause")}, {"json": page([])}]
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(mocker, answers, ten_days_config())
    probe, *windows = bounds(mocker)
    warnings = [log.log.message for log in output.logs if PROBE_WARNING in log.log.message]

    assert output.errors == []
    assert len(warnings) == 1 and "Invalid filter clause" in warnings[0]
    assert len(windows) == time_windows(timedelta(days=DAYS), 3) and contiguous(windows)
    assert (min(windows)[0], max(windows)[1]) == probe


def test_a_refused_or_sends_the_probe_to_time_windows_and_each_window_to_one_query_per_term():
    def refuse_or(request, context):
        if " or " in parse_qs(urlsplit(request.url).query)["$filter"][0]:
            context.status_code = 400
            return graph_error("BadRequest", "Invalid filter clause")
        return page([])

    cfg = {**ten_days_config(), "sign_in_app_ids": ["00000007-0000-0000-c000-000000000000"]}
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(mocker, [{"json": refuse_or}], cfg)
    filters = [parse_qs(urlsplit(r.url).query)["$filter"][0] for r in mocker.request_history if "signIns" in r.url]
    single_term = [text for text in filters if " or " not in text]

    assert output.errors == []
    assert any(PROBE_WARNING in log.log.message for log in output.logs)
    assert len(single_term) == 2 * time_windows(timedelta(days=DAYS), 3)


def test_a_failing_probe_never_hides_the_error_the_read_then_meets():
    answer = {"status_code": 403, "json": graph_error("Authorization_RequestDenied", "Insufficient privileges.")}
    with requests_mock.Mocker() as mocker:
        output = read_sign_ins(mocker, [answer], ten_days_config())

    assert any(PROBE_WARNING in log.log.message for log in output.logs)
    assert output.errors and "AuditLog.Read.All" in output.errors[0].trace.error.message


def test_building_the_streams_and_discover_send_no_sign_in_request():
    cfg = ten_days_config()
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        connector = SourceDynamics365Cc(sign_ins_catalog(), cfg, None)
        connector.streams(cfg)
        catalog = discover(connector, cfg)

    assert catalog.catalog.catalog.streams
    assert not [r for r in mocker.request_history if "/auditLogs/signIns" in r.url]


@pytest.mark.parametrize(
    ("hours", "workers", "probes"),
    [
        (2.1, 3, False),
        (3.5, 3, False),
        (4.5, 3, True),
        (2.5, 1, False),
        (3.5, 1, True),
        (5.5, 8, False),
        (7.5, 8, True),
    ],
)
def test_only_a_range_the_time_rule_cuts_into_more_windows_than_can_start_at_once_is_probed(hours, workers, probes):
    assert worth_probing(time_windows(timedelta(hours=hours), workers), workers, 5) is probes


@pytest.mark.parametrize(
    ("pages", "windows"),
    [(0.0, 1), (1.0, 1), (4.9, 1), (10, 2), (30, 3), (100, 5), (101, 6), (480, 24), (2000, 100), (259_200, 100)],
)
def test_windows_hold_about_twenty_pages_feed_every_worker_that_gets_five_and_stop_at_a_hundred(pages, windows):
    assert volume_windows(pages, 3) == windows


def test_equal_windows_leave_no_sliver_behind():
    span = timedelta(days=29, microseconds=7)
    step = even_step(span, 12)

    assert step * 11 < span <= step * 12
