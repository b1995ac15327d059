"""Throttling, latency and every fault kind, driven in-process and over the control API."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from graph_emulator import Emulator, EmulatorClock, TenantSpec

from .conftest import Client

SIGNINS = "/v1.0/auditLogs/signIns"


def test_throttle_answers_429_with_retry_after_and_counts_violations(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.set_throttle(3, per_seconds=1.0)
    codes = [c.get(SIGNINS, {"$top": "1"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get(SIGNINS, {"$top": "1"})  # sent while Retry-After has not elapsed: a violation
    assert r.status_code == 429 and r.json()["error"]["code"] == "TooManyRequests"
    wait = float(r.headers["Retry-After"])
    assert 0 < wait <= 1.0 and "." in r.headers["Retry-After"]
    time.sleep(wait + 0.05)
    assert c.get(SIGNINS, {"$top": "1"}).status_code == 200
    stats = fresh.stats()
    app = stats["apps"][fresh.apps["full"].client_id]
    assert app["violations"] == 1 and app["throttled"] == 2 and app["max_requests_in_10s"] == 6
    assert stats["throttled"] == 2
    assert sum(1 for e in fresh.request_log("signIns") if e["status"] == 429) == 2


def test_throttle_can_emit_integer_retry_after(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.set_throttle(1, per_seconds=2.0, integer_retry_after=True)
    c.get(SIGNINS, {"$top": "1"})
    r = c.get(SIGNINS, {"$top": "1"})
    assert r.status_code == 429 and r.headers["Retry-After"] in {"1", "2"}


def test_throttle_is_per_app(fresh: Emulator) -> None:
    fresh.set_throttle(1, per_seconds=10)
    a, b = Client(fresh, "full"), Client(fresh, "no_audit")
    assert a.get(SIGNINS).status_code == 200
    assert b.get(SIGNINS).status_code == 403  # its own budget; answered on permissions
    assert a.get(SIGNINS).status_code == 429


def test_latency_delays_a_route_without_blocking_others(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.set_latency("signIns", 0.6)
    slow = threading.Thread(target=lambda: c.get(SIGNINS, {"$top": "1"}))
    slow.start()
    time.sleep(0.05)
    t = time.perf_counter()
    assert c.get("/v1.0/subscribedSkus").status_code == 200
    assert time.perf_counter() - t < 0.4
    slow.join()


@pytest.mark.parametrize(("status", "body"), [(500, "json"), (503, "json"), (502, "html"), (504, "html")])
def test_status_fault_answers_once_then_recovers(fresh: Emulator, status: int, body: str) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "status", "status": status, "body": body, "retry_after": "1.5"})
    r = c.get(SIGNINS, {"$top": "1"})
    assert r.status_code == status and r.headers["Retry-After"] == "1.5"
    if body == "html":
        assert r.headers["Content-Type"] == "text/html" and "<html>" in r.text
    else:
        assert "code" in r.json()["error"]
    assert c.get(SIGNINS, {"$top": "1"}).status_code == 200


def test_nth_and_times_select_which_requests_fail(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "users", "kind": "status", "status": 503, "nth": 2, "times": 2})
    assert [c.get("/v1.0/users").status_code for _ in range(5)] == [200, 503, 503, 200, 200]


def test_connection_reset_closes_without_answer(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "reset"})
    with pytest.raises(requests.ConnectionError):
        c.get(SIGNINS)
    assert c.get(SIGNINS, {"$top": "1"}).status_code == 200


def test_delay_fault_exceeds_a_client_read_timeout(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "delay", "seconds": 1.0})
    with pytest.raises(requests.ReadTimeout):
        c.http.get(
            fresh.base_url + SIGNINS, headers={"Authorization": f"Bearer {c.token}"}, verify=fresh.ca_path, timeout=0.3
        )


def test_malformed_fault_truncates_the_json(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "malformed"})
    r = c.get(SIGNINS, {"$top": "3"})
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


def test_expired_skiptoken_fault_hits_the_next_link(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "expired_skiptoken"})
    first = c.get(SIGNINS, {"$top": "2"})
    assert first.status_code == 200  # no skiptoken: not matched
    r = c.get(first.json()["@odata.nextLink"])
    assert r.status_code == 400 and r.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_token_endpoint_fails_for_a_while(fresh: Emulator) -> None:
    fresh.add_fault({"route": "token", "kind": "status", "status": 503, "for_seconds": 0.3})
    with pytest.raises(AssertionError):
        Client(fresh)
    with pytest.raises(AssertionError):
        Client(fresh)
    time.sleep(0.35)
    Client(fresh)


def test_redirect_fault_answers_the_status_and_location_without_a_body(fresh: Emulator) -> None:
    fresh.add_fault({"route": "token", "kind": "redirect", "status": 307, "location": "http://collector.test/t"})
    r = requests.post(
        f"{fresh.base_url}/{fresh.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        verify=fresh.ca_path,
        allow_redirects=False,
    )
    assert (r.status_code, r.headers["Location"], r.content) == (307, "http://collector.test/t", b"")
    assert fresh.request_log()[-1]["fault"] == "redirect"
    Client(fresh)


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 307, "location": ""}])
def test_redirect_fault_needs_a_3xx_status_and_a_location(fresh: Emulator, rule: dict) -> None:
    with pytest.raises(ValueError, match="redirect needs"):
        fresh.add_fault({"route": "token", "kind": "redirect", **rule})


@pytest.mark.parametrize("status", [200, 403])
def test_block_page_fault_answers_html_in_the_token_endpoints_place(fresh: Emulator, status: int) -> None:
    fresh.add_fault({"route": "token", "kind": "block_page", "status": status})
    r = requests.post(f"{fresh.base_url}/{fresh.tenant_id}/oauth2/v2.0/token", data={}, verify=fresh.ca_path)
    assert r.status_code == status and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    Client(fresh)


def test_revoke_tokens_after_n_requests(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "revoke_tokens", "nth": 3})
    assert [c.get(SIGNINS, {"$top": "1"}).status_code for _ in range(4)] == [200, 200, 401, 401]
    assert c.get(SIGNINS, {"$top": "1"}, token=c.fetch_token()).status_code == 200


def test_control_api_over_http(fresh: Emulator) -> None:
    ctl = fresh.base_url + "/_emulator"
    v = fresh.ca_path
    assert requests.get(f"{ctl}/info", verify=v).json()["tenant_id"] == fresh.tenant_id
    assert (
        requests.post(f"{ctl}/faults", json={"route": "users", "kind": "status", "status": 500}, verify=v).status_code
        == 201
    )
    assert len(requests.get(f"{ctl}/faults", verify=v).json()) == 1
    requests.delete(f"{ctl}/faults", verify=v)
    assert requests.post(f"{ctl}/faults", json={"route": "users", "kind": "nope"}, verify=v).status_code == 400
    requests.post(f"{ctl}/throttle", json={"requests": 1, "per_seconds": 10}, verify=v)
    c = Client(fresh)
    c.get(SIGNINS, {"$top": "1"})
    assert c.get(SIGNINS, {"$top": "1"}).status_code == 429
    requests.post(f"{ctl}/throttle", json={"requests": None}, verify=v)
    assert c.get(SIGNINS, {"$top": "1"}).status_code == 200
    assert requests.post(f"{ctl}/advance", json={"minutes": 10, "late": 2}, verify=v).json()["late"] == 2
    log = requests.get(f"{ctl}/log", params={"route": "signIns"}, verify=v).json()
    assert [e["status"] for e in log] == [200, 429, 200]
    assert log[0]["query"] == {"$top": "1"} and log[0]["client_id"] == fresh.apps["full"].client_id
    assert requests.get(f"{ctl}/stats", verify=v).json()["throttled"] == 1
    requests.post(f"{ctl}/revoke", verify=v)
    assert c.get(SIGNINS).status_code == 401
    requests.post(f"{ctl}/premium", json={"enabled": False}, verify=v)
    assert Client(fresh).get(SIGNINS).status_code == 403
    requests.delete(f"{ctl}/log", verify=v)
    assert requests.get(f"{ctl}/log", verify=v).json() == []


DATAVERSE_ONLY = (
    "createdDateTime ge 2026-11-25T00:00:00Z and createdDateTime le 2026-11-26T00:00:00Z"
    " and (appId eq '00000007-0000-0000-c000-000000000000' or resourceId eq '00000007-0000-0000-c000-000000000000')"
)


def is_dataverse(row: dict) -> bool:
    return "00000007-0000-0000-c000-000000000000" in (row["appId"], row["resourceId"])


def in_window(row: dict) -> bool:
    return "2026-11-25T00:00:00Z" <= row["createdDateTime"] < "2026-11-26T00:00:00Z"


def test_ignore_filter_application_returns_foreign_rows_on_every_page_of_that_query(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "ignore_filter", "clause": "application"})
    first = c.get(SIGNINS, {"$filter": DATAVERSE_ONLY, "$top": "20"}).json()
    second = c.get(first["@odata.nextLink"]).json()  # the fault fired once; the nextLink still ignores the clause
    for page in (first, second):
        assert not all(is_dataverse(r) for r in page["value"]) and all(in_window(r) for r in page["value"])
    honoured = c.get(SIGNINS, {"$filter": DATAVERSE_ONLY, "$top": "20"}).json()["value"]
    assert honoured and all(is_dataverse(r) for r in honoured)
    assert [e.get("ignored_clause") for e in fresh.request_log("signIns")] == ["application", "application", None]


def test_ignore_filter_window_returns_rows_outside_the_window(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "ignore_filter", "clause": "window", "nth": 2})
    assert all(in_window(r) for r in c.get(SIGNINS, {"$filter": DATAVERSE_ONLY}).json()["value"])
    rows = c.get(SIGNINS, {"$filter": DATAVERSE_ONLY}).json()["value"]
    assert all(is_dataverse(r) for r in rows) and not all(in_window(r) for r in rows)


@pytest.mark.parametrize("fault", [{"clause": "everything"}, {"clause": None}, {"clause": "window", "route": "users"}])
def test_ignore_filter_needs_a_known_clause_on_sign_ins(fresh: Emulator, fault: dict) -> None:
    with pytest.raises(ValueError):
        fresh.add_fault({"route": "signIns", "kind": "ignore_filter", **fault})


def test_expired_skiptoken_can_be_aimed_at_a_page_of_a_query(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "expired_skiptoken", "nth": 3})
    page = c.get(SIGNINS, {"$top": "5"})
    statuses = [page.status_code]
    while page.status_code == 200:
        page = c.get(page.json()["@odata.nextLink"])
        statuses.append(page.status_code)
    assert statuses == [200, 200, 400] and page.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_invalid_skiptoken_is_a_bad_request_about_the_skip_token(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "invalid_skiptoken"})
    first = c.get(SIGNINS, {"$top": "2"})
    assert first.status_code == 200  # no skiptoken: not matched
    error = c.get(first.json()["@odata.nextLink"]).json()["error"]
    assert error["code"] == "BadRequest" and "Skip Token" in error["message"] and "filter" not in error["message"]


def test_a_status_400_fault_has_a_graph_bad_request_body(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "status", "status": 400})
    r = c.get(SIGNINS, {"$top": "1"})
    error = r.json()["error"]
    assert r.status_code == 400 and error["code"] == "BadRequest" and "filter" not in error["message"]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_sign_in_filters_lists_every_filter_sent_first_pages_and_next_links(fresh: Emulator) -> None:
    c = Client(fresh)
    first = c.get(SIGNINS, {"$filter": DATAVERSE_ONLY, "$top": "3"}).json()
    c.get(first["@odata.nextLink"])
    c.get(SIGNINS, {"$top": "1"})
    assert fresh.sign_in_filters() == [DATAVERSE_ONLY, DATAVERSE_ONLY]
    assert fresh.sign_in_filters(first_pages_only=True) == [DATAVERSE_ONLY]
    ctl = fresh.base_url + "/_emulator/sign-in-filters"
    assert requests.get(ctl, verify=fresh.ca_path).json() == [DATAVERSE_ONLY, DATAVERSE_ONLY]
    assert requests.get(ctl, params={"first_pages_only": "true"}, verify=fresh.ca_path).json() == [DATAVERSE_ONLY]


def test_new_fault_kinds_over_the_control_api(fresh: Emulator) -> None:
    ctl, v = fresh.base_url + "/_emulator/faults", fresh.ca_path
    rule = {"route": "signIns", "kind": "ignore_filter", "clause": "application"}
    assert requests.post(ctl, json=rule, verify=v).json()["clause"] == "application"
    assert requests.post(ctl, json={**rule, "clause": "nope"}, verify=v).status_code == 400
    assert requests.post(ctl, json={"route": "signIns", "kind": "invalid_skiptoken"}, verify=v).status_code == 201
    rows = Client(fresh).get(SIGNINS, {"$filter": DATAVERSE_ONLY}).json()["value"]
    assert not all(is_dataverse(r) for r in rows)


@pytest.mark.parametrize("kind, body", [("value_missing", {}), ("value_null", {"value": None})])
def test_page_faults_answer_a_200_without_a_value_list(fresh: Emulator, kind: str, body: dict) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": kind})
    r = c.get(SIGNINS, {"$top": "3"})
    assert r.status_code == 200
    page = r.json()
    assert {key: page[key] for key in page if key == "value"} == body and "@odata.nextLink" in page


def test_link_cycle_fault_sends_the_next_links_round_a_ring_longer_than_one(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "link_cycle", "length": 2, "times": None})
    links = [c.get(SIGNINS, {"$top": "2"}).json()["@odata.nextLink"]]  # a first page starts no ring
    pages = []
    for _ in range(6):
        answer = c.get(links[-1]).json()
        pages.append([record["id"] for record in answer["value"]])
        links.append(answer["@odata.nextLink"])
    a, b = links[1], links[2]
    assert len({links[0], a, b}) == 3 and links[1:] == [a, b] * 3
    assert pages[1] == pages[3] == pages[5] and pages[2] == pages[4] and pages[1] != pages[2] != pages[0]


def test_a_link_cycle_of_length_one_is_refused(fresh: Emulator) -> None:
    with pytest.raises(ValueError, match="length of 2 or more"):
        fresh.add_fault({"route": "signIns", "kind": "link_cycle", "length": 1})


def test_a_status_fault_can_send_retry_after_zero(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "signIns", "kind": "status", "status": 429, "retry_after": 0})
    r = c.get(SIGNINS, {"$top": "1"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"


SALES, SERVICE = "1e1a282c-9c54-43a2-9310-98ef728faace", "749742bf-0d37-4158-a120-33567104deeb"
ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # every member holds it


def holders_of(sku_id: str) -> dict:
    return {"$filter": f"assignedLicenses/any(x:x/skuId eq {sku_id})", "$select": "id,assignedLicenses", "$top": "3"}


def skus_of(user: dict) -> set:
    return {licence["skuId"] for licence in user["assignedLicenses"]}


def test_duplicate_row_lists_the_previous_pages_last_row_again_and_skips_none(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "users", "kind": "duplicate_row", "nth": 2})
    pages = c.pages("/v1.0/users", holders_of(ENTERPRISEPACK))
    ids = [user["id"] for page in pages for user in page]
    truth = [user["id"] for user in fresh.tenant.users() if ENTERPRISEPACK in skus_of(user)]
    assert len(pages) > 2 and pages[1][0] == pages[0][-1], "the second page starts with the first page's last holder"
    assert ids == truth[:3] + truth[2:] and [rule["fired"] for rule in fresh.faults.list()] == [1]


def test_duplicate_row_repeats_a_group_too_and_is_refused_on_other_routes(fresh: Emulator) -> None:
    fresh.add_fault({"route": "groups", "kind": "duplicate_row", "times": None})
    pages = Client(fresh).pages("/v1.0/groups", {"$select": "id", "$top": "3"})
    assert [group["id"] for page in pages[1:] for group in page[:1]] == [page[-1]["id"] for page in pages[:-1]]
    with pytest.raises(ValueError, match="duplicate_row needs a route"):
        fresh.add_fault({"route": "signIns", "kind": "duplicate_row"})


def test_move_licence_reassigns_a_users_licence_between_two_per_sku_queries(fresh: Emulator) -> None:
    c = Client(fresh)
    mover = next(u for u in fresh.tenant.users() if SALES in skus_of(u) and SERVICE not in skus_of(u))
    consumed = {sku["skuId"]: sku["consumedUnits"] for sku in fresh.tenant.subscribed_skus()}
    rule = {"route": "users", "kind": "move_licence", "nth": 2, "user": mover["id"]}
    ctl, v = fresh.base_url + "/_emulator/faults", fresh.ca_path
    assert requests.post(ctl, json={**rule, "from_sku": SALES, "to_sku": SERVICE}, verify=v).status_code == 201
    sales = [user["id"] for page in c.pages("/v1.0/users", holders_of(SALES)) for user in page]
    service = {user["id"]: user for page in c.pages("/v1.0/users", holders_of(SERVICE)) for user in page}
    assert mover["id"] in sales and skus_of(service[mover["id"]]) == skus_of(mover) - {SALES} | {SERVICE}
    assert mover["id"] not in [user["id"] for page in c.pages("/v1.0/users", holders_of(SALES)) for user in page]
    truth = next(u for u in fresh.tenant.users() if u["id"] == mover["id"])
    assert skus_of(truth) == skus_of(service[mover["id"]]), "the tenant's truth holds the moved licence"
    assert {s["skuId"] for s in truth["licenseAssignmentStates"] if s["state"] == "Active"} == skus_of(truth)
    after = {sku["skuId"]: sku["consumedUnits"] for sku in fresh.tenant.subscribed_skus()}
    assert (after[SALES], after[SERVICE]) == (consumed[SALES] - 1, consumed[SERVICE] + 1)
    assert [rule["fired"] for rule in fresh.faults.list()] == [1]


@pytest.mark.parametrize(
    "move, words",
    [
        ({"user": "00000000-0000-0000-0000-000000000001"}, "no user"),
        ({"from_sku": SERVICE, "to_sku": SALES}, "does not hold SKU"),
        ({"to_sku": "328dc228-00bc-48c6-8b09-1fbc8bc3435d"}, "is not a per-user SKU"),
        ({"times": 2}, "moves a licence once"),
        ({"to_sku": None}, "needs a user, a from_sku and a to_sku"),
    ],
)
def test_a_licence_move_the_tenant_cannot_make_is_refused_when_added(fresh: Emulator, move: dict, words: str) -> None:
    mover = next(u for u in fresh.tenant.users() if SALES in skus_of(u) and SERVICE not in skus_of(u))
    rule = {"route": "users", "kind": "move_licence", "user": mover["id"], "from_sku": SALES, "to_sku": SERVICE}
    answer = requests.post(fresh.base_url + "/_emulator/faults", json={**rule, **move}, verify=fresh.ca_path)
    assert answer.status_code == 400 and words in answer.json()["error"] and not fresh.faults.list()


def test_foreign_json_fault_answers_a_gateways_json_in_the_discovery_documents_place(fresh: Emulator) -> None:
    fresh.add_fault({"route": "openid", "kind": "foreign_json"})
    url = f"{fresh.base_url}/{fresh.tenant_id}/v2.0/.well-known/openid-configuration"
    r = requests.get(url, verify=fresh.ca_path)
    assert r.status_code == 200 and "error" in r.json() and "token_endpoint" not in r.json()
    assert fresh.request_log()[-1]["fault"] == "foreign_json"
    assert "token_endpoint" in requests.get(url, verify=fresh.ca_path).json()


def test_trickle_fault_sends_the_body_a_byte_at_a_time_so_a_read_timeout_never_fires(fresh: Emulator) -> None:
    fresh.add_fault({"route": "token", "kind": "trickle", "seconds": 0.05})
    started = time.monotonic()
    r = requests.post(
        f"{fresh.base_url}/{fresh.tenant_id}/oauth2/v2.0/token", data={}, verify=fresh.ca_path, stream=True, timeout=0.5
    )
    first = r.raw.read(20)  # each byte comes well inside the 0.5 s read timeout
    assert len(first) == 20 and time.monotonic() - started >= 20 * 0.05
    r.close()


def test_null_record_fault_puts_a_null_among_a_pages_records(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "users", "kind": "null_record"})
    records = c.get("/v1.0/users", {"$top": "3"}).json()["value"]
    assert len(records) == 4 and records[1] is None and all(isinstance(r, dict) for r in records[:1] + records[2:])


def test_corrupt_gzip_fault_marks_a_plain_body_as_gzip(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.add_fault({"route": "users", "kind": "corrupt_gzip"})
    with pytest.raises(requests.exceptions.ContentDecodingError):
        c.get("/v1.0/users", {"$top": "3"})
    assert c.get("/v1.0/users", {"$top": "3"}).status_code == 200


def test_on_a_clock_a_client_skips_its_waits_on_a_retry_after_ends_and_faults_and_the_log_move_on() -> None:
    """A client that skips its waits moves the emulator's time on by them (EmulatorClock): after skipping the
    Retry-After it was told, its next request is served, is no violation, and is logged that much later; a fault
    that fires `for_seconds` stops once the skipped seconds pass it."""
    skipped = [0.0]
    with Emulator(TenantSpec(seed=11, users=5, sign_ins=50, days=2), clock=EmulatorClock(lambda: skipped[0])) as emu:
        c = Client(emu)
        emu.set_throttle(1, per_seconds=600)
        emu.add_fault({"route": "subscribedSkus", "kind": "status", "status": 503, "times": None, "for_seconds": 300})
        assert c.get(SIGNINS, {"$top": "1"}).status_code == 200
        told = c.get(SIGNINS, {"$top": "1"})
        assert c.get("/v1.0/subscribedSkus").status_code == 503
        skipped[0] += float(told.headers["Retry-After"])
        assert told.status_code == 429 and c.get(SIGNINS, {"$top": "1"}).status_code == 200
        assert c.get("/v1.0/subscribedSkus").status_code == 200
        times = [entry["time"] for entry in emu.request_log("signIns")]
        app = emu.stats()["apps"][emu.apps["full"].client_id]
    assert app["violations"] == 0 and app["throttled"] == 1
    assert times[2] - times[1] >= 599
