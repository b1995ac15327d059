"""The form Airbyte draws from spec.yaml sets itself up: what decides what is synced is shown (Airbyte collapses
optional fields unless `always_show`), test-only endpoints are hidden, each credential option says what it is with
the recommended certificate first, a refusal names a setting by its label, and every date-time the connector emits
or takes is typed as Airbyte's type guide asks."""

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from source_dynamics365_cc.graph.answers import PREMIUM_CODE, GraphErrorHandler
from source_dynamics365_cc.streams.restarts import RESUME_NOTE

PACKAGE = Path(__file__).resolve().parents[1] / "source_dynamics365_cc"
SPEC = yaml.safe_load((PACKAGE / "spec.yaml").read_text())["connectionSpecification"]
PROPERTIES = SPEC["properties"]


@pytest.mark.parametrize("name", ["roster_scope", "include_sign_in_log", "start_date"])
def test_the_settings_that_decide_what_is_synced_are_always_shown(name):
    assert name not in SPEC["required"] and PROPERTIES[name]["always_show"] is True


@pytest.mark.parametrize("name", ["login_endpoint", "graph_endpoint"])
def test_the_test_endpoints_are_hidden_from_the_form(name):
    assert PROPERTIES[name]["airbyte_hidden"] is True


def test_each_credential_option_is_described_and_the_recommended_certificate_comes_first():
    options = PROPERTIES["credentials"]["oneOf"]
    assert [option["properties"]["auth_type"]["const"] for option in options] == ["client_certificate", "client_secret"]
    assert all(option.get("description") for option in options)
    assert "recommends" in options[0]["description"]


def test_a_tenant_without_p1_or_p2_is_told_the_setting_to_turn_off_by_its_label():
    response = requests.Response()
    response.status_code = 403
    response._content = json.dumps({"error": {"code": PREMIUM_CODE, "message": "no premium"}}).encode()
    response.request = requests.Request("GET", "https://graph.example.test/v1.0/auditLogs/signIns").prepare()
    message = GraphErrorHandler(logger=None, resume_note=RESUME_NOTE).interpret_response(response).error_message
    assert f"'{PROPERTIES['include_sign_in_log']['title']}'" in message and "deselect" not in message


def date_times(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Every schema node with `format: date-time`, and where it is."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            yield where, node
        for key, value in node.items():
            yield from date_times(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from date_times(value, f"{where}/{index}")


def test_every_date_time_is_a_timestamp_with_timezone():
    schemas = {path.name: json.loads(path.read_text()) for path in sorted((PACKAGE / "schemas").glob("*.json"))}
    found = [*date_times(SPEC, "spec.yaml")]
    for name, schema in schemas.items():
        found += date_times(schema, name)
    assert len(found) >= 10, "the streams' timestamps and the start date"
    untyped = [where for where, node in found if node.get("airbyte_type") != "timestamp_with_timezone"]
    assert untyped == []
