"""docs/dynamics365-cc.md keeps up with the code: every setting, stream, field and Entra code is documented.

The tests read the truth from the connector itself (spec.yaml, discover, the schemas folder and
auth/entra.AADSTS_MESSAGES), so a new setting, stream, field or code fails here until the page says
what it is.
"""

import ast
import datetime as dt
import functools
import json
import logging
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
import yaml
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc.auth import permissions
from source_dynamics365_cc.auth.entra import AADSTS_MESSAGES
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.signins import query as odata
from source_dynamics365_cc.source import SourceDynamics365Cc
from source_dynamics365_cc.streams.dynamics_activity import DynamicsActivity
from source_dynamics365_cc.streams.groups import Groups
from source_dynamics365_cc.streams.restarts import RESUME_NOTE
from source_dynamics365_cc.streams.role_assignments import DirectoryRoleAssignments
from source_dynamics365_cc.streams.sign_ins import sign_in_kinds
from source_dynamics365_cc.streams.subscribed_skus import SubscribedSkus
from source_dynamics365_cc.streams.subscriptions import Subscriptions
from source_dynamics365_cc.streams.users import Users
from testing.graph_fakes import config

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
    every_stream = config(include_non_interactive_sign_ins=True, include_dynamics_activity=True)
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


# --- messages the docs quote are messages the code prints ------------------------------------------------

QUOTED = re.compile(r'"([^"]+)"')
PLACEHOLDER = re.compile(r"\[[^\]]+\]|\.\.\.")
MIN_FRAGMENT = 12  # shorter literal pieces ("; ", " (") prove nothing on their own


