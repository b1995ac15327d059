"""`subscriptions` and `directory_role_assignments`: the renewal dates and trials, and who holds a directory role,
each asked as Microsoft documents its list; both optional: without their permission, or at Graph's 403, `check` warns
and a sync skips them with one warning each, never a failure."""

import logging
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc.auth.tokens import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, read_streams
from testing.graph_requests import (
    DYNAMICS_365_APPS,
    json_response,
    login,
    next_page_request,
    page_response,
    role_assignments_request,
    sign_ins_request,
    subscribed_skus_request,
    subscriptions_request,
    user_probe_request,
)

LEAST_PRIVILEGED = ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"]
GRANTED = [*LEAST_PRIVILEGED, "Organization.Read.All", "RoleManagement.Read.Directory"]  # both, groups not
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SUBSCRIPTION = {
    "id": "860697e3-b0aa-4196-a6c6-7ec361ed58f7",
    "skuId": "1e1a282c-9c54-43a2-9310-98ef728faace",
    "skuPartNumber": "DYN365_ENTERPRISE_SALES",
    "isTrial": False,
    "totalLicenses": 25,
    "status": "Enabled",
    "createdDateTime": "2026-01-01T00:00:00Z",
    "nextLifecycleDateTime": "2027-01-01T00:00:00Z",
}
ROLE = {
    "id": GLOBAL_ADMINISTRATOR,
    "displayName": "Global Administrator",
    "templateId": GLOBAL_ADMINISTRATOR,
    "isBuiltIn": True,
    "description": "Can manage all aspects of Microsoft Entra ID.",
    "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/allProperties/allTasks"]}],
}
ASSIGNMENT = {
    "id": "lAPpYvVpN0KRkAEhdxReEMmO4KwRqtpKkUWt3wOYIz4-1",
    "principalId": "ace08ec9-aa11-4ada-9145-addf0398233e",
    "roleDefinitionId": GLOBAL_ADMINISTRATOR,
    "directoryScopeId": "/",
}
BOTH = (("subscriptions", SyncMode.full_refresh), ("directory_role_assignments", SyncMode.full_refresh))


def test_subscriptions_are_read_whole_and_every_page_followed(http_mocker):
    login(http_mocker)
    second = f"{GRAPH}/v1.0/directory/subscriptions?$skiptoken=X1"
    later = {**SUBSCRIPTION, "id": "b5130d52-0372-4e55-bfea-84291433c4c8", "totalLicenses": 10}
    http_mocker.get(subscriptions_request(), page_response([SUBSCRIPTION], next_link=second))
    http_mocker.get(next_page_request(second), page_response([later]))
    output = read_streams(config(), ("subscriptions", SyncMode.full_refresh))
    assert not output.errors
    assert [r.record.data for r in output.records] == [SUBSCRIPTION, later]


def test_role_assignments_come_with_their_role_cut_to_its_name_and_template(http_mocker):
    login(http_mocker)
    orphan = {**ASSIGNMENT, "id": "orphan-1", "roleDefinition": None}
    http_mocker.get(role_assignments_request(), page_response([{**ASSIGNMENT, "roleDefinition": ROLE}, orphan]))
    output = read_streams(config(), ("directory_role_assignments", SyncMode.full_refresh))
    assert not output.errors
    first, second = (r.record.data for r in output.records)
    assert first == {
        **ASSIGNMENT,
        "roleDefinition": {
            "id": GLOBAL_ADMINISTRATOR,
            "displayName": "Global Administrator",
            "templateId": GLOBAL_ADMINISTRATOR,
            "isBuiltIn": True,
        },
    }
    assert second.get("roleDefinition") is None


def skip_warnings(output) -> dict[str, str]:
    return {
        name: log.log.message
        for log in output.logs
        for name in ("subscriptions", "directory_role_assignments")
        if f"Skipping the optional {name} stream" in log.log.message
    }


