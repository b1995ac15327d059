"""PyAirbyte installs the connector the way its users do: `get_source(name, pip_url=<this checkout>)`.

PyAirbyte creates a venv of its own, pip-installs the checkout into it (so this needs PyPI for the
dependencies), learns the version from the distribution `airbyte-<name>` and runs the console script
`source-dynamics365-cc` from that venv. One install per test session, in a temporary folder, with the
registry lookup and telemetry turned off.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from testing.harness import connector_config, running_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
CONNECTOR = "source-dynamics365-cc"
DISTRIBUTION = "airbyte-source-dynamics365-cc"

pytestmark = pytest.mark.slow  # a venv built and installed from this checkout: the module starts first under -n


def metadata_version() -> str:
    """metadata.yaml's dockerImageTag: the one place the version is kept."""
    found = re.search(r"^\s*dockerImageTag:\s*(\S+)", (REPO_ROOT / "metadata.yaml").read_text(), re.MULTILINE)
    assert found, "metadata.yaml has no dockerImageTag"
    return found.group(1)


def pip_url(no_uv: bool) -> str:
    """This checkout. uv rebuilds a local folder only when setup.py changes, so ask it to refresh our package:
    an edited module or version must never be tested from a stale cached wheel (pip always rebuilds)."""
    return str(REPO_ROOT) if no_uv else f"{REPO_ROOT} --reinstall-package {DISTRIBUTION}"


@pytest.fixture(scope="session")
def pyairbyte_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The connector as PyAirbyte installed it (without config yet), and PyAirbyte's settings for a test run."""
    root = tmp_path_factory.mktemp("pyairbyte")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DO_NOT_TRACK", "1")  # no telemetry
        patch.setenv("AIRBYTE_LOCAL_REGISTRY", "0")  # no registry download: the connector is not in it anyway
        # Read when PyAirbyte is first imported: where it logs and keeps its files.
        patch.setenv("AIRBYTE_LOGGING_ROOT", str(root / "logs"))
        patch.setenv("AIRBYTE_PROJECT_DIR", str(root / "project"))
        # PyAirbyte installs with uv, which comes with it and sits beside this interpreter.
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        ab = importlib.import_module("airbyte")
        constants = importlib.import_module("airbyte.constants")
        source = ab.get_source(CONNECTOR, pip_url=pip_url(constants.NO_UV), install_root=root / "install")
        source.executor.ensure_installation()
        yield source


def test_pyairbyte_installs_the_checkout_and_reports_the_distributions_version(pyairbyte_source):
    executable = pyairbyte_source.executor._get_connector_path()  # the console script in PyAirbyte's venv
    assert executable.name == CONNECTOR and executable.exists()
    assert pyairbyte_source.connector_version == metadata_version()


def test_pyairbyte_runs_check_against_the_emulator(pyairbyte_source):
    with running_emulator(seed=15, users=6, sign_ins=60, days=2) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        patch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        pyairbyte_source.set_config(connector_config(emu, "full"))
        pyairbyte_source.check()  # raises AirbyteConnectorCheckFailedError unless the connector says SUCCEEDED
