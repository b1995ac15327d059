"""Upgrades keep the data: a connection saved on 0.1.0 has no `roster_scope`; its first sync on this version (main.py
against the emulator) still reads every user, tells the platform the migrated config in a CONNECTOR_CONFIG control
message, rewrites the --config file, and says at WARN which scope applies. The next run reads the setting as set."""

from __future__ import annotations

import json
from pathlib import Path

from airbyte_cdk.models import OrchestratorType, Type

from source_dynamics365_cc.graph.concealed import is_concealed
from testing.harness import Result, configured_catalog, connector_config, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked

USERS = {"users": "full_refresh"}
LEGACY_NOTICE = "'roster_scope' ('Users to read') is not set in this configuration: applying 'all_users'"


def control_configs(result: Result) -> list[dict]:
    """The configs the run sent the platform in CONNECTOR_CONFIG control messages."""
    return [
        dict(message.control.connectorConfig.config)
        for message in result.get_message_by_types([Type.CONTROL])
        if message.control.type == OrchestratorType.CONNECTOR_CONFIG
    ]


def without_control_messages(result: Result) -> str:
    """stdout and stderr without the control message lines: the protocol carries a config whole, secrets too, in
    those only."""
    lines = [line for line in result.stdout.splitlines() if '"type":"CONTROL"' not in line.replace(" ", "")]
    return "\n".join([*lines, result.stderr])


def test_a_config_saved_by_0_1_0_keeps_every_user_is_migrated_and_says_so_at_warn(tmp_path: Path):
    with running_emulator(seed=71, users=60, sign_ins=10, days=2) as emu:
        legacy = {k: v for k, v in connector_config(emu).items() if k != "roster_scope"}
        first = run_connector("read", tmp_path, legacy, configured_catalog(USERS), emulator=emu, timeout=240)
        rewritten = json.loads((tmp_path / "config.json").read_text())
        second = run_connector("read", tmp_path, rewritten, configured_catalog(USERS), emulator=emu, timeout=240)
        everyone = {user["id"] for user in emu.tenant.users() if not is_concealed(user)}
    assert first.returncode == 0 and first.error_messages == []
    assert {user["id"] for user in first.records_of("users")} == everyone, "every user, as 0.1.0 read them"
    assert control_configs(first) == [{**legacy, "roster_scope": "all_users"}]
    assert rewritten == {**legacy, "roster_scope": "all_users"}
    (notice,) = [line for line in first.log_lines("WARN") if LEGACY_NOTICE in line]
    assert "dynamics365-cc-migrations.md" in notice
    assert_no_secret_leaked(without_control_messages(first), legacy)
    assert second.returncode == 0 and control_configs(second) == []
    assert not any(LEGACY_NOTICE in line for line in second.log_lines("WARN"))
    assert {user["id"] for user in second.records_of("users")} == everyone
