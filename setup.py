"""Package metadata for the distribution airbyte-source-dynamics365-cc (console script source-dynamics365-cc).

The distribution is named like Airbyte's published Python connectors (`airbyte-<connector>`), which is the
name PyAirbyte asks `importlib.metadata` for when it reports a connector's version. The version itself lives
in one place, `dockerImageTag` in metadata.yaml, so the package, the image tag and the registry entry agree.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

METADATA = Path(__file__).resolve().parent / "metadata.yaml"
REPOSITORY_URL = "https://github.com/source-dynamics365-cc/source-dynamics365-cc"

MAIN_REQUIREMENTS = [
    "airbyte-cdk>=7.39,<8",
    "msal>=1.30,<2",
    "requests>=2.32,<3",
    "cryptography>=42",
    "orjson>=3.9",
]

TEST_REQUIREMENTS = [
    "pytest>=8",
    "requests-mock>=1.12",
    "hypothesis>=6.100",
    "ruff>=0.6",
    "pytest-xdist>=3.5",  # make test runs on every core: most integration tests wait on Graph's throttle, not the CPU
    "airbyte>=0.71.3,<0.72",  # PyAirbyte: the real client the integration tests read through
]


def connector_version() -> str:
    """`dockerImageTag` from metadata.yaml, read without YAML (nothing beyond setuptools is installed at build)."""
    match = re.search(r"^\s*dockerImageTag:\s*[\"']?([0-9][^\s\"'#]*)", METADATA.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{METADATA} has no dockerImageTag")
    return match.group(1)


setup(
    name="airbyte-source-dynamics365-cc",
    version=connector_version(),
    description="Airbyte source: Dynamics 365 license usage (users, sign-ins, subscribed SKUs) from Microsoft Graph.",
    url=REPOSITORY_URL,
    author="source-dynamics365-cc maintainers",
    license="MIT",
    python_requires=">=3.10,<3.15",
    packages=find_packages(include=["source_dynamics365_cc", "source_dynamics365_cc.*"]),
    package_data={"source_dynamics365_cc": ["spec.yaml", "schemas/*.json", "data/*.csv", "data/README.md"]},
    install_requires=MAIN_REQUIREMENTS,
    extras_require={"tests": TEST_REQUIREMENTS},
    entry_points={"console_scripts": ["source-dynamics365-cc=source_dynamics365_cc.run:run"]},
)
