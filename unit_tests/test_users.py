"""The roster's parts: its queries and the settings that choose them."""

import logging

import pytest
import requests_mock
import yaml
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from source_dynamics365_cc.auth.tokens import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.streams.licenses import LicenseQuery
from source_dynamics365_cc.streams.sign_ins import sign_in_kinds
from source_dynamics365_cc.streams.users import RosterQuery
from testing.graph_fakes import (
    ALL_ROLES,
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
    count_response,
    json_response,
    login,
    next_page_request,
    page_response,
    subscribed_skus_request,
    user_count_request,
    user_probe_request,
    users_request,
)

USERS = f"{GRAPH}/v1.0/users"
SALES, SERVICE = "1e1a282c-9c54-43a2-9310-98ef728faace", "749742bf-0d37-4158-a120-33567104deeb"


def test_a_roster_query_selects_sign_in_activity_at_500_a_page_and_filters_on_its_sku():
    holders = RosterQuery(True, LicenseQuery(SALES))
    assert "$filter" not in RosterQuery(True).params() and RosterQuery(True).params()["$top"] == 500
    assert holders.params()["$filter"] == f"assignedLicenses/any(x:x/skuId eq {SALES})"
    assert RosterQuery(False, LicenseQuery(SALES)).params()["$top"] == 999


def test_a_config_without_roster_scope_keeps_reading_all_users_as_it_did_before_0_2_0():
    legacy = parse_config({k: v for k, v in config().items() if k != "roster_scope"})
    assert legacy.roster_scope == "all_users" and legacy.include_sign_in_log
    assert legacy.roster_sku_ids == ()


def test_a_new_connections_form_starts_at_the_license_holders():
    spec = yaml.safe_load(open("source_dynamics365_cc/spec.yaml"))["connectionSpecification"]
    assert spec["properties"]["roster_scope"]["default"] == "dynamics_365_license_holders"
    chosen = parse_config(config(roster_scope="dynamics_365_license_holders"))
    assert chosen.roster_scope == "dynamics_365_license_holders"


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"roster_scope": "everyone"}, "'roster_scope' must be one of"),
        ({"roster_sku_ids": ["not-a-guid"]}, "'roster_sku_ids' item 1 is not a SKU ID"),
        ({"roster_sku_ids": [SALES] * 51}, "at most 50"),
        ({"include_sign_in_log": "no"}, "'include_sign_in_log' must be true or false"),
    ],
)
def test_bad_roster_settings_are_refused_in_plain_words(settings, words):
    with pytest.raises(ConfigError) as refused:
        parse_config(config(**settings))
    assert words in refused.value.message


