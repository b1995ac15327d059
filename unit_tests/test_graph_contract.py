"""What Graph may answer beyond the happy path: ignored clauses, records without keys, refused filters, retention."""

import email.utils
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Sequence
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.mock_http import HttpRequest

from source_dynamics365_cc.signins.instants import format_instant, parse_ticks
from testing.graph_fakes import (
    GRAPH,
    config,
    fake_runtime,
    graph_error,
    page,
    read_streams,
    register_login,
    register_user_count,
)
from testing.graph_requests import (
    DYNAMICS_365_APPS,
    json_response,
    login,
    next_page_request,
    page_response,
    sign_ins_request,
)

SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"
USERS = f"{GRAPH}/v1.0/users"
DYNAMICS = "00000007-0000-0000-c000-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def recent_config(**overrides):
    """Fifty minutes: one window, no density probe, so each fake answer is one query's."""
    return config(start_date=format_instant(NOW - timedelta(minutes=50)), max_concurrency=1, **overrides)


PINNED = replace(fake_runtime(), now=lambda: NOW)  # a read's windows end at NOW


def recent_window(apps: Sequence[str] = DYNAMICS_365_APPS) -> HttpRequest:
    """recent_config's one window on the PINNED clock: from fifty minutes before NOW to NOW's last tick before."""
    last = format_instant(NOW - timedelta(seconds=1)).rstrip("Z") + ".9999999Z"
    return sign_ins_request(format_instant(NOW - timedelta(minutes=50)), last, apps, top=999)


def sign_in(record_id: str, minutes_ago: float, app_id: str = DYNAMICS) -> dict:
    return {"id": record_id, "createdDateTime": format_instant(NOW - timedelta(minutes=minutes_ago)), "appId": app_id}


def filters(mocker) -> list[str]:
    return [
        parse_qs(urlsplit(r.url).query).get("$filter", [""])[0] for r in mocker.request_history if SIGN_INS in r.url
    ]


def warnings(output) -> list[str]:
    return [log.log.message for log in output.logs if log.log.level.value == "WARN"]


def final_cursor(output) -> str:
    return output.most_recent_state.stream_state.__dict__["createdDateTime"]


def test_sign_ins_of_an_application_the_query_excluded_are_dropped_counted_and_never_move_the_cursor():
    """Graph ignored the application clause: Exchange sign-ins, one of them the newest of all, come back too."""
    answer = page([sign_in("exchange-newest", 5, EXCHANGE), sign_in("dyn", 30), sign_in("exchange", 40, EXCHANGE)])
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=answer)
        output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental))

    assert [r.record.data["id"] for r in output.records] == ["dyn"]
    assert parse_ticks(final_cursor(output)) == parse_ticks(sign_in("dyn", 30)["createdDateTime"])
    dropped = [w for w in warnings(output) if "dropped" in w]
    assert len(dropped) == 1 and "dropped 2 records" in dropped[0] and "'appId eq'/'resourceId eq'" in dropped[0]


def test_sign_ins_outside_the_window_are_dropped_and_name_the_createdDateTime_clause():
    answer = page([sign_in("future", -60), sign_in("dyn", 30), sign_in("too-old", 60 * 24 * 2)])
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=answer)
        output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental))

    assert [r.record.data["id"] for r in output.records] == ["dyn"]
    assert any("dropped 2 records outside the createdDateTime window" in w for w in warnings(output))


def test_a_sign_in_without_a_valid_createdDateTime_is_skipped_with_a_warning_not_a_crash():
    broken = [{"id": "none", "appId": DYNAMICS}, {"id": "text", "createdDateTime": "yesterday", "appId": DYNAMICS}]
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=page([sign_in("ok", 10), *broken]))
        output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental))

    assert [r.record.data["id"] for r in output.records] == ["ok"] and not output.errors
    assert any("dropped 2 records without a valid createdDateTime" in w for w in warnings(output))


def test_a_user_without_an_id_is_skipped_with_a_warning():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page([{"id": "u1"}, {"userPrincipalName": "ghost@contoso.com"}, {"id": ""}]))
        output = read_streams(config(), ("users", SyncMode.full_refresh))

    assert [r.record.data["id"] for r in output.records] == ["u1"] and not output.errors
    assert any("users: dropped 2 records without an id" in w for w in warnings(output))


