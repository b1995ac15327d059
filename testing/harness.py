"""Run the connector the way Airbyte does (`python main.py ...` in a process of its own) against a Graph emulator.

Tests and `tools/demo.py` import from here; the work is split by job, and every name stays importable from here:
- testing/emulated_tenant.py: an emulated tenant on a clock the test owns (`running_emulator`; `paced=True` for the
  connector to pace at Graph's rates on it, `real_clock=True` for the few tests that pace in real time, which say so
  in their names) and the connector config for it (`connector_config`);
- testing/connector_process.py: the input files a platform writes, one connector command run in a process of its
  own (`run_connector`, forked on the emulator's clock by default), its Airbyte messages read back (`Result`);
- testing/truth.py: the emulated tenant's own sign-ins, the truth a sync is compared with (`truth_sign_in_ids`), and
  the invariants of a sync's output.
"""

from .connector_process import (
    DEFAULT_TIMEOUT,
    REPO_ROOT,
    InputPaths,
    Result,
    configured_catalog,
    connector_argv,
    connector_env,
    discovered_streams,
    read_successfully,
    run_connector,
    start_connector,
    stream_state_message,
    write_inputs,
)
from .emulated_tenant import config_from_info, config_since, connector_config, iso, running_emulator, skipped_seconds
from .truth import assert_every_state_is_safe, assert_no_duplicates, truth_rows, truth_sign_in_ids

__all__ = [
    "DEFAULT_TIMEOUT",
    "REPO_ROOT",
    "InputPaths",
    "Result",
    "assert_every_state_is_safe",
    "assert_no_duplicates",
    "config_from_info",
    "config_since",
    "configured_catalog",
    "connector_argv",
    "connector_config",
    "connector_env",
    "discovered_streams",
    "iso",
    "read_successfully",
    "run_connector",
    "running_emulator",
    "skipped_seconds",
    "start_connector",
    "stream_state_message",
    "truth_rows",
    "truth_sign_in_ids",
    "write_inputs",
]
