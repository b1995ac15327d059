"""Purview's audit log query API as the emulator serves it: the query lifecycle on the emulator's clock, records only
once a query succeeded, paging, filters, the tenant's CRM records as the truth, and each fault and limit."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest
import requests

from graph_emulator import Emulator, TenantSpec
from graph_emulator.apps import AUDIT, AUDIT_QUERY_CRM, DIRECTORY
from graph_emulator.audit import ALL_ROLE
from graph_emulator.crm_activity import OPERATIONS, SESSION_SPAN
from graph_emulator.gen import TICKS, parse_ticks

from .conftest import NOW, Client

QUERIES = "/v1.0/security/auditLog/queries"
START, END = "2026-11-19T00:00:00Z", "2026-11-24T00:00:00Z"
SPEC = TenantSpec(seed=7, users=120, sign_ins=4000, days=30, now=NOW)


class FakeClock:
    """The emulator's monotonic seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class AuditClient(Client):
    """The tests' Graph client, plus the create POST."""

    def create(self, body: dict[str, Any], version: str = "v1.0") -> requests.Response:
        return self.http.post(
            f"{self.emu.base_url}/{version}/security/auditLog/queries",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            verify=self.emu.ca_path,
            timeout=30,
        )

    def finished(self, body: dict[str, Any], clock: FakeClock, version: str = "v1.0") -> str:
        """Create a query, let its latency pass on the fake clock, return its id."""
        answer = self.create(body, version)
        assert answer.status_code == 201, answer.text
        clock.now += self.emu.audit.settings.latency
        return answer.json()["id"]

    def all_records(self, query_id: str, top: int | None = None, version: str = "v1.0") -> list[list[dict]]:
        return self.pages(
            f"/{version}/security/auditLog/queries/{query_id}/records", {} if top is None else {"$top": str(top)}
        )


def crm(start: str = START, end: str = END, **more: Any) -> dict[str, Any]:
    body = {"displayName": "test", "filterStartDateTime": start, "filterEndDateTime": end, "recordTypeFilters": ["crm"]}
    return body | more


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit_emu(clock: FakeClock) -> Iterator[Emulator]:
    with Emulator(SPEC) as emu:
        emu.audit.clock = clock
        emu.set_audit_latency(60.0)
        yield emu


@pytest.fixture
def client(audit_emu: Emulator) -> AuditClient:
    return AuditClient(audit_emu, "activity")


def ids(pages: list[list[dict]]) -> list[str]:
    return [record["id"] for page in pages for record in page]


def truth(emu: Emulator, start: str = START, end: str = END) -> list[dict]:
    """The tenant's records in the query's range; a query's end bound is inclusive, the truth's exclusive."""
    return emu.tenant.crm_records_between(start, parse_ticks(end) + TICKS)  # type: ignore[operator]


# -- lifecycle and latency ---------------------------------------------------------------------------------------


def test_a_query_is_not_started_then_running_then_succeeded_as_its_latency_passes_on_the_emulator_clock(client, clock):
    created = client.create(crm())
    assert created.status_code == 201
    assert created.json()["status"] == "notStarted"
    assert created.headers["Location"].endswith(f"/v1.0/security/auditLog/queries/{created.json()['id']}")
    path = f"{QUERIES}/{created.json()['id']}"
    seen = []
    for seconds in (14.9, 15.0, 59.9, 60.0, 3600.0):
        clock.now = 1000.0 + seconds
        seen.append(client.get(path).json()["status"])
    assert seen == ["notStarted", "running", "running", "succeeded", "succeeded"]


def test_the_create_echoes_the_definition_and_the_count_comes_with_success(client, clock):
    query = client.create(crm(operationFilters=["Update"])).json()
    assert query["filterStartDateTime"] == START and query["filterEndDateTime"] == END
    assert query["recordTypeFilters"] == ["crm"] and query["operationFilters"] == ["Update"]
    assert query["approximateReturnedRecordCount"] is None and query["recordCountLimit"] == 1_000_000
    clock.now += 60
    done = client.get(f"{QUERIES}/{query['id']}").json()
    expected = [r for r in truth(client.emu) if r["operation"] == "Update"]
    assert done["approximateReturnedRecordCount"] == len(expected) > 0
    assert done["isRecordCountLimitExceeded"] is False


