"""`check` names each unreachable or untrusted host (permissions: test_permissions.py),
and waits out a busy tenant for about a minute, as Graph asks, before it fails."""

import logging
from types import SimpleNamespace

import backoff._sync
import pytest
import requests
import requests_mock
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth.deadline import DEADLINE_SECONDS
from source_dynamics365_cc.auth.tokens import GraphTokenProvider
from source_dynamics365_cc.check import check_connection
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import GraphUnavailable
from source_dynamics365_cc.streams import Users
from source_dynamics365_cc.streams.users import RosterQuery
from testing.clock import FakeClock
from testing.graph_fakes import GRAPH, config, page, register_groups, register_login, register_optional_reads
from testing.runtime import paced_runtime


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


@pytest.fixture
def cdk_sleeps(monkeypatch) -> list:
    """The CDK's HttpClient sleeps between retries in its rate_limiting module: record instead of waiting."""
    sleeps: list = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


def run_check(**answers) -> None:
    """check_connection against requests-mock, with each Graph path answered by `answers[path]` (a list of
    requests-mock responses), a fake clock for the sign-in pacer, and no real waiting."""
    clock = FakeClock()
    parsed = parse_config(config(sign_in_app_ids=[]))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_groups(mocker)
        register_optional_reads(mocker)
        for path in ("subscribedSkus", "users", "auditLogs/signIns"):
            mocker.get(f"{GRAPH}/v1.0/{path}", answers.get(path.split("/")[-1], [{"json": page([])}]))
        check_connection(
            parsed, GraphTokenProvider(parsed), logging.getLogger("check"), paced_runtime(clock.sleep, clock)
        )


def busy(status: int, retry_after: str | None = None) -> dict:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return {"status_code": status, "headers": headers, "json": {"error": {"code": "TooManyRequests"}}}


def test_check_waits_out_a_busy_sign_in_log_as_graph_asks_and_logs_it(cdk_sleeps, caplog):
    with caplog.at_level(logging.INFO, logger="check"):
        run_check(signIns=[busy(429, "2"), busy(429, "2.5"), {"json": page([])}])
    assert cdk_sleeps == [3, 3.5]
    assert "Microsoft Graph is busy (HTTP 429); waiting 3.0 s before asking again (3 of at most 60 s)" in caplog.text


def test_check_gives_up_after_about_a_minute_of_waiting_and_says_how_long(cdk_sleeps):
    with pytest.raises(GraphUnavailable) as refused:
        run_check(subscribedSkus=[busy(429, "10")])
    assert cdk_sleeps == [11] * 5 and sum(cdk_sleeps) <= DEADLINE_SECONDS
    assert "busy or unavailable (HTTP 429) and stayed so through 55 s of waiting" in refused.value.message
    assert "try again in a few minutes" in refused.value.message


def test_check_backs_off_a_503_without_retry_after_within_the_same_minute(cdk_sleeps):
    with pytest.raises(GraphUnavailable) as refused:
        run_check(users=[busy(503)])
    assert cdk_sleeps == [3, 5, 9, 17]
    assert "(HTTP 503) and stayed so through 34 s of waiting" in refused.value.message


def test_one_minute_is_shared_by_all_of_checks_requests(cdk_sleeps):
    with pytest.raises(GraphUnavailable):
        run_check(
            subscribedSkus=[busy(429, "20"), {"json": page([])}],
            users=[busy(503, "20"), {"json": page([])}],
            signIns=[busy(429, "20")],
        )
    assert cdk_sleeps == [21, 21]


@pytest.mark.parametrize("retry_after", ["inf", "1e9", "61"])
def test_a_wait_longer_than_check_allows_fails_at_once(cdk_sleeps, retry_after):
    with pytest.raises(GraphUnavailable) as refused:
        run_check(signIns=[busy(429, retry_after)])
    assert cdk_sleeps == []
    assert "stayed so through 0 s of waiting" in refused.value.message


def test_check_keeps_its_minute_when_graph_keeps_answering_retry_after_zero(cdk_sleeps, monkeypatch):
    """The CDK's own default backoff (up to 61 tries over 15 minutes) sleeps in the backoff library: recorded
    too, so a check that fell back to it would show here instead of taking a quarter of an hour."""
    monkeypatch.setattr(backoff._sync, "time", SimpleNamespace(sleep=cdk_sleeps.append))
    with pytest.raises(GraphUnavailable) as refused:
        run_check(signIns=[busy(429, "0")])
    waits = [sleep for sleep in cdk_sleeps if sleep]  # the backoff library also sleeps 0 s around the CDK's own
    assert 50 <= len(waits) <= DEADLINE_SECONDS and sum(waits) <= DEADLINE_SECONDS
    assert "busy or unavailable (HTTP 429) and stayed so through" in refused.value.message


def test_check_probes_each_stream_with_its_own_first_query_narrowed_to_one_record():
    parsed = parse_config(config(sign_in_app_ids=[]))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_groups(mocker)
        register_optional_reads(mocker)
        sku = {"skuId": "sku-1", "skuPartNumber": "DYN365_ENTERPRISE_SALES", "servicePlans": []}
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([sku]))
        users = mocker.get(f"{GRAPH}/v1.0/users", json=page([]))
        sign_ins = mocker.get(f"{GRAPH}/v1.0/auditLogs/signIns", json=page([]))
        clock = FakeClock()
        check_connection(
            parsed, GraphTokenProvider(parsed), logging.getLogger("check"), paced_runtime(clock.sleep, clock)
        )
        groups = [r for r in mocker.request_history if r.path == "/v1.0/groups"]
    roster = Users(parsed, None).graph_query(RosterQuery(True)).narrowed()  # the token holds no lifecycle role
    assert users.last_request.qs == {k.lower(): [str(v).lower()] for k, v in roster.params.items()}
    assert sign_ins.last_request.qs["$top"] == ["1"] and "createddatetime ge" in sign_ins.last_request.qs["$filter"][0]
    assert groups[-1].qs["$top"] == ["1"] and "assignedlicenses" in groups[-1].qs["$filter"][0]
    assert groups[-1].headers["ConsistencyLevel"] == "eventual"
