"""The CDK's standard source tests (spec, check, discover, basic read) against a live Graph emulator.

The suite runs the connector in this process and reads the config files that
acceptance-test-config.yml (beside metadata.yaml, the connector root) names; a module fixture starts
the emulator, writes those files into the git-ignored `.generated/` folder, and makes this process
trust the emulator's certificate. The suite would name the connector after the checkout's folder;
`connector_name` gives it the real one, from metadata.yaml.
Run with `-m "not image_tests and not requires_creds"` (no Docker engine here).
"""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_dynamics365_cc.source import SourceDynamics365Cc
from testing.harness import connector_config, running_emulator

METADATA = Path(__file__).resolve().parents[1] / "metadata.yaml"
SHARED = "integration_tests/.generated/"
# Each xdist worker runs this module's fixture, so each has an emulator of its own, and its own configs naming it:
# in a shared folder one worker would read the configs another wrote, for an emulator already stopped.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
GENERATED = METADATA.parent / SHARED / WORKER


def write_configs(emu) -> None:
    """One config per role in acceptance-test-config.yml (spec needs its own file, see the CDK notes)."""
    start = (emu.tenant.now - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    working = {**connector_config(emu, "full"), "start_date": start}
    wrong = {**working, "credentials": {"auth_type": "client_secret", "client_secret": "not-the-secret-value"}}
    GENERATED.mkdir(parents=True, exist_ok=True)
    for name, config in (("spec_config", working), ("config", working), ("wrong_secret_config", wrong)):
        (GENERATED / f"{name}.json").write_text(json.dumps(config, indent=2))


@pytest.fixture(scope="module", autouse=True)
def emulated_tenant():
    with running_emulator(seed=21, users=30, sign_ins=20000, days=2) as emu, pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        patch.delenv("CURL_CA_BUNDLE", raising=False)
        write_configs(emu)
        yield emu


class WorkerConfigs:
    """acceptance-test-config.yml as the suite reads it, each generated config in this worker's own folder."""

    def __get__(self, instance: object, owner: type) -> Any:
        text = (METADATA.parent / "acceptance-test-config.yml").read_text()
        return yaml.safe_load(text.replace(SHARED, f"{SHARED}{WORKER}/"))


class TestSource(SourceTestSuiteBase):
    connector = SourceDynamics365Cc
    acceptance_test_config = WorkerConfigs()
    connector_name = yaml.safe_load(METADATA.read_text())["data"]["dockerRepository"]


def test_the_standard_tests_see_the_connectors_real_name_and_root():
    assert TestSource.connector_name == "source-dynamics365-cc"
    assert TestSource.get_connector_root_dir() == METADATA.parent
