"""A benchmark tenant: an emulator holding N sign-ins, and the files a sync needs to read all of them."""

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from graph_emulator import Emulator, TenantSpec
from source_dynamics365_cc.signins.instants import format_instant
from testing.harness import connector_config

# 29 days, not 30: the connector clamps its start to 30 days (less 10 minutes) before its own clock, which
# moves on while the bench runs; a 29-day tenant keeps every generated sign-in inside the range it reads.
DAYS = 29
USERS = 2000
SCHEMAS = Path(__file__).resolve().parent.parent / "source_dynamics365_cc" / "schemas"
SIGN_INS = "sign_ins"
NON_INTERACTIVE = "non_interactive_sign_ins"


@dataclass(frozen=True)
class SyncFiles:
    """Config and catalog on disk, and the environment that makes the child trust the emulator's CA."""

    config: Path
    catalog: Path
    env: dict[str, str]
    sign_ins_in_range: int

    def read_args(self) -> list[str]:
        return ["read", "--config", str(self.config), "--catalog", str(self.catalog)]


def start_emulator(sign_ins: int, non_interactive_ratio: int = 10) -> Emulator:
    spec = TenantSpec(seed=5, users=USERS, sign_ins=sign_ins, days=DAYS, non_interactive_ratio=non_interactive_ratio)
    return Emulator(spec).start()


def sync_files(emu: Emulator, folder: Path, name: str, streams: tuple[str, ...] = (SIGN_INS,)) -> SyncFiles:
    """Every application's sign-ins of the given sign-in streams, all of the tenant's history."""
    start = emu.tenant.now - timedelta(days=DAYS)
    config: dict[str, Any] = {
        **connector_config(emu, "full"),
        "start_date": format_instant(start),
        "sign_in_app_ids": [],
        "include_non_interactive_sign_ins": NON_INTERACTIVE in streams,
    }
    event_type = None if NON_INTERACTIVE in streams else "interactiveUser"
    in_range = sum(1 for _ in emu.tenant.sign_in_rows(start, emu.tenant.now, event_type=event_type))
    catalog = {"streams": [_configured(stream) for stream in streams]}
    return write_files(emu, folder, name, config, catalog, in_range)


def write_files(
    emu: Emulator, folder: Path, name: str, config: dict[str, Any], catalog: dict[str, Any], in_range: int = 0
) -> SyncFiles:
    """`name`.config.json and `name`.catalog.json in `folder`, and the environment a sync of them runs in."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / f"{name}.config.json"
    catalog_path = folder / f"{name}.catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(catalog))
    # The emulator's host is no Microsoft host: a deployment that runs the connector against it must allow it.
    env = {
        **os.environ,
        "REQUESTS_CA_BUNDLE": emu.ca_path,
        "SSL_CERT_FILE": emu.ca_path,
        "DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS": "1",
    }
    return SyncFiles(config_path, catalog_path, env, in_range)


def _configured(name: str) -> dict[str, Any]:
    stream = {
        "name": name,
        "json_schema": json.loads((SCHEMAS / f"{name}.json").read_text()),
        "supported_sync_modes": ["full_refresh", "incremental"],
        "source_defined_cursor": True,
        "default_cursor_field": ["createdDateTime"],
        "source_defined_primary_key": [["id"]],
    }
    return {
        "stream": stream,
        "sync_mode": "incremental",
        "destination_sync_mode": "append",
        "cursor_field": ["createdDateTime"],
        "primary_key": [["id"]],
    }
