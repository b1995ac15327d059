"""Stream behaviours a sync depends on: signInActivity fallback, window restarts, foreign links, concealed users."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.signins.instants import format_instant
from source_dynamics365_cc.signins.stream import ApplicationQueries, NonInteractiveSignIns, SignIns
from source_dynamics365_cc.streams import users
from testing.graph_fakes import GRAPH, config, graph_error, page, read_streams, register_login, register_user_count

USERS = f"{GRAPH}/v1.0/users"
SIGN_INS = f"{GRAPH}/v1.0/auditLogs/signIns"


def run(cfg, *streams):
    return read_streams(cfg, *streams)


def selects(mocker) -> list[str]:
    pages = [r for r in mocker.request_history if urlsplit(r.url).path == "/v1.0/users"]  # not /users/$count
    return [parse_qs(urlsplit(r.url).query)["$select"][0] for r in pages]


def test_users_fall_back_to_no_sign_in_activity_after_repeated_refusals():
    denied = {"status_code": 403, "json": graph_error("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "no")}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, [denied, denied, denied, {"json": page([{"id": "u1", "userPrincipalName": "a@b.c"}])}])
        output = run(config(), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1"]
    sent = selects(mocker)
    assert ["signInActivity" in s for s in sent] == [True, True, True, False]
    assert any("users without it" in log.log.message for log in output.logs)
    assert not output.errors


def test_a_refusal_after_some_users_were_emitted_does_not_emit_them_twice():
    denied = {"status_code": 403, "json": graph_error("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "no")}
    first = page([{"id": "u1"}, {"id": "u2"}], next_link=f"{USERS}?$select=id,signInActivity&$top=500&$skiptoken=p2")
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(
            USERS, [{"json": first}, denied, denied, denied, {"json": page([{"id": f"u{n}"} for n in (1, 2, 3)])}]
        )
        output = run(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3"]
    assert ["signInActivity" in s for s in selects(mocker)] == [True, True, True, True, False]
    assert not output.errors


def test_users_without_sign_in_activity_use_the_largest_page():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page([]))
        run(config(include_sign_in_activity=False), ("users", SyncMode.full_refresh))
    query = parse_qs(urlsplit(mocker.request_history[-1].url).query)
    assert query["$top"] == ["999"] and "signInActivity" not in query["$select"][0]


ROSTER = (
    "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,userType,createdDateTime,jobTitle,"
    "department,employeeId,assignedLicenses,assignedPlans,licenseAssignmentStates,usageLocation,companyName,"
    "officeLocation,country,employeeType,onPremisesSyncEnabled"
)


def test_users_select_names_every_roster_field_and_sign_in_activity_last():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page([]))
        run(config(), ("users", SyncMode.full_refresh))
        run(config(include_sign_in_activity=False), ("users", SyncMode.full_refresh))
    assert selects(mocker) == [f"{ROSTER},signInActivity", ROSTER]


def test_every_selected_user_field_is_in_the_users_schema_and_nothing_else():
    schema = json.loads((Path(users.__file__).parents[1] / "schemas" / "users.json").read_text())
    assert list(schema["properties"]) == [*users.ROSTER_FIELDS, "signInActivity"]


def test_concealed_users_are_skipped_and_counted():
    people = [
        {"id": "u1", "userPrincipalName": "FE7CC8C15246EDCCA289C9A4022762F7"},
        {"id": "u2", "userPrincipalName": "a@b.c"},
    ]
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page(people))
        skipped = run(config(), ("users", SyncMode.full_refresh))
        kept = run(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in skipped.records] == ["u2"]
    assert any("Skipped 1 users" in log.log.message for log in skipped.logs)
    assert len(kept.records) == 2


def test_an_expired_page_token_restarts_at_the_exact_tick_inside_a_microsecond_burst():
    now = datetime.now(timezone.utc).replace(microsecond=0)
    second = format_instant(now - timedelta(minutes=20)).rstrip("Z")
    newest, same_tick, same_microsecond = f"{second}.1234569Z", f"{second}.1234567Z", f"{second}.1234561Z"
    dynamics = "00000007-0000-0000-c000-000000000000"

    def sign_in(record_id: str, stamp: str) -> dict:
        return {"id": record_id, "createdDateTime": stamp, "appId": dynamics}

    first_page = page([sign_in("n", newest), sign_in("a", same_tick)], f"{SIGN_INS}?$skiptoken=1")
    expired = {"status_code": 400, "json": graph_error("Directory_ExpiredPageToken", "expired")}
    restarted = page(
        [sign_in("a", same_tick), sign_in("b", same_tick), sign_in("c", same_microsecond), sign_in("d", f"{second}Z")]
    )
    cfg = config(start_date=format_instant(now - timedelta(minutes=30)), max_concurrency=1)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(SIGN_INS, [{"json": first_page}, expired, {"json": restarted}])
        output = run(cfg, ("sign_ins", SyncMode.incremental))
    assert sorted(r.record.data["id"] for r in output.records) == ["a", "b", "c", "d", "n"]
    restart_filter = parse_qs(urlsplit(mocker.request_history[-1].url).query)["$filter"][0]
    assert f"createdDateTime le {same_tick}" in restart_filter


def test_a_next_link_to_another_host_is_refused_and_no_token_goes_there():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, json=page([{"id": "u1"}], "https://attacker.example.test/v1.0/users?$skiptoken=x"))
        evil = mocker.get("https://attacker.example.test/v1.0/users", json=page([]))
        output = run(config(), ("users", SyncMode.full_refresh))
    assert evil.call_count == 0
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
