"""`dynamics_activity` at the request level (HttpMocker): a query's create is one POST with its JSON body, v1.0 hands
over to beta when it does not know the API, a window's records are read once its query succeeded, each once, the state
holds the queries that run, and a query cut at Purview's record limit is read as two halves, never silently short."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.state_builder import StateBuilder

from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.graph.query import GraphQuery
from source_dynamics365_cc.runtime import Runtime
from source_dynamics365_cc.streams.audit_queries import AuditWindow
from source_dynamics365_cc.streams.dynamics_activity import DynamicsActivity, planned
from testing.graph_fakes import config, graph_error, read_streams
from testing.graph_requests import (
    audit_query_create_request,
    audit_query_request,
    audit_query_response,
    audit_records_request,
    json_response,
    login,
    page_response,
)
from testing.runtime import unpaced_runtime

CRM_ROLES = ["AuditLog.Read.All", "Directory.Read.All", "AuditLogsQuery-CRM.Read.All"]
START = datetime(2026, 12, 1, tzinfo=timezone.utc)
NOW = START + timedelta(hours=20)  # one window: less than a day
FIRST, LAST = "2026-12-01T00:00:00Z", "2026-12-01T20:00:00Z"
ACTIVITY = ("dynamics_activity", SyncMode.incremental)


def activity_config(**settings):
    return config(start_date=FIRST, include_dynamics_activity=True, **settings)


def at_now() -> Runtime:
    return replace(unpaced_runtime(sleep=lambda _seconds: None), now=lambda: NOW)


def record(record_id: str, when: str = "2026-12-01T10:00:00Z") -> dict:
    return {"id": record_id, "createdDateTime": when, "auditLogRecordType": "CRM", "operation": "Retrieve"}


def states(output) -> list[dict]:
    return [dict(vars(m.state.stream.stream_state)) for m in output.state_messages]


def test_a_query_is_a_get_without_a_body_unless_it_says_otherwise():
    query = GraphQuery("users")
    assert (query.method, query.body, query.entity) == ("GET", None, False)


def test_a_window_is_created_polled_and_read_each_record_once_and_the_state_keeps_the_running_query(http_mocker):
    login(http_mocker, CRM_ROLES)
    http_mocker.post(audit_query_create_request(FIRST, LAST), audit_query_response("q1", "notStarted", code=201))
    http_mocker.get(
        audit_query_request("q1"),
        [audit_query_response("q1", "running"), audit_query_response("q1", "succeeded")],
    )
    http_mocker.get(audit_records_request("q1"), page_response([record("a"), record("b"), record("a")]))
    output = read_streams(activity_config(), ACTIVITY, runtime=at_now())
    assert output.errors == []
    assert [r.record.data["id"] for r in output.records] == ["a", "b"]
    saved = {"start": FIRST, "end": LAST, "id": "q1", "api_version": "v1.0"}
    assert states(output) == [{"queries": [saved]}, {"createdDateTime": LAST}]


def test_a_saved_query_is_polled_again_not_created_again(http_mocker):
    login(http_mocker, CRM_ROLES)
    http_mocker.get(audit_query_request("q0", "beta"), audit_query_response("q0", "succeeded"))
    http_mocker.get(audit_records_request("q0", "beta"), page_response([record("a")]))
    saved = {"queries": [{"start": FIRST, "end": LAST, "id": "q0", "api_version": "beta"}]}
    state = StateBuilder().with_stream_state("dynamics_activity", saved).build()
    output = read_streams(activity_config(), ACTIVITY, state=state, runtime=at_now())
    assert output.errors == [] and [r.record.data["id"] for r in output.records] == ["a"]
    assert states(output)[-1] == {"createdDateTime": LAST}


def test_v1_that_does_not_know_the_segment_hands_the_create_to_beta(http_mocker):
    login(http_mocker, CRM_ROLES)
    unknown = graph_error("BadRequest", "Resource not found for the segment 'auditLog'.")
    http_mocker.post(audit_query_create_request(FIRST, LAST), json_response(unknown, 400))
    http_mocker.post(
        audit_query_create_request(FIRST, LAST, "beta"), audit_query_response("q1", "notStarted", code=201)
    )
    http_mocker.get(audit_query_request("q1", "beta"), audit_query_response("q1", "succeeded"))
    http_mocker.get(audit_records_request("q1", "beta"), page_response([record("a")]))
    output = read_streams(activity_config(), ACTIVITY, runtime=at_now())
    assert output.errors == [] and [r.record.data["id"] for r in output.records] == ["a"]


def test_a_failed_query_is_created_again(http_mocker):
    login(http_mocker, CRM_ROLES)
    http_mocker.post(
        audit_query_create_request(FIRST, LAST),
        [audit_query_response("q1", "notStarted", code=201), audit_query_response("q2", "notStarted", code=201)],
    )
    http_mocker.get(audit_query_request("q1"), audit_query_response("q1", "failed"))
    http_mocker.get(audit_query_request("q2"), audit_query_response("q2", "succeeded"))
    http_mocker.get(audit_records_request("q2"), page_response([record("a")]))
    output = read_streams(activity_config(), ACTIVITY, runtime=at_now())
    assert output.errors == [] and [r.record.data["id"] for r in output.records] == ["a"]
    assert any("creating it again" in str(m.log.message) for m in output.logs)


def test_a_query_cut_at_the_record_limit_is_read_as_two_halves(http_mocker):
    login(http_mocker, CRM_ROLES)
    middle = "2026-12-01T10:00:00Z"
    http_mocker.post(audit_query_create_request(FIRST, LAST), audit_query_response("q1", "notStarted", code=201))
    http_mocker.get(audit_query_request("q1"), audit_query_response("q1", "succeeded", exceeded=True))
    for query_id, start, end in (("h1", FIRST, middle), ("h2", middle, LAST)):
        http_mocker.post(audit_query_create_request(start, end), audit_query_response(query_id, "notStarted", code=201))
        http_mocker.get(audit_query_request(query_id), audit_query_response(query_id, "succeeded"))
        http_mocker.get(audit_records_request(query_id), page_response([record(query_id)]))
    output = read_streams(activity_config(), ACTIVITY, runtime=at_now())
    assert output.errors == [] and [r.record.data["id"] for r in output.records] == ["h1", "h2"]
    assert states(output)[-1] == {"createdDateTime": LAST}


def test_a_window_too_small_to_split_fails_in_a_sentence_rather_than_lose_records(http_mocker):
    login(http_mocker, CRM_ROLES)
    end = "2026-12-01T00:20:00Z"
    runtime = replace(at_now(), now=lambda: START + timedelta(minutes=20))
    http_mocker.post(audit_query_create_request(FIRST, end), audit_query_response("q1", "notStarted", code=201))
    http_mocker.get(audit_query_request("q1"), audit_query_response("q1", "succeeded", exceeded=True))
    output = read_streams(activity_config(), ACTIVITY, runtime=runtime)
    assert "more Dynamics 365 (crm) records" in output.errors[0].trace.error.message and not output.records


def test_a_saved_state_this_connector_did_not_write_is_refused_in_a_sentence():
    parsed = parse_config(activity_config())
    stream = DynamicsActivity(parsed, GraphAuthenticator(GraphTokenProvider(parsed)))
    with pytest.raises(ConfigError, match="reset the stream"):
        stream.state = {"queries": [{"id": "q"}]}


def test_the_plan_keeps_the_saved_windows_and_fills_the_gaps_with_day_long_ones():
    start, end = START, START + timedelta(days=2, hours=12)
    kept = AuditWindow(START + timedelta(hours=6), START + timedelta(hours=30))
    windows = planned(start, end, [kept, AuditWindow(start - timedelta(days=1), start)])
    assert windows[0] == AuditWindow(start, kept.start) and windows[1] == kept
    assert [w.end for w in windows[2:]] == [kept.end + timedelta(days=1), end]


def test_a_saved_v1_query_that_v1_no_longer_serves_is_created_again_on_beta(http_mocker):
    login(http_mocker, CRM_ROLES)
    unknown = json_response(graph_error("BadRequest", "Resource not found for the segment 'auditLog'."), 400)
    http_mocker.get(audit_query_request("q0"), unknown)
    http_mocker.post(audit_query_create_request(FIRST, LAST), unknown)
    http_mocker.post(
        audit_query_create_request(FIRST, LAST, "beta"), audit_query_response("q1", "notStarted", code=201)
    )
    http_mocker.get(audit_query_request("q1", "beta"), audit_query_response("q1", "succeeded"))
    http_mocker.get(audit_records_request("q1", "beta"), page_response([record("a")]))
    saved = {"queries": [{"start": FIRST, "end": LAST, "id": "q0", "api_version": "v1.0"}]}
    state = StateBuilder().with_stream_state("dynamics_activity", saved).build()
    output = read_streams(activity_config(), ACTIVITY, state=state, runtime=at_now())
    assert output.errors == [] and [r.record.data["id"] for r in output.records] == ["a"]


def test_a_403_to_a_page_of_records_skips_the_stream_and_keeps_the_window_unread(http_mocker):
    login(http_mocker, CRM_ROLES)
    http_mocker.post(audit_query_create_request(FIRST, LAST), audit_query_response("q1", "notStarted", code=201))
    http_mocker.get(audit_query_request("q1"), audit_query_response("q1", "succeeded"))
    denied = json_response(graph_error("Authorization_RequestDenied", "Insufficient privileges"), 403)
    http_mocker.get(audit_records_request("q1"), denied)
    output = read_streams(activity_config(), ACTIVITY, runtime=at_now())
    assert output.errors == [] and not output.records
    assert all("createdDateTime" not in state for state in states(output)), "the cursor never passes the window"
    assert any("Skipping the optional dynamics_activity stream" in str(m.log.message) for m in output.logs)
