"""`groups`: the groups that assign Dynamics 365 licenses, one advanced query per SKU, each group once; optional: a
missing permission or a 403 is a warning in `check` and a skip with one warning in a sync, never a failure."""

import logging
from dataclasses import replace
from datetime import datetime, timezone

import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from source_dynamics365_cc.auth.tokens import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config
from testing.graph_fakes import (
    GRAPH,
    config,
    fake_runtime,
    graph_error,
    page,
    read_streams,
    register_login,
)
from testing.graph_requests import (
    ADVANCED_QUERY,
    DYNAMICS_365_APPS,
    groups_request,
    json_response,
    login,
    next_page_request,
    page_response,
    sign_ins_request,
    subscribed_skus_request,
    user_probe_request,
    users_request,
)

GROUPS = f"{GRAPH}/v1.0/groups"
SALES, TEAM = "1e1a282c-9c54-43a2-9310-98ef728faace", "7ac9fe77-66b7-4e5e-9e46-10eed1cff547"
SKUS = [
    {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
    {"skuId": TEAM, "skuPartNumber": "DYN365_TEAM_MEMBERS", "appliesTo": "User"},
    {"skuId": "0c266dff-15dd-4b49-8397-2bb16070ed52", "skuPartNumber": "ENTERPRISEPACK", "appliesTo": "User"},
]


def group(group_id: str, *skus: str) -> dict:
    return {"id": group_id, "displayName": f"{group_id} licences", "assignedLicenses": [{"skuId": s} for s in skus]}


def read_groups(
    http_mocker: HttpMocker,
    answers: dict[str, list[HttpResponse]],
    next_pages: dict[str, list[HttpResponse]] | None = None,
    skus: list[dict] = SKUS,
) -> list[str]:
    """A groups read against `answers` (SKU -> its query's answers in turn) and `next_pages` (nextLink -> its answers,
    each asked as an advanced query too), every request asked exactly as often as it has answers; the ids emitted."""
    login(http_mocker)
    http_mocker.get(subscribed_skus_request(), page_response(skus))
    expected = [(groups_request(sku), responses) for sku, responses in answers.items()]
    expected += [(next_page_request(link, ADVANCED_QUERY), responses) for link, responses in (next_pages or {}).items()]
    for request, responses in expected:
        http_mocker.get(request, responses)
    output = read_streams(config(), ("groups", SyncMode.full_refresh))
    assert not output.errors, output.errors
    for request, responses in expected:
        http_mocker.assert_number_of_calls(request, len(responses))
    return [r.record.data["id"] for r in output.records]


def test_groups_are_read_per_dynamics_sku_as_advanced_queries_and_each_group_is_emitted_once(http_mocker):
    """One advanced query per Dynamics 365 SKU (none for ENTERPRISEPACK: no mock answers it), SALES first."""
    both = group("g-both", SALES, TEAM)
    answers = {
        SALES: [page_response([group("g-sales", SALES), both])],
        TEAM: [page_response([both, group("g-team", TEAM), group("g-not", SALES)])],
    }
    emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-sales", "g-both", "g-team"], "the two-SKU group once; a group Graph sent in error dropped"


def test_groups_returned_without_assigned_licenses_are_taken_on_the_filters_word_once_each_and_said(
    caplog, http_mocker
):
    bare = {"id": "g-bare", "displayName": "Sales licences"}  # a permission that does not return the property
    answers = {SALES: [page_response([bare])], TEAM: [page_response([bare, {"id": "g-team", "displayName": "Team"}])]}
    with caplog.at_level(logging.WARNING):
        emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-bare", "g-team"]
    assert "returned 2 groups without assignedLicenses" in caplog.text and "Group.Read.All" in caplog.text


def test_users_and_groups_in_one_sync_read_the_tenants_skus_once(http_mocker):
    """One subscribedSkus answer serves both streams, which each query the same two SKUs once."""
    holder = {"id": "u1", "assignedLicenses": [{"skuId": SALES}]}
    login(http_mocker)
    skus = subscribed_skus_request()
    http_mocker.get(skus, page_response(SKUS))
    queries = [users_request(sku=SALES), users_request(sku=TEAM), groups_request(SALES), groups_request(TEAM)]
    for query, answer in zip(queries, [[holder]] * 2 + [[group("g-sales", SALES)]] * 2):
        http_mocker.get(query, page_response(answer))
    streams = (("users", SyncMode.full_refresh), ("groups", SyncMode.full_refresh))
    output = read_streams(config(roster_scope="dynamics_365_license_holders"), *streams)
    assert not output.errors and [r.record.data["id"] for r in output.records] == ["u1", "g-sales"]
    http_mocker.assert_number_of_calls(skus, 1)
    for query in queries:
        http_mocker.assert_number_of_calls(query, 1)


def test_every_page_of_a_groups_query_carries_the_advanced_query_header(http_mocker):
    second = f"{GROUPS}?$filter=x&$count=true&$skiptoken=p2"
    answers = {SALES: [page_response([group("g1", SALES)], next_link=second)], TEAM: [page_response([])]}
    emitted = read_groups(http_mocker, answers, {second: [page_response([group("g2", SALES)])]})
    assert emitted == ["g1", "g2"]


def test_an_expired_groups_page_token_restarts_the_query_without_duplicates(http_mocker):
    second = f"{GROUPS}?$count=true&$skiptoken=p2"
    expired = json_response(graph_error("Directory_ExpiredPageToken", "expired"), 400)
    first, again = (
        page_response([group("g1", SALES)], next_link=second),
        page_response([group("g1", SALES), group("g2", SALES)]),
    )
    emitted = read_groups(http_mocker, {SALES: [first, again]}, {second: [expired]}, skus=SKUS[:1])
    assert emitted == ["g1", "g2"]


LEAST_PRIVILEGED = ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"]


def skipped_groups(roles: list[str], groups_answer: dict) -> tuple:
    """A read of groups and subscribed_skus with `roles` in the token and `groups_answer` from /groups: the output and
    the /groups requests sent."""
    with requests_mock.Mocker() as mocker:
        register_login(mocker, roles=roles)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        groups = mocker.get(GROUPS, **groups_answer)
        output = read_streams(config(), ("groups", SyncMode.full_refresh), ("subscribed_skus", SyncMode.full_refresh))
    return output, groups.request_history


def skip_warnings(output) -> list[str]:
    return [log.log.message for log in output.logs if "Skipping the optional groups stream" in log.log.message]


def test_a_token_without_a_groups_permission_skips_groups_with_one_warning_before_asking_graph_and_the_sync_is_green():
    output, asked = skipped_groups(LEAST_PRIVILEGED, {"json": page([group("g1", SALES)])})
    assert not output.errors and asked == [], "nothing is asked of Graph that the app may not read"
    assert len(output.records) == len(SKUS), "subscribed_skus is read all the same"
    (warning,) = skip_warnings(output)
    assert "the app's token does not carry its permission" in warning
    assert "GroupMember.Read.All (or one of Group.Read.All" in warning and "API permissions" in warning


def test_a_403_to_groups_with_its_permission_granted_skips_groups_with_one_warning_and_the_sync_is_green():
    refused = {"status_code": 403, "json": graph_error("Authorization_RequestDenied", "Insufficient privileges")}
    output, asked = skipped_groups([*LEAST_PRIVILEGED, "Group.Read.All"], refused)
    assert not output.errors and len(asked) == 1
    assert len(output.records) == len(SKUS)
    (warning,) = skip_warnings(output)
    assert "Microsoft Graph refused it (HTTP 403: Insufficient privileges)" in warning
    assert "GroupMember.Read.All (or one of Group.Read.All" in warning


def test_a_403_to_a_required_stream_still_fails_the_sync():
    with requests_mock.Mocker() as mocker:
        register_login(mocker, roles=LEAST_PRIVILEGED)
        mocker.get(
            f"{GRAPH}/v1.0/subscribedSkus", status_code=403, json=graph_error("Authorization_RequestDenied", "No")
        )
        output = read_streams(config(), ("subscribed_skus", SyncMode.full_refresh))
    assert "LicenseAssignment.Read.All" in output.errors[0].trace.error.message


def test_check_without_a_groups_permission_passes_warns_and_asks_graph_for_no_group(caplog):
    parsed = parse_config(config())
    with requests_mock.Mocker() as mocker, caplog.at_level(logging.WARNING, logger="check"):
        register_login(mocker, roles=["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"])
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(f"{GRAPH}/v1.0/users", json=page([]))
        mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", json=page([]))
        check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), fake_runtime())
    assert not any(r.url.startswith(GROUPS) for r in mocker.request_history)
    assert "cannot read the optional groups stream: it needs the application permission GroupMember.Read.All" in (
        caplog.text
    )


