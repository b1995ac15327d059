"""Releases people can pin and upgrades that say what changes: the image is built for linux/amd64 unless asked
otherwise, the docs pin the release being documented, and a breaking change is in metadata.yaml (Airbyte's format)
with a migration guide the upgrade step links to."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text())["data"]
GUIDE = REPO_ROOT / "docs" / "dynamics365-cc-migrations.md"
GUIDE_URL = f"{DATA['documentationUrl'].removesuffix('.md')}-migrations.md"


def dry_run(*variables: str) -> str:
    """The commands `make image` would run."""
    done = subprocess.run(
        ["make", "-n", "image", *variables], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_image_builds_linux_amd64_unless_another_platform_is_asked_for():
    assert "build --platform linux/amd64 " in dry_run()
    assert "build --platform linux/arm64 " in dry_run("PLATFORM=linux/arm64")


def test_the_image_scripts_build_the_same_platform_as_make_image():
    assert '--platform "${PLATFORM:-linux/amd64}"' in (REPO_ROOT / "tools" / "image" / "build.sh").read_text()


@pytest.mark.parametrize("page", ["README.md", "docs/dynamics365-cc.md"])
def test_every_install_from_git_pins_the_release_tag_of_metadatas_version(page):
    text = (REPO_ROOT / page).read_text()
    installs = re.findall(r"git\+https://github\.com/source-dynamics365-cc/source-dynamics365-cc\.git(@v[\w.]+)?", text)
    assert installs, f"{page} shows no install from git"
    assert set(installs) == {f"@v{DATA['dockerImageTag']}"}, f"{page} installs {installs}"


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a page: lower case, punctuation dropped, spaces as dashes."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_breaking_change_of_0_2_0_is_scoped_to_users_and_links_a_section_of_the_migration_guide():
    change = DATA["releases"]["breakingChanges"]["0.2.0"]
    assert change["scopedImpact"] == [{"scopeType": "stream", "impactedScopes": ["users"]}]
    assert "roster_scope" in change["message"] and "12" in change["message"]
    url, anchor = change["migrationDocumentationUrl"].split("#")
    assert url == GUIDE_URL and anchor in heading_anchors(GUIDE.read_text())


def test_every_breaking_change_has_a_section_of_the_migration_guide():
    anchors = heading_anchors(GUIDE.read_text())
    for version in DATA["releases"]["breakingChanges"]:
        assert f"upgrading-to-{version.replace('.', '')}" in anchors, version


def test_the_upgrade_step_links_the_migration_guide_and_the_guide_says_what_0_2_0_changed():
    page = (REPO_ROOT / "docs" / "dynamics365-cc.md").read_text()
    upgrade = page[page.index("To upgrade, build and push") :].split("\n\n")[0]
    assert "(dynamics365-cc-migrations.md)" in upgrade
    guide = GUIDE.read_text()
    assert "`sign_in_app_ids` takes at most 12 applications" in guide
    assert "all_users" in guide and "CONNECTOR_CONFIG" in guide
