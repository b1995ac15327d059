"""A config saved before 0.2.0 (no `roster_scope`) keeps reading every user: the console script migrates it as
Airbyte's connectors do (the setting written into the --config file, a CONNECTOR_CONFIG control message for the
platform, one WARN line that says which scope applies), while a new connection's form starts at the holders."""

import json
from pathlib import Path

import pytest

from source_dynamics365_cc import run as run_module
from source_dynamics365_cc.config import SETTINGS, legacy_settings, parse_config
from source_dynamics365_cc.source import SourceDynamics365Cc
from testing.graph_fakes import config

LEGACY = {k: v for k, v in config().items() if k != "roster_scope"}


def migrate(tmp_path: Path, raw: dict, command: str = "read") -> Path:
    """`_migrate_config` of `command` on a config file holding `raw`; the file."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    catalog = ["--catalog", str(tmp_path / "catalog.json")] if command == "read" else []
    run_module._migrate_config([command, "--config", str(path), *catalog])
    return path


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_only_a_config_without_roster_scope_is_legacy_and_it_keeps_all_users():
    assert legacy_settings(LEGACY) == {"roster_scope": "all_users"}
    assert legacy_settings(config(roster_scope="dynamics_365_license_holders")) == {}
    assert parse_config(LEGACY).roster_scope == "all_users"
    assert SETTINGS["roster_scope"].default == "dynamics_365_license_holders", "a new connection's form default"


@pytest.mark.parametrize("command", ["check", "discover", "read"])
def test_a_legacy_config_is_written_back_sent_to_the_platform_and_its_scope_said_at_warn(tmp_path, capsys, command):
    path = migrate(tmp_path, LEGACY, command)
    assert json.loads(path.read_text()) == {**LEGACY, "roster_scope": "all_users"}
    control, log = printed(capsys)
    assert control["type"] == "CONTROL" and control["control"]["type"] == "CONNECTOR_CONFIG"
    assert control["control"]["connectorConfig"]["config"] == {**LEGACY, "roster_scope": "all_users"}
    assert log["type"] == "LOG" and log["log"]["level"] == "WARN"
    message = log["log"]["message"]
    assert "'roster_scope' ('Users to read') is not set in this configuration: applying 'all_users'" in message
    assert "dynamics365-cc-migrations.md" in message and f"written into {path}" in message


def test_a_config_that_sets_roster_scope_is_left_as_it_is(tmp_path, capsys):
    chosen = config(roster_scope="dynamics_365_license_holders")
    path = migrate(tmp_path, chosen)
    assert json.loads(path.read_text()) == chosen and printed(capsys) == []


def test_spec_and_unreadable_files_are_not_migrated(tmp_path, capsys):
    migrate(tmp_path, LEGACY, "spec")
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    run_module._migrate_config(["discover", "--config", str(path)])
    assert printed(capsys) == [] and path.read_text() == "{not json"


def test_a_config_file_that_cannot_be_rewritten_is_said_so_in_the_same_warning(tmp_path, capsys, monkeypatch):
    def read_only(config: dict, path: str) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(SourceDynamics365Cc, "write_config", staticmethod(read_only))
    path = migrate(tmp_path, LEGACY)
    control, log = printed(capsys)
    assert control["control"]["connectorConfig"]["config"]["roster_scope"] == "all_users"
    assert (
        f'{path} cannot be rewritten (PermissionError): add "roster_scope": "all_users" to it'
        in (log["log"]["message"])
    )
    assert json.loads(path.read_text()) == LEGACY
