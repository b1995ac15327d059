"""`groups`: the groups that assign Dynamics 365 licenses, one advanced query per SKU, each group once; optional: a
missing permission or a 403 is a warning in `check` and a skip with one warning in a sync, never a failure."""

import logging
from urllib.parse import parse_qs, urlsplit

import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

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
    register_groups,
    register_login,
)
from testing.graph_requests import groups_request, json_response, login, page_response, subscribed_skus_request

GROUPS = f"{GRAPH}/v1.0/groups"
SALES, TEAM = "1e1a282c-9c54-43a2-9310-98ef728faace", "7ac9fe77-66b7-4e5e-9e46-10eed1cff547"
SKUS = [
    {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
    {"skuId": TEAM, "skuPartNumber": "DYN365_TEAM_MEMBERS", "appliesTo": "User"},
    {"skuId": "0c266dff-15dd-4b49-8397-2bb16070ed52", "skuPartNumber": "ENTERPRISEPACK", "appliesTo": "User"},
]


def group(group_id: str, *skus: str) -> dict:
    return {"id": group_id, "displayName": f"{group_id} licences", "assignedLicenses": [{"skuId": s} for s in skus]}


def sku_of(url: str) -> str:
    """The SKU a groups request filters on."""
    return parse_qs(urlsplit(url).query)["$filter"][0].split(" eq ")[1].rstrip(")")


def read_groups(http_mocker: HttpMocker, answers: dict) -> list[str]:
    """A groups read against `answers` (SKU -> its pages), each SKU's query asked exactly once; the ids emitted."""
    login(http_mocker)
    http_mocker.get(subscribed_skus_request(), page_response(SKUS))
    queries = {sku: groups_request(sku) for sku in answers}
    for sku, pages in answers.items():
        http_mocker.get(queries[sku], [json_response(body) for body in pages])
    output = read_streams(config(), ("groups", SyncMode.full_refresh))
    assert not output.errors, output.errors
    for query in queries.values():
        http_mocker.assert_number_of_calls(query, 1)
    return [r.record.data["id"] for r in output.records]


def test_groups_are_read_per_dynamics_sku_as_advanced_queries_and_each_group_is_emitted_once(http_mocker):
    """One advanced query per Dynamics 365 SKU (none for ENTERPRISEPACK: no mock answers it), SALES first."""
    both = group("g-both", SALES, TEAM)
    answers = {
        SALES: [page([group("g-sales", SALES), both])],
        TEAM: [page([both, group("g-team", TEAM), group("g-not", SALES)])],
    }
    emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-sales", "g-both", "g-team"], "the two-SKU group once; a group Graph sent in error dropped"


def test_groups_returned_without_assigned_licenses_are_taken_on_the_filters_word_once_each_and_said(
    caplog, http_mocker
):
    bare = {"id": "g-bare", "displayName": "Sales licences"}  # a permission that does not return the property
    answers = {SALES: [page([bare])], TEAM: [page([bare, {"id": "g-team", "displayName": "Team"}])]}
    with caplog.at_level(logging.WARNING):
        emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-bare", "g-team"]
    assert "returned 2 groups without assignedLicenses" in caplog.text and "Group.Read.All" in caplog.text


def test_users_and_groups_in_one_sync_read_the_tenants_skus_once():
    holder = {"id": "u1", "assignedLicenses": [{"skuId": SALES}]}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        skus = mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(f"{GRAPH}/v1.0/users", json=page([holder]))
        mocker.get(GROUPS, json=page([group("g-sales", SALES)]))
        streams = (("users", SyncMode.full_refresh), ("groups", SyncMode.full_refresh))
        output = read_streams(config(roster_scope="dynamics_365_license_holders"), *streams)
    assert not output.errors and [r.record.data["id"] for r in output.records] == ["u1", "g-sales"]
    assert skus.call_count == 1
    queried = [sku_of(r.url) for r in mocker.request_history if "$filter" in parse_qs(urlsplit(r.url).query)]
    assert queried == [SALES, TEAM, SALES, TEAM], "both streams query the same SKUs"


def test_every_page_of_a_groups_query_carries_the_advanced_query_header():
    second = f"{GROUPS}?$filter=x&$count=true&$skiptoken=p2"
    answers = {SALES: [page([group("g1", SALES)], next_link=second)], TEAM: [page([])]}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(GROUPS, json=lambda request, context: answers[sku_of(request.url)].pop(0))
        mocker.get(second, json=page([group("g2", SALES)]))
        output = read_streams(config(), ("groups", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["g1", "g2"]
    pages = [r for r in mocker.request_history if r.url.startswith(GROUPS)]
    assert len(pages) == 3 and all(r.headers.get("ConsistencyLevel") == "eventual" for r in pages)


def test_an_expired_groups_page_token_restarts_the_query_without_duplicates():
    second = f"{GROUPS}?$count=true&$skiptoken=p2"
    expired = {"status_code": 400, "json": graph_error("Directory_ExpiredPageToken", "expired")}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS[:1]))
        mocker.get(
            GROUPS,
            [
                {"json": page([group("g1", SALES)], next_link=second)},
                {"json": page([group(g, SALES) for g in ("g1", "g2")])},
            ],
        )
        mocker.get(second, [expired])
        output = read_streams(config(), ("groups", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["g1", "g2"] and not output.errors


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


def test_check_with_a_groups_permission_asks_for_one_group_as_a_sync_does():
    parsed = parse_config(config())
    with requests_mock.Mocker() as mocker:
        register_login(
            mocker, roles=["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All", "Group.Read.All"]
        )
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(f"{GRAPH}/v1.0/users", json=page([]))
        mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", json=page([]))
        probe = register_groups(mocker)
        check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), fake_runtime())
    (request,) = probe.request_history
    query = parse_qs(urlsplit(request.url).query)
    assert sku_of(request.url) == SALES and query["$top"] == ["1"] and query["$count"] == ["true"]
    assert request.headers["ConsistencyLevel"] == "eventual"


def test_a_group_graph_lists_twice_in_one_query_is_emitted_once():
    second = f"{GROUPS}?$count=true&$skiptoken=p2"
    answers = {SALES: [page([group("g1", SALES), group("g2", SALES)], next_link=second)], TEAM: [page([])]}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        mocker.get(GROUPS, json=lambda request, context: answers[sku_of(request.url)].pop(0))
        mocker.get(second, json=page([group("g2", SALES), group("g3", SALES)]))
        output = read_streams(config(), ("groups", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["g1", "g2", "g3"] and not output.errors


def test_a_group_whose_licence_moves_to_a_later_sku_during_the_sync_is_emitted_once_as_first_read(http_mocker):
    answers = {SALES: [page([group("g-moved", SALES)])], TEAM: [page([group("g-moved", TEAM), group("g-team", TEAM)])]}
    emitted = read_groups(http_mocker, answers)
    assert emitted == ["g-moved", "g-team"]
