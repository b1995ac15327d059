"""Run one sync as a child process and measure it: wall time, CPU time, peak RSS and RECORD lines.

Why a child per run: `os.wait4` gives that one child's own rusage (peak RSS and CPU seconds), which
`resource.getrusage(RUSAGE_CHILDREN)` cannot once several children have run; bench/launch.py takes it.
Records are counted by `grep -c` in another child, so counting costs neither the sync nor the emulator CPU.
"""

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

RECORD_MARK = '"type":"RECORD"'


@dataclass(frozen=True)
class Measurement:
    """What one sync cost; `records` counts the RECORD lines it printed."""

    label: str
    records: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_microseconds_per_record(self) -> float:
        return 1e6 * self.cpu_seconds / self.records if self.records else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records_per_second": self.records_per_second}


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs `module` with this interpreter (the project's venv under `make bench`)."""
    return [sys.executable, "-m", module, *args]


def measure(label: str, command: Sequence[str], env: Mapping[str, str], stderr_path: Path) -> Measurement:
    """Run `command` to completion and measure it; its stdout goes to a record counter, stderr to a file."""
    usage_path = stderr_path.with_suffix(".usage.json")
    launched = python_module("bench.launch", str(usage_path), *command)
    with open(stderr_path, "wb") as stderr:
        started = time.monotonic()
        sync = subprocess.Popen(launched, stdout=subprocess.PIPE, stderr=stderr, env=dict(env))
        counter = subprocess.Popen(["grep", "-c", RECORD_MARK], stdin=sync.stdout, stdout=subprocess.PIPE)
        assert sync.stdout is not None
        sync.stdout.close()  # the counter holds the only read end, so the sync sees a closed pipe if it dies
        exit_code = sync.wait()
        wall = time.monotonic() - started
        counted, _ = counter.communicate()
    usage = json.loads(usage_path.read_text())
    return Measurement(
        label=label,
        records=int(counted.decode().strip() or 0),
        wall_seconds=wall,
        cpu_seconds=usage["cpu_seconds"],
        peak_rss_mib=usage["peak_rss_kib"] / 1024,
        exit_code=exit_code,
    )
