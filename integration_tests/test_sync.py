"""Syncs through main.py against the emulator, compared with the emulated tenant's own records.

The tenant clock runs behind the wall clock (`TENANT_LAG`): the connector freezes its end at the
wall-clock now, so `advance()` must never move emulated sign-ins into the connector's future.
Start dates lie a few hours back so each sync needs at most a handful of sign-in requests.
"""

import datetime as dt
import re
from typing import Any

import pytest

from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.signins.instants import parse_ticks, ticks_of
from testing.harness import (
    config_since,
    connector_config,
    read_successfully,
    run_connector,
    running_emulator,
    stream_state_message,
    truth_sign_in_ids,
)

TENANT_LAG = dt.timedelta(minutes=90)
LOOKBACK = dt.timedelta(minutes=60)  # the connector's default lookback_window_minutes
ALL_STREAMS = {"users": "full_refresh", "sign_ins": "incremental", "subscribed_skus": "full_refresh"}
FILTER_BOUND = re.compile(r"createdDateTime (ge|le) (\S+)")
UNDOCUMENTED_OPERATOR = re.compile(r"createdDateTime (lt|gt) ")


def lagging_tenant(**overrides: Any):
    """A small, dense tenant whose clock is TENANT_LAG behind the wall clock."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    return running_emulator(**{"seed": 7, "users": 40, "sign_ins": 20000, "days": 2, "now": now, **overrides})


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def sync_config(emu, hours_back: float, **overrides: Any) -> dict[str, Any]:
    return config_since(emu, emu.tenant.now - dt.timedelta(hours=hours_back), **overrides)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def filter_bounds(emu) -> list[tuple[int, int]]:
    """[ge, le + 100 ns) in ticks of every sign-in request the emulator answered, oldest window first."""
    bounds = []
    for entry in emu.request_log("signIns"):
        found = dict(FILTER_BOUND.findall(entry["query"]["$filter"]))
        bounds.append((parse_ticks(found["ge"]), parse_ticks(found["le"]) + 1))
    return sorted(bounds)


@pytest.fixture(scope="module")
def first_sync(tmp_path_factory):
    """One full sync of every stream; the tenant stays unchanged for the tests that inspect it."""
    with lagging_tenant() as emu:
        config = sync_config(emu, hours_back=2)
        yield emu, config, read_successfully(emu, tmp_path_factory.mktemp("first"), config, ALL_STREAMS)


def test_full_sync_emits_every_user_except_concealed_ones(first_sync):
    emu, _, result = first_sync
    users = list(emu.tenant.users())
    expected = sorted(u["id"] for u in users if not is_concealed(u))

    assert any(is_concealed(u) for u in users), "the tenant must hold a concealed user for this test to mean anything"
    assert sorted(ids(result.records_of("users"))) == expected


def test_full_sync_emits_every_dynamics_sign_in_since_start_date_exactly_once(first_sync):
    emu, config, result = first_sync
    emitted = ids(result.records_of("sign_ins"))
    expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, DYNAMICS_365_APP_IDS)

    assert len(emitted) == len(set(emitted))
    assert set(emitted) == expected
    assert expected != truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, DYNAMICS_365_APP_IDS, False)


def test_full_sync_emits_every_subscribed_sku(first_sync):
    emu, _, result = first_sync

    assert sorted(r["skuId"] for r in result.records_of("subscribed_skus")) == sorted(
        s["skuId"] for s in emu.tenant.subscribed_skus()
    )


def test_every_sign_in_request_uses_only_the_documented_operators_on_created_date_time(first_sync):
    emu, _, _ = first_sync
    filters = [entry["query"]["$filter"] for entry in emu.request_log("signIns")]

    assert filters and all(FILTER_BOUND.search(text) for text in filters)
    assert not [text for text in filters if UNDOCUMENTED_OPERATOR.search(text)]


def test_sign_in_state_is_the_newest_emitted_created_date_time(first_sync):
    _, _, result = first_sync
    newest = max(instant(r["createdDateTime"]) for r in result.records_of("sign_ins"))

    assert instant(result.final_state("sign_ins")["createdDateTime"]) == newest


def test_sign_in_state_never_passes_a_record_not_yet_emitted(tmp_path):
    with lagging_tenant() as emu:
        config = sync_config(emu, hours_back=2, sign_in_app_ids=[], max_concurrency=1)
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "incremental"})
        truth = {
            row["id"]: instant(row["createdDateTime"])
            for row in emu.tenant.sign_ins_between(config["start_date"], emu.tenant.now)
            if not is_concealed(row)
        }
    emitted: set[str] = set()
    for message in result.messages:
        if message["type"] == "RECORD":
            emitted.add(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            cursor = instant(message["state"]["stream"]["stream_state"]["createdDateTime"])
            assert {i for i, created in truth.items() if created < cursor} <= emitted


def test_incremental_sync_rereads_the_lookback_window_and_catches_late_sign_ins(tmp_path):
    with lagging_tenant(seed=8) as emu:
        config = sync_config(emu, hours_back=2)
        first = read_successfully(emu, tmp_path / "first", config, ALL_STREAMS)
        cursor = instant(first.final_state("sign_ins")["createdDateTime"])
        late_from = emu.tenant.now - dt.timedelta(minutes=emu.spec.late_window_minutes)
        before = truth_sign_in_ids(emu, late_from, emu.tenant.now, DYNAMICS_365_APP_IDS)
        emu.advance(minutes=30, late=40)
        late = truth_sign_in_ids(emu, late_from, emu.tenant.now - dt.timedelta(minutes=30), DYNAMICS_365_APP_IDS)
        late -= before
        emu.reset_log()

        state = [stream_state_message("sign_ins", first.final_state("sign_ins"))]
        second = read_successfully(emu, tmp_path / "second", config, {"sign_ins": "incremental"}, state)
        bounds = filter_bounds(emu)
        expected = truth_sign_in_ids(emu, cursor - LOOKBACK, emu.tenant.now, DYNAMICS_365_APP_IDS)

    emitted = ids(second.records_of("sign_ins"))
    assert bounds[0][0] == ticks_of(cursor - LOOKBACK)
    assert all(end == start for (_, end), (start, _) in zip(bounds, bounds[1:])), "windows must be contiguous"
    assert late, "some late sign-ins must belong to Dynamics apps for this test to mean anything"
    assert late <= set(emitted)
    assert len(emitted) == len(set(emitted))
    assert set(emitted) == expected


def test_an_empty_app_list_reads_sign_ins_of_every_app(tmp_path):
    with lagging_tenant() as emu:
        config = sync_config(emu, hours_back=2, sign_in_app_ids=[])
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "incremental"})
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, None)

    assert expected > truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, DYNAMICS_365_APP_IDS)
    assert sorted(ids(result.records_of("sign_ins"))) == sorted(expected)


def test_certificate_credentials_sync_every_stream(tmp_path):
    with lagging_tenant() as emu:
        config = {
            **sync_config(emu, hours_back=2),
            "credentials": connector_config(emu, "full", "client_certificate")["credentials"],
        }
        result = read_successfully(emu, tmp_path, config, ALL_STREAMS)
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, DYNAMICS_365_APP_IDS)
        tokens = emu.request_log("token")

    assert set(ids(result.records_of("sign_ins"))) == expected
    assert result.records_of("users") and result.records_of("subscribed_skus")
    assert tokens and all(entry["status"] == 200 for entry in tokens)


def test_sign_in_requests_never_exceed_graph_throttle_paced_on_the_real_clock(tmp_path):
    """Seven requests: one more than Graph's 5 in 10 s allow, so the pacer waits once, in real time (about 11 s)."""
    with lagging_tenant(real_clock=True) as emu:
        emu.set_throttle(5, 10)
        config = sync_config(emu, hours_back=12, sign_in_app_ids=[])
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "incremental"})
        stats = emu.stats()
        requests = len(emu.request_log("signIns"))
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, None)

    assert requests > 5, "the sync must need more requests than one throttle window allows"
    assert stats["violations"] == 0
    assert stats["throttled"] == 0
    assert set(ids(result.records_of("sign_ins"))) == expected


