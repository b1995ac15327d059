"""Console entry point: build the source with its catalog, config and state, then hand over to the CDK.

Concurrent sources need the catalog and state in their constructor. Configuration problems are
answered here, before the CDK's JSON-schema check, so that they read as plain sentences.
"""

import sys
import traceback
from datetime import datetime, timezone
from typing import List, Optional

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    Status,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .config import parse_config
from .errors import ConfigError
from .source import SourceDynamics365Cc


def _emit(message: AirbyteMessage) -> None:
    print(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode(), flush=True)


def _command(args: List[str]) -> Optional[str]:
    return args[0] if args else None


def _precheck_config(args: List[str]) -> Optional[int]:
    """Answer a bad configuration in plain words; `None` when it is fine (or the command needs none)."""
    command = _command(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    if command not in ("check", "discover", "read") or not config_path:
        return None
    try:
        parse_config(SourceDynamics365Cc.read_config(config_path), now=datetime.now(timezone.utc))
    except ConfigError as error:
        if command == "check":
            status = AirbyteConnectionStatus(status=Status.FAILED, message=error.message)
            _emit(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))
            return 0
        _emit(ConfigError(error.message or "").as_airbyte_message())  # a fresh one: no stack trace for a user's mistake
        return 1
    except (OSError, ValueError) as error:
        message = f"Cannot read the config file {config_path}: {type(error).__name__}."
        _emit(AirbyteTracedException(message=message, internal_message=message).as_airbyte_message())
        return 1
    return None


def _source(args: List[str]) -> SourceDynamics365Cc:
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    return SourceDynamics365Cc(
        SourceDynamics365Cc.read_catalog(catalog_path) if catalog_path else None,
        SourceDynamics365Cc.read_config(config_path) if config_path else None,
        SourceDynamics365Cc.read_state(state_path) if state_path else None,
    )


def run(args: Optional[List[str]] = None) -> None:
    args = list(sys.argv[1:] if args is None else args)
    exit_code = _precheck_config(args)
    if exit_code is not None:
        sys.exit(exit_code)
    try:
        source = _source(args)
    except Exception as error:  # noqa: BLE001 - every start-up failure must become a trace, not a traceback
        message = f"The connector could not start: {type(error).__name__}: {error}"
        _emit(AirbyteTracedException(message=message, internal_message=traceback.format_exc()).as_airbyte_message())
        sys.exit(1)
    launch(source, args)
