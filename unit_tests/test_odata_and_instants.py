"""The `$filter` text Graph receives and the timestamps it is built from."""

from datetime import datetime, timezone

import pytest

from source_dynamics365_cc.instants import format_instant, parse_instant
from source_dynamics365_cc.odata import Match, application_clause, application_matches, sign_in_filter, window_clause

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc)


def test_window_is_half_open_with_unquoted_utc_literals():
    assert window_clause(START, END) == (
        "createdDateTime ge 2026-11-01T00:00:00Z and createdDateTime lt 2026-11-02T06:30:00Z"
    )


def test_a_restarted_window_includes_its_upper_instant():
    assert window_clause(START, END, end_inclusive=True).endswith("createdDateTime le 2026-11-02T06:30:00Z")


def test_application_matches_on_app_id_or_resource_id():
    clause = application_clause(application_matches(["a", "b"]))
    assert clause == "(appId eq 'a' or resourceId eq 'a' or appId eq 'b' or resourceId eq 'b')"


def test_an_empty_application_list_reads_every_application():
    assert application_clause(application_matches([])) is None
    assert sign_in_filter(START, END, []) == window_clause(START, END)


def test_window_and_applications_are_joined_with_and():
    matches = application_matches(["a"])
    assert sign_in_filter(START, END, matches) == window_clause(START, END) + " and (appId eq 'a' or resourceId eq 'a')"


def test_a_single_match_needs_no_or():
    assert (
        sign_in_filter(START, END, [Match("resourceId", "a")]) == window_clause(START, END) + " and resourceId eq 'a'"
    )


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