def test_a_400_on_a_next_link_fails_with_graphs_message_and_is_never_taken_for_a_refused_or(http_mocker):
    login(http_mocker)
    window, second = recent_window(), next_page_request(f"{SIGN_INS}?$skiptoken=2")
    http_mocker.get(window, page_response([sign_in("a", 10)], f"{SIGN_INS}?$skiptoken=2"))
    http_mocker.get(second, json_response(graph_error("BadRequest", "Invalid filter clause"), 400))
    output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental), runtime=PINNED)

    assert any("Invalid filter clause" in error.trace.error.message for error in output.errors)
    assert len(output.errors) == 2, "the stream's error and the sync's summary: no split query failed beside them"
    http_mocker.assert_number_of_calls(window, 1)  # the window was not read again as split queries
    http_mocker.assert_number_of_calls(second, 1)
    assert not any("refused 'or'" in w for w in warnings(output))
    assert (
        all(final_cursor(message) is None for message in [])
        or not output.state_messages
        or (parse_ticks(final_cursor(output)) < parse_ticks(sign_in("a", 10)["createdDateTime"]))
    )


def test_a_refused_filter_without_or_fails_with_graphs_message_instead_of_splitting(http_mocker):
    login(http_mocker)
    window = recent_window(apps=())
    http_mocker.get(window, json_response(graph_error("BadRequest", "Invalid filter clause"), 400))
    output = read_streams(recent_config(sign_in_app_ids=[]), ("sign_ins", SyncMode.incremental), runtime=PINNED)

    expected = "rejected the sign-in query (400 BadRequest): Invalid filter clause"
    assert any(expected in error.trace.error.message for error in output.errors)
    assert len(output.errors) == 2, "the stream's error and the sync's summary: no split query failed beside them"
    http_mocker.assert_number_of_calls(window, 1)


def test_a_start_past_retention_by_graphs_clock_moves_forward_with_a_warning_and_reads_on():
    """This machine's clock is 20 minutes behind Graph's: the default start (30 days back) is already too old."""
    graph_now = datetime.now(timezone.utc) + timedelta(minutes=20)
    edge = graph_now - timedelta(days=30)

    def graph(request, context):
        context.headers["Date"] = email.utils.format_datetime(graph_now, usegmt=True)
        text = parse_qs(urlsplit(request.url).query)["$filter"][0]
        start = text.split("createdDateTime ge ")[1].split(" ")[0]
        if parse_ticks(start) < parse_ticks(format_instant(edge)):
            context.status_code = 400
            return graph_error("BadRequest", "Invalid filter clause")
        return page([])

    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=graph)
        output = read_streams(config(max_concurrency=1), ("sign_ins", SyncMode.incremental))

    assert not output.errors
    moved = [w for w in warnings(output) if "past Entra's retention by Graph's clock" in w]
    assert len(moved) == 1
    refused, *accepted = filters(mocker)
    assert accepted and all("createdDateTime ge" in text for text in accepted)


def test_users_configured_incremental_as_pyairbyte_does_are_read_in_full_with_one_info_line():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page([{"id": "u1"}, {"id": "u2"}]))
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([{"id": "s1", "skuId": "x"}]))
        output = read_streams(config(), ("users", SyncMode.incremental), ("subscribed_skus", SyncMode.incremental))

    assert sorted(r.record.data["id"] for r in output.records) == ["s1", "u1", "u2"] and not output.errors
    infos = [log.log.message for log in output.logs if "supports only full refresh" in log.log.message]
    assert len(infos) == 2


