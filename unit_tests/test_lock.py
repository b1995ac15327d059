"""The locks `make lock` writes: they satisfy what setup.py and the requirements-*.txt inputs ask for, on every Python
setup.py allows; every pin is hashed; the demo, image and uv locks are slices of the whole tree, pin for pin; and
the venv the tests run in holds exactly the locked versions (what is tested is what ships).
"""

import re
import sys
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from testing import build_files
from testing.harness import REPO_ROOT

PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
WHOLE = "requirements.lock"
SLICES = {
    "requirements-demo.lock": build_files.setup_requirements("MAIN_REQUIREMENTS")
    + build_files.requirements_file("requirements-dev.txt"),
    "requirements-image.lock": build_files.setup_requirements("MAIN_REQUIREMENTS"),
    "requirements-uv.lock": ["uv"],
}
INPUTS = (
    build_files.setup_requirements("MAIN_REQUIREMENTS")
    + build_files.setup_requirements("TEST_REQUIREMENTS")
    + build_files.requirements_file("requirements-dev.txt")
    + build_files.requirements_file("requirements-nodeps.txt")
)


def environment(python: str) -> dict[str, str]:
    """Marker values for Linux on `python` (the image and the make targets run on Linux)."""
    return {**default_environment(), "python_version": python, "python_full_version": f"{python}.0"}


def pinned(lock: str, python: str) -> dict[str, str]:
    """Package name -> locked version, for the entries of `lock` whose marker holds on `python`."""
    pins = build_files.lock(lock)
    env = environment(python)
    chosen = [pin for pin in pins if pin.requirement.marker is None or pin.requirement.marker.evaluate(env)]
    return {canonicalize_name(pin.requirement.name): pin.version for pin in chosen}


def unmet(requirements: list[str], lock: str, python: str) -> list[str]:
    """The requirements (that apply on `python`) which `lock` pins to a version outside their range, or not at all."""
    versions = pinned(lock, python)
    problems = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(environment(python)):
            continue
        version = versions.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{line} (locked: {version})")
    return problems


@pytest.mark.parametrize("python", PYTHONS)
def test_the_whole_lock_satisfies_every_declared_range(python):
    assert unmet(INPUTS, WHOLE, python) == []


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("lock", sorted(SLICES))
def test_each_slice_satisfies_its_inputs_with_the_whole_locks_versions(lock, python):
    assert unmet(SLICES[lock], lock, python) == []
    whole = pinned(WHOLE, python)
    differing = {name: (version, whole.get(name)) for name, version in pinned(lock, python).items()}
    assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}


def test_an_out_of_range_pin_is_caught():
    locked = pinned(WHOLE, "3.11")["airbyte-cdk"]
    assert unmet(["airbyte-cdk>=99", "no-such-package"], WHOLE, "3.11") == [
        f"airbyte-cdk>=99 (locked: {locked})",
        "no-such-package (locked: None)",
    ]


@pytest.mark.parametrize("lock", [WHOLE, *sorted(SLICES), "requirements-hadolint.lock"])
def test_every_pin_is_exact_and_hashed(lock):
    pins = build_files.lock(lock)
    assert pins
    for pin in pins:
        assert str(pin.requirement.specifier).startswith("=="), pin.requirement
        assert pin.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) for digest in pin.hashes), (
            pin.requirement
        )


def test_the_venv_running_the_tests_holds_the_locked_versions():
    locked = pinned(WHOLE, f"{sys.version_info.major}.{sys.version_info.minor}")
    installed = {name: metadata.version(name) for name in locked}
    assert {name: (version, installed[name]) for name, version in locked.items() if installed[name] != version} == {}


def test_the_image_and_the_make_targets_install_only_from_the_locks():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    installs = re.findall(r"^RUN pip install .*$", dockerfile, re.MULTILINE)
    assert installs == [
        "RUN pip install --no-cache-dir --root-user-action=ignore --require-hashes --no-deps -r requirements-image.lock",
        "RUN pip install --no-cache-dir --root-user-action=ignore --no-deps --no-build-isolation .",
    ]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^INSTALL_LOCK := .*pip install .*--require-hashes --no-deps -r$", makefile, re.MULTILINE)
    for line in re.findall(r"^\t.*pip install .*$", makefile, re.MULTILINE):
        assert "--no-deps" in line, line
        assert "--require-hashes" in line or "--no-build-isolation -e ." in line, line
