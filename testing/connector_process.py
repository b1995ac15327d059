"""Run the connector the way Airbyte does (`python main.py ...` in a process of its own) and read its messages back:
write the config, catalog and state files a platform would write, run one command (forked from a server that
imported the connector once, testing/forked.py, or in a fresh interpreter), and collect its output.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from airbyte_cdk.models import AirbyteMessageSerializer
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from serpyco_rs import SchemaValidationError

from graph_emulator import Emulator

from .emulated_tenant import skipped_seconds
from .forked import run_forked

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 120.0
# Any syntactically valid config: discover needs no network call, only the stream definitions.
_DISCOVER_CONFIG = {
    "tenant_id": "11111111-1111-4111-8111-111111111111",
    "client_id": "22222222-2222-4222-8222-222222222222",
    "credentials": {"auth_type": "client_secret", "client_secret": "placeholder"},
    "include_non_interactive_sign_ins": True,  # every stream, opt-in ones included: catalogs pick what they need
    "include_dynamics_activity": True,
}


@dataclass(frozen=True)
class InputPaths:
    """The files a connector command reads; `catalog` and `state` are None when not written."""

    config: Path
    catalog: Path | None = None
    state: Path | None = None

    def args(self) -> list[str]:
        """Command-line options naming these files."""
        named = (("--config", self.config), ("--catalog", self.catalog), ("--state", self.state))
        return [part for option, path in named if path is not None for part in (option, str(path))]


def write_inputs(
    directory: Path,
    config: Mapping[str, Any],
    catalog: Mapping[str, Any] | None = None,
    state: Sequence[Mapping[str, Any]] | None = None,
) -> InputPaths:
    """Write config.json, catalog.json and state.json (each only when given) into directory."""
    directory.mkdir(parents=True, exist_ok=True)

    def dump(name: str, value: Any) -> Path | None:
        if value is None:
            return None
        path = directory / name
        path.write_text(json.dumps(value, indent=2))
        return path

    return InputPaths(dump("config.json", config), dump("catalog.json", catalog), dump("state.json", state))


@functools.cache
def discovered_streams() -> dict[str, dict[str, Any]]:
    """The connector's own discover answer, stream name -> AirbyteStream dict (computed in-process once)."""
    from airbyte_cdk.models.airbyte_protocol_serializers import AirbyteCatalogSerializer

    from source_dynamics365_cc.source import SourceDynamics365Cc

    source = SourceDynamics365Cc(None, _DISCOVER_CONFIG, None)
    catalog = AirbyteCatalogSerializer.dump(source.discover(logging.getLogger("harness"), _DISCOVER_CONFIG))
    return {stream["name"]: stream for stream in catalog["streams"]}