def test_a_lower_sign_in_rate_setting_is_kept_to_paced_on_the_tests_clock(tmp_path):
    """The setting's pacer waits on the test's clock, which the emulator counts in (the same pacer waits in real
    time in the test above)."""
    with lagging_tenant(paced=True) as emu:
        config = sync_config(emu, hours_back=8, sign_in_app_ids=[], sign_in_requests_per_10_seconds=2)
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "incremental"})
        stats = emu.stats()
        requests = len(emu.request_log("signIns"))
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, None)

    assert requests > 2, "the sync must need more requests than the setting allows in 10 s"
    assert stats["max_requests_in_10s"] <= 2 and stats["throttled"] == 0
    assert set(ids(result.records_of("sign_ins"))) == expected


def test_users_without_sign_in_activity_and_skus_are_not_paced_by_the_sign_in_budget_on_the_real_clock(tmp_path):
    """Users pages that select signInActivity are paced (integration_tests/test_roster.py); the others are not."""
    with lagging_tenant(users=5100, real_clock=True) as emu:  # six pages of 999
        config = sync_config(emu, hours_back=-0.5, sign_in_requests_per_10_seconds=1, include_sign_in_activity=False)
        result = read_successfully(emu, tmp_path, config, ALL_STREAMS)
        times = sorted(e["time"] for e in emu.request_log() if e["route"] in ("users", "subscribedSkus"))
        sign_in_requests = len(emu.request_log("signIns"))

    busiest = max(sum(1 for t in times if start <= t < start + 10) for start in times)
    assert sign_in_requests >= 1, "the sign-in budget must be in use"
    assert len(times) > 5 and len(result.records_of("users")) > 2500
    assert busiest > 1, "a second non-sign-in request inside 10 s proves the 1-per-10-s sign-in pacer was bypassed"


