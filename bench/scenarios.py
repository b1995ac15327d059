"""The measured scenarios. Each starts its own emulator, so throttle counters never mix.

Graph's real limit is used as is (5 sign-in requests per 10 s, 1.5 s per page): nothing is scaled.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .procs import Measurement, measure, python_module
from .tenant import NON_INTERACTIVE, SIGN_INS, SyncFiles, start_emulator, sync_files

REPO = Path(__file__).resolve().parent.parent
PAGE_SIZE = 999
GRAPH_REQUESTS = 5
GRAPH_WINDOW_SECONDS = 10.0
CEILING = GRAPH_REQUESTS * PAGE_SIZE / GRAPH_WINDOW_SECONDS  # sign-ins per second Graph lets one app read
PAGE_LATENCY_SECONDS = 1.5
MANIFEST = REPO / "bench" / "peer_manifest.yaml"


@dataclass(frozen=True)
class ThrottledRun:
    """A paced sync and what Graph (the emulator) saw of it."""

    run: Measurement
    sign_ins_read: int
    requests: int
    throttled: int
    retry_after_violations: int
    max_requests_in_10s: int
    first_to_last_request_seconds: float

    @property
    def sign_ins_per_second(self) -> float:
        """Sign-ins Graph served per second: what its limit caps (concealed names are dropped after reading)."""
        return self.sign_ins_read / self.run.wall_seconds if self.run.wall_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "run"}
        return {**self.run.as_dict(), **fields, "sign_ins_per_second": self.sign_ins_per_second}


def connector_command(files: SyncFiles, unpaced: bool = False) -> list[str]:
    if unpaced:
        return python_module("bench.unpaced", *files.read_args())
    return [sys.executable, str(REPO / "main.py"), *files.read_args()]


def peer_command(files: SyncFiles, manifest: Path) -> list[str]:
    return python_module("bench.peer", str(manifest), *files.read_args())


def unpaced_manifest(out: Path) -> Path:
    """The peer without its HTTPAPIBudget: the Builder's way to lift the pace, as the connector's is lifted."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest.pop("api_budget")
    path = out / "peer_manifest.unpaced.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def throttled(sign_ins: int, out: Path) -> dict[str, ThrottledRun]:
    """Connector and peer side by side, each against its own throttled tenant (the limit is per app and tenant)."""
    jobs: dict[str, Callable[[SyncFiles], list[str]]] = {
        "connector": connector_command,
        "peer": lambda files: peer_command(files, MANIFEST),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {label: pool.submit(_throttled_one, label, command, sign_ins, out) for label, command in jobs.items()}
        return {label: future.result() for label, future in futures.items()}


def both_sign_in_streams(sign_ins: int, non_interactive_ratio: int, out: Path) -> ThrottledRun:
    """The connector reading sign_ins and non_interactive_sign_ins at once: Graph counts v1.0 and beta requests
    against one budget, so their sum must stay under it (one shared pacer, one Retry-After pause)."""
    return _throttled_one(
        "both-streams", connector_command, sign_ins, out, (SIGN_INS, NON_INTERACTIVE), non_interactive_ratio
    )


def _throttled_one(
    label: str,
    command: Callable[[SyncFiles], list[str]],
    sign_ins: int,
    out: Path,
    streams: tuple[str, ...] = (SIGN_INS,),
    non_interactive_ratio: int = 10,
) -> ThrottledRun:
    emu = start_emulator(sign_ins, non_interactive_ratio)
    try:
        emu.set_throttle(GRAPH_REQUESTS, GRAPH_WINDOW_SECONDS)
        emu.set_latency("signIns", PAGE_LATENCY_SECONDS)
        files = sync_files(emu, out, f"throttled-{label}", streams)
        run = measure(f"throttled {label}", command(files), files.env, out / f"throttled-{label}.stderr")
        stats = emu.stats()
        times = [entry["time"] for entry in emu.request_log("signIns")]
        return ThrottledRun(
            run=run,
            sign_ins_read=files.sign_ins_in_range if run.exit_code == 0 else 0,
            requests=len(times),
            throttled=stats["throttled"],
            retry_after_violations=stats["violations"],
            max_requests_in_10s=stats["max_requests_in_10s"],
            first_to_last_request_seconds=max(times) - min(times) if times else 0.0,
        )
    finally:
        emu.stop()


def cpu_bound(sign_ins: int, out: Path) -> dict[str, Measurement]:
    """Connector, plain baseline and peer one after another against one unthrottled, instant tenant."""
    emu = start_emulator(sign_ins)
    try:
        files = sync_files(emu, out, "cpu")
        commands = {
            "connector": connector_command(files, unpaced=True),
            "baseline": python_module("bench.baseline", str(files.config)),
            "peer": peer_command(files, unpaced_manifest(out)),
        }
        return {
            label: measure(f"cpu {label}", command, files.env, out / f"cpu-{label}.stderr")
            for label, command in commands.items()
        }
    finally:
        emu.stop()


def memory(sign_ins: int, out: Path) -> Measurement:
    """One unpaced connector sync of `sign_ins`, for its peak RSS (the 1,000,000 one is the CPU-bound run)."""
    emu = start_emulator(sign_ins)
    try:
        files = sync_files(emu, out, f"memory-{sign_ins}")
        return measure(f"memory {sign_ins}", connector_command(files, unpaced=True), files.env, out / "memory.stderr")
    finally:
        emu.stop()
