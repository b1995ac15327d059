"""A whole read through the real entrypoint, against requests-mock: records, paging, state."""

import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.signins.instants import format_instant
from testing.graph_fakes import (
    GRAPH,
    config,
    fake_runtime,
    page,
    register_login,
    register_user_count,
    sign_ins_in_window,
)

SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"


def catalog(*streams):
    builder = CatalogBuilder()
    for name, mode in streams:
        builder.with_stream(name, mode)
    return builder.build()


def sign_in(number: int, moment: datetime) -> dict:
    return {
        "id": f"s{number}",
        "createdDateTime": format_instant(moment),
        "appId": "00000007-0000-0000-c000-000000000000",
    }


def run_read(cfg, cat, state=None):
    source = SourceDynamics365Cc(cat, cfg, state)
    return read(source, cfg, cat, state)


def test_users_pages_are_followed_through_next_link_verbatim():
    next_link = f"{GRAPH}/v1.0/users?$select=id&$top=500&$skiptoken=abc%20def"
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(f"{GRAPH}/v1.0/users", [{"json": page([{"id": "u1"}], next_link)}, {"json": page([{"id": "u2"}])}])
        output = run_read(config(), catalog(("users", SyncMode.full_refresh)))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2"]
    history = [r.url for r in mocker.request_history if urlsplit(r.url).path == "/v1.0/users"]  # not /users/$count
    assert history[1] == next_link
    query = parse_qs(urlsplit(history[0]).query)
    assert query["$top"] == ["500"] and "signInActivity" in query["$select"][0]


def test_sign_ins_incremental_read_emits_records_and_state_at_the_newest_record():
    now = datetime.now(timezone.utc)
    newest = now - timedelta(minutes=30)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, json=sign_ins_in_window([sign_in(2, newest), sign_in(1, newest - timedelta(minutes=5))]))
        state_cursor = format_instant(now - timedelta(hours=2))
        state = StateBuilder().with_stream_state("sign_ins", {"createdDateTime": state_cursor}).build()
        output = run_read(config(), catalog(("sign_ins", SyncMode.incremental)), state)
    assert sorted(r.record.data["id"] for r in output.records) == ["s1", "s2"]
    final = output.most_recent_state.stream_state.__dict__
    assert final["createdDateTime"] == format_instant(newest)
    filters = [parse_qs(urlsplit(r.url).query)["$filter"][0] for r in mocker.request_history if "signIns" in r.url]
    assert len(filters) >= 3  # three hours (and the milliseconds since `now`) in one-hour windows
    assert min(filters).startswith(f"createdDateTime ge {format_instant(now - timedelta(hours=3))}")


def test_a_next_link_that_repeats_the_current_page_stops_the_stream():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/users", json=page([{"id": "u1"}], f"{GRAPH}/v1.0/users?$select=x"))
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([{"skuId": "k"}], f"{GRAPH}/v1.0/subscribedSkus"))
        output = run_read(config(), catalog(("subscribed_skus", SyncMode.full_refresh)))
    assert "same page link twice" in output.errors[0].trace.error.message


def test_reading_an_incremental_users_stream_in_full_leaves_the_callers_catalog_as_configured():
    configured = catalog(("users", SyncMode.incremental))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(f"{GRAPH}/v1.0/users", json=page([{"id": "u1"}]))
        source = SourceDynamics365Cc(configured, config(), None, fake_runtime())
        messages = list(source.read(logging.getLogger("test"), config(), configured))
    assert [message.record.data["id"] for message in messages if message.record] == ["u1"]
    assert configured.streams[0].sync_mode == SyncMode.incremental


def test_a_next_link_cycle_longer_than_one_page_fails_the_query_naming_the_stream():
    """First page, A, B, A...: each link differs from the page it came on, so only the links seen so far reveal the
    cycle. The fake stops cycling after a few rounds, so a connector that misses it ends without an error."""
    link_a, link_b = f"{GRAPH}/v1.0/users?$skiptoken=a", f"{GRAPH}/v1.0/users?$skiptoken=b"
    cycle = [page([{"id": "u1"}], link_b), page([{"id": "u2"}], link_a)]
    answers = [page([{"id": "u0"}], link_a), *cycle * 3, page([{"id": "u3"}])]
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(f"{GRAPH}/v1.0/users", [{"json": answer} for answer in answers])
        output = run_read(config(), catalog(("users", SyncMode.full_refresh)))
    assert [r.record.data["id"] for r in output.records] == ["u0", "u1", "u2"]
    pages = [r.url for r in mocker.request_history if urlsplit(r.url).path == "/v1.0/users"]  # not /users/$count
    assert len(pages) == 3  # the first page, A and B; A is never asked for again
    message = output.errors[0].trace.error.message
    assert "repeated a page link" in message and "users stream" in message