@pytest.mark.parametrize("seconds", [0.0, 30.0])
def test_records_are_refused_until_the_query_succeeded(client, clock, seconds):
    query_id = client.create(crm()).json()["id"]
    clock.now += seconds
    answer = client.get(f"{QUERIES}/{query_id}/records")
    assert answer.status_code == 400
    assert "once its status is 'succeeded'" in answer.json()["error"]["message"]


def test_a_query_made_by_one_client_is_found_by_another_after_a_restart(audit_emu, client, clock):
    query_id = client.create(crm()).json()["id"]
    clock.now += 60
    later = AuditClient(audit_emu, "activity")  # a new process: new session, new token
    assert later.get(f"{QUERIES}/{query_id}").json()["status"] == "succeeded"
    assert [q["id"] for q in audit_emu.audit_queries()] == [query_id]


# -- records: truth, paging, filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_the_records_paged_through_next_links_are_exactly_the_tenants_crm_records(client, clock, version):
    query_id = client.finished(crm(), clock, version)
    pages = client.all_records(query_id, top=50, version=version)
    expected = truth(client.emu)
    assert len(pages) > 2 and all(len(page) == 50 for page in pages[:-1])
    assert sorted(ids(pages)) == sorted(r["id"] for r in expected) and len(set(ids(pages))) == len(expected)
    served = {r["id"]: r for page in pages for r in page}
    assert all(served[r["id"]] == r for r in expected)


def test_records_come_in_no_time_order_and_the_default_page_is_150(client, clock):
    pages = client.all_records(client.finished(crm(), clock))
    assert len(pages[0]) == 150
    stamps = [r["createdDateTime"] for page in pages for r in page]
    assert stamps != sorted(stamps)


def test_a_crm_record_names_the_user_the_environment_the_table_and_the_message(client, clock):
    record = client.all_records(client.finished(crm(), clock))[0][0]
    assert record["auditLogRecordType"] == "CRM" and record["service"] == "CRM"
    data = record["auditData"]
    assert data["InstanceUrl"].startswith("https://") and data["EntityName"] and data["Message"] == record["operation"]
    assert data["UserId"] == data["UserUpn"] == record["userPrincipalName"]
    assert record["organizationId"] == client.emu.tenant_id