def test_holders_are_read_per_dynamics_sku_and_each_emitted_once():
    skus = [
        {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
        {"skuId": SERVICE, "skuPartNumber": "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "appliesTo": "User"},
    ]
    both = {"id": "u1", "assignedLicenses": [{"skuId": SALES}, {"skuId": SERVICE}]}
    only_service = {"id": "u2", "assignedLicenses": [{"skuId": SERVICE}]}

    def holders(request, context):
        return page([both] if SALES in request.url else [both, only_service])

    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(skus))
        mocker.get(USERS, json=holders)
        output = read_streams(config(roster_scope="dynamics_365_license_holders"), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2"]
    assert len([r for r in mocker.request_history if "/v1.0/users" in r.url]) == 2


ATTACH = "1d506c23-1702-46f1-b940-160c55f98d05"  # Dynamics_365_Business_Central_Essentials_Attach
GUIDES = "0a389a77-9850-4dc4-b600-bc66fdfefc60"  # GUIDES_USER, "Dynamics 365 Guides"
M365_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3, with Dataverse plan DYN365_CDS_O365_P2
NEWER = "0000aaaa-0000-4000-8000-00000000abcd"  # a SKU newer than Microsoft's table


def test_the_holders_of_mixed_case_and_unprefixed_dynamics_skus_are_queried_and_the_classification_is_logged():
    skus = [
        {"skuId": M365_E3, "skuPartNumber": "SPE_E3", "servicePlans": [{"servicePlanName": "DYN365_CDS_O365_P2"}]},
        {"skuId": ATTACH, "skuPartNumber": "Dynamics_365_Business_Central_Essentials_Attach", "appliesTo": "User"},
        {"skuId": GUIDES, "skuPartNumber": "GUIDES_USER", "appliesTo": "User"},
        {"skuId": NEWER, "skuPartNumber": "Dyn365_Brand_New", "appliesTo": "User"},
    ]
    holders = {ATTACH: {"id": "u-attach"}, GUIDES: {"id": "u-guides"}, NEWER: {"id": "u-new"}}

    def answer(request, context):
        sku_id = next(sku_id for sku_id in holders if sku_id in request.url)
        return page([{**holders[sku_id], "assignedLicenses": [{"skuId": sku_id}]}])

    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(skus))
        mocker.get(USERS, json=answer)
        output = read_streams(config(roster_scope="dynamics_365_license_holders"), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u-attach", "u-guides", "u-new"]
    queried = [r.url for r in mocker.request_history if "/v1.0/users" in r.url]
    assert len(queried) == 3 and not any(M365_E3 in url for url in queried), "Microsoft 365 E3 is no Dynamics seat"
    logs = [(m.log.level.name, m.log.message) for m in output.logs if m.log is not None]
    told = [text for level, text in logs if text.startswith("Dynamics 365 SKUs of the tenant")]
    assert told == [
        "Dynamics 365 SKUs of the tenant (3 of 4, by Microsoft's licence table): seats: "
        "Dynamics_365_Business_Central_Essentials_Attach (Dynamics 365 Business Central Essentials Attach), "
        "GUIDES_USER (Dynamics 365 Guides), Dyn365_Brand_New (not in the table)."
    ]
    warned = [text for level, text in logs if level == "WARN" and NEWER in text]
    assert warned == [
        f"SKU Dyn365_Brand_New ({NEWER}) is not in Microsoft's licence table of 29 October 2025; treated as "
        "Dynamics 365 because its part number starts Dyn365_."
    ]


def test_an_expired_users_page_token_restarts_the_query_without_duplicates():
    first = page([{"id": "u1"}, {"id": "u2"}], next_link=f"{USERS}?$select=id&$top=999&$skiptoken=p2")
    expired = {"status_code": 400, "json": graph_error("Directory_ExpiredPageToken", "expired")}
    again = page([{"id": f"u{n}"} for n in (1, 2, 3)])
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(USERS, [{"json": first}, expired, {"json": again}])
        output = read_streams(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3"] and not output.errors


def test_check_without_the_sign_in_log_needs_no_audit_permission_reads_no_sign_in_and_warns(caplog):
    parsed = parse_config(config(include_sign_in_log=False))
    with requests_mock.Mocker() as mocker, caplog.at_level(logging.WARNING, logger="check"):
        register_login(mocker, roles=["User.Read.All", "LicenseAssignment.Read.All"])
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([]))
        mocker.get(USERS, json=page([]))
        check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), fake_runtime())
    assert not any("signIns" in request.url for request in mocker.request_history)
    assert "Microsoft Entra ID P1 or P2 is missing" in caplog.text
    assert sign_in_kinds(parsed) == []