def test_check_with_a_groups_permission_that_graph_refuses_passes_with_a_warning(caplog):
    parsed = parse_config(config())
    with requests_mock.Mocker() as mocker, caplog.at_level(logging.WARNING, logger="check"):
        register_login(mocker, roles=[*LEAST_PRIVILEGED, "Group.Read.All"])
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(f"{GRAPH}/v1.0/users", json=page([]))
        mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", json=page([]))
        mocker.get(GROUPS, status_code=403, json=graph_error("Authorization_RequestDenied", "Insufficient privileges"))
        check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), fake_runtime())
    assert "The optional groups stream cannot be read now: Microsoft Graph denied access" in caplog.text
    assert "a sync skips groups with a warning" in caplog.text


def test_check_with_a_groups_permission_asks_for_one_group_as_a_sync_does(http_mocker):
    """check's probes on a clock pinned to midnight: the last hour of sign-ins, one user, and one group of the first
    Dynamics 365 SKU as the advanced query a sync sends (`$count`, `ConsistencyLevel: eventual`), asked once."""
    parsed = parse_config(config())
    login(http_mocker, roles=["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All", "Group.Read.All"])
    http_mocker.get(subscribed_skus_request(), page_response(SKUS))
    http_mocker.get(user_probe_request(), page_response([]))
    last_hour = sign_ins_request("2025-12-31T23:00:00Z", "2025-12-31T23:59:59.9999999Z", DYNAMICS_365_APPS, top=1)
    http_mocker.get(last_hour, page_response([]))
    probe = groups_request(SALES, top=1)
    http_mocker.get(probe, page_response([]))
    midnight = replace(fake_runtime(), now=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), midnight)
    http_mocker.assert_number_of_calls(probe, 1)


def test_a_group_graph_lists_twice_in_one_query_is_emitted_once(http_mocker):
    second = f"{GROUPS}?$count=true&$skiptoken=p2"
    first = page_response([group("g1", SALES), group("g2", SALES)], next_link=second)
    answers = {SALES: [first], TEAM: [page_response([])]}
    emitted = read_groups(http_mocker, answers, {second: [page_response([group("g2", SALES), group("g3", SALES)])]})
    assert emitted == ["g1", "g2", "g3"]


def test_a_group_whose_licence_moves_to_a_later_sku_during_the_sync_is_emitted_once_as_first_read(http_mocker):
    answers = {
        SALES: [page_response([group("g-moved", SALES)])],
        TEAM: [page_response([group("g-moved", TEAM), group("g-team", TEAM)])],
    }
    emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-moved", "g-team"]
