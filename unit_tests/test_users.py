"""The roster's parts: its queries and the settings that choose them."""

import logging

import pytest
import requests_mock
import yaml
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc.auth.tokens import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.signins.stream import sign_in_kinds
from source_dynamics365_cc.streams.licenses import LicenseQuery
from source_dynamics365_cc.streams.users import RosterQuery
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, page, read_streams, register_login

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


def test_an_expired_users_page_token_restarts_the_query_without_duplicates():
    first = page([{"id": "u1"}, {"id": "u2"}], next_link=f"{USERS}?$select=id&$top=999&$skiptoken=p2")
    expired = {"status_code": 400, "json": graph_error("Directory_ExpiredPageToken", "expired")}
    again = page([{"id": f"u{n}"} for n in (1, 2, 3)])
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
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
