"""Run the connector the way Airbyte does (`python main.py ...` in a subprocess) against a Graph emulator.

Tests and `tools/demo.py` use this module to start an emulated tenant, make a connector config for it (the
emulator speaks Entra and Graph, not the connector's settings: `connector_config`), write the config, catalog
and state files a platform would write, run one connector command, and read its Airbyte messages back. The
emulator's own tenant is the truth a sync is compared with (`truth_sign_in_ids`).

Time: an emulator from `running_emulator` runs on a clock the test owns (testing/clock.py `SkippedSeconds`), and a
connector `run_connector` forks for it runs on that clock too: its pacers never wait and every wait it owes (a
Retry-After, a retry's backoff) is skipped and moves the emulator's time on, so its throttle and request log see the
wait as done. Tests about pacing itself ask for `running_emulator(real_clock=True)`, say so in their names, and wait
in real time, as does every connector run in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from graph_emulator import Emulator, EmulatorClock, TenantSpec
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.signins.instants import parse_instant

from .clock import SkippedSeconds
from .forked import run_forked

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 120.0
# Any syntactically valid config: discover needs no network call, only the stream definitions.
_DISCOVER_CONFIG = {
    "tenant_id": "11111111-1111-4111-8111-111111111111",
    "client_id": "22222222-2222-4222-8222-222222222222",
    "credentials": {"auth_type": "client_secret", "client_secret": "placeholder"},
    "include_non_interactive_sign_ins": True,  # every stream, opt-in ones included: catalogs pick what they need
}


@contextlib.contextmanager
def running_emulator(*, real_clock: bool = False, **tenant_kwargs: Any) -> Iterator[Emulator]:
    """An emulated tenant (TenantSpec(**tenant_kwargs)) served on a free port for the block's duration, on a clock
    the test owns, or on the machine's with `real_clock` (for tests about pacing)."""
    clock = EmulatorClock() if real_clock else EmulatorClock(SkippedSeconds())
    with Emulator(TenantSpec(**tenant_kwargs), port=0, clock=clock) as emulator:
        yield emulator


def skipped_seconds(emulator: Emulator | None) -> SkippedSeconds | None:
    """The clock a connector forked for `emulator` waits on: the emulator's own when the test owns it, None (the
    machine's) when it runs on the real clock; a fresh one without an emulator, where there is nothing to share."""
    if emulator is None:
        return SkippedSeconds()
    skipped = emulator.clock.skipped
    return skipped if isinstance(skipped, SkippedSeconds) else None


def config_since(emulator: Emulator, start: dt.datetime, **settings: Any) -> dict[str, Any]:
    """connector_config for app "full", reading from `start`, with the settings a user would give."""
    return connector_config(emulator) | {"start_date": iso(start), **settings}


def config_from_info(info: Mapping[str, Any], app: str = "full") -> dict[str, Any]:
    """The connector config for one of the emulated tenant's app registrations (by name: "full", "no_audit", ...),
    signing in with its client secret, made from the emulator's info (`Emulator.info()`, its info file, or
    `GET /_emulator/info`): the one place the connector's settings are spelled for an emulator. It reads every
    user, so that a roster compares with the tenant's whole directory (tests of the license holders' scope ask for
    that scope)."""
    registration = info["apps"][app]
    return {
        "tenant_id": info["tenant_id"],
        "client_id": registration["client_id"],
        "credentials": {"auth_type": "client_secret", "client_secret": registration["client_secret"]},
        "login_endpoint": info["base_url"],
        "graph_endpoint": info["base_url"],
        "roster_scope": "all_users",
    }


def connector_config(emulator: Emulator, app: str = "full", auth: str = "client_secret") -> dict[str, Any]:
    """config_from_info for a running emulator, signing in with the app's client secret or its certificate (which
    the info does not carry)."""
    config = config_from_info(emulator.info(), app)
    if auth == "client_certificate":
        registration = emulator.apps[app]
        config["credentials"] = {
            "auth_type": "client_certificate",
            "certificate": registration.certificate_pem,
            "private_key": registration.private_key_pem,
        }
    elif auth != "client_secret":
        raise ValueError(f"auth must be client_secret or client_certificate, not {auth!r}")
    return config


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


