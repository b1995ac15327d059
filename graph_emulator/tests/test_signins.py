"""auditLogs/signIns: paging, $filter grammar, options, retention, licences and permissions."""

from __future__ import annotations

import time

import pytest

from graph_emulator import Emulator, TenantSpec
from graph_emulator.catalog import DATAVERSE, DYNAMICS_APP_IDS
from graph_emulator.gen import parse_ticks

from .conftest import NOW, Client

SIGNINS = "/v1.0/auditLogs/signIns"
WINDOW = "createdDateTime ge 2026-11-20T00:00:00Z and createdDateTime le 2026-11-21T23:59:59.9999999Z"


def crawl(client: Client, params: dict) -> list[dict]:
    return [row for page in client.pages(SIGNINS, params) for row in page]


def test_paging_covers_a_range_exactly_once_newest_first(emu: Emulator, client: Client) -> None:
    got = crawl(client, {"$filter": WINDOW, "$top": "37"})
    truth = list(emu.tenant.sign_ins_between("2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z"))
    assert [r["id"] for r in got] == [r["id"] for r in truth]
    assert len({r["id"] for r in got}) == len(got) > 100
    stamps = [r["createdDateTime"] for r in got]
    assert stamps == sorted(stamps, key=parse_ticks, reverse=True)


def test_next_link_carries_the_original_filter_and_top(client: Client) -> None:
    link = client.get(SIGNINS, {"$filter": WINDOW, "$top": "5"}).json()["@odata.nextLink"]
    assert link.startswith(client.emu.base_url + SIGNINS + "?$filter=createdDateTime%20ge%202026-11-20T00:00:00Z")
    assert "$top=5&$skiptoken=" in link


def test_records_are_realistic(emu: Emulator) -> None:
    rows = list(emu.tenant.sign_ins_between("2026-10-27T12:00:00Z", "2026-11-26T12:00:01Z"))
    digits = {len(r["createdDateTime"][20:-1]) for r in rows}
    assert digits >= {0, 1, 7}
    assert any(r["status"]["errorCode"] != 0 for r in rows)
    assert any(r["appId"] != DATAVERSE and r["resourceId"] == DATAVERSE for r in rows)
    assert {r["appId"] for r in rows} & DYNAMICS_APP_IDS == DYNAMICS_APP_IDS
    stamps = [r["createdDateTime"] for r in rows]
    assert len(stamps) - len(set(stamps)) > 10  # bursts sharing one exact timestamp
    assert any(r["deviceDetail"]["displayName"] is None for r in rows)
    assert set(rows[0]) >= {"riskEventTypes_v2", "appliedConditionalAccessPolicies", "location", "correlationId"}


@pytest.mark.parametrize(
    "flt",
    [
        f"({WINDOW}) and (appId eq '{DATAVERSE}' or resourceId eq '{DATAVERSE}')",
        f"{WINDOW} and startswith(appDisplayName, 'dynamics')",
        f"{WINDOW} and status/errorCode eq 50126",
        "createdDateTime ge 2026-11-21T10:00:00.1234567Z and createdDateTime le 2026-11-21T11:00:00.5Z",
    ],
)
def test_filters_select_what_the_truth_says(emu: Emulator, client: Client, flt: str) -> None:
    got = crawl(client, {"$filter": flt, "$top": "999"})
    from graph_emulator import odata

    keep = odata.compile_predicate(odata.parse(flt))
    truth = [
        r.to_dict()["id"] for r in emu.tenant.sign_in_rows("2026-10-27T12:00:00Z", "2026-11-26T12:00:01Z") if keep(r)
    ]
    assert [r["id"] for r in got] == truth and truth


def test_dynamics_truth_matches_app_or_resource(emu: Emulator, client: Client) -> None:
    flt = f"{WINDOW} and (appId eq '{DATAVERSE}' or resourceId eq '{DATAVERSE}')"
    got = crawl(client, {"$filter": flt})
    truth = list(emu.tenant.sign_ins_between("2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z", app_ids=[DATAVERSE]))
    assert [r["id"] for r in got] == [r["id"] for r in truth]


@pytest.mark.parametrize(
    "flt",
    [
        "createdDateTime ge '2026-11-20T00:00:00Z'",
        "createdDateTime ge 2026-11-20",
        "createdDateTime lt 2026-11-22T00:00:00Z",
        "createdDateTime gt 2026-11-20T00:00:00Z",
        "createdDateTime ne 2026-11-20T00:00:00Z",
        "createdDateTime ge 2026-11-20T00:00:00Z and createdDateTime lt 2026-11-22T00:00:00Z",
        "appId eq 00000007-0000-0000-c000-000000000000",
        "(appId eq 'x'",
        "appId eq 'x' and",
        "createdDateTime ge 2026-11-20T00:00:00.12345678Z",
        "foo eq 'x'",
        "appId Eq 'x'",
    ],
)
def test_malformed_filters_are_400_invalid_filter_clause(client: Client, flt: str) -> None:
    r = client.get(SIGNINS, {"$filter": flt})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid filter clause"


def test_filter_older_than_retention_is_400(client: Client) -> None:
    r = client.get(SIGNINS, {"$filter": "createdDateTime ge 2026-10-01T00:00:00Z"})
    assert r.status_code == 400 and "30 days" in r.json()["error"]["message"]