def test_the_state_never_passes_a_lookback_window_that_has_not_finished():
    """Cursor an hour ago, three hours of lookback: four one-hour windows, the first three inside the saved range.
    The newer ones finish; the oldest lookback window then fails. The state must stay at the saved cursor, so the
    next sync reads that window again (the CDK alone would merge the finished ones into the saved range)."""
    import time

    from airbyte_cdk.test.state_builder import StateBuilder

    saved = format_instant(NOW - timedelta(hours=1))
    lookback_start = NOW - timedelta(hours=4)

    def graph(request, context):
        start = parse_qs(urlsplit(request.url).query)["$filter"][0].split("createdDateTime ge ")[1].split(" ")[0]
        if parse_ticks(start) <= parse_ticks(format_instant(lookback_start + timedelta(seconds=1))):
            time.sleep(1.5)  # the newer window finishes first
            context.status_code = 403
            return graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        return page([sign_in("newer", 10)])

    state = StateBuilder().with_stream_state("sign_ins", {"createdDateTime": saved}).build()
    cfg = config(start_date=format_instant(NOW - timedelta(days=2)), max_concurrency=4, lookback_window_minutes=180)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=graph)
        output = read_streams(cfg, ("sign_ins", SyncMode.incremental), state=state)

    assert [r.record.data["id"] for r in output.records] == ["newer"] and output.errors
    cursors = [m.state.stream.stream_state.__dict__["createdDateTime"] for m in output.state_messages]
    assert cursors and all(parse_ticks(cursor) <= parse_ticks(saved) for cursor in cursors)


def test_a_sync_of_every_stream_builds_them_once_and_asks_entra_for_one_token():
    with requests_mock.Mocker() as mocker:
        token_endpoint = register_login(mocker, tokens=2)
        register_user_count(mocker)
        mocker.get(USERS, json=page([{"id": "u1"}]))
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([{"id": "s1", "skuId": "x"}]))
        mocker.get(SIGN_INS, json=page([sign_in("dyn", 10)]))
        output = read_streams(
            recent_config(),
            ("users", SyncMode.full_refresh),
            ("sign_ins", SyncMode.incremental),
            ("subscribed_skus", SyncMode.full_refresh),
        )

    assert sorted(r.record.data["id"] for r in output.records) == ["dyn", "s1", "u1"] and not output.errors
    assert token_endpoint.call_count == 1


def test_a_sign_in_without_an_id_is_dropped_counted_and_not_emitted_again_after_a_page_token_restart():
    """The id-less sign-in lies behind the oldest one emitted, so the restarted query returns it again."""
    nameless = {"createdDateTime": format_instant(NOW - timedelta(minutes=20)), "appId": DYNAMICS}
    first = page([sign_in("a", 10), nameless], f"{SIGN_INS}?$skiptoken=2")
    expired = {"status_code": 400, "json": graph_error("Directory_ExpiredPageToken", "expired")}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, [{"json": first}, expired, {"json": page([nameless, {**nameless, "id": ""}])}])
        output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental))

    assert [r.record.data.get("id") for r in output.records] == ["a"] and not output.errors
    assert any("sign_ins: dropped 3 records without an id" in w for w in warnings(output))


@pytest.fixture
def cdk_sleeps(monkeypatch) -> list:
    """The CDK's HttpClient sleeps between retries in its rate_limiting module: record instead of waiting."""
    sleeps: list = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.mark.parametrize("body", [{}, {"value": None}, {"@odata.nextLink": f"{SIGN_INS}?$skiptoken=2"}])
def test_a_page_without_a_value_list_is_fetched_again_like_a_malformed_page(cdk_sleeps, body, http_mocker):
    login(http_mocker)
    window = recent_window()
    http_mocker.get(window, [json_response(body), page_response([sign_in("a", 10)])])
    output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental), runtime=PINNED)

    assert [r.record.data["id"] for r in output.records] == ["a"] and not output.errors
    http_mocker.assert_number_of_calls(window, 2)
    assert len(cdk_sleeps) == 1


def test_a_page_that_stays_without_a_value_list_fails_clearly_and_never_moves_the_cursor(cdk_sleeps, http_mocker):
    start = recent_config()["start_date"]
    login(http_mocker)
    window = recent_window()
    http_mocker.get(window, json_response({"value": None}))
    output = read_streams(recent_config(), ("sign_ins", SyncMode.incremental), runtime=PINNED)

    assert not output.records
    http_mocker.assert_number_of_calls(window, 9)  # the first try and 8 retries
    message = output.errors[0].trace.error.message
    assert "malformed page" in message and "without its 'value' list" in message
    cursors = [state.state.stream.stream_state.__dict__.get("createdDateTime") for state in output.state_messages]
    assert all(parse_ticks(cursor) <= parse_ticks(start) for cursor in cursors if cursor)
