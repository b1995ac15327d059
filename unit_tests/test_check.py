"""`check` names each unreachable or untrusted host (permissions: test_permissions.py)."""

import logging

import pytest
import requests
import requests_mock
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config

from .graph_fakes import GRAPH, config, register_login


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
