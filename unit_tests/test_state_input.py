"""Bad saved state: empty, another connector's, a garbage or future cursor, a file that is not Airbyte state.
Each is either used safely or refused in plain words before any thread starts, with no stack trace. The same
through `python main.py` is in integration_tests/test_entrypoint.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.run import _precheck
from source_dynamics365_cc.signins.instants import format_instant
from source_dynamics365_cc.signins.state import checked_state
from testing.graph_fakes import config
from testing.harness import configured_catalog, stream_state_message

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
FUTURE = format_instant(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))


def test_an_empty_state_starts_from_the_start_date():
    assert checked_state({}, NOW) == {}


@pytest.mark.parametrize(
    "cursor, saved",
    [
        ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00Z"),
        ("2026-11-26T10:00:00.1234567Z", "2026-11-26T10:00:00.123456Z"),
        ("2026-11-26T10:00:00+00:00", "2026-11-26T10:00:00Z"),
    ],
)
def test_a_valid_cursor_is_kept_in_graphs_spelling(cursor, saved):
    assert checked_state({"createdDateTime": cursor}, NOW) == {"createdDateTime": saved}


@pytest.mark.parametrize(
    "state, fragment",
    [
        ({"updated_at": "2026-11-26T10:00:00Z"}, "another connector's state"),
        ({"cursor": 5}, "another connector's state"),
        ({"createdDateTime": "yesterday"}, "is not a UTC timestamp"),
        ({"createdDateTime": 1764150000}, "is not a UTC timestamp"),
        ({"createdDateTime": ""}, "is not a UTC timestamp"),
        ({"createdDateTime": "2026-11-26T10:00:00+02:00"}, "is not a UTC timestamp"),
        ({"createdDateTime": "2026-13-45T10:00:00Z"}, "is not a UTC timestamp"),
        ({"createdDateTime": "2026-11-27T00:00:00Z"}, "lies in the future"),
    ],
)
def test_an_unusable_cursor_is_refused_with_what_to_do(state, fragment):
    with pytest.raises(ConfigError) as raised:
        checked_state(state, NOW)
    assert fragment in raised.value.message and "Reset the sign_ins stream" in raised.value.message


# What a platform may hand back for sign_ins: this connector's form, the CDK's `date-range` form (from a
# ConcurrentCursor, the declarative framework or another version), another stream's state, and garbage.
INSTANTS = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.timezone.utc)
)
INSTANT_TEXT = st.one_of(
    INSTANTS.map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ").rjust(27, "0")),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-26T10:00:00Z", "0000-01-01T00:00:00Z"]),
)
ANY_VALUE = st.none() | st.integers() | st.floats() | st.text(max_size=40) | INSTANT_TEXT | st.booleans()
CDK_SLICE = st.fixed_dictionaries(
    {},
    optional={
        "start": INSTANT_TEXT | ANY_VALUE,
        "end": INSTANT_TEXT | ANY_VALUE,
        "most_recent_cursor_value": ANY_VALUE,
    },
)
CDK_STATE = st.fixed_dictionaries(
    {"state_type": st.sampled_from(["date-range", "integer", "per-partition"]) | st.text(max_size=10)},
    optional={
        "slices": st.lists(CDK_SLICE, max_size=4) | ANY_VALUE | st.lists(ANY_VALUE, max_size=2),
        "legacy": st.dictionaries(st.text(max_size=10), ANY_VALUE, max_size=2),
    },
)
OWN_STATE = st.dictionaries(st.sampled_from(["createdDateTime", "x"]), ANY_VALUE)
OTHER_STREAM_STATE = st.sampled_from(
    [{"next_link": "https://graph.microsoft.com/v1.0/users?$skiptoken=x"}, {"__ab_full_refresh_sync_complete": True}]
)
SAVED_STATE = CDK_STATE | OWN_STATE | OTHER_STREAM_STATE


def assert_usable(state: Any) -> None:
    """What sign_in_cursor does with the result must work: parse it and subtract a day of lookback."""
    assert state == {} or set(state) == {"createdDateTime"}
    if state:
        cursor = dt.datetime.strptime(state["createdDateTime"][:19], "%Y-%m-%dT%H:%M:%S")
        assert cursor - dt.timedelta(days=1) <= NOW.replace(tzinfo=None)


@settings(max_examples=500, deadline=None)
@given(SAVED_STATE)
def test_any_saved_state_is_used_or_refused_with_a_config_error(state):
    try:
        result = checked_state(state, NOW)
    except ConfigError as error:
        assert 0 < len(error.message or "") < 400 and "Reset the sign_ins stream" in error.message
    else:
        assert_usable(result)


@pytest.mark.parametrize(
    "state",
    [
        {"state_type": "date-range", "slices": []},
        {"state_type": "date-range"},
        {"state_type": "date-range", "slices": None},
    ],
)
def test_a_cdk_date_range_state_without_slices_starts_from_the_start_date(state):
    assert checked_state(state, NOW) == {}


def test_a_cdk_date_range_state_continues_from_its_first_finished_range():
    state = {
        "state_type": "date-range",
        "slices": [
            {
                "start": "2026-11-26T08:00:00Z",
                "end": "2026-11-26T10:00:00Z",
                "most_recent_cursor_value": "2026-11-26T09:30:00Z",
            },
            {"start": "2026-11-26T11:00:00Z", "end": "2026-11-26T11:30:00Z"},
        ],
    }
    assert checked_state(state, NOW) == {"createdDateTime": "2026-11-26T09:30:00Z"}


@pytest.mark.parametrize(
    "state, fragment",
    [
        ({"state_type": "date-range", "slices": [{"start": "x", "end": "y"}]}, "is not a UTC timestamp"),
        ({"state_type": "date-range", "slices": [{"start": "2026-11-26T08:00:00Z"}]}, "is not a UTC timestamp"),
        ({"state_type": "date-range", "slices": "all of them"}, "not a list of ranges"),
        ({"state_type": "date-range", "slices": [5]}, "not a list of ranges"),
        (
            {"state_type": "date-range", "slices": [{"start": "2026-11-26T10:00:00Z", "end": "2026-11-26T08:00:00Z"}]},
            "ends before it starts",
        ),
        ({"state_type": "per-partition", "states": []}, "which this connector does not use"),
        ({"next_link": "https://graph.microsoft.com/v1.0/users?$skiptoken=x"}, "another stream's"),
    ],
)
def test_a_state_this_connector_did_not_write_is_refused_with_what_to_do(state, fragment):
    with pytest.raises(ConfigError) as raised:
        checked_state(state, NOW)
    assert fragment in raised.value.message and "Reset the sign_ins stream" in raised.value.message


@pytest.mark.parametrize("cursor", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-01-01T00:00:00Z"])
def test_a_cursor_older_than_the_retention_reads_from_the_retention_start(cursor):
    assert checked_state({"createdDateTime": cursor}, NOW) == {"createdDateTime": "2026-10-27T12:00:00Z"}


def precheck_read(tmp_path: Path, state: Any, capsys, streams: dict[str, str] | None = None) -> tuple[int | None, str]:
    files = {
        "config": json.dumps(config()),
        "catalog": json.dumps(configured_catalog(streams or {"sign_ins": "incremental"})),
        "state": state if isinstance(state, str) else json.dumps(state),
    }
    args = ["read"]
    for name, text in files.items():
        (tmp_path / f"{name}.json").write_text(text)
        args += [f"--{name}", str(tmp_path / f"{name}.json")]
    code = _precheck(args)
    return code, capsys.readouterr().out if capsys is not None else ""


@pytest.mark.parametrize(
    "state",
    [
        [],
        {},
        [stream_state_message("sign_ins", {"createdDateTime": "2026-11-26T10:00:00Z"})],
        [stream_state_message("some_other_stream", {"anything": True})],
    ],
)
def test_usable_state_files_pass_the_precheck(tmp_path: Path, capsys, state):
    assert precheck_read(tmp_path, state, capsys) == (None, "")


@pytest.mark.parametrize(
    "state, fragment",
    [
        ("{not json", "Cannot read the state file"),
        ('"a string"', "Cannot read the state file"),
        ("5", "Cannot read the state file"),
        ({"sign_ins": {"createdDateTime": "2026-11-26T10:00:00Z"}}, "Cannot read the state file"),
        ([{"type": "STREAM"}], "Cannot read the state file"),
        ([stream_state_message("sign_ins", {"updated_at": "2026-11-26T10:00:00Z"})], "another connector's state"),
        ([stream_state_message("sign_ins", {"createdDateTime": "garbage"})], "is not a UTC timestamp"),
        ([stream_state_message("sign_ins", {"createdDateTime": FUTURE})], "lies in the future"),
    ],
)
def test_unusable_state_files_are_refused_before_the_sync_starts(tmp_path: Path, capsys, state, fragment):
    code, out = precheck_read(tmp_path, state, capsys)
    error = json.loads(out)["trace"]["error"]
    assert code == 1 and fragment in error["message"] and error["failure_type"] == "config_error"
    assert "Traceback" not in out


STATE_MESSAGE = st.one_of(
    SAVED_STATE.map(lambda state: stream_state_message("sign_ins", state)),
    SAVED_STATE.map(
        lambda state: {
            "type": "GLOBAL",
            "global": {
                "shared_state": state,
                "stream_states": [{"stream_descriptor": {"name": "sign_ins"}, "stream_state": state}],
            },
        }
    ),
    SAVED_STATE.map(lambda state: {"type": "LEGACY", "data": {"sign_ins": state}}),
    st.dictionaries(st.sampled_from(["type", "stream", "data"]), ANY_VALUE, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(STATE_MESSAGE, max_size=3))
def test_any_state_file_in_the_cdks_shapes_passes_or_gets_a_config_error(tmp_path_factory, state):
    tmp_path = tmp_path_factory.mktemp("state")
    code, out = precheck_read_quietly(tmp_path, state)
    if code is not None:
        error = json.loads(out.splitlines()[-1])["trace"]["error"]
        assert code == 1 and error["failure_type"] == "config_error" and "Traceback" not in out


def precheck_read_quietly(tmp_path: Path, state: Any) -> tuple[int | None, str]:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = precheck_read(tmp_path, state, None)[0]
    return code, out.getvalue()


def test_a_date_range_state_without_slices_is_a_fresh_start_with_a_warning(tmp_path: Path, capsys):
    code, out = precheck_read(
        tmp_path, [stream_state_message("sign_ins", {"state_type": "date-range", "slices": []})], capsys
    )
    log = json.loads(out)["log"]
    assert code is None and log["level"] == "WARN" and "reading sign-ins from the start date" in log["message"]


def test_a_legacy_state_is_ignored_with_a_warning_that_names_the_stream(tmp_path: Path, capsys):
    legacy = [{"type": "LEGACY", "data": {"sign_ins": {"createdDateTime": "2026-11-26T10:00:00Z"}}}]
    code, out = precheck_read(tmp_path, legacy, capsys)
    log = json.loads(out)["log"]
    assert code is None and log["level"] == "WARN"
    assert (
        log["message"].startswith("The saved state for sign_ins is in Airbyte's LEGACY form")
        and "ignored" in (log["message"])
    )


@pytest.mark.parametrize("cursor", [FUTURE, "garbage"], ids=["future", "garbage"])
def test_a_full_refresh_ignores_the_saved_sign_in_state_so_an_unusable_one_is_not_refused(
    tmp_path: Path, capsys, cursor
):
    state = [stream_state_message("sign_ins", {"createdDateTime": cursor})]
    assert precheck_read(tmp_path, state, capsys, {"sign_ins": "full_refresh"}) == (None, "")
