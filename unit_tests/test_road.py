"""The road every Graph query takes (graph/road.py): slices are plain values, a query's refusals come back as the
read's outcome, an expired page token resumes as the query's policy says, and each query read pages on its own."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Generator, Mapping, Optional

import pytest
import requests
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.graph.query import GraphQuery
from source_dynamics365_cc.graph.road import MAX_RESTARTS, Paginator
from source_dynamics365_cc.graph.stream import OptionalStreamRefusal
from source_dynamics365_cc.limits import SIGN_IN_ACTIVITY_LIMITS, SIGN_IN_LOG_LIMITS
from source_dynamics365_cc.streams import Groups, NonInteractiveSignIns, SignIns, SubscribedSkus, Users
from testing.graph_fakes import GRAPH, config, graph_error, page, read_streams, register_login

SALES, SERVICE = "1e1a282c-9c54-43a2-9310-98ef728faace", "749742bf-0d37-4158-a120-33567104deeb"
SKUS = [
    {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
    {"skuId": SERVICE, "skuPartNumber": "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "appliesTo": "User"},
]
EXPIRED = graph_error("Directory_ExpiredPageToken", "The page token expired")


def stream(kind: type, **settings: Any) -> Any:
    parsed = parse_config(config(**settings))
    return kind(parsed, GraphAuthenticator(GraphTokenProvider(parsed)))


def finished(read: Generator) -> tuple[list, Optional[object]]:
    """The records a read yields and the outcome it returns."""
    records = []
    while True:
        try:
            records.append(next(read))
        except StopIteration as end:
            return records, end.value


@pytest.mark.parametrize("kind", [Users, Groups])
def test_a_directory_stream_slices_its_sku_queries_as_plain_json(kind):
    directory = stream(kind, roster_scope="dynamics_365_license_holders")
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS))
        slices = list(directory.stream_slices())
    assert slices == [{"sku_id": SALES}, {"sku_id": SERVICE}]
    assert json.loads(json.dumps(slices)) == slices


def test_the_whole_roster_is_one_slice_without_a_sku():
    assert list(stream(Users, roster_scope="all_users").stream_slices()) == [{"sku_id": None}]


def test_a_refusal_the_query_expects_is_the_reads_returned_outcome_asked_once():
    skus = stream(SubscribedSkus)
    query = GraphQuery(
        "subscribedSkus", {"$top": 1}, refusals=(lambda answer: "refused" if answer.ok is False else None,)
    )
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        refused = mocker.get(f"{GRAPH}/v1.0/subscribedSkus", status_code=400, json=graph_error("BadRequest", "no"))
        records, outcome = finished(skus.read_query(query))
    assert (records, outcome, refused.call_count) == ([], "refused", 1)


def test_an_answer_no_refusal_claims_still_fails_the_read():
    skus = stream(SubscribedSkus)
    query = GraphQuery("subscribedSkus", refusals=(lambda answer: None,))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", status_code=400, json=graph_error("BadRequest", "no"))
        with pytest.raises(AirbyteTracedException, match="rejected the request"):
            finished(skus.read_query(query))


class Recorder:
    """A resume policy that admits every record once and resumes from the first page, counting its restarts."""

    def __init__(self) -> None:
        self.admitted: list[str] = []
        self.restarts = 0

    def admit(self, record: Mapping[str, Any]) -> bool:
        new = record["id"] not in self.admitted
        self.admitted.append(record["id"])
        return new

    def resumed(self, query: GraphQuery) -> GraphQuery:
        self.restarts += 1
        return query

    def exhausted(self) -> AirbyteTracedException:
        return AirbyteTracedException(message="gave up")


def test_an_expired_page_token_resumes_as_the_querys_policy_says_and_ends_after_max_restarts():
    skus, policy = stream(SubscribedSkus), Recorder()
    link = f"{GRAPH}/v1.0/subscribedSkus?$skiptoken=a"
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        first = mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page([{"id": "s1"}], link))
        mocker.get(link, status_code=400, json=EXPIRED)
        with pytest.raises(AirbyteTracedException, match="gave up"):
            finished(skus.read_query(GraphQuery("subscribedSkus", resume=policy)))
    assert policy.restarts == MAX_RESTARTS and first.call_count == MAX_RESTARTS + 1
    assert policy.admitted == ["s1"] * (MAX_RESTARTS + 1), (
        "every sighting is put to the policy, which keeps repeats out"
    )


def test_without_a_resume_policy_an_expired_page_token_fails_the_read_at_once():
    skus = stream(SubscribedSkus)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        first = mocker.get(f"{GRAPH}/v1.0/subscribedSkus", status_code=400, json=EXPIRED)
        with pytest.raises(PaginationResetRequiredException):
            finished(skus.read_query(GraphQuery("subscribedSkus")))
    assert first.call_count == 1


def test_a_paginator_guards_its_own_query_only():
    graph = "graph.microsoft.com"
    first, second = Paginator(graph, "users"), Paginator(graph, "users")
    link = f"https://{graph}/v1.0/users?$skiptoken=b"

    def answer(url: str, next_link: str) -> Any:
        with requests_mock.Mocker() as mocker:
            mocker.get(url, json=page([], next_link))
            return requests.get(url)

    a_page = answer(f"https://{graph}/v1.0/users?$skiptoken=a", link)
    assert first.next_link(a_page) == link and second.next_link(a_page) == link, "another query may read that page"
    with pytest.raises(AirbyteTracedException, match="repeated a page link"):
        first.next_link(answer(link, f"https://{graph}/v1.0/users?$skiptoken=a"))
    with pytest.raises(AirbyteTracedException, match="another host"):
        second.next_link(answer(link, "https://elsewhere.example/v1.0/users?$skiptoken=c"))


def test_a_query_is_a_value_its_resume_policy_aside():
    query = GraphQuery("users", {"$top": 1})
    assert query == replace(query, resume=Recorder()) and query.url("https://g") == "https://g/v1.0/users"


def test_a_400_to_a_later_users_page_fails_the_read_whatever_its_link_looks_like():
    """Graph judges the license filter with signInActivity on a query's first page: a 400 to a nextLink (here one
    without `$skiptoken`) is another failure, never the combined-filter refusal and its fallback."""
    cfg = config(roster_scope="dynamics_365_license_holders")
    link = f"{GRAPH}/v1.0/users?$select=id,signInActivity&$filter=assignedLicenses/any(x:x/skuId eq {SALES})&page=2"
    holder = {"id": "u1", "assignedLicenses": [{"skuId": SALES}]}
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(SKUS[:1]))
        users = mocker.get(f"{GRAPH}/v1.0/users", json=page([holder], link))
        mocker.get(link, complete_qs=True, status_code=400, json=graph_error("BadRequest", "Invalid request"))
        output = read_streams(cfg, ("users", SyncMode.full_refresh))
    assert [record.record.data["id"] for record in output.records] == ["u1"]
    assert users.call_count == 1, "no query without signInActivity follows"
    assert not [log for log in output.logs if "refused the license filter" in log.log.message]
    assert "rejected the request (400 BadRequest)" in output.errors[0].trace.error.message


def test_the_package_reads_a_slice_in_one_place():
    package = Path(__file__).resolve().parent.parent / "source_dynamics365_cc"
    overriding = sorted(
        str(path.relative_to(package)) for path in package.rglob("*.py") if "def read_records(" in path.read_text()
    )
    assert overriding == ["graph/stream.py"], "a stream reads its slices through GraphStream.read_records, on the road"


@pytest.mark.parametrize(
    "kind, settings, limits, permission",
    [
        (Users, {"include_sign_in_activity": True}, SIGN_IN_ACTIVITY_LIMITS, "User.Read.All"),
        (Users, {"include_sign_in_activity": False}, (), "User.Read.All"),
        (SignIns, {}, SIGN_IN_LOG_LIMITS, "AuditLog.Read.All"),
        (NonInteractiveSignIns, {"include_non_interactive_sign_ins": True}, SIGN_IN_LOG_LIMITS, "AuditLog.Read.All"),
        (Groups, {}, (), "GroupMember.Read.All"),
        (SubscribedSkus, {}, (), "LicenseAssignment.Read.All"),
    ],
)
def test_a_query_names_the_limits_it_counts_against_and_the_permission_that_covers_it(
    kind, settings, limits, permission
):
    """What the budget paces by and what a 403 names come from the query the stream built, not from its URL."""
    slices = (
        {"sku_id": SALES}
        if kind in (Users, Groups)
        else {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}
    )
    with requests_mock.Mocker() as mocker:
        register_login(mocker)  # a users query asks the token's roles whether it may select employeeLeaveDateTime
        query = stream(kind, **settings).query_of(slices)
    assert query.limits == limits
    assert query.permission is not None and query.permission.least_privileged == permission


def test_only_an_optional_streams_queries_end_in_a_skip_at_graphs_403():
    forbidden = requests.Response()
    forbidden.status_code, forbidden._content = (
        403,
        json.dumps(graph_error("Authorization_RequestDenied", "No")).encode(),
    )
    groups = stream(Groups).query_of({"sku_id": SALES})
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        users = stream(Users, include_sign_in_activity=False).query_of({"sku_id": SALES})
    assert groups.refusal_of(forbidden, first_page=False) == OptionalStreamRefusal("No")
    assert users.refusal_of(forbidden, first_page=True) is None


def test_nothing_in_the_package_parses_a_request_url_to_learn_what_was_asked():
    """Only the paginator reads a page's URL (graph/road.py: a page read twice is a cycle); the answer side reads the
    query."""
    package = Path(__file__).resolve().parent.parent / "source_dynamics365_cc"
    parsing = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "parse_qs" in path.read_text() or ".path_url" in path.read_text() or "request.url" in path.read_text()
    )
    assert parsing == ["graph/road.py"], "the answer side reads the query (graph/query.py), never the request's URL"


def test_a_create_is_one_post_of_its_json_body_and_its_answer_is_one_entity_not_a_page():
    groups = stream(Groups)
    query = GraphQuery("things", method="POST", body={"name": "x"}, entity=True)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        created = mocker.post(f"{GRAPH}/v1.0/things", json={"id": "t1", "name": "x"}, status_code=201)
        response, refusal = groups.probe(query)
    assert refusal is None and response.status_code == 201
    assert [request.json() for request in created.request_history] == [{"name": "x"}]
