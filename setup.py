"""Package metadata for source-dynamics365-cc."""

from setuptools import find_packages, setup

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
    "airbyte>=0.71.3,<0.72",  # PyAirbyte: the real client the integration tests read through
]

setup(
    name="source-dynamics365-cc",
    version="0.1.0",
    description="Airbyte source: Dynamics 365 license usage (users, sign-ins, subscribed SKUs) from Microsoft Graph.",
    author="source-dynamics365-cc maintainers",
    license="MIT",
    python_requires=">=3.10,<3.15",
    packages=find_packages(include=["source_dynamics365_cc", "source_dynamics365_cc.*"]),
    package_data={"source_dynamics365_cc": ["spec.yaml", "schemas/*.json"]},
    install_requires=MAIN_REQUIREMENTS,
    extras_require={"tests": TEST_REQUIREMENTS},
    entry_points={"console_scripts": ["source-dynamics365-cc=source_dynamics365_cc.run:run"]},
)