def test_both_bounds_are_inclusive_and_a_record_outside_them_is_not_served(client, clock):
    everything = truth(client.emu)
    edge = everything[len(everything) // 2]["createdDateTime"]
    query_id = client.finished(crm(start=edge, end=edge), clock)
    served = [r for page in client.all_records(query_id) for r in page]
    assert served and {r["createdDateTime"] for r in served} == {edge}


def test_operation_and_user_filters_match_case_insensitively(client, clock):
    everything = truth(client.emu)
    upn = everything[0]["userPrincipalName"]
    query_id = client.finished(
        crm(operationFilters=["update", "DELETE"], userPrincipalNameFilters=[upn.upper()]), clock
    )
    served = [r for page in client.all_records(query_id) for r in page]
    expected = [r for r in everything if r["operation"] in ("Update", "Delete") and r["userPrincipalName"] == upn]
    assert sorted(r["id"] for r in served) == sorted(r["id"] for r in expected)


def test_only_top_and_skiptoken_are_options_of_records_and_top_is_1_to_1000(client, clock):
    query_id = client.finished(crm(), clock)
    assert client.get(f"{QUERIES}/{query_id}/records", {"$top": "1000"}).status_code == 200
    for params in ({"$top": "0"}, {"$top": "1001"}, {"$filter": "operation eq 'Update'"}, {"$orderby": "id"}):
        assert client.get(f"{QUERIES}/{query_id}/records", params).status_code == 400, params


def test_the_record_count_limit_cuts_the_records_and_says_so(audit_emu, client, clock):
    audit_emu.set_audit_limits(record_count_limit=25)
    query_id = client.finished(crm(), clock)
    assert client.get(f"{QUERIES}/{query_id}").json()["isRecordCountLimitExceeded"] is True
    assert len(ids(client.all_records(query_id))) == 25


# -- the tenant's story ------------------------------------------------------------------------------------------


def test_crm_records_follow_dataverse_sign_ins_of_users_who_work_and_never_of_those_who_only_sign_in(audit_emu):
    tenant = audit_emu.tenant
    records = tenant.crm_records_between("2026-10-27T12:00:00Z", "2026-11-26T12:00:00Z")
    workers = {r["userId"] for r in records}
    dataverse = "00000007-0000-0000-c000-000000000000"
    signed_in: dict[str, list[int]] = {}
    for sign_in in tenant.sign_ins_between("2026-10-27T10:00:00Z", "2026-11-26T12:00:00Z", [dataverse]):
        if sign_in["status"]["errorCode"] == 0:
            signed_in.setdefault(sign_in["userId"], []).append(parse_ticks(sign_in["createdDateTime"]))  # type: ignore
    only_sign_in = set(signed_in) - workers
    assert workers and only_sign_in, "the tenant has both: users who work and users who only sign in"
    assert workers <= set(signed_in)
    for record in records:
        at = parse_ticks(record["createdDateTime"])
        assert any(0 < at - t <= SESSION_SPAN for t in signed_in[record["userId"]]), record["id"]
    assert {r["operation"] for r in records} == {name for name, _ in OPERATIONS}


def test_the_same_spec_gives_the_same_records():
    with Emulator(SPEC) as first, Emulator(SPEC) as second:
        assert first.tenant.crm_records_between(START, END) == second.tenant.crm_records_between(START, END)


def test_records_reach_the_log_late_and_appear_as_the_tenant_clock_moves(audit_emu):
    recent = ("2026-11-26T09:00:00Z", "2026-11-26T12:00:00Z")
    now = audit_emu.tenant.crm_records_between(*recent)
    audit_emu.advance(24 * 60)
    later = audit_emu.tenant.crm_records_between(*recent)
    assert {r["id"] for r in now} < {r["id"] for r in later}


def test_a_tenant_with_dataverse_auditing_off_answers_with_zero_records_not_an_error(audit_emu, client, clock):
    audit_emu.set_crm_auditing(False)
    query_id = client.finished(crm(), clock)
    assert client.get(f"{QUERIES}/{query_id}").json()["status"] == "succeeded"
    assert client.all_records(query_id) == [[]]
    assert audit_emu.tenant.crm_records_between(START, END) == []


# -- permissions and versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles, record_types, status",
    [
        ([AUDIT, DIRECTORY], ["crm"], 403),
        ([AUDIT_QUERY_CRM], ["crm"], 201),
        ([ALL_ROLE], ["crm"], 201),
        (["AuditLogsQuery-Entra.Read.All"], ["crm"], 403),
        ([AUDIT_QUERY_CRM], [], 403),
        ([ALL_ROLE], [], 201),
    ],
)
def test_a_create_needs_a_permission_that_reads_every_record_type_asked(audit_emu, roles, record_types, status):
    audit_emu.grant_roles("full", roles)
    answer = AuditClient(audit_emu, "full").create(crm(recordTypeFilters=record_types))
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["error"]["code"] == "Authorization_RequestDenied"


def test_the_full_app_lacks_the_audit_log_query_permission_and_the_activity_app_has_it(audit_emu):
    assert AUDIT_QUERY_CRM not in audit_emu.apps["full"].roles
    assert AuditClient(audit_emu, "full").create(crm()).status_code == 403
    assert AuditClient(audit_emu, "activity").create(crm()).status_code == 201


def test_without_v1_the_api_answers_on_beta_only(audit_emu, client):
    audit_emu.set_audit_query_v1(False)
    refused = client.create(crm())
    assert refused.status_code == 400 and "segment 'auditLog'" in refused.json()["error"]["message"]
    assert client.create(crm(), "beta").status_code == 201


@pytest.mark.parametrize(
    "body, message",
    [
        (crm(filterStartDateTime="2026-11-19"), "Edm.DateTimeOffset"),
        (crm(recordTypeFilters=["crmx"]), "Requested value 'crmx' was not found."),
        (crm(start="2026-11-24T00:00:00Z", end="2026-11-19T00:00:00Z"), "must not be later"),
        (crm(pageSize=5), "The property 'pageSize' does not exist"),
        (crm(operationFilters="Update"), "collection of strings"),
    ],
)
def test_a_create_graph_cannot_read_is_a_400_that_says_why(client, body, message):
    answer = client.create(body)
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_a_create_takes_any_utc_offset_and_seven_digits(client):
    query = client.create(crm(start="2026-11-19T01:00:00+01:00", end="2026-11-23T23:59:59.9999999Z")).json()
    assert query["filterStartDateTime"] == START and query["filterEndDateTime"] == "2026-11-23T23:59:59.9999999Z"


