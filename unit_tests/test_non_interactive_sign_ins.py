"""non_interactive_sign_ins: Graph beta's non-interactive sign-ins, opt-in, read like sign_ins with its own state."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover
from airbyte_cdk.test.mock_http import HttpRequest

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.signins.instants import format_instant
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, page, read_streams, register_login
from testing.graph_requests import DYNAMICS_365_APPS, json_response, login, page_response, sign_ins_request

BETA_SIGN_INS = f"{GRAPH}/beta/auditLogs/signIns"
V1_SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"
DYNAMICS = "00000007-0000-0000-c000-000000000000"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


PINNED = replace(fake_runtime(), now=lambda: NOW)  # a read's windows end at NOW


def opted_in(**overrides):
    return config(
        include_non_interactive_sign_ins=True,
        start_date=format_instant(NOW - timedelta(minutes=50)),
        max_concurrency=1,
        **overrides,
    )


def sign_in(record_id: str, minutes_ago: float, kinds=("nonInteractiveUser",), app_id=DYNAMICS) -> dict:
    stamp = format_instant(NOW - timedelta(minutes=minutes_ago))
    return {"id": record_id, "createdDateTime": stamp, "appId": app_id, "signInEventTypes": list(kinds)}


def offered(cfg) -> dict:
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        catalog = discover(SourceDynamics365Cc(None, cfg, None), cfg).catalog.catalog
    return {stream.name: stream for stream in catalog.streams}


def test_the_stream_is_offered_only_when_the_user_opts_in():
    assert "non_interactive_sign_ins" not in offered(config())
    stream = offered(opted_in())["non_interactive_sign_ins"]
    assert SyncMode.incremental in stream.supported_sync_modes and stream.default_cursor_field == ["createdDateTime"]
    assert {"signInEventTypes", "incomingTokenType", "userType", "authenticationRequirement"} <= set(
        stream.json_schema["properties"]
    )


def beta_window(apps=DYNAMICS_365_APPS, term: str | None = None) -> HttpRequest:
    """opted_in's one window of beta's non-interactive sign-ins on the PINNED clock (`le` its last tick, no `lt`)."""
    last = format_instant(NOW - timedelta(seconds=1)).rstrip("Z") + ".9999999Z"
    start = format_instant(NOW - timedelta(minutes=50))
    return sign_ins_request(start, last, apps, top=999, term=term, non_interactive=True)


def test_it_reads_beta_with_the_event_type_and_application_filter_and_keeps_only_non_interactive_sign_ins(
    http_mocker,
):
    answer = [sign_in("n1", 5), sign_in("i1", 6, kinds=("interactiveUser",)), sign_in("n2", 7)]
    login(http_mocker)
    window = beta_window()
    http_mocker.get(window, page_response(answer))
    output = read_streams(opted_in(), ("non_interactive_sign_ins", SyncMode.incremental), runtime=PINNED)

    assert [r.record.data["id"] for r in output.records] == ["n1", "n2"] and not output.errors
    http_mocker.assert_number_of_calls(window, 1)
    assert output.most_recent_state.stream_descriptor.name == "non_interactive_sign_ins"
    assert any("'signInEventTypes/any(...)' clause" in log.log.message for log in output.logs)


def test_a_refused_or_on_beta_falls_back_to_one_query_per_application_term(http_mocker):
    login(http_mocker)
    combined = beta_window(apps=[DYNAMICS])
    split = [beta_window(term=f"{side} eq '{DYNAMICS}'") for side in ("appId", "resourceId")]
    http_mocker.get(combined, json_response(graph_error("BadRequest", "Invalid filter clause"), 400))
    for query in split:
        http_mocker.get(query, page_response([sign_in("n1", 5)]))
    cfg = opted_in(sign_in_app_ids=[DYNAMICS])
    output = read_streams(cfg, ("non_interactive_sign_ins", SyncMode.incremental), runtime=PINNED)

    for query in [combined, *split]:
        http_mocker.assert_number_of_calls(query, 1)
    assert [r.record.data["id"] for r in output.records] == ["n1"], "a sign-in both split queries return, once"
    assert not output.errors


def test_both_sign_in_streams_keep_their_own_state():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(BETA_SIGN_INS, json=page([sign_in("n1", 5)]))
        mocker.get(V1_SIGN_INS, json=page([sign_in("i1", 20, kinds=("interactiveUser",))]))
        output = read_streams(
            opted_in(), ("sign_ins", SyncMode.incremental), ("non_interactive_sign_ins", SyncMode.incremental)
        )

    finals = {
        m.state.stream.stream_descriptor.name: m.state.stream.stream_state.__dict__ for m in output.state_messages
    }
    assert finals["sign_ins"]["createdDateTime"] == sign_in("i1", 20)["createdDateTime"]
    assert finals["non_interactive_sign_ins"]["createdDateTime"] == sign_in("n1", 5)["createdDateTime"]
