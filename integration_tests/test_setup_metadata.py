"""metadata.yaml agrees with what `python setup.py` reports in a child process: the version setup.py reads
from metadata.yaml, and the repository URL the documentation page lives under. The checks that need no
process are in unit_tests/test_metadata.py.
"""

import re

import pytest
import yaml

from testing import build_files
from testing.harness import REPO_ROOT


@pytest.fixture(scope="module")
def data() -> dict:
    return build_files.metadata()["data"]


def test_image_tag_is_the_package_version(data):
    """One version: setup.py reads dockerImageTag, and the image label takes it from `make image`'s build arg."""
    assert data["dockerImageTag"] == build_files.setup_py_field("version")
    assert build_files.dockerfile()["labels"].get("io.airbyte.version") == "${CONNECTOR_VERSION}"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--build-arg CONNECTOR_VERSION=$(VERSION)" in makefile
    assert re.search(r"^VERSION := .*dockerImageTag.*metadata\.yaml", makefile, re.MULTILINE)


def test_documentation_url_is_the_repositorys_own_docs_page_everywhere(data):
    spec = yaml.safe_load((REPO_ROOT / "source_dynamics365_cc" / "spec.yaml").read_text())
    page = f"{build_files.setup_py_field('url')}/blob/main/docs/dynamics365-cc.md"
    assert data["documentationUrl"] == spec["documentationUrl"] == page
    assert (REPO_ROOT / "docs" / "dynamics365-cc.md").is_file()