def holders_read(http_mocker: HttpMocker, answers: list[tuple[HttpRequest, list[HttpResponse]]]) -> list:
    """A holders' read of SALES then SERVICE against `answers` (each request with its answers in turn): every request the
    read sends is one of them, each asked exactly as often as it has answers; the records emitted."""
    skus = [
        {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
        {"skuId": SERVICE, "skuPartNumber": "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "appliesTo": "User"},
    ]
    login(http_mocker)
    http_mocker.get(subscribed_skus_request(), page_response(skus))
    for request, responses in answers:
        http_mocker.get(request, responses)
    output = read_streams(config(roster_scope="dynamics_365_license_holders"), ("users", SyncMode.full_refresh))
    assert not output.errors, output.errors
    for request, responses in answers:
        http_mocker.assert_number_of_calls(request, len(responses))
    return [r.record.data for r in output.records]


def holder(user_id: str, *skus: str) -> dict:
    return {"id": user_id, "assignedLicenses": [{"skuId": sku} for sku in skus]}


def next_page(token: str) -> str:
    return f"{USERS}?$select=id&$skiptoken={token}"


def holders_of(sku: str, sign_in_activity: bool = True) -> HttpRequest:
    return users_request(sign_in_activity, sku=sku)


EXPIRED = json_response(graph_error("Directory_ExpiredPageToken", "expired"), 400)


def test_a_user_graph_lists_twice_in_one_query_is_emitted_once(http_mocker):
    second = f"{USERS}?$select=id&$top=999&$skiptoken=p2"
    login(http_mocker)
    http_mocker.get(user_count_request(), count_response(3))
    http_mocker.get(users_request(), page_response([{"id": "u1"}, {"id": "u2"}], next_link=second))
    http_mocker.get(next_page_request(second), page_response([{"id": "u2"}, {"id": "u3"}]))
    output = read_streams(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3"] and not output.errors


def test_a_user_whose_licence_moves_to_a_later_sku_during_the_sync_is_emitted_once_as_first_read(http_mocker):
    """Moved from SALES to SERVICE after SALES' query read them, before SERVICE's query: SALES' query emitted them."""
    answers = [
        (holders_of(SALES), [page_response([holder("mover", SALES), holder("u1", SALES)])]),
        (holders_of(SERVICE), [page_response([holder("mover", SERVICE), holder("u2", SERVICE)])]),
    ]
    records = holders_read(http_mocker, answers)
    assert [record["id"] for record in records] == ["mover", "u1", "u2"]
    assert records[0]["assignedLicenses"] == [{"skuId": SALES}], "as SALES' query read them"


def test_a_user_whose_licence_moves_to_an_earlier_sku_between_the_queries_is_missed_by_this_sync(http_mocker):
    """Moved from SERVICE to SALES after SALES' query passed, before SERVICE's: neither query returns them as a
    holder of its SKU (SERVICE's answer, should Graph still list them, holds SALES only and is dropped); the next sync
    has them."""
    answers = [
        (holders_of(SALES), [page_response([holder("u1", SALES)])]),
        (holders_of(SERVICE), [page_response([holder("mover", SALES), holder("u2", SERVICE)])]),
    ]
    assert [record["id"] for record in holders_read(http_mocker, answers)] == ["u1", "u2"]


def test_the_fallback_after_a_refused_combined_filter_skips_the_users_the_refused_query_emitted(http_mocker):
    """SALES' query emits u1, its page token expires, Graph refuses the filter with signInActivity on the restarted
    first page; the fallback without signInActivity lists u1 again, and SERVICE's query is asked without it too."""
    refused = json_response(graph_error("Request_UnsupportedQuery", "Unsupported query."), 400)
    answers = [
        (holders_of(SALES), [page_response([holder("u1", SALES)], next_link=next_page("p2")), refused]),
        (next_page_request(next_page("p2")), [EXPIRED]),
        (holders_of(SALES, sign_in_activity=False), [page_response([holder("u1", SALES), holder("u2", SALES)])]),
        (holders_of(SERVICE, sign_in_activity=False), [page_response([holder("u3", SERVICE)])]),  # the fallback holds
    ]
    assert [record["id"] for record in holders_read(http_mocker, answers)] == ["u1", "u2", "u3"]


def test_a_restarted_query_emits_a_user_it_lists_twice_once(http_mocker):
    """After a restart the ids emitted since are looked up too: Graph listing u2 on two pages of the second pass."""
    answers = [
        (
            holders_of(SALES),
            [
                page_response([holder("u1", SALES)], next_link=next_page("p2")),
                page_response([holder("u1", SALES), holder("u2", SALES)], next_link=next_page("p3")),
            ],
        ),
        (next_page_request(next_page("p2")), [EXPIRED]),
        (next_page_request(next_page("p3")), [page_response([holder("u2", SALES), holder("u3", SALES)])]),
        (holders_of(SERVICE), [page_response([holder("u3", SERVICE, SALES)])]),
    ]
    assert [record["id"] for record in holders_read(http_mocker, answers)] == ["u1", "u2", "u3"]


LIFECYCLE = "User-LifeCycleInfo.Read.All"
LEAVER = {"id": "u1", "employeeLeaveDateTime": "2026-11-20T23:59:59Z"}
USER_READERS = ["User.Read.All", "LicenseAssignment.Read.All"]  # the required streams' least privileged, no groups
NO_LIFECYCLE = "users is read without employeeLeaveDateTime: the app's token does not carry its permission"


def logged(output, level: str) -> list[str]:
    return [log.log.message for log in output.logs if log.log.level.value == level]


@pytest.mark.parametrize("roles, leave_dates", [(ALL_ROLES, False), ([*ALL_ROLES, LIFECYCLE], True)])
def test_users_select_the_leave_date_only_when_the_token_holds_its_permission(http_mocker, roles, leave_dates):
    """The mock is the assertion: employeeLeaveDateTime last in $select with the role, absent without it."""
    login(http_mocker, roles=roles)
    http_mocker.get(user_count_request(), count_response(1))
    http_mocker.get(users_request(leave_dates=leave_dates), page_response([LEAVER if leave_dates else {"id": "u1"}]))
    output = read_streams(config(exclude_concealed_users=False), ("users", SyncMode.full_refresh))
    assert not output.errors and [r.record.data for r in output.records] == [LEAVER if leave_dates else {"id": "u1"}]
    assert any(NO_LIFECYCLE in line for line in logged(output, "INFO")) is not leave_dates
    assert not logged(output, "WARN")


def test_a_refused_leave_date_is_left_out_with_one_warning_and_every_user_kept(http_mocker):
    """Graph refuses the leave date on the first SKU's second page: that query is read again without it (u1, emitted
    before, skipped), and the second SKU's query never asks for it."""
    denied = json_response(graph_error("Authorization_RequestDenied", "Insufficient privileges."), 403)
    second = f"{USERS}?$select=id&$top=999&$skiptoken=p2"
    skus = [
        {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
        {"skuId": SERVICE, "skuPartNumber": "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "appliesTo": "User"},
    ]
    answers = [
        (users_request(False, SALES, leave_dates=True), [page_response([holder("u1", SALES)], next_link=second)]),
        (next_page_request(second), [denied]),
        (users_request(False, SALES), [page_response([holder("u1", SALES), holder("u2", SALES)])]),
        (users_request(False, SERVICE), [page_response([holder("u3", SERVICE)])]),
    ]
    login(http_mocker, roles=[*ALL_ROLES, LIFECYCLE])
    http_mocker.get(subscribed_skus_request(), page_response(skus))
    for request, responses in answers:
        http_mocker.get(request, responses)
    cfg = config(roster_scope="dynamics_365_license_holders", include_sign_in_activity=False)
    output = read_streams(cfg, ("users", SyncMode.full_refresh))
    assert not output.errors and [r.record.data["id"] for r in output.records] == ["u1", "u2", "u3"]
    warnings = [line for line in logged(output, "WARN") if "employeeLeaveDateTime" in line]
    assert len(warnings) == 1
    assert "Microsoft Graph refused it (HTTP 403: Insufficient privileges.)" in warnings[0]
    assert "User-LifeCycleInfo.Read.All" in warnings[0] and "API permissions" in warnings[0]


@pytest.mark.parametrize("roles, said", [(USER_READERS, NO_LIFECYCLE), ([*USER_READERS, LIFECYCLE], None)])
def test_check_says_which_permission_adds_the_leavers_and_never_fails_for_it(http_mocker, caplog, roles, said):
    parsed = parse_config(config(include_sign_in_log=False))
    login(http_mocker, roles=roles)
    http_mocker.get(subscribed_skus_request(), page_response([]))
    http_mocker.get(user_probe_request(False, leave_dates=said is None), page_response([]))
    with caplog.at_level(logging.INFO, logger="check"):
        check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), fake_runtime())
    lines = [record.getMessage() for record in caplog.records if "employeeLeaveDateTime" in record.getMessage()]
    assert lines == ([] if said is None else [lines[0]]) and all(said in line for line in lines)
