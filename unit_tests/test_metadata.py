"""metadata.yaml: valid against Airbyte's official schema, and in agreement with setup.py and the
Dockerfile on name, version and base image.

The schema comes from the PyPI package airbyte-connector-models, installed with --no-deps (its
declared dependencies are heavy; it needs only pydantic, which airbyte-cdk already brings).
"""

import copy
import json
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]

from airbyte_connector_models.metadata.v0 import connector_metadata_definition_v0 as metadata_models  # noqa: E402

DIGEST_PINNED_IMAGE = re.compile(r"^docker\.io/airbyte/python-connector-base:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def metadata() -> dict:
    return yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text())


@pytest.fixture(scope="module")
def data(metadata: dict) -> dict:
    return metadata["data"]


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    """The Dockerfile's default BASE_IMAGE and its LABELs."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    instructions = re.sub(r"\\\n", " ", text).splitlines()
    base_image, labels = None, {}
    for line in (i.strip() for i in instructions):
        if line.startswith("ARG BASE_IMAGE="):
            base_image = line.split("=", 1)[1].strip()
        elif line.startswith("LABEL "):
            labels.update(pair.split("=", 1) for pair in shlex.split(line[len("LABEL ") :]))
    return {"base_image": base_image, "labels": labels}


def _setup_py_field(field: str) -> str:
    """A literal `field="..."` of setup.py, else what `setup.py --field` prints."""
    setup_py = REPO_ROOT / "setup.py"
    match = re.search(rf"""\b{field}\s*=\s*["']([^"']+)["']""", setup_py.read_text())
    if match:
        return match.group(1)
    result = subprocess.run(
        [sys.executable, "setup.py", f"--{field}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


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


def test_image_tag_is_the_package_version(data, dockerfile):
    """One version: setup.py reads dockerImageTag, and the image label takes it from `make image`'s build arg."""
    assert data["dockerImageTag"] == _setup_py_field("version")
    assert dockerfile["labels"].get("io.airbyte.version") == "${CONNECTOR_VERSION}"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--build-arg CONNECTOR_VERSION=$(VERSION)" in makefile
    assert re.search(r"^VERSION := .*dockerImageTag.*metadata\.yaml", makefile, re.MULTILINE)


def test_docker_repository_is_the_image_name_label_outside_airbytes_namespace(data, dockerfile):
    assert data["dockerRepository"] == "source-dynamics365-cc"
    assert dockerfile["labels"].get("io.airbyte.name") == data["dockerRepository"]


def test_documentation_url_is_the_repositorys_own_docs_page_everywhere(data):
    spec = yaml.safe_load((REPO_ROOT / "source_dynamics365_cc" / "spec.yaml").read_text())
    page = f"{_setup_py_field('url')}/blob/main/docs/dynamics365-cc.md"
    assert data["documentationUrl"] == spec["documentationUrl"] == page
    assert (REPO_ROOT / "docs" / "dynamics365-cc.md").is_file()


def test_the_icon_is_an_svg_file_beside_metadata(data):
    icon = REPO_ROOT / data["icon"]
    assert icon.suffix == ".svg"
    assert icon.read_text().lstrip().startswith("<svg")


def test_the_listed_test_suites_are_the_ones_that_run(data):
    suites = {option["suite"] for option in data["connectorTestSuitesOptions"]}
    assert suites == {"unitTests", "integrationTests", "acceptanceTests"}
    assert (REPO_ROOT / "unit_tests").is_dir() and (REPO_ROOT / "integration_tests").is_dir()
    assert (REPO_ROOT / "acceptance-test-config.yml").is_file()


def test_pypi_package_is_the_setup_py_name_as_pyairbyte_looks_it_up(data):
    assert data["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": _setup_py_field("name")}
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
