"""signInActivity tells the story the sign-in log tells: Graph's fields, from the records it serves, 24 hours late."""

from __future__ import annotations

import datetime as dt

from graph_emulator import TenantSpec
from graph_emulator.activity import ACTIVITY_LAG
from graph_emulator.gen import TICKS, parse_ticks
from graph_emulator.signins import INTERACTIVE
from graph_emulator.tenant import Tenant

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


def expected_activity(tenant: Tenant) -> dict[str, dict[str, int]]:
    """Per user id: the newest interactive, non-interactive and successful sign-in at least the lag old, in ticks."""
    latest: dict[str, dict[str, int]] = {}
    horizon = tenant.now_ticks - ACTIVITY_LAG
    for row in tenant.sign_in_rows(0, horizon + 1, event_type=None):
        fields = ["lastSignIn" if row.seg.event_type == INTERACTIVE else "lastNonInteractiveSignIn"]
        if row.status[0] == 0:
            fields.append("lastSuccessfulSignIn")
        mine = latest.setdefault(row.get("userId"), {})
        for field in fields:
            mine.setdefault(field, row.ticks - row.ticks % TICKS)
    return latest


def assert_consistent(tenant: Tenant) -> None:
    truth = expected_activity(tenant)
    log_start = min(s.start for s in tenant.log.segments if s.count)
    for user in tenant.users():
        activity = user["signInActivity"]
        for field in ("lastSignIn", "lastNonInteractiveSignIn", "lastSuccessfulSignIn"):
            shown = activity[f"{field}DateTime"]
            expected = truth.get(user["id"], {}).get(field)
            if expected is not None:
                assert parse_ticks(shown) == expected, (user["userPrincipalName"], field)
            else:
                assert shown is None or parse_ticks(shown) < log_start, (user["userPrincipalName"], field)


def test_sign_in_activity_is_the_newest_sign_in_the_log_shows_a_day_late():
    tenant = Tenant(TenantSpec(seed=3, users=120, sign_ins=900, days=20, non_interactive_ratio=2, now=NOW))
    assert_consistent(tenant)
    users = list(tenant.users())
    assert any(u["signInActivity"]["lastSignInDateTime"] is None for u in users)
    newest = max(parse_ticks(u["signInActivity"]["lastSignInDateTime"] or "1970-01-01T00:00:00Z") for u in users)
    assert tenant.now_ticks - 2 * ACTIVITY_LAG < newest <= tenant.now_ticks - ACTIVITY_LAG


def test_sign_in_activity_follows_the_clock():
    tenant = Tenant(TenantSpec(seed=4, users=60, sign_ins=300, days=10, non_interactive_ratio=1, now=NOW))
    before = {u["id"]: u["signInActivity"] for u in tenant.users()}
    tenant.advance(minutes=2 * 24 * 60)
    assert_consistent(tenant)
    assert {u["id"]: u["signInActivity"] for u in tenant.users()} != before
