"""Console entry point: build the source with its catalog, config and state, then hand over to the CDK.

Concurrent sources need the catalog and state in their constructor. Configuration problems are
answered here, before the CDK's JSON-schema check, so that they read as plain sentences.
"""

import sys
import traceback
from datetime import datetime
from typing import Any, Callable, List, Mapping, Optional, TypeVar

import orjson
from airbyte_cdk.config_observation import emit_configuration_as_airbyte_control_message
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    ConfiguredAirbyteCatalog,
    Level,
    Status,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .allocator import keep_memory_flat
from .clock import utc_now
from .config import SETTINGS, ConnectorConfig, legacy_notice, legacy_settings, parse_config, register_secrets
from .errors import ConfigError
from .runtime import MACHINE, Runtime
from .signins.state import fresh_start_notice, legacy_state_notices
from .source import SourceDynamics365Cc, read_in_full
from .streams.sign_ins import NonInteractiveSignIns, SignIns

T = TypeVar("T")
FILE_HINTS = {
    "config": "it must be a JSON object with the connector's settings.",
    "catalog": "it must be a JSON configured catalog; refresh the source schema in the connection settings.",
    "state": "it must be a JSON list of Airbyte STATE messages; reset the connection's state to start again.",
}


def _emit(message: AirbyteMessage) -> None:
    print(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode(), flush=True)


def _command(args: List[str]) -> Optional[str]:
    return args[0] if args else None


def _warn(message: str) -> None:
    _emit(AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.WARN, message=message)))


def _migrate_config(args: List[str]) -> None:
    """A config that leaves out a setting whose default a release changed keeps what it was saved with
    (config/settings.py `legacy_settings`), and says so. As Airbyte's own connectors migrate a config: the value is
    written in, the platform gets the migrated config in a CONNECTOR_CONFIG control message (it stores it for the next
    runs; the protocol carries a config whole, secrets too), the --config file is rewritten (a `docker run` user's
    file), and a WARN line per setting says which value applies. A file that cannot be read is _precheck's to report; one that
    cannot be written (a read-only mount) is said in the same line."""
    if _command(args) not in ("check", "discover", "read"):
        return
    config_path = AirbyteEntrypoint.extract_config(args)
    if not config_path:
        return
    try:
        config = SourceDynamics365Cc.read_config(config_path)
    except (OSError, ValueError, TypeError):
        return
    legacy = legacy_settings(config)
    if not legacy:
        return
    migrated = {**config, **legacy}
    emit_configuration_as_airbyte_control_message(migrated)
    try:
        SourceDynamics365Cc.write_config(migrated, config_path)
        saved = f"It is now written into {config_path}."
    except OSError as error:
        settings = ", ".join(f'"{name}": "{value}"' for name, value in legacy.items())
        saved = f"{config_path} cannot be rewritten ({type(error).__name__}): add {settings} to it to say so yourself."
    for name in legacy:
        _warn(f"{legacy_notice(SETTINGS[name])} {saved}")


def _precheck(args: List[str], now: Optional[datetime] = None) -> Optional[int]:
    """Answer bad input in plain words; `None` when it is fine (or the command reads none).

    The CDK would report the same problems from inside a sync, with a stack trace and after threads started.
    """
    now = now or utc_now()
    command = _command(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    if command not in ("check", "discover", "read") or not config_path:
        return None
    try:
        config = _read_file(SourceDynamics365Cc.read_config, config_path, "config")
        register_secrets(config)
        parsed = parse_config(config, now=now)
        if command == "read":
            catalog = _check_catalog(AirbyteEntrypoint.extract_catalog(args), config, parsed)
            _check_state(AirbyteEntrypoint.extract_state(args), now, catalog)
    except ConfigError as error:
        if command == "check":
            status = AirbyteConnectionStatus(status=Status.FAILED, message=error.message)
            _emit(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))
            return 0
        _emit(ConfigError(error.message or "").as_airbyte_message())  # a fresh one: no stack trace for a user's mistake
        return 1
    return None


def _read_file(reader: Callable[[str], T], path: str, what: str) -> T:
    try:
        return reader(path)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"Cannot read the {what} file {path} ({type(error).__name__}): {FILE_HINTS[what]}") from None


def _check_catalog(
    catalog_path: Optional[str], config: Mapping[str, Any], parsed: ConnectorConfig
) -> Optional[ConfiguredAirbyteCatalog]:
    """Every configured stream must exist here; the CDK would silently skip it. Any sync mode can be read: a stream
    without incremental is read in full (see source.py), as the CDK does. The streams are built from the config
    parsed already, so a read parses its config twice: here, before the CDK starts, and once in the source."""
    if not catalog_path:
        return None
    catalog = _read_file(SourceDynamics365Cc.read_catalog, catalog_path, "catalog")
    offered = {stream.name for stream in SourceDynamics365Cc(None, config, None).streams_for(parsed)}
    for configured in catalog.streams:
        name = configured.stream.name
        if name not in offered:
            raise ConfigError(
                f"The catalog names the stream '{name[:80]}', which this connector does not have (it has "
                f"{', '.join(sorted(offered))}). Refresh the source schema in the connection settings."
            )
    return catalog


def _check_state(state_path: Optional[str], now: datetime, catalog: Optional[ConfiguredAirbyteCatalog]) -> None:
    """Each saved sign-in cursor a sync will continue from must be a real instant in the past (another connector's
    state, garbage or a wrong clock would otherwise surface mid-sync); a state with nothing to continue from, or in
    a form the CDK ignores, is said so. A stream the catalog reads in full ignores its state, so it is not checked."""
    if not state_path:
        return
    messages = _read_file(SourceDynamics365Cc.read_state, state_path, "state")
    streams = [name for name in (SignIns.name, NonInteractiveSignIns.name) if not read_in_full(catalog, name)]
    try:
        manager = ConnectorStateManager(state=messages)
        saved = {stream: manager.get_stream_state(stream, None) for stream in streams}
    except ValueError as error:
        raise ConfigError(f"The state file {state_path} cannot be used ({error}). {FILE_HINTS['state']}") from None
    notices = [
        *legacy_state_notices(messages),
        *(fresh_start_notice(state, now, name) for name, state in saved.items()),
    ]
    for notice in notices:
        if notice:
            _warn(notice)


def _source(args: List[str], runtime: Runtime) -> SourceDynamics365Cc:
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    return SourceDynamics365Cc(
        SourceDynamics365Cc.read_catalog(catalog_path) if catalog_path else None,
        SourceDynamics365Cc.read_config(config_path) if config_path else None,
        SourceDynamics365Cc.read_state(state_path) if state_path else None,
        runtime,
    )


def run(args: Optional[List[str]] = None, runtime: Runtime = MACHINE) -> None:
    """The console script; the benchmark passes its own `runtime`."""
    args = list(sys.argv[1:] if args is None else args)
    if _command(args) == "read":
        keep_memory_flat()
    _migrate_config(args)
    exit_code = _precheck(args, runtime.now())
    if exit_code is not None:
        sys.exit(exit_code)
    try:
        source = _source(args, runtime)
    except Exception as error:  # noqa: BLE001 - every start-up failure must become a trace, not a traceback
        message = f"The connector could not start: {type(error).__name__}: {error}"
        _emit(AirbyteTracedException(message=message, internal_message=traceback.format_exc()).as_airbyte_message())
        sys.exit(1)
    launch(source, args)