def test_a_tenant_refusing_or_is_read_one_application_query_at_a_time_without_duplicates(tmp_path):
    """Two applications (each asked by appId and by resourceId) over three windows: 15 sign-in requests, where
    Dynamics' four would take 27 at Graph's five per 10 s and prove nothing more."""
    apps = list(DYNAMICS_365_APP_IDS[:2])
    with lagging_tenant(or_filter=False) as emu:
        config = sync_config(emu, hours_back=2, sign_in_app_ids=apps)
        check = run_connector("check", tmp_path / "check", config, emulator=emu)
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "incremental"})
        filters = [entry["query"]["$filter"] for entry in emu.request_log("signIns")]
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, apps)
        by_app = [truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, [app]) for app in apps]

    emitted = ids(result.records_of("sign_ins"))
    assert all(by_app), "the tenant must hold sign-ins of each application for this test to mean anything"
    assert check.connection_status["status"] == "SUCCEEDED"
    assert any(" or " in text for text in filters), "the connector must try the combined filter first"
    assert any("resourceId eq" in text and " or " not in text for text in filters)
    assert len(emitted) == len(set(emitted))
    assert set(emitted) == expected
    assert sum("refused 'or'" in line for line in result.log_lines("WARN")) == 1
    assert result.log_lines("ERROR") == [], "a refused 'or' is handled, not an error"


@pytest.mark.parametrize("saved", ["an hour ago", "in the future"])
def test_sign_ins_configured_as_full_refresh_read_from_the_start_date_whatever_state_is_passed(tmp_path, saved):
    """Full refresh | Overwrite replaces the destination's table: started from the saved cursor, it would keep
    only the lookback window. An unusable state (a cursor in the future) is ignored too, not refused."""
    with lagging_tenant() as emu:
        config = sync_config(emu, hours_back=3)
        moment = emu.tenant.now + (dt.timedelta(days=2) if saved == "in the future" else -dt.timedelta(hours=1))
        state = [stream_state_message("sign_ins", {"createdDateTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})]
        result = read_successfully(emu, tmp_path, config, {"sign_ins": "full_refresh"}, state)
        expected = truth_sign_in_ids(emu, config["start_date"], emu.tenant.now, DYNAMICS_365_APP_IDS)
        first_bound = filter_bounds(emu)[0][0]

    assert sorted(ids(result.records_of("sign_ins"))) == sorted(expected)
    assert first_bound == ticks_of(instant(config["start_date"].replace("Z", "+00:00")))