@dataclass
class Result:
    """One finished connector command: exit code, raw output and the Airbyte messages it printed."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_output(cls, returncode: int, stdout: str, stderr: str) -> Result:
        return cls(returncode, stdout, stderr, parse_messages(stdout))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream]

    def states(self, stream: str | None = None) -> list[dict[str, Any]]:
        """Per-stream states in the order emitted (only `stream`'s when given)."""
        found = []
        for message in self.of_type("STATE"):
            body = message["state"].get("stream") or {}
            if stream is None or body.get("stream_descriptor", {}).get("name") == stream:
                found.append(body.get("stream_state") or {})
        return found

    def final_state(self, stream: str) -> dict[str, Any] | None:
        states = self.states(stream)
        return states[-1] if states else None

    @property
    def errors(self) -> list[str]:
        """Messages of the ERROR traces (what the platform shows a user when a sync fails)."""
        traces = (m["trace"] for m in self.of_type("TRACE"))
        return [t["error"]["message"] for t in traces if t.get("type") == "ERROR"]

    @property
    def connection_status(self) -> dict[str, Any] | None:
        statuses = self.of_type("CONNECTION_STATUS")
        return statuses[-1]["connectionStatus"] if statuses else None

    def logs(self, level: str | None = None) -> list[str]:
        entries = (m["log"] for m in self.of_type("LOG"))
        return [e["message"] for e in entries if level is None or e["level"] == level.upper()]


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    """Every JSON object line of stdout; other lines are ignored (the protocol allows none, tests check that)."""
    messages = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                messages.append(parsed)
    return messages


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
        return Result.from_output(done.returncode, done.stdout, done.stderr)
    process = start_connector(command, directory, *inputs, emulator=emulator, flags=flags)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Result.from_output(process.returncode, stdout, stderr)


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
    assert result.returncode == 0, result.errors or result.stderr[-2000:]
    assert result.errors == []
    return result


def truth_sign_in_ids(
    emulator: Emulator,
    start: dt.datetime | str,
    end: dt.datetime | str,
    app_ids: Sequence[str] | None,
    exclude_concealed: bool = True,
    event_type: str = "interactiveUser",
) -> set[str]:
    """Ids of the tenant's sign-ins of one event type (v1.0's interactiveUser unless told: nonInteractiveUser for
    beta's) with start <= createdDateTime < end for app_ids (None: every app)."""
    rows = emulator.tenant.sign_ins_between(start, end, app_ids, event_type=event_type)
    return {row["id"] for row in rows if not (exclude_concealed and is_concealed(row))}


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def truth_rows(emu: Emulator, start: dt.datetime, end: dt.datetime) -> dict[str, dt.datetime]:
    """id -> createdDateTime of every sign-in the connector must deliver (every app, no concealed user)."""
    rows = emu.tenant.sign_ins_between(start, end, None)
    return {row["id"]: parse_instant(row["createdDateTime"]) for row in rows if not is_concealed(row)}


def assert_every_state_is_safe(
    messages: Iterable[Mapping[str, Any]], truth: Mapping[str, dt.datetime], already_emitted: Iterable[str] = ()
) -> set[str]:
    """Walk the output in order; return every sign-in id emitted (with `already_emitted`)."""
    emitted = set(already_emitted)
    for message in messages:
        if message.get("type") == "RECORD" and message["record"]["stream"] == "sign_ins":
            emitted.add(message["record"]["data"]["id"])
        stream = (message.get("state") or {}).get("stream") or {}
        if stream.get("stream_descriptor", {}).get("name") == "sign_ins" and stream.get("stream_state"):
            cursor = parse_instant(stream["stream_state"]["createdDateTime"])
            behind = {sign_in for sign_in, moment in truth.items() if moment < cursor}
            assert behind <= emitted, f"state {cursor} moved past {len(behind - emitted)} sign-ins not yet emitted"
    return emitted


def assert_no_duplicates(result: Result) -> None:
    ids = [record["id"] for record in result.records("sign_ins")]
    assert len(ids) == len(set(ids)), "a sign-in was emitted twice in one sync"