@pytest.mark.parametrize(("top", "ok"), [("1", True), ("999", True), ("0", False), ("1000", False), ("x", False)])
def test_top_must_be_between_1_and_999(client: Client, top: str, ok: bool) -> None:
    r = client.get(SIGNINS, {"$top": top})
    assert (r.status_code == 200) is ok
    if not ok:
        assert "Must be between 1 and 999 inclusive" in r.json()["error"]["message"]
    else:
        assert len(r.json()["value"]) == int(top)


def test_an_option_given_twice_is_400(client: Client) -> None:
    r = client.get(SIGNINS + "?$top=5&$top=5")
    assert r.status_code == 400 and "more than once" in r.json()["error"]["message"]
    link = client.get(SIGNINS, {"$top": "5"}).json()["@odata.nextLink"]
    assert client.get(link, {"$top": "5"}).status_code == 400


@pytest.mark.parametrize("option", ["$orderby", "$skip", "$select", "$count"])
def test_unsupported_options_are_400(client: Client, option: str) -> None:
    assert client.get(SIGNINS, {option: "createdDateTime"}).status_code == 400


def test_skiptoken_is_bound_to_its_query(client: Client) -> None:
    link = client.get(SIGNINS, {"$top": "5"}).json()["@odata.nextLink"]
    token = link.split("$skiptoken=")[1]
    r = client.get(SIGNINS, {"$top": "6", "$skiptoken": token})
    assert r.status_code == 400


def test_skiptoken_expires(fresh: Emulator) -> None:
    c = Client(fresh)
    fresh.set_skiptoken_ttl(0.05)
    link = c.get(SIGNINS, {"$top": "5"}).json()["@odata.nextLink"]
    time.sleep(0.1)
    r = c.get(link)
    assert r.status_code == 400 and r.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_non_premium_tenant_is_403(fresh: Emulator) -> None:
    fresh.set_premium(False)
    r = Client(fresh).get(SIGNINS)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert err["message"] == "Neither tenant is B2C or tenant doesn't have premium license"
    assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}


@pytest.mark.parametrize("app", ["no_audit", "no_consent"])
def test_missing_role_is_403_authorization_request_denied(emu: Emulator, app: str) -> None:
    r = Client(emu, app).get(SIGNINS)
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"


def test_missing_expired_and_revoked_tokens_are_401(fresh: Emulator) -> None:
    c = Client(fresh)
    assert c.http.get(fresh.base_url + SIGNINS, verify=fresh.ca_path).status_code == 401
    fresh.revoke_tokens()
    r = c.get(SIGNINS)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    fresh.set_token_lifetime(0)
    assert c.get(SIGNINS, token=c.fetch_token()).status_code == 401
    fresh.set_token_lifetime(3600)
    assert c.get(SIGNINS, token=c.fetch_token()).status_code == 200


def test_advance_adds_new_and_late_sign_ins(fresh: Emulator) -> None:
    c = Client(fresh)
    before_end = "2026-11-26T12:00:01Z"
    before = {r["id"] for r in fresh.tenant.sign_ins_between("2026-11-26T11:00:00Z", before_end)}
    info = fresh.advance(60, late=7)
    assert info["late"] == 7 and info["now"] == "2026-11-26T13:00:00Z"
    after_old_window = {r["id"] for r in fresh.tenant.sign_ins_between("2026-11-26T11:00:00Z", before_end)}
    late = after_old_window - before
    assert len(late) == 7  # appeared inside an interval that had already been read
    new = list(fresh.tenant.sign_ins_between(before_end, "2026-11-26T13:00:01Z"))
    served = crawl(c, {"$filter": "createdDateTime ge 2026-11-26T11:00:00Z", "$top": "10"})
    assert {r["id"] for r in served} == before | late | {r["id"] for r in new}
    assert len(served) == len({r["id"] for r in served})


def test_a_million_sign_in_tenant_starts_fast_and_serves_a_full_page() -> None:
    started = time.perf_counter()
    with Emulator(TenantSpec(seed=3, users=500, sign_ins=1_000_000, days=30, now=NOW)) as big:
        assert time.perf_counter() - started < 5
        c = Client(big)
        t = time.perf_counter()
        r = c.get(SIGNINS, {"$top": "999"})
        assert r.status_code == 200 and len(r.json()["value"]) == 999
        r = c.get(r.json()["@odata.nextLink"])
        assert len(r.json()["value"]) == 999
        assert time.perf_counter() - t < 5


def test_a_tenant_refusing_or_answers_400_to_or_and_serves_single_terms(fresh: Emulator) -> None:
    fresh.set_or_filter(False)
    client = Client(fresh)
    both = client.get(SIGNINS, {"$filter": f"{WINDOW} and (appId eq '{DATAVERSE}' or resourceId eq '{DATAVERSE}')"})
    assert both.status_code == 400 and both.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert "Unsupported" in both.json()["error"]["message"] and "filter" in both.json()["error"]["message"]
    assert client.get(SIGNINS, {"$filter": f"{WINDOW} and appId eq '{DATAVERSE}'"}).status_code == 200
