"""What each Graph answer means: one row of the error table per test case."""

import json
from functools import partial

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth.entra import token_error_message
from source_dynamics365_cc.auth.permissions import stream_permissions
from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import FilterRefused
from source_dynamics365_cc.graph.answers import GraphErrorHandler
from source_dynamics365_cc.graph.query import GraphQuery
from source_dynamics365_cc.signins.refusal import filter_refusal
from source_dynamics365_cc.streams import Groups, NonInteractiveSignIns, SignIns, SubscribedSkus, Users
from source_dynamics365_cc.streams.restarts import RESUME_NOTE
from testing.graph_fakes import config


def answer(status: int, body=None, path="/v1.0/auditLogs/signIns", text=None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = text.encode() if text is not None else json.dumps(body or {}).encode()
    response.request = requests.Request("GET", f"https://graph.example.test{path}").prepare()
    return response


def graph(code: str, message: str = "m") -> dict:
    return {"error": {"code": code, "message": message}}


HANDLER = GraphErrorHandler(logger=None, resume_note=RESUME_NOTE)


@pytest.mark.parametrize(
    "status, body, text, action",
    [
        (200, {"value": []}, None, ResponseAction.SUCCESS),
        (200, None, '{"value": [{"id": "trunc', ResponseAction.RETRY),
        (429, graph("TooManyRequests"), None, ResponseAction.RATE_LIMITED),
        (500, graph("InternalServerError"), None, ResponseAction.RETRY),
        (502, None, "<html>Bad Gateway</html>", ResponseAction.RETRY),
        (503, graph("serviceNotAvailable"), None, ResponseAction.RETRY),
        (504, None, "<html>Gateway Timeout</html>", ResponseAction.RETRY),
        (408, None, "", ResponseAction.RETRY),
        (401, graph("InvalidAuthenticationToken"), None, ResponseAction.REFRESH_TOKEN_THEN_RETRY),
        (400, graph("Directory_ExpiredPageToken"), None, ResponseAction.RESET_PAGINATION),
        (400, graph("BadRequest", "Invalid filter clause"), None, ResponseAction.FAIL),
    ],
)
def test_each_status_maps_to_its_action(status, body, text, action):
    assert HANDLER.interpret_response(answer(status, body, text=text)).response_action == action


def test_dropped_connections_and_timeouts_are_retried():
    for error in (requests.ConnectionError(), requests.ReadTimeout(), requests.exceptions.ChunkedEncodingError()):
        assert HANDLER.interpret_response(error).response_action == ResponseAction.RETRY


def test_a_tenant_without_premium_fails_as_config_error_naming_p1_p2():
    resolution = HANDLER.interpret_response(
        answer(403, graph("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C"))
    )
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type == FailureType.config_error
    assert "P1 or P2" in resolution.error_message


def test_a_missing_permission_is_named_by_the_query_it_refused_not_by_its_url():
    """The handler reads the permission from the query (`GraphQuery.permission`): the same URL names whatever the
    query says covers it."""
    refused = answer(403, graph("Authorization_RequestDenied"), path="/v1.0/subscribedSkus")
    on_sign_ins = handler_of("sign_ins").interpret_response(refused)
    on_skus = handler_of("subscribed_skus").interpret_response(refused)
    assert "AuditLog.Read.All" in on_sign_ins.error_message
    assert "LicenseAssignment.Read.All (or one of Organization.Read.All, Directory.Read.All" in on_skus.error_message
    assert "Grant admin consent" in on_skus.error_message
    assert "its application permissions" in HANDLER.interpret_response(refused).error_message


def handler_of(stream: str) -> GraphErrorHandler:
    return GraphErrorHandler(logger=None, resume_note=RESUME_NOTE, permission=stream_permissions(stream))


def test_an_answer_the_query_expects_is_passed_back_unjudged_for_the_road_to_return():
    refused = answer(403, graph("Authorization_RequestDenied"), path="/v1.0/users?$select=id,signInActivity")
    handler = GraphErrorHandler(None, RESUME_NOTE, expected=lambda response: FilterRefused("", "", None))
    assert handler.interpret_response(refused).response_action == ResponseAction.SUCCESS


def test_unless_a_query_expects_them_the_classification_knows_no_stream_path():
    """A 403 on signInActivity and a refused sign-in filter are the queries' business: the handler alone fails them."""
    activity = answer(403, graph("Authorization_RequestDenied"), path="/v1.0/users?$select=id,signInActivity")
    sign_ins = answer(400, graph("BadRequest", "Invalid filter clause"), "/v1.0/auditLogs/signIns?$filter=appId eq 'a'")
    assert HANDLER.interpret_response(activity).response_action == ResponseAction.FAIL
    assert HANDLER.interpret_response(sign_ins).response_action == ResponseAction.FAIL


@pytest.mark.parametrize(
    "code, words",
    [
        (7000215, "not its Secret ID"),
        (7000222, "expired"),
        (700016, "No application with this Client ID"),
        (90002, "tenant was not found"),
        (7000112, "disabled"),
        (65001, "consent"),
        (90094, "consent"),
        (500011, "not known to this tenant's cloud"),
        (700027, "certificate was not accepted"),
        (700024, "check this machine's clock"),
    ],
)
def test_entra_codes_become_instructions(code, words):
    error = token_error_message(
        {"error": "invalid_client", "error_description": f"AADSTS{code}: x", "error_codes": [code]}
    )
    assert words in error.message
    assert error.failure_type == FailureType.config_error


def test_an_entra_outage_is_transient():
    error = token_error_message({"error": "temporarily_unavailable", "error_description": "try later"})
    assert error.failure_type == FailureType.transient_error


def test_a_refused_filter_on_a_sign_in_querys_first_request_goes_to_the_stream_to_judge():
    first_request = "/v1.0/auditLogs/signIns?$filter=(appId eq 'a' or resourceId eq 'a')"

    refused = filter_refusal(answer(400, graph("BadRequest", "Invalid filter clause"), first_request))
    unsupported = filter_refusal(answer(400, graph("Request_UnsupportedQuery", "Unsupported"), first_request))

    assert isinstance(refused, FilterRefused) and (refused.code, refused.message) == (
        "BadRequest",
        "Invalid filter clause",
    )
    assert isinstance(unsupported, FilterRefused) and unsupported.code == "Request_UnsupportedQuery"


@pytest.mark.parametrize(
    "first_page, body",
    [(False, graph("BadRequest", "Invalid filter clause")), (True, graph("BadRequest", "Invalid $skiptoken value"))],
    ids=["on-a-next-link", "not-about-the-filter"],
)
def test_any_other_400_fails_with_graphs_message(first_page, body):
    """Even to a sign-in query, which expects a refused filter on its first page only."""
    query = GraphQuery("auditLogs/signIns", {"$filter": "appId eq 'a'"}, first_refusals=(filter_refusal,))
    expected = partial(query.refusal_of, first_page=first_page)
    resolution = GraphErrorHandler(None, RESUME_NOTE, expected=expected).interpret_response(answer(400, body))

    assert resolution.response_action == ResponseAction.FAIL
    assert body["error"]["message"] in resolution.error_message


@pytest.mark.parametrize("kind", [Users, Groups, SubscribedSkus, SignIns, NonInteractiveSignIns])
def test_every_streams_failure_ends_with_what_the_next_sync_does(kind):
    """graph/ words no stream: each stream hands its error handler and its backoff the note (streams/restarts.py)."""
    parsed = parse_config(config())
    stream = kind(parsed, GraphAuthenticator(GraphTokenProvider(parsed)))
    busy = answer(503, graph("serviceNotAvailable"), f"/v1.0/{kind.collection}")
    assert stream.get_error_handler().interpret_response(busy).error_message.endswith(RESUME_NOTE)
    busy.headers["Retry-After"] = "3600"
    with pytest.raises(AirbyteTracedException) as ended:
        stream.get_backoff_strategy().backoff_time(busy, 1)
    assert ended.value.message.endswith(RESUME_NOTE)
