"""The `$filter` text Graph receives, the timestamps it is built from, and the Python check of each record."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_dynamics365_cc.signins.instants import format_instant, format_ticks, parse_instant, parse_ticks, ticks_of
from source_dynamics365_cc.signins.query import (
    Match,
    SignInQuery,
    Window,
    application_clause,
    application_matches,
)

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc)


def sign_in_filter(start: datetime, end: datetime, matches) -> str:
    return SignInQuery(Window.half_open(start, end), tuple(matches)).filter()


WINDOW = "createdDateTime ge 2026-11-01T00:00:00Z and createdDateTime le 2026-11-02T06:29:59.9999999Z"


def test_a_window_uses_only_the_documented_ge_and_le_with_the_last_100_ns_tick_before_its_end():
    assert sign_in_filter(START, END, []) == WINDOW
    assert " lt " not in WINDOW and " gt " not in WINDOW


def test_a_restarted_window_ends_at_the_exact_tick_of_the_oldest_sign_in_seen():
    oldest = parse_ticks("2026-11-01T10:00:00.1234567Z")
    assert Window(ticks_of(START), oldest).clause().endswith("createdDateTime le 2026-11-01T10:00:00.1234567Z")


@given(
    cuts=st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True),
    tick=st.integers(0, 10**7),
)
def test_adjacent_windows_partition_the_range_so_every_tick_falls_in_exactly_one(cuts, tick):
    """Windows cut at microsecond boundaries, as the cursor cuts them; sign-ins land on any 100-ns tick."""
    bounds = [START + timedelta(microseconds=cut) for cut in sorted({0, *cuts, 10**6})]
    windows = [Window.half_open(low, high) for low, high in zip(bounds, bounds[1:])]
    instant = ticks_of(START) + tick
    inside = [window for window in windows if window.holds(instant)]
    assert len(inside) == (1 if instant < ticks_of(bounds[-1]) else 0)


def test_a_sign_in_exactly_on_a_boundary_belongs_to_the_later_window():
    boundary = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    earlier, later = Window.half_open(START, boundary), Window.half_open(boundary, END)
    assert not earlier.holds(ticks_of(boundary)) and later.holds(ticks_of(boundary))
    assert earlier.holds(ticks_of(boundary) - 1)


@pytest.mark.parametrize(
    "text, ticks",
    [
        ("2026-11-20T10:00:00.1234567Z", 1234567),
        ("2026-11-20T10:00:00.1234568Z", 1234568),
        ("2026-11-20T10:00:00.123456Z", 1234560),
        ("2026-11-20T10:00:00.1Z", 1000000),
        ("2026-11-20T10:00:00Z", 0),
    ],
)
def test_ticks_keep_all_seven_digits_that_graph_compares(text, ticks):
    base = parse_ticks("2026-11-20T10:00:00Z")
    assert parse_ticks(text) - base == ticks
    assert format_ticks(parse_ticks(text)) == text


def test_a_query_rejects_what_it_did_not_ask_for_and_names_the_clause():
    window = Window.half_open(START, END)
    query = SignInQuery(window, tuple(application_matches(["a"])))
    inside = "2026-11-01T10:00:00.1234567Z"

    assert query.rejects({"createdDateTime": inside, "appId": "A"}) is None
    assert query.rejects({"createdDateTime": inside, "resourceId": "a"}) is None
    assert query.rejects({"createdDateTime": inside, "appId": "exchange"}) == "application"
    assert query.rejects({"createdDateTime": format_instant(END), "appId": "a"}) == "window"
    assert query.rejects({"createdDateTime": "2026-10-31T23:59:59.9999999Z", "appId": "a"}) == "window"
    assert query.rejects({"createdDateTime": "yesterday", "appId": "a"}) == "instant"
    assert query.rejects({"appId": "a"}) == "instant"


def test_a_query_for_every_application_rejects_only_by_window():
    query = SignInQuery(Window.half_open(START, END), ())
    assert query.rejects({"createdDateTime": "2026-11-01T10:00:00Z", "appId": "anything"}) is None


def test_application_matches_on_app_id_or_resource_id():
    clause = application_clause(application_matches(["a", "b"]))
    assert clause == "(appId eq 'a' or resourceId eq 'a' or appId eq 'b' or resourceId eq 'b')"


def test_an_empty_application_list_reads_every_application():
    assert application_clause(application_matches([])) is None
    assert sign_in_filter(START, END, []) == WINDOW


def test_window_and_applications_are_joined_with_and():
    matches = application_matches(["a"])
    assert sign_in_filter(START, END, matches) == WINDOW + " and (appId eq 'a' or resourceId eq 'a')"


def test_a_single_match_needs_no_or():
    assert sign_in_filter(START, END, [Match("resourceId", "a")]) == WINDOW + " and resourceId eq 'a'"


def test_a_match_compares_guids_without_case_and_ignores_missing_fields():
    match = Match("appId", "00000007-0000-0000-C000-000000000000")
    assert match.holds_for({"appId": "00000007-0000-0000-c000-000000000000"})
    assert not match.holds_for({"resourceId": "00000007-0000-0000-c000-000000000000", "appId": None})


@pytest.mark.parametrize(
    "text, micros",
    [
        ("2026-11-20T10:00:00Z", 0),
        ("2026-11-20T10:00:00.1Z", 100000),
        ("2026-11-20T10:00:00.123Z", 123000),
        ("2026-11-20T10:00:00.1234567Z", 123456),
        ("2026-11-20T10:00:00.999999Z", 999999),
    ],
)
def test_zero_to_seven_fractional_digits_parse_and_truncate_never_round_up(text, micros):
    parsed = parse_instant(text)
    assert parsed.tzinfo is not None and parsed.microsecond == micros


@pytest.mark.parametrize(
    "text", ["2026-11-20", "'2026-11-20T10:00:00Z'", "yesterday", "", None, "2026-11-20T10:00:00+02:00"]
)
def test_anything_but_a_utc_timestamp_is_refused(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_format_keeps_microseconds_only_when_present():
    assert format_instant(START) == "2026-11-01T00:00:00Z"
    assert format_instant(START.replace(microsecond=5)) == "2026-11-01T00:00:00.000005Z"