def module_constants(tree: ast.Module) -> dict[str, str]:
    """A module's top-level `NAME = "text"` constants, which its f-strings may interpolate."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


@functools.cache
def message_literals() -> tuple[str, ...]:
    """Every string literal in the connector's code as it prints: implicitly concatenated pieces joined (as Python
    joins them), a module constant interpolated by name replaced by its text, any other value by a NUL (a value
    the docs write as [name]). Parsed once per test process: every quoted message is looked up in the same code."""
    literals = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        constants = module_constants(tree)

        def text_of(part: ast.expr) -> str:
            if isinstance(part, ast.Constant):
                return str(part.value)
            value = part.value if isinstance(part, ast.FormattedValue) else part
            return constants.get(value.id, "\0") if isinstance(value, ast.Name) else "\0"

        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                literals.append("".join(text_of(part) for part in node.values))
    return tuple(literals)


def quoted_messages() -> list[str]:
    """The messages quoted in the first column of the Troubleshooting tables ("a" / "b" gives two)."""
    found = []
    for line in section("## Troubleshooting").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and not set(cells[0]) <= {"-"}:
            found += QUOTED.findall(cells[0])
    return found


def fragments(message: str) -> list[str]:
    """The literal pieces of a quoted message: the text between its [placeholders] and ellipses."""
    pieces = (piece.strip() for piece in PLACEHOLDER.split(message))
    return [piece for piece in pieces if len(piece) >= MIN_FRAGMENT]


QUOTED_MESSAGES = quoted_messages()


def test_troubleshooting_quotes_messages():
    assert len(QUOTED_MESSAGES) >= 40


@pytest.mark.parametrize("message", QUOTED_MESSAGES)
def test_each_message_the_docs_quote_is_one_the_code_prints(message):
    literals = message_literals()
    missing = [piece for piece in fragments(message) if not any(piece in literal for literal in literals)]
    assert fragments(message), f"{message!r} quotes no literal text long enough to check"
    assert missing == [], f"not in the code's messages: {missing}"


def test_the_docs_quote_the_permission_messages_from_their_constants():
    section_text = section("## Troubleshooting")
    assert permissions.NO_ROLES_MESSAGE in section_text
    assert permissions.UNCOVERED_MESSAGE in section_text
    assert RESUME_NOTE in section_text


def test_no_message_claims_that_every_stream_resumes():
    assert not [literal for literal in message_literals() if "resumes from the last saved state" in literal]


# --- the install path the README and this page describe ------------------------------------------------

README = (REPO_ROOT / "README.md").read_text()
METADATA = yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text())["data"]
SHIPPED_CATALOG = json.loads((REPO_ROOT / "integration_tests" / "configured_catalog.json").read_text())


@pytest.mark.parametrize("page", ["README.md", "docs/dynamics365-cc.md"])
def test_every_image_the_pages_name_is_the_one_make_image_builds(page):
    text = (REPO_ROOT / page).read_text()
    tags = set(re.findall(r"\bsource-dynamics365-cc:([\w.<>-]+)", text))
    assert tags, f"{page} names no image"
    assert tags <= {METADATA["dockerImageTag"], "<version>"}, f"{page} names the tags {tags}"
    assert "airbyte/source-dynamics365-cc" not in text


# The form's labels in Airbyte's own guide, "Uploading Docker-based custom connectors" (operator-guides).
AIRBYTE_CUSTOM_CONNECTOR_FIELDS = (
    "Connector display name",
    "Docker full image name",
    "Docker image tag",
    "Connector documentation URL",
)


@pytest.mark.parametrize("page", ["README.md", "docs/dynamics365-cc.md"])
def test_the_pages_give_the_custom_connector_path_with_the_documentation_url(page):
    text = (REPO_ROOT / page).read_text()
    assert "Settings > Sources > Add a new Docker connector" in text
    for label in AIRBYTE_CUSTOM_CONNECTOR_FIELDS:
        assert f"**{label}**" in text, f"{page} does not name Airbyte's field {label!r}"
    assert METADATA["documentationUrl"] in text
    assert "kind load docker-image" in text and "airbyte-abctl" in text


def test_the_pyairbyte_example_is_five_lines_with_lowercased_columns():
    example = re.search(r"```python\n(.*?)```", section("### Use it from Python with PyAirbyte"), re.DOTALL)
    assert example, "no python example"
    lines = [line for line in example.group(1).splitlines() if line.strip()]
    assert len(lines) == 5
    assert "createddatetime" in example.group(1) and "createdDateTime" not in example.group(1)
    assert f'ab.get_source("{METADATA["dockerRepository"]}", pip_url=' in example.group(1)


@pytest.mark.parametrize("page", ["README.md", "docs/dynamics365-cc.md"])
def test_the_pages_show_pyairbytes_docker_image_next_to_pip_url_and_the_cdks_image_build(page):
    text = (REPO_ROOT / page).read_text()
    image = f"{METADATA['dockerRepository']}:{METADATA['dockerImageTag']}"
    assert f'ab.get_source("{METADATA["dockerRepository"]}", docker_image="{image}"' in text
    assert f"airbyte-cdk image build . --dockerfile Dockerfile --tag {METADATA['dockerImageTag']}" in text


def test_prerequisites_say_airbyte_cloud_takes_no_custom_docker_connector():
    assert "Airbyte Cloud (Standard, Plus, Pro) does not take custom Docker connectors" in section("## Prerequisites")


def test_the_shipped_catalog_is_discover_with_sign_ins_incremental(discovered):
    configured = {entry["stream"]["name"]: entry for entry in SHIPPED_CATALOG["streams"]}
    opt_in = {"non_interactive_sign_ins", "dynamics_activity"}
    assert set(configured) == set(discovered) - opt_in, "every stream a default config offers"
    for name, entry in configured.items():
        assert entry["stream"]["json_schema"] == discovered[name].json_schema, f"{name}: regenerate the catalog"
        expected_mode = "incremental" if name == "sign_ins" else "full_refresh"
        assert entry["sync_mode"] == expected_mode, name
    assert configured["sign_ins"]["cursor_field"] == ["createdDateTime"]


def test_the_page_has_airbytes_sections():
    assert section("## Data type map").count("\n|") >= 7
    assert section("## Limitations").strip()
    assert "| Version | Date | Reference | Subject |" in section("## Changelog")


# --- statements that go stale: streams, filter operators, bench figures, release facts -------------------


@pytest.fixture(scope="module")
def graph_streams(discovered) -> dict:
    """The stream classes a config with every opt-in stream on reads through, by name (they know their Graph path)."""
    every_stream = config(include_non_interactive_sign_ins=True, include_dynamics_activity=True)
    parsed = parse_config(every_stream, logger=logging.getLogger("airbyte"))
    kinds = (Users, *sign_in_kinds(parsed), SubscribedSkus, Groups, Subscriptions, DirectoryRoleAssignments)
    classes = {cls.name: cls for cls in (*kinds, DynamicsActivity)}
    assert set(classes) == set(discovered)
    return classes


def endpoint(stream_class) -> str:
    """`GET /<version>/<collection>`, from the class: no stream needs building. dynamics_activity first creates an
    audit log query: `POST`."""
    method = "POST" if stream_class is DynamicsActivity else "GET"
    return f"{method} /{stream_class.api_version}/{stream_class.collection}"


def test_the_overview_lists_exactly_the_streams_discover_reports(discovered):
    listed = re.findall(r"^- `(\w+)`", section("## Overview"), re.MULTILINE)
    assert sorted(listed) == sorted(discovered)


def test_the_readme_stream_table_lists_exactly_the_streams_discover_reports(discovered):
    rows = re.findall(r"^\| `(\w+)`[^|]*\| `(?:GET|POST) ", README, re.MULTILINE)
    assert sorted(rows) == sorted(discovered)


@pytest.mark.parametrize("page", ["docs/dynamics365-cc.md", "README.md"])
def test_the_pages_give_each_stream_the_graph_endpoint_and_version_it_reads(page, graph_streams):
    text = section("## Overview") if page.startswith("docs") else README
    for name, stream in graph_streams.items():
        assert f"`{endpoint(stream)}`" in text, f"{page} does not say that {name} reads {endpoint(stream)}"
    versions = {stream.api_version for stream in graph_streams.values()}
    named = set(re.findall(r"`(?:GET|POST) /([\w.]+)/", text))
    assert named == versions, f"{page} names the Graph versions {named}, the streams read {versions}"


def test_no_page_says_the_beta_endpoint_is_unused_while_a_stream_reads_it(graph_streams):
    assert any(stream.api_version == "beta" for stream in graph_streams.values())
    for text in (DOC, README):
        flat = " ".join(text.split())
        assert not re.search(r"beta[^.]*\b(?:does not|doesn't|never) use", flat), "a page says beta is not used"


def test_every_filter_operator_the_pages_give_on_the_cursor_is_one_the_query_code_sends():
    window = odata.Window.half_open(
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    )
    sent = set(re.findall(rf"{odata.CURSOR_FIELD} (\w+) ", window.clause()))
    assert sent == {"ge", "le"}
    for text in (DOC, README):
        quoted = set(re.findall(rf"{odata.CURSOR_FIELD} (eq|ne|gt|ge|lt|le) ", text))
        assert quoted <= sent, f"the pages give operators the code does not send: {quoted - sent}"


BENCH = (REPO_ROOT / "bench" / "RESULTS.md").read_text()
FIGURE = re.compile(r"(?P<about>(?:about|near|~)\s*)?(?P<number>\d[\d,]*(?:\.\d+)?)")
ROUNDING = 0.015  # "about 8,400" for 8,410 is a quote; "about 18,000" for it is not


def bench_numbers() -> list[float]:
    return [float(match.group("number").replace(",", "")) for match in FIGURE.finditer(BENCH)]


def bench_paragraphs(text: str) -> list[str]:
    """The paragraphs of a page that link bench/RESULTS.md: every figure in them is a quote from it."""
    return [paragraph for paragraph in text.split("\n\n") if re.search(r"\]\((?:\.\./)?bench/RESULTS\.md\)", paragraph)]


def unquoted_figures(paragraph: str, numbers: list[float]) -> list[str]:
    """Figures in `paragraph` that RESULTS.md does not hold: exactly, or within ROUNDING when said to be about."""
    prose = re.sub(r"`[^`]*`|\[[^\]]*\]\([^)]*\)", " ", paragraph)
    wrong = []
    for match in FIGURE.finditer(prose):
        value = float(match.group("number").replace(",", ""))
        slack = ROUNDING if match.group("about") else 0.0
        if not any(abs(value - number) <= slack * number for number in numbers):
            wrong.append(match.group(0).strip())
    return wrong


def test_the_speed_section_quotes_the_bench():
    assert bench_paragraphs(section("### Speed and memory"))


@pytest.mark.parametrize("page", ["docs/dynamics365-cc.md", "README.md"])
def test_every_figure_quoted_from_the_bench_is_in_its_results(page):
    numbers = bench_numbers()
    for paragraph in bench_paragraphs((REPO_ROOT / page).read_text()):
        assert unquoted_figures(paragraph, numbers) == [], paragraph


def test_a_figure_the_bench_never_measured_is_caught():
    numbers = bench_numbers()
    assert unquoted_figures("without any throttle, about 18,000 sign-ins per second", numbers) == ["about 18,000"]
    assert unquoted_figures("about 6,700 records per second, 93.8% of the ceiling", numbers) == []


def test_the_changelog_has_one_row_per_version_the_newest_being_metadatas():
    versions = re.findall(r"^\| (\d+\.\d+\.\d+) \| (\S+) \|", section("## Changelog"), re.MULTILINE)
    assert versions, "no changelog rows"
    assert len({version for version, _ in versions}) == len(versions), "a version has more than one row"
    assert versions[0][0] == METADATA["dockerImageTag"]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) for _, date in versions), "every row is a released version"
