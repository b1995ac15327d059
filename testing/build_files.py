"""The repository's build files as the metadata tests read them: metadata.yaml, the Dockerfile and setup.py."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Any

import yaml

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
