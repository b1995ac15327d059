"""What the real entrypoint (`python main.py`, run as Airbyte runs it) does with the files a platform hands it.

Bad config, certificates, catalogs and saved state are refused in plain words: a FAILED status or a non-zero exit
with one error naming what is wrong, no stack trace and no secret. A saved state this connector did not write but
can use gives a sync with a warning. Each case forks from a server that imported the connector once
(testing/harness.py, run_connector) and calls the entrypoint's `run()` as main.py does; that such a run prints and
exits as main.py in a fresh interpreter does is the last test here, for each command. How each input is checked,
case by case, is in unit_tests/test_bad_input.py and unit_tests/test_state_input.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from source_dynamics365_cc.signins.instants import format_instant
from testing.certificates import unusable_certificate_credentials
from testing.graph_fakes import config
from testing.harness import configured_catalog, connector_config, run_connector, running_emulator, stream_state_message
from testing.secrets import assert_no_secret_leaked

FUTURE = format_instant(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))


@pytest.mark.parametrize(
    "name, value",
    [("tenant_id", "contoso.onmicrosoft.com/x"), ("graph_endpoint", "http://graph.example.test"), ("cloud", [1])],
)
def test_the_real_entrypoint_refuses_bad_config_in_plain_words(tmp_path: Path, name: str, value: Any):
    bad = config(**{name: value})
    check = run_connector("check", tmp_path, bad)
    read = run_connector("read", tmp_path, bad, configured_catalog({"users": "full_refresh"}))
    assert check.returncode == 0 and check.connection_status["status"] == "FAILED"
    assert f"'{name}'" in check.connection_status["message"]
    assert read.returncode == 1 and len(read.error_messages) == 1 and f"'{name}'" in read.error_messages[0]
    for result in (check, read):
        assert "Traceback" not in result.stdout + result.stderr
        assert_no_secret_leaked(result, bad)


@pytest.mark.parametrize("case", ["encrypted_without_password", "key_of_another_certificate", "expired"])
def test_the_real_entrypoint_refuses_an_unusable_certificate_before_any_request(tmp_path: Path, case: str):
    bad = config(credentials=unusable_certificate_credentials(case))
    check = run_connector("check", tmp_path, bad)
    assert check.connection_status["status"] == "FAILED" and "'credentials." in check.connection_status["message"]
    assert "Traceback" not in check.stdout + check.stderr
    assert_no_secret_leaked(check, bad)


def catalog_entry(name: str, mode: str) -> dict:
    stream = {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]}
    return {"stream": stream, "sync_mode": mode, "destination_sync_mode": "append"}


@pytest.mark.parametrize(
    "entry, fragment",
    [
        (catalog_entry("contacts", "full_refresh"), "does not have"),
    ],
)
def test_a_catalog_with_an_unknown_stream_is_refused(tmp_path: Path, entry: dict, fragment: str):
    result = run_connector("read", tmp_path, config(), {"streams": [entry]})
    assert result.returncode == 1 and len(result.error_messages) == 1 and fragment in result.error_messages[0]
    assert result.records_of(entry["stream"]["name"]) == []
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_secret_leaked(result, config())


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
    assert result.returncode == 1 and len(result.error_messages) == 1 and fragment in result.error_messages[0]
    assert result.records_of("sign_ins") == [] and result.states() == []
    assert "Traceback" not in result.stdout + result.stderr
    assert_no_secret_leaked(result, config())


@pytest.mark.parametrize(
    "state, warning",
    [
        ({"state_type": "date-range", "slices": []}, "holds no finished time range"),
        ({"createdDateTime": "0001-01-01T00:00:00Z"}, "is older than Microsoft Entra's retention"),
    ],
)
def test_a_foreign_but_usable_state_gives_a_sync_with_a_warning_not_a_traceback(tmp_path: Path, state, warning):
    with running_emulator(seed=21, users=3, sign_ins=60, days=30) as emu:
        cfg = connector_config(emu) | {
            "sign_in_app_ids": [],
            "start_date": format_instant(emu.tenant.now - dt.timedelta(hours=2)),
        }
        catalog = configured_catalog({"sign_ins": "incremental"})
        result = run_connector("read", tmp_path, cfg, catalog, [stream_state_message("sign_ins", state)], emulator=emu)
    assert result.returncode == 0 and result.error_messages == []
    assert any(warning in line for line in result.log_lines("WARN"))
    assert "Traceback" not in result.stdout + result.stderr and "'1-01-01" not in result.stdout
    assert result.final_state("sign_ins")["createdDateTime"] > "2000"


def untimed(value: Any) -> Any:
    """Messages without their `emitted_at` times."""
    if isinstance(value, dict):
        return {key: untimed(item) for key, item in value.items() if key != "emitted_at"}
    if isinstance(value, list):
        return [untimed(item) for item in value]
    return value


@pytest.mark.parametrize("command", ["spec", "discover", "check", "read"])
def test_a_forked_run_prints_and_exits_as_a_fresh_interpreter_does(tmp_path: Path, command: str):
    """The suite's forked runs stand for `python main.py`: same messages, same exit code, nothing else on stderr."""
    bad = config(tenant_id="contoso.onmicrosoft.com/x")
    inputs = {"spec": (), "read": (bad, configured_catalog({"users": "full_refresh"}))}.get(command, (bad,))
    forked = run_connector(command, tmp_path / "forked", *inputs)
    fresh = run_connector(command, tmp_path / "fresh", *inputs, fresh_interpreter=True)

    assert forked.messages and untimed(forked.messages) == untimed(fresh.messages)
    assert (forked.returncode, forked.stderr) == (fresh.returncode, fresh.stderr)
