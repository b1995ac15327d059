"""Connector processes forked from a server that imported the connector once.

Starting `python main.py` costs about 3 s of CPU, nearly all of it importing the CDK (which builds its
protocol serializers at import time), and the suite runs the connector about a hundred times. A
`multiprocessing` fork server imports `source_dynamics365_cc.run` once per test worker; each run is a
child forked from it with its own process, environment, working directory, argv, stdout, stderr and exit
code, calling `run()` exactly as `main.py` does. The server forks from a single thread that has done
nothing but import, so no lock or connection of the test process reaches the connector. As with any
`multiprocessing` program, a script (not pytest) that runs the connector this way needs the
`if __name__ == "__main__":` guard: each child imports the script's main module first.

A run may be given a clock the test owns (testing/clock.py `SkippedSeconds`): the child then runs the connector
as `main.py` does but on a runtime whose pacers never wait (testing/runtime.py `unpaced_runtime`; or, for a clock
made `paced`, pace at Graph's rates on that clock, `paced_runtime`), and skips every
wait (its own, the CDK's retry waits and msal's), adding it to that clock, which the emulator reads too. Nothing of this
reaches the connector's code or a `main.py` process: the child passes the runtime to `run()`, as the bench does.

What only a fresh interpreter shows (the `main.py` entrypoint itself, import-time behaviour, the
allocator settings of `read`) is tested in fresh processes: `run_connector(..., fresh_interpreter=True)`,
the allocator tests, PyAirbyte's console-script runs and the image test.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence

from .clock import SkippedSeconds

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["source_dynamics365_cc.run"])


def run_forked(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    skipped: Optional[SkippedSeconds] = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python main.py` with `argv` in a child of the fork server; like subprocess.run(capture_output=True),
    raising subprocess.TimeoutExpired (after killing the child) when it outlives `timeout` (real seconds). With
    `skipped`, the connector waits on that clock instead of the machine's (see above)."""
    with tempfile.TemporaryDirectory(prefix="connector-output-") as output:
        stdout, stderr = Path(output, "stdout"), Path(output, "stderr")
        args = (list(argv), str(cwd), dict(env), str(stdout), str(stderr), skipped)
        child = _CONTEXT.Process(target=_main, args=args)
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(list(argv), timeout)
        returncode = child.exitcode
        return subprocess.CompletedProcess(list(argv), returncode, _read(stdout), _read(stderr))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _main(
    argv: list[str], cwd: str, env: dict[str, str], stdout: str, stderr: str, skipped: Optional[SkippedSeconds]
) -> None:
    """In the child: become `python main.py <argv>` run in `cwd` with `env`, printing to the two files; on the
    machine's clock, or with every wait skipped onto `skipped`."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for stream, path in ((sys.stdout, stdout), (sys.stderr, stderr)):
        stream.flush()
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, stream.fileno())
        os.close(target)
    sys.argv = ["main.py", *argv]
    from source_dynamics365_cc.run import run

    if skipped is None:
        run()
        return
    from .runtime import paced_runtime, skip_library_waits, unpaced_runtime

    skip_library_waits(skipped)
    runtime = paced_runtime if skipped.paced else unpaced_runtime
    run(runtime=runtime(skipped.sleep, skipped.monotonic))
