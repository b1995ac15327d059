"""`check` names each missing application permission (from the token's roles claim) and each unreachable host."""

import logging

import pytest
import requests
import requests_mock
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth import GraphTokenProvider
from source_dynamics365_cc.check import check_connection, check_roles
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import ConfigError

from .graph_fakes import GRAPH, access_token, config, register_login


@pytest.mark.parametrize(
    "roles, missing",
    [
        (["AuditLog.Read.All"], "Directory.Read.All"),
        (["Directory.Read.All"], "AuditLog.Read.All"),
        (["User.Read.All"], "Directory.Read.All and AuditLog.Read.All"),
    ],
)
def test_each_missing_application_permission_is_named(roles, missing):
    with pytest.raises(ConfigError) as refused:
        check_roles(access_token(roles))
    assert f"lacks the application permission {missing} (it has {', '.join(roles)})" in refused.value.message
    assert "Grant admin consent" in refused.value.message


def test_a_token_without_roles_means_admin_consent_is_missing():
    with pytest.raises(ConfigError) as refused:
        check_roles(access_token(None))
    assert "admin consent has not been granted" in refused.value.message


def test_a_token_with_both_permissions_passes():
    check_roles(access_token(["Directory.Read.All", "AuditLog.Read.All", "User.Read.All"]))


@pytest.mark.parametrize(
    "failure, fragment",
    [
        (requests.exceptions.ConnectTimeout, f"Cannot reach Microsoft Graph at {GRAPH}"),
        (requests.exceptions.ConnectionError, f"Cannot reach Microsoft Graph at {GRAPH}"),
        (requests.exceptions.SSLError, f"The TLS certificate of {GRAPH} is not trusted"),
    ],
)
def test_a_graph_host_that_cannot_be_reached_or_trusted_is_named(failure, fragment):
    parsed = parse_config(config(sign_in_app_ids=[]))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", exc=failure)
        with pytest.raises(AirbyteTracedException) as refused:
            check_connection(parsed, GraphTokenProvider(parsed, logging.getLogger("t")))
    assert fragment in refused.value.message
