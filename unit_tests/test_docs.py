"""docs/dynamics365-cc.md keeps up with the code: every setting, stream, field and Entra code is documented.

The tests read the truth from the connector itself (spec.yaml, discover, the schemas folder and
errors.AADSTS_MESSAGES), so a new setting, stream, field or code fails here until the page says
what it is.
"""

import json
import logging
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
import yaml
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc.errors import AADSTS_MESSAGES
from source_dynamics365_cc.source import SourceDynamics365Cc

from .graph_fakes import config

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "source_dynamics365_cc"
DOC = (REPO_ROOT / "docs" / "dynamics365-cc.md").read_text()
SPEC = yaml.safe_load((PACKAGE / "spec.yaml").read_text())["connectionSpecification"]
SCHEMAS = {path.stem: json.loads(path.read_text()) for path in sorted((PACKAGE / "schemas").glob("*.json"))}


def section(heading: str) -> str:
    """The text under `heading` (a whole heading line) up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = DOC.splitlines()
    assert heading in lines, f"the doc has no heading {heading!r}"
    start = lines.index(heading) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(rf"^#{{1,{level}}} ", lines[i])),
        len(lines),
    )
    return "\n".join(lines[start:end])


def spec_properties(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property of the spec as (dotted path, definition), through nested objects, oneOf options and items."""
    for name, prop in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        yield path, prop
        yield from spec_properties(prop, f"{path}.")
    for option in schema.get("oneOf") or []:
        yield from spec_properties(option, prefix)
    if isinstance(schema.get("items"), dict):
        yield from spec_properties(schema["items"], prefix)


def table_row(heading: str, key: str) -> list[str]:
    """The cells of the table row under `heading` whose first cell is `key` in backticks."""
    for line in section(heading).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0] == f"`{key}`":
            return cells
    raise AssertionError(f"{heading!r} has no table row for `{key}`")


def reference_row(path: str) -> list[str]:
    return table_row("## Configuration reference", path)


@pytest.fixture(scope="module")
def discovered() -> dict:
    """The streams as `discover` reports them with every opt-in stream on, by name; discover makes no network call."""
    every_stream = config(include_non_interactive_sign_ins=True)
    catalog = SourceDynamics365Cc(config=every_stream).discover(logging.getLogger("airbyte"), every_stream)
    return {stream.name: stream for stream in catalog.streams}


SPEC_PATHS = [path for path, _ in spec_properties(SPEC)]


def test_the_spec_walk_reaches_the_nested_credential_properties():
    assert {"credentials.auth_type", "credentials.client_secret", "credentials.private_key_password"} <= set(SPEC_PATHS)


@pytest.mark.parametrize("path", SPEC_PATHS)
def test_every_spec_property_has_a_row_in_the_configuration_reference(path):
    assert len(reference_row(path)) == 4, "columns: field, required, default, description"


@pytest.mark.parametrize("name", list(SPEC["properties"]))
def test_the_reference_marks_exactly_the_required_settings_as_required(name):
    required = reference_row(name)[1]
    assert (required == "yes") == (name in SPEC["required"]), f"{name}: {required!r}"


@pytest.mark.parametrize("path,prop", [(path, prop) for path, prop in spec_properties(SPEC) if "default" in prop])
def test_the_reference_gives_each_spec_default(path, prop):
    default = prop["default"]
    if isinstance(default, list):
        assert all(f"`{item}`" in DOC for item in default), f"{path}: every default item must be listed"
    else:
        assert f"`{json.dumps(default).strip(chr(34))}`" in reference_row(path)[2]


def test_discover_and_the_schemas_folder_name_the_same_streams(discovered):
    assert set(discovered) == set(SCHEMAS)


@pytest.mark.parametrize("stream", sorted(SCHEMAS))
def test_each_stream_has_its_own_section(stream):
    assert section(f"### `{stream}`").strip()


@pytest.mark.parametrize(
    "stream,field", [(stream, field) for stream, schema in sorted(SCHEMAS.items()) for field in schema["properties"]]
)
def test_each_schema_field_is_described_in_its_stream_section(stream, field):
    assert f"| `{field}` |" in section(f"### `{stream}`")


def test_the_sync_modes_table_agrees_with_discover(discovered):
    for name, stream in discovered.items():
        _, full_refresh, incremental, primary_key, cursor = table_row("## Supported sync modes", name)
        assert full_refresh == ("yes" if SyncMode.full_refresh in stream.supported_sync_modes else "no"), name
        assert incremental == ("yes" if SyncMode.incremental in stream.supported_sync_modes else "no"), name
        assert primary_key == ", ".join(f"`{key[0]}`" for key in stream.source_defined_primary_key or []), name
        assert cursor == ", ".join(f"`{field}`" for field in stream.default_cursor_field or []), name


@pytest.mark.parametrize("code", sorted(AADSTS_MESSAGES))
def test_every_aadsts_code_is_explained_in_troubleshooting(code):
    assert re.search(rf"\bAADSTS{code}\b", section("## Troubleshooting"))
