"""The repository's build files as the tests read them: metadata.yaml, the Dockerfile, setup.py and the locks."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from packaging.requirements import Requirement

from .harness import REPO_ROOT


def metadata() -> dict[str, Any]:
    """metadata.yaml, parsed."""
    return yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text())


def dockerfile() -> dict[str, Any]:
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


def setup_py_field(field: str) -> str:
    """A literal `field="..."` of setup.py, else what `setup.py --field` prints (in a child process)."""
    setup_py = REPO_ROOT / "setup.py"
    match = re.search(rf"""\b{field}\s*=\s*["']([^"']+)["']""", setup_py.read_text())
    if match:
        return match.group(1)
    result = subprocess.run(
        [sys.executable, "setup.py", f"--{field}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def setup_requirements(name: str) -> list[str]:
    """A requirement list setup.py declares as a literal (MAIN_REQUIREMENTS, TEST_REQUIREMENTS), read without running it."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == name for target in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"setup.py has no literal {name}")


def requirements_file(name: str) -> list[str]:
    """The requirement lines of a requirements-*.txt input, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in (REPO_ROOT / name).read_text().splitlines())
    return [line for line in lines if line]


@dataclass(frozen=True)
class Pin:
    """One entry of a lock file: `name==version ; marker` and the hashes pip checks the download against."""

    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> str:
        return next(iter(self.requirement.specifier)).version


def lock(name: str) -> list[Pin]:
    """The pins of a lock file written by `make lock` (uv's requirements format, one hash per line)."""
    pins: list[Pin] = []
    requirement, hashes = None, []
    for line in (REPO_ROOT / name).read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("--hash="):
            hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif line and not line[0].isspace() and not line.startswith("#"):
            if requirement is not None:
                pins.append(Pin(requirement, tuple(hashes)))
            requirement, hashes = Requirement(line.rstrip(" \\")), []
    if requirement is not None:
        pins.append(Pin(requirement, tuple(hashes)))
    return pins
