"""Stream behaviours a sync depends on: signInActivity fallback, window restarts, foreign links, concealed users."""

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.signins.instants import format_instant
from source_dynamics365_cc.streams import users
from source_dynamics365_cc.streams.sign_ins import ApplicationQueries, NonInteractiveSignIns, SignIns
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, read_streams
from testing.graph_requests import (
    DYNAMICS_365_APPS,
    count_response,
    json_response,
    login,
    next_page_request,
    page_response,
    sign_ins_request,
    user_count_request,
    users_request,
)

USERS = f"{GRAPH}/v1.0/users"
SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"


def run(cfg, *streams, runtime=None):
    return read_streams(cfg, *streams, runtime=runtime)


DENIED = json_response(graph_error("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "no"), 403)


def users_read(http_mocker: HttpMocker, reads: int = 1) -> None:
    """The login and the `/users/$count` each of `reads` users reads asks before its first page."""
    login(http_mocker)
    http_mocker.get(user_count_request(), [count_response(1)] * reads)


def test_users_fall_back_to_no_sign_in_activity_after_repeated_refusals(http_mocker):
    users_read(http_mocker)
    with_activity, without = users_request(sign_in_activity=True), users_request(sign_in_activity=False)
    http_mocker.get(with_activity, [DENIED] * 3)
    http_mocker.get(without, page_response([{"id": "u1", "userPrincipalName": "a@b.c"}]))
    output = run(config(), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1"]
    http_mocker.assert_number_of_calls(with_activity, 3)
    http_mocker.assert_number_of_calls(without, 1)
    assert any("users without it" in log.log.message for log in output.logs)
    assert not output.errors


def test_a_refusal_after_some_users_were_emitted_does_not_emit_them_twice(http_mocker):
    second = f"{USERS}?$select=id,signInActivity&$top=500&$skiptoken=p2"
    users_read(http_mocker)
    with_activity, without = users_request(sign_in_activity=True), users_request(sign_in_activity=False)
    first = page_response([{"id": "u1"}, {"id": "u2"}], next_link=second)
    http_mocker.get(with_activity, [first, DENIED, DENIED])  # its next page refused, then the query again, twice
    http_mocker.get(next_page_request(second), DENIED)
    http_mocker.get(without, page_response([{"id": f"u{n}"} for n in (1, 2, 3)]))
    output = run(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3"]
    http_mocker.assert_number_of_calls(with_activity, 3)
    http_mocker.assert_number_of_calls(without, 1)
    assert not output.errors


def test_users_without_sign_in_activity_use_the_largest_page(http_mocker):
    """$top=999 and no signInActivity in $select: the mock is the assertion."""
    users_read(http_mocker)
    http_mocker.get(users_request(sign_in_activity=False), page_response([]))
    assert not run(config(include_sign_in_activity=False), ("users", SyncMode.full_refresh)).errors


def test_users_select_names_every_roster_field_and_sign_in_activity_last(http_mocker):
    users_read(http_mocker, reads=2)
    with_activity, without = users_request(sign_in_activity=True), users_request(sign_in_activity=False)
    http_mocker.get(with_activity, page_response([]))
    http_mocker.get(without, page_response([]))
    assert not run(config(), ("users", SyncMode.full_refresh)).errors
    http_mocker.assert_number_of_calls(with_activity, 1)
    assert not run(config(include_sign_in_activity=False), ("users", SyncMode.full_refresh)).errors
    http_mocker.assert_number_of_calls(without, 1)


def test_every_selected_user_field_is_in_the_users_schema_and_nothing_else():
    schema = json.loads((Path(users.__file__).parents[1] / "schemas" / "users.json").read_text())
    assert list(schema["properties"]) == [*users.ROSTER_FIELDS, "signInActivity", "employeeLeaveDateTime"]


def test_concealed_users_are_skipped_and_counted(http_mocker):
    people = [
        {"id": "u1", "userPrincipalName": "FE7CC8C15246EDCCA289C9A4022762F7"},
        {"id": "u2", "userPrincipalName": "a@b.c"},
    ]
    users_read(http_mocker, reads=2)
    http_mocker.get(users_request(), [page_response(people)] * 2)
    skipped = run(config(), ("users", SyncMode.full_refresh))
    kept = run(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in skipped.records] == ["u2"]
    assert any("Skipped 1 users" in log.log.message for log in skipped.logs)
    assert len(kept.records) == 2 and not skipped.errors and not kept.errors


def test_an_expired_page_token_restarts_at_the_exact_tick_inside_a_microsecond_burst(http_mocker):
    """The restarted query ends at the oldest tick emitted (le, inclusive), on a clock pinned to midnight."""
    midnight = datetime(2026, 1, 1, tzinfo=timezone.utc)
    second = format_instant(midnight - timedelta(minutes=20)).rstrip("Z")
    newest, same_tick, same_microsecond = f"{second}.1234569Z", f"{second}.1234567Z", f"{second}.1234561Z"
    dynamics = "00000007-0000-0000-c000-000000000000"

    def sign_in(record_id: str, stamp: str) -> dict:
        return {"id": record_id, "createdDateTime": stamp, "appId": dynamics}

    start = "2025-12-31T23:30:00Z"
    restarted = [sign_in("a", same_tick), sign_in("b", same_tick), sign_in("c", same_microsecond)]
    login(http_mocker)
    window = sign_ins_request(start, "2025-12-31T23:59:59.9999999Z", DYNAMICS_365_APPS, top=999)
    http_mocker.get(window, page_response([sign_in("n", newest), sign_in("a", same_tick)], f"{SIGN_INS}?$skiptoken=1"))
    expired = json_response(graph_error("Directory_ExpiredPageToken", "expired"), 400)
    http_mocker.get(next_page_request(f"{SIGN_INS}?$skiptoken=1"), expired)
    restart = sign_ins_request(start, same_tick, DYNAMICS_365_APPS, top=999)
    http_mocker.get(restart, page_response([*restarted, sign_in("d", f"{second}Z")]))
    cfg = config(start_date=start, max_concurrency=1)
    output = run(cfg, ("sign_ins", SyncMode.incremental), runtime=replace(fake_runtime(), now=lambda: midnight))
    assert sorted(r.record.data["id"] for r in output.records) == ["a", "b", "c", "d", "n"] and not output.errors
    for request in (window, restart):
        http_mocker.assert_number_of_calls(request, 1)


def test_a_next_link_to_another_host_is_refused_and_no_token_goes_there(http_mocker):
    """No mock answers the other host: a request sent there would fail the read with another error."""
    users_read(http_mocker)
    http_mocker.get(
        users_request(), page_response([{"id": "u1"}], "https://attacker.example.test/v1.0/users?$skiptoken=x")
    )
    output = run(config(), ("users", SyncMode.full_refresh))
    assert "refusing to send the access token" in output.errors[0].trace.error.message


def test_a_split_filter_emits_each_sign_in_from_the_first_query_it_matches_only():
    a, b = "aaaaaaaa-0000-0000-0000-000000000000", "bbbbbbbb-0000-0000-0000-000000000000"
    queries = ApplicationQueries([a, b])
    client_b_to_resource_a = {"appId": b, "resourceId": a}
    returned_by = [i for i, match in enumerate(queries.matches) if match.holds_for(client_b_to_resource_a)]

    emitted_by = [i for i in returned_by if queries.first_query_of(client_b_to_resource_a, i)]

    assert [queries.matches[i].clause() for i in returned_by] == [f"resourceId eq '{a}'", f"appId eq '{b}'"]
    assert emitted_by == returned_by[:1]


@pytest.mark.parametrize("kind", [SignIns, NonInteractiveSignIns])
def test_a_sign_in_stream_without_its_window_cursor_fails_naming_itself(kind):
    parsed = parse_config(config(include_non_interactive_sign_ins=True))
    stream = kind(parsed, GraphAuthenticator(GraphTokenProvider(parsed)))
    with pytest.raises(AirbyteTracedException) as failed:
        list(stream.stream_slices())
    assert failed.value.message == f"The {stream.name} stream was built without its window cursor."
