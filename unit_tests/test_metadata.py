"""metadata.yaml: valid against Airbyte's official schema, and in agreement with setup.py and the
Dockerfile on name and base image. What only running setup.py tells (the version it reads from
metadata.yaml, the repository URL) is checked in integration_tests/test_setup_metadata.py.

The schema comes from the PyPI package airbyte-connector-models, installed with --no-deps (its
declared dependencies are heavy; it needs only pydantic, which airbyte-cdk already brings).
"""

import copy
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from testing import build_files

REPO_ROOT = Path(__file__).resolve().parents[1]

from airbyte_connector_models.metadata.v0 import connector_metadata_definition_v0 as metadata_models  # noqa: E402

DIGEST_PINNED_IMAGE = re.compile(r"^docker\.io/airbyte/python-connector-base:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def metadata() -> dict:
    return build_files.metadata()


@pytest.fixture(scope="module")
def data(metadata: dict) -> dict:
    return metadata["data"]


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    return build_files.dockerfile()


def _official_json_schema() -> dict:
    path = resources.files("airbyte_connector_models.metadata.v0") / "ConnectorMetadataDefinitionV0.json"
    schema = json.loads(path.read_text())

    # Nested "$id"s make jsonschema resolve the root-relative "$ref"s against the wrong document.
    def strip_nested_ids(node, is_root=False):
        if isinstance(node, dict):
            if not is_root:
                node.pop("$id", None)
            for value in node.values():
                strip_nested_ids(value)
        elif isinstance(node, list):
            for value in node:
                strip_nested_ids(value)

    strip_nested_ids(schema, is_root=True)
    return schema


def test_metadata_validates_against_the_official_model(metadata):
    metadata_models.ConnectorMetadataDefinitionV0.model_validate(metadata)


def test_metadata_validates_against_the_official_json_schema(metadata):
    validator = jsonschema.Draft7Validator(_official_json_schema(), format_checker=jsonschema.FormatChecker())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(copy.deepcopy(metadata))
    ]
    assert errors == []


def test_docker_repository_is_the_image_name_label_outside_airbytes_namespace(data, dockerfile):
    assert data["dockerRepository"] == "source-dynamics365-cc"
    assert dockerfile["labels"].get("io.airbyte.name") == data["dockerRepository"]


def test_the_icon_is_an_svg_file_beside_metadata(data):
    icon = REPO_ROOT / data["icon"]
    assert icon.suffix == ".svg"
    assert icon.read_text().lstrip().startswith("<svg")


def test_the_listed_test_suites_are_the_ones_that_run(data):
    suites = {option["suite"] for option in data["connectorTestSuitesOptions"]}
    assert suites == {"unitTests", "integrationTests", "acceptanceTests"}
    assert (REPO_ROOT / "unit_tests").is_dir() and (REPO_ROOT / "integration_tests").is_dir()
    assert (REPO_ROOT / "acceptance-test-config.yml").is_file()


def test_pypi_package_is_the_setup_py_name_as_pyairbyte_looks_it_up_and_not_claimed_published(data):
    """The distribution is on no package index: `enabled` says so until a release is published (issue 22)."""
    assert data["remoteRegistries"]["pypi"] == {"enabled": False, "packageName": build_files.setup_py_field("name")}
    assert data["remoteRegistries"]["pypi"]["packageName"] == "airbyte-source-dynamics365-cc"


def test_base_image_is_the_dockerfile_default_and_pinned_by_digest(data, dockerfile):
    base_image = data["connectorBuildOptions"]["baseImage"]
    assert DIGEST_PINNED_IMAGE.match(base_image), base_image
    assert dockerfile["base_image"] == base_image


def test_python_connector_tags(data):
    assert {"language:python", "cdk:python"} <= set(data["tags"])


def test_allowed_hosts_cover_every_national_cloud(data):
    assert set(data["allowedHosts"]["hosts"]) >= {
        "login.microsoftonline.com",
        "graph.microsoft.com",
        "login.microsoftonline.us",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "login.chinacloudapi.cn",
        "microsoftgraph.chinacloudapi.cn",
    }
