"""Bad saved state: empty, another connector's, a garbage or future cursor, a file that is not Airbyte state.
Each is either used safely or refused in plain words before any thread starts, with no stack trace."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_tests.harness import configured_catalog, run_connector, stream_state_message
from integration_tests.test_secrets import assert_no_secret_leaked
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.instants import format_instant
from source_dynamics365_cc.run import _precheck
from source_dynamics365_cc.windows import checked_state

from .graph_fakes import config

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
FUTURE = format_instant(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))


@pytest.mark.parametrize("state", [{}, None])
def test_an_empty_state_starts_from_the_start_date(state):
    assert checked_state(state or {}, NOW) == {}


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


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["createdDateTime", "x"]), st.none() | st.integers() | st.text(max_size=40)))
def test_any_state_is_used_or_refused_with_a_config_error(state):
    try:
        checked_state(state, NOW)
    except ConfigError as error:
        assert len(error.message or "") < 400


def precheck_read(tmp_path: Path, state: Any, capsys) -> tuple[int | None, str]:
    files = {
        "config": json.dumps(config()),
        "catalog": json.dumps(configured_catalog({"sign_ins": "incremental"})),
        "state": state if isinstance(state, str) else json.dumps(state),
    }
    args = ["read"]
    for name, text in files.items():
        (tmp_path / f"{name}.json").write_text(text)
        args += [f"--{name}", str(tmp_path / f"{name}.json")]
    code = _precheck(args)
    return code, capsys.readouterr().out


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


@pytest.mark.parametrize(
    "state, fragment",
    [
        ([stream_state_message("sign_ins", {"createdDateTime": FUTURE})], "lies in the future"),
        ([stream_state_message("sign_ins", {"last_modified": "2026-11-26"})], "another connector's state"),
        ({"sign_ins": {"createdDateTime": "2026-11-26T10:00:00Z"}}, "list of Airbyte STATE messages"),
    ],
)
def test_the_real_entrypoint_refuses_bad_state_without_a_stack_trace(tmp_path: Path, state, fragment):
    result = run_connector("read", tmp_path, config(), configured_catalog({"sign_ins": "incremental"}), state)
    assert result.returncode == 1 and len(result.errors) == 1 and fragment in result.errors[0]
    assert result.records("sign_ins") == [] and result.states() == []
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_secret_leaked(result, config())