def configured_catalog(streams: Mapping[str, str], discovered: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A configured catalog for {stream name: "full_refresh" | "incremental"}.

    Built from `discovered` (a CATALOG message's catalog) when given, else from an in-process discover.
    """
    known = {s["name"]: s for s in discovered["streams"]} if discovered else discovered_streams()
    configured = []
    for name, mode in streams.items():
        stream = known[name]
        entry: dict[str, Any] = {"stream": stream, "sync_mode": mode, "destination_sync_mode": "append"}
        if mode == "incremental":
            entry["cursor_field"] = stream.get("default_cursor_field", [])
            entry["destination_sync_mode"] = "append_dedup"
        if stream.get("source_defined_primary_key"):
            entry["primary_key"] = stream["source_defined_primary_key"]
        configured.append(entry)
    return {"streams": configured}


def stream_state_message(stream: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """A per-stream STATE message body, the form a platform hands back with --state."""
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": dict(state)}}


class Result(EntrypointOutput):
    """One finished connector process: the CDK's `EntrypointOutput` read from its stdout, plus what only a process
    has (exit code, raw stdout and stderr) and the per-stream and plain-text views the tests read, which the CDK's
    class lacks."""

    def __init__(self, returncode: int, stdout: str, stderr: str, command: Sequence[str] | None = None) -> None:
        super().__init__(
            [line for line in stdout.splitlines() if line.strip()], command=list(command or ()), stderr=stderr
        )
        self.returncode = returncode
        self.stdout = stdout

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message in the order printed, in its wire form (dicts), for checks that walk the whole output."""
        return [AirbyteMessageSerializer.dump(message) for message in self.get_message_iterator()]

    @property
    def stray_lines(self) -> list[str]:
        """Lines of stdout that are not Airbyte messages (the CDK's reader would pass them off as INFO logs; the
        protocol allows none)."""
        return [line for line in self.stdout.splitlines() if not _is_airbyte_message(line)]

    def records_of(self, stream: str) -> list[dict[str, Any]]:
        """The data of `stream`'s records, in the order emitted."""
        return [m.record.data for m in self.records if m.record is not None and m.record.stream == stream]

    def states(self, stream: str | None = None) -> list[dict[str, Any]]:
        """Per-stream states in the order emitted (only `stream`'s when given)."""
        found = []
        for message in self.state_messages:
            body = message.state.stream if message.state is not None else None
            if body is not None and (stream is None or body.stream_descriptor.name == stream):
                found.append(dict(vars(body.stream_state)) if body.stream_state is not None else {})
        return found

    def final_state(self, stream: str) -> dict[str, Any] | None:
        """`stream`'s last state, the one a platform would hand back with --state."""
        states = self.states(stream)
        return states[-1] if states else None

    @property
    def error_messages(self) -> list[str]:
        """Messages of the ERROR traces (what the platform shows a user when a sync fails)."""
        return [m.trace.error.message for m in self.errors if m.trace is not None and m.trace.error is not None]

    @property
    def connection_status(self) -> dict[str, Any] | None:
        """The last CONNECTION_STATUS in its wire form ({"status": ..., "message": ...}), None when none printed."""
        statuses = self.connection_status_messages
        return AirbyteMessageSerializer.dump(statuses[-1])["connectionStatus"] if statuses else None

    def log_lines(self, level: str | None = None) -> list[str]:
        """The text of the LOG messages (only those of `level` when given: "INFO", "WARN", "ERROR"...)."""
        wanted = level.upper() if level is not None else None
        entries = (m.log for m in self.logs if m.log is not None)
        return [e.message for e in entries if wanted is None or e.level.value == wanted]


def _is_airbyte_message(line: str) -> bool:
    """Whether one stdout line is a well-formed Airbyte message."""
    try:
        AirbyteMessageSerializer.load(json.loads(line))
    except (ValueError, SchemaValidationError):
        return False
    return True


def connector_env(emulator: Emulator | None) -> dict[str, str]:
    """The process environment, trusting the emulator's CA (this machine sets its own bundle globally) and
    allowing its host as login and Graph endpoint, as a deployment that runs the emulator must."""
    env = dict(os.environ)
    if emulator is not None:
        env["REQUESTS_CA_BUNDLE"] = emulator.ca_path
        env.pop("CURL_CA_BUNDLE", None)
        env["DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS"] = "1"
    return env


def connector_argv(
    command: str,
    directory: Path,
    config: Mapping[str, Any] | None = None,
    catalog: Mapping[str, Any] | None = None,
    state: Sequence[Mapping[str, Any]] | None = None,
    flags: Sequence[str] = (),
) -> list[str]:
    """`main.py <command> <flags>` with options naming the input files, written into directory."""
    argv = ["main.py", command, *flags]
    if config is not None:
        argv += write_inputs(directory, config, catalog, state).args()
    return argv


def start_connector(
    command: str,
    directory: Path,
    *inputs: Any,
    emulator: Emulator | None = None,
    stderr: Any = subprocess.PIPE,
    flags: Sequence[str] = (),
) -> subprocess.Popen[str]:
    """Start `python main.py <command> ...` in a fresh interpreter without waiting (for tests that kill it, or
    to follow its output live); the inputs (config, catalog, state) are connector_argv's."""
    argv = [sys.executable, *connector_argv(command, directory, *inputs, flags=flags)]
    return subprocess.Popen(
        argv, cwd=REPO_ROOT, env=connector_env(emulator), stdout=subprocess.PIPE, stderr=stderr, encoding="utf-8"
    )


def run_connector(
    command: str,
    directory: Path,
    *inputs: Any,
    emulator: Emulator | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    fresh_interpreter: bool = False,
    flags: Sequence[str] = (),
) -> Result:
    """Run one connector command to completion in a process of its own and collect its output; the inputs
    (config, catalog, state) are connector_argv's, `flags` go after the command (`--debug`).

    By default the process is forked from a server that has imported the connector once (testing.forked), on the
    emulator's clock (`skipped_seconds`); `fresh_interpreter` starts `python main.py` from nothing, for what only a
    new interpreter shows, on the machine's clock."""
    if not fresh_interpreter:
        argv = connector_argv(command, directory, *inputs, flags=flags)
        done = run_forked(argv[1:], REPO_ROOT, connector_env(emulator), timeout, skipped_seconds(emulator))
        return Result(done.returncode, done.stdout, done.stderr, argv)
    process = start_connector(command, directory, *inputs, emulator=emulator, flags=flags)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Result(process.returncode, stdout, stderr, process.args)


def read_successfully(
    emulator: Emulator,
    directory: Path,
    config: Mapping[str, Any],
    streams: Mapping[str, str],
    state: Sequence[Mapping[str, Any]] | None = None,
    timeout: float = 240.0,
) -> Result:
    """`read` of `streams` ({name: sync mode}) that must end well: exit 0 and no error trace."""
    catalog = configured_catalog(streams)
    result = run_connector("read", directory, config, catalog, state, emulator=emulator, timeout=timeout)
    assert result.returncode == 0, result.error_messages or result.stderr[-2000:]
    assert result.error_messages == []
    return result