# -- faults and limits -------------------------------------------------------------------------------------------


def test_a_throttled_create_is_a_429_with_retry_after_and_creates_nothing(audit_emu, client):
    audit_emu.add_fault({"route": "auditQueries", "kind": "status", "status": 429, "retry_after": 7})
    answer = client.create(crm())
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    assert audit_emu.audit_queries() == []
    assert client.create(crm()).status_code == 201


def test_past_the_unfinished_query_limit_a_create_waits_for_the_first_to_finish(audit_emu, client, clock):
    audit_emu.set_audit_limits(max_unfinished=2)
    assert [client.create(crm()).status_code for _ in range(2)] == [201, 201]
    clock.now += 20
    refused = client.create(crm())
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "40"
    clock.now += 40
    assert client.create(crm()).status_code == 201


def test_past_the_daily_submissions_a_create_waits_for_the_oldest_to_leave_the_rolling_day(audit_emu, client, clock):
    audit_emu.set_audit_limits(submissions_per_day=3)
    for _ in range(3):
        assert client.create(crm()).status_code == 201
        clock.now += 3600
    refused = client.create(crm())
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(86400 - 3 * 3600)


def test_a_query_failed_fault_makes_that_query_end_failed_and_its_records_refused(audit_emu, client, clock):
    audit_emu.add_fault({"route": "auditQueries", "kind": "query_failed"})
    failed = client.finished(crm(), clock)
    assert client.get(f"{QUERIES}/{failed}").json()["status"] == "failed"
    assert client.get(f"{QUERIES}/{failed}/records").status_code == 400
    assert client.get(f"{QUERIES}/{client.finished(crm(), clock)}").json()["status"] == "succeeded"


@pytest.mark.parametrize("route, suffix", [("auditQuery", ""), ("auditRecords", "/records")])
def test_a_vanished_query_is_a_404_from_then_on(audit_emu, client, clock, route, suffix):
    query_id = client.finished(crm(), clock)
    audit_emu.add_fault({"route": route, "kind": "query_vanished"})
    gone = client.get(f"{QUERIES}/{query_id}{suffix}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    assert client.get(f"{QUERIES}/{query_id}").status_code == 404
    assert audit_emu.audit_queries() == []


def test_an_unknown_query_id_is_a_404(client):
    assert client.get(f"{QUERIES}/168ec429-084b-a489-90d8-504a87846305").status_code == 404


def test_handler_faults_fit_only_their_routes(audit_emu):
    with pytest.raises(ValueError):
        audit_emu.add_fault({"route": "signIns", "kind": "query_failed"})
    with pytest.raises(ValueError):
        audit_emu.add_fault({"route": "auditQueries", "kind": "query_vanished"})


def test_the_control_endpoints_drive_the_audit_log(audit_emu, client):
    def post(path: str, body: dict) -> int:
        return requests.post(f"{audit_emu.base_url}/_emulator/{path}", json=body, verify=audit_emu.ca_path).status_code

    assert post("audit-latency", {"seconds": 5}) == 200 and audit_emu.audit.settings.latency == 5
    assert post("audit-limits", {"max_unfinished": 7}) == 200 and audit_emu.audit.settings.max_unfinished == 7
    assert post("crm-auditing", {"enabled": False}) == 200 and not audit_emu.tenant.crm_auditing
    assert post("audit-query-v1", {"enabled": False}) == 200 and not audit_emu.tenant.audit_query_v1
    client.create(crm(), "beta")
    listed = requests.get(f"{audit_emu.base_url}/_emulator/audit-queries", verify=audit_emu.ca_path).json()
    assert [q["status"] for q in listed] == ["notStarted"]


def test_the_clock_of_the_tenant_does_not_decide_a_querys_status(audit_emu, client, clock):
    query_id = client.create(crm()).json()["id"]
    audit_emu.advance(600)
    assert client.get(f"{QUERIES}/{query_id}").json()["status"] == "notStarted"
    assert dt.timedelta(minutes=600) == audit_emu.tenant.now - NOW
