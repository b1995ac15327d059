"""The documented signIns contract: eq/le/ge on createdDateTime, 7-digit instants, bursts, retention by the tenant clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Iterator

import pytest

from graph_emulator import Emulator, Tenant, TenantSpec
from graph_emulator.catalog import DYNAMICS_APP_IDS
from graph_emulator.gen import format_ticks, parse_ticks

from .conftest import NOW, Client

SIGNINS = "/v1.0/auditLogs/signIns"
EVERYTHING = ("2026-10-27T12:00:00Z", "2026-11-26T12:00:01Z")
BURST = 2500
DYNAMICS = " or ".join(f"appId eq '{a}' or resourceId eq '{a}'" for a in sorted(DYNAMICS_APP_IDS))


def crawl(client: Client, params: dict) -> tuple[list[dict], int]:
    """All rows of a query and the number of pages it took."""
    pages = client.pages(SIGNINS, params)
    return [row for page in pages for row in page], len(pages)


def ticks_of(rows: list[dict]) -> list[int]:
    return [parse_ticks(r["createdDateTime"]) for r in rows]  # type: ignore[misc]


@pytest.fixture(scope="module")
def bursty() -> Iterator[Emulator]:
    with Emulator(TenantSpec(seed=5, users=30, sign_ins=3000, days=30, now=NOW, burst_size=BURST)) as e:
        yield e


def shared_microseconds(emu: Emulator) -> dict[int, list[int]]:
    """Microsecond -> the ticks of the default data's sign-ins in it, where more than one shares it."""
    by_microsecond: dict[int, list[int]] = {}
    for row in emu.tenant.sign_in_rows(*EVERYTHING):
        by_microsecond.setdefault(row.ticks // 10, []).append(row.ticks)
    return {m: t for m, t in by_microsecond.items() if len(t) > 1}


def test_generated_data_has_many_sign_ins_sharing_a_microsecond_but_not_the_7th_digit(emu: Emulator) -> None:
    shared = shared_microseconds(emu)
    differing = [t for t in shared.values() if len(set(t)) > 1]
    same_tick = [t for t in shared.values() if len(set(t)) < len(t)]
    assert len(differing) >= 10 and sum(map(len, differing)) >= 80
    assert len(same_tick) >= 10
    stamps = {r["createdDateTime"] for r in emu.tenant.sign_ins_between(*EVERYTHING)}
    assert sum(1 for s in stamps if len(s) == len("2026-11-20T10:00:00.1234567Z")) > 100


def test_a_filter_between_two_ticks_of_one_microsecond_splits_it_exactly(emu: Emulator, client: Client) -> None:
    ticks = max(shared_microseconds(emu).values(), key=lambda t: len(set(t)))
    low, high = min(ticks), max(ticks)
    middle = sorted(set(ticks))[len(set(ticks)) // 2]
    assert middle // 10 == low // 10 and middle != low  # same microsecond, other 7th digit
    upper, _ = crawl(client, {"$filter": f"createdDateTime ge {format_ticks(middle)}", "$top": "999"})
    lower, _ = crawl(
        client, {"$filter": f"createdDateTime ge {format_ticks(low)} and createdDateTime le {format_ticks(middle - 1)}"}
    )
    assert ticks_of(lower) == sorted((t for t in ticks if t < middle), reverse=True)
    assert min(ticks_of(upper)) == middle and sorted(ticks_of(upper)).count(middle) == ticks.count(middle)
    assert high in ticks_of(upper)


def test_eq_on_created_date_time_matches_one_exact_tick(emu: Emulator, client: Client) -> None:
    ticks = next(t for t in shared_microseconds(emu).values() if len(set(t)) < len(t))
    tick = Counter(ticks).most_common(1)[0][0]
    rows, _ = crawl(client, {"$filter": f"createdDateTime eq {format_ticks(tick)}"})
    assert ticks_of(rows) == [tick] * ticks.count(tick)


def test_truth_helpers_take_seven_digit_bounds_and_compare_in_ticks(emu: Emulator) -> None:
    ticks = max(shared_microseconds(emu).values(), key=lambda t: len(set(t)))
    middle = sorted(set(ticks))[1]
    start, end = format_ticks(middle), format_ticks(middle + 1)
    assert len(start) == len("2026-11-20T10:00:00.1234567Z")
    assert [parse_ticks(r["createdDateTime"]) for r in emu.tenant.sign_ins_between(start, end)] == [middle] * (
        ticks.count(middle)
    )
    assert len(list(emu.tenant.sign_ins_between(middle, middle + 1))) == ticks.count(middle)


def test_a_burst_fills_one_microsecond_with_dynamics_sign_ins_over_several_pages(bursty: Emulator) -> None:
    ticks = bursty.tenant.burst_ticks()
    first = ticks[0]
    assert ticks == list(range(first, first + 10)) and first % 10 == 0
    assert format_ticks(first).startswith("2026-11-26T11:00:00")  # default: 1 hour before the tenant clock
    rows = list(bursty.tenant.sign_ins_between(first, first + 10))
    assert len(rows) == BURST
    assert all(r["appId"] in DYNAMICS_APP_IDS or r["resourceId"] in DYNAMICS_APP_IDS for r in rows)
    per_tick = Counter(ticks_of(rows))
    assert set(per_tick) == set(ticks) and min(per_tick.values()) >= 200
    client = Client(bursty)
    window = f"createdDateTime ge {format_ticks(first)} and createdDateTime le {format_ticks(first + 9)}"
    served, pages = crawl(client, {"$filter": f"({window}) and ({DYNAMICS})", "$top": "999"})
    assert pages == 3 and [r["id"] for r in served] == [r["id"] for r in rows]


def test_the_burst_lands_where_burst_at_says_and_the_same_spec_builds_the_same_log() -> None:
    spec = TenantSpec(
        seed=9, users=10, sign_ins=500, days=2, now=NOW, burst_size=40, burst_at="2026-11-25T08:30:00.1234567Z"
    )
    one, two = Tenant(spec), Tenant(spec)
    assert format_ticks(one.burst_ticks()[0]) == "2026-11-25T08:30:00.123456Z"
    assert [r["id"] for r in one.sign_ins_between("2026-11-24T12:00:00Z", "2026-11-26T12:00:00Z")] == [
        r["id"] for r in two.sign_ins_between("2026-11-24T12:00:00Z", "2026-11-26T12:00:00Z")
    ]
    assert Tenant(TenantSpec(seed=9, users=10, sign_ins=500, days=2, now=NOW)).burst_ticks() == []


@pytest.fixture
def ahead() -> Iterator[Emulator]:
    """Graph's clock 15 minutes ahead of this machine's, as a connector host lagging behind would see it."""
    wall = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Emulator(TenantSpec(seed=21, users=10, sign_ins=300, days=30, now=wall + dt.timedelta(minutes=15))) as e:
        yield e


def graph_instant(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_retention_follows_the_tenant_clock_not_this_machine(ahead: Emulator) -> None:
    client = Client(ahead)
    wall = dt.datetime.now(dt.timezone.utc)
    machine_start = graph_instant(wall - dt.timedelta(days=30) + dt.timedelta(minutes=10))  # 10-minute margin
    r = client.get(SIGNINS, {"$filter": f"createdDateTime ge {machine_start}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "BadRequest" and "30 days" in error["message"] and "retention" in error["message"]
    tenant_start = graph_instant(ahead.tenant.now - dt.timedelta(days=30) + dt.timedelta(seconds=1))
    assert client.get(SIGNINS, {"$filter": f"createdDateTime ge {tenant_start}"}).status_code == 200


@pytest.mark.parametrize(
    "flt",
    [
        "createdDateTime le {old}",
        "createdDateTime eq {old}",
        "createdDateTime ge {ok} and createdDateTime le {now}",
    ],
)
def test_filters_without_a_lower_bound_before_retention_are_served(ahead: Emulator, flt: str) -> None:
    now = ahead.tenant.now
    text = flt.format(
        old=graph_instant(now - dt.timedelta(days=40)),
        ok=graph_instant(now - dt.timedelta(days=29)),
        now=graph_instant(now),
    )
    assert Client(ahead).get(SIGNINS, {"$filter": text}).status_code == 200


def test_a_lower_bound_before_retention_is_refused_inside_parentheses_too(ahead: Emulator) -> None:
    old = graph_instant(ahead.tenant.now - dt.timedelta(days=31))
    flt = f"(createdDateTime ge {old} and createdDateTime le {graph_instant(ahead.tenant.now)}) and appId eq 'x'"
    assert Client(ahead).get(SIGNINS, {"$filter": flt}).status_code == 400


def test_the_burst_uses_the_applications_the_connector_filters_on() -> None:
    from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS

    assert set(DYNAMICS_365_APP_IDS) == DYNAMICS_APP_IDS


def test_an_expired_page_token_inside_the_burst_can_be_restarted_at_its_last_tick(bursty: Emulator) -> None:
    first = bursty.tenant.burst_ticks()[0]
    client = Client(bursty)
    window = f"createdDateTime ge {format_ticks(first)} and createdDateTime le {format_ticks(first + 9)}"
    bursty.add_fault({"route": "signIns", "kind": "expired_skiptoken", "nth": 2})
    page = client.get(SIGNINS, {"$filter": window, "$top": "999"}).json()
    expired = client.get(page["@odata.nextLink"])
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "Directory_ExpiredPageToken"
    oldest_read = min(ticks_of(page["value"]))
    assert first < oldest_read < first + 9  # the token expired in the middle of the burst
    restart = f"createdDateTime ge {format_ticks(first)} and createdDateTime le {format_ticks(oldest_read)}"
    rest, _ = crawl(client, {"$filter": restart, "$top": "999"})
    read = {r["id"] for r in page["value"]}
    assert read & {r["id"] for r in rest}  # the restart tick repeats some: a client must drop them by id
    assert read | {r["id"] for r in rest} == {r["id"] for r in bursty.tenant.sign_ins_between(first, first + 10)}