def test_without_their_permissions_both_are_skipped_with_one_warning_each_before_asking_graph(http_mocker):
    login(http_mocker, roles=LEAST_PRIVILEGED)
    output = read_streams(config(), *BOTH)
    assert not output.errors and not output.records
    warnings = skip_warnings(output)
    assert "the app's token does not carry its permission" in warnings["subscriptions"]
    assert (
        "Organization.Read.All (or one of Directory.Read.All, Organization.ReadWrite.All)" in warnings["subscriptions"]
    )
    assert "RoleManagement.Read.Directory (or one of RoleManagement.Read.All" in warnings["directory_role_assignments"]
    assert all("API permissions" in warning for warning in warnings.values())


def test_a_403_with_their_permissions_granted_skips_each_with_one_warning_and_the_sync_is_green(http_mocker):
    login(http_mocker, roles=GRANTED)
    refused = json_response(graph_error("Authorization_RequestDenied", "Insufficient privileges"), 403)
    http_mocker.get(subscriptions_request(), refused)
    http_mocker.get(role_assignments_request(), refused)
    output = read_streams(config(), *BOTH)
    assert not output.errors and not output.records
    warnings = skip_warnings(output)
    assert set(warnings) == {"subscriptions", "directory_role_assignments"}
    assert all("Microsoft Graph refused it (HTTP 403: Insufficient privileges)" in w for w in warnings.values())


def check_at_midnight(http_mocker, roles: list[str]) -> None:
    """check with `roles`, its required probes answered (sign-ins on a clock pinned to midnight), no Dynamics SKU."""
    parsed = parse_config(config())
    login(http_mocker, roles=roles)
    http_mocker.get(subscribed_skus_request(), page_response([]))
    http_mocker.get(user_probe_request(), page_response([]))
    last_hour = sign_ins_request("2025-12-31T23:00:00Z", "2025-12-31T23:59:59.9999999Z", DYNAMICS_365_APPS, top=1)
    http_mocker.get(last_hour, page_response([]))
    midnight = replace(fake_runtime(), now=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    check_connection(parsed, GraphTokenProvider(parsed), logging.getLogger("check"), midnight)


def test_check_without_their_permissions_passes_warns_with_the_portal_path_and_asks_graph_nothing(http_mocker, caplog):
    with caplog.at_level(logging.WARNING, logger="check"):
        check_at_midnight(http_mocker, LEAST_PRIVILEGED)
    assert (
        "cannot read the optional subscriptions stream: it needs the application permission Organization.Read.All"
        in (caplog.text)
    )
    assert "optional directory_role_assignments stream: it needs the application permission RoleManagement.Read" in (
        caplog.text
    )
    assert caplog.text.count("App registrations > your app > API permissions") >= 2


def test_check_with_their_permissions_asks_each_as_a_sync_does(http_mocker, caplog):
    http_mocker.get(subscriptions_request(), page_response([SUBSCRIPTION]))
    http_mocker.get(role_assignments_request(), page_response([ASSIGNMENT]))
    with caplog.at_level(logging.WARNING, logger="check"):
        check_at_midnight(http_mocker, GRANTED)
    assert "subscriptions" not in caplog.text and "directory_role_assignments" not in caplog.text


@pytest.mark.parametrize(
    "name, request_of",
    [("subscriptions", subscriptions_request), ("directory_role_assignments", role_assignments_request)],
)
def test_check_with_a_permission_graph_refuses_passes_with_a_warning_naming_it(http_mocker, caplog, name, request_of):
    refused = json_response(graph_error("Authorization_RequestDenied", "Insufficient privileges"), 403)
    answered = {"subscriptions": subscriptions_request, "directory_role_assignments": role_assignments_request}
    for other, builder in answered.items():
        http_mocker.get(builder(), refused if other == name else page_response([]))
    with caplog.at_level(logging.WARNING, logger="check"):
        check_at_midnight(http_mocker, GRANTED)
    assert f"The optional {name} stream cannot be read now: Microsoft Graph denied access" in caplog.text
    assert f"a sync skips {name} with a warning" in caplog.text
