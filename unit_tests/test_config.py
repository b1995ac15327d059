"""What a valid config becomes: defaults, each cloud's hosts, endpoint overrides, the start date clamped to
Entra's retention, the application list; the spec that describes it; its secrets kept out of reprs and logs.

Refusals (every config parse_config refuses, and the words it uses) are in test_bad_input.py."""

import logging
from datetime import datetime, timedelta, timezone

import pytest
import requests
import yaml

from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS, SETTINGS, ClientSecret, parse_config, register_secrets
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.signins.query import SignInQuery, Window, application_matches
from source_dynamics365_cc.source import _workers
from testing.graph_fakes import config

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
BASE = {
    "tenant_id": "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "credentials": {"auth_type": "client_secret", "client_secret": "value"},
}


def test_defaults_read_dynamics_sign_ins_from_the_start_of_retention():
    parsed = parse_config(BASE, now=NOW)
    assert parsed.tenant_id == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert parsed.sign_in_app_ids == DYNAMICS_365_APP_IDS
    assert parsed.start == NOW - timedelta(days=30) + timedelta(minutes=10)
    assert parsed.lookback == timedelta(minutes=60)
    assert parsed.include_sign_in_activity and parsed.exclude_concealed_users
    assert (parsed.sign_in_requests_per_10_seconds, parsed.max_concurrency) == (5, 3)
    assert parsed.credential == ClientSecret("value")


@pytest.mark.parametrize(
    "cloud, login, graph",
    [
        ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("us_government_l4", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        ("us_government_l5_dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
        ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_each_cloud_has_its_login_and_graph_hosts_and_scope(cloud, login, graph):
    parsed = parse_config({**BASE, "cloud": cloud}, now=NOW)
    assert (parsed.login_url, parsed.graph_url, parsed.scope) == (login, graph, f"{graph}/.default")
    assert parsed.authority == f"{login}/{parsed.tenant_id}"


def test_endpoint_overrides_win_and_the_scope_follows_the_graph_host():
    parsed = parse_config(config(), now=NOW)
    assert parsed.scope == "https://graph.example.test/.default"
    assert parsed.login_url == "https://login.example.test"


def test_a_start_date_before_retention_is_clamped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        parsed = parse_config({**BASE, "start_date": "2020-01-01T00:00:00Z"}, now=NOW, logger=logging.getLogger("t"))
    assert parsed.start == NOW - timedelta(days=30) + timedelta(minutes=10)
    assert "older than Microsoft Entra's 30-day sign-in retention" in caplog.text


def test_an_empty_application_list_means_every_application():
    assert parse_config({**BASE, "sign_in_app_ids": []}, now=NOW).sign_in_app_ids == ()


def test_the_spec_marks_every_secret_and_documents_every_property():
    spec = yaml.safe_load(open("source_dynamics365_cc/spec.yaml"))["connectionSpecification"]
    options = spec["properties"]["credentials"]["oneOf"]
    secrets = {name: prop for option in options for name, prop in option["properties"].items()}
    assert all(secrets[name].get("airbyte_secret") for name in ("client_secret", "private_key", "private_key_password"))
    assert {option["properties"]["auth_type"]["const"] for option in options} == {"client_secret", "client_certificate"}
    for name, prop in spec["properties"].items():
        assert prop.get("title") and prop.get("description") and "order" in prop, name


def test_the_spec_gives_each_setting_the_default_and_bounds_of_the_settings_table():
    properties = yaml.safe_load(open("source_dynamics365_cc/spec.yaml"))["connectionSpecification"]["properties"]
    in_spec = {
        name: prop for name, prop in properties.items() if {"default", "minimum", "maximum", "maxItems"} & set(prop)
    }
    assert set(in_spec) == set(SETTINGS), "a setting with a default or bounds is missing from one side"
    for name, setting in SETTINGS.items():
        prop = in_spec[name]
        assert (prop.get("default"), prop.get("minimum"), prop.get("maximum", prop.get("maxItems"))) == (
            setting.default,
            setting.low,
            setting.high,
        ), name


def test_the_worker_count_is_the_configured_one_when_valid_and_the_default_otherwise():
    assert [
        _workers(cfg) for cfg in (None, {}, {"max_concurrency": 8}, {"max_concurrency": 9}, {"max_concurrency": True})
    ] == [
        SETTINGS["max_concurrency"].default,
        SETTINGS["max_concurrency"].default,
        8,
        SETTINGS["max_concurrency"].default,
        SETTINGS["max_concurrency"].default,
    ]


def test_no_secret_appears_in_the_repr_of_a_parsed_config():
    from testing.certificates import self_signed

    certificate, key = self_signed(password=b"repr-password-9c1")
    certified = config(
        credentials={
            "auth_type": "client_certificate",
            "certificate": certificate,
            "private_key": key,
            "private_key_password": "repr-password-9c1",
        }
    )
    texts = repr(parse_config(config())) + repr(parse_config(certified))
    assert "s3cr3t" not in texts and "PRIVATE KEY" not in texts and "repr-password-9c1" not in texts
    assert "client_id=" in texts, "the repr still shows the settings that are not secret"


def test_a_secret_is_masked_in_logs_both_as_typed_and_stripped():
    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

    typed = "  typed-s3cr-7e2x\n"  # nothing another test registers (such as "value") is part of it
    register_secrets(config(credentials={"auth_type": "client_secret", "client_secret": typed}))
    assert filter_secrets(f"sent {typed.strip()}!") == "sent ****!"
    assert filter_secrets(f"sent {typed}!") == "sent ****!"


def test_a_secret_is_masked_in_logs_url_encoded_too():
    """A form body or a query string carries a secret URL-encoded (`+` or `%20` for a space, `%2B` for a plus)."""
    from urllib.parse import quote, quote_plus

    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

    typed = "f0rm s3cr+t/7e~q="
    register_secrets(config(credentials={"auth_type": "client_secret", "client_secret": typed}))
    assert filter_secrets(f"client_secret={quote_plus(typed)}&scope=x") == "client_secret=****&scope=x"
    assert filter_secrets(f"?secret={quote(typed, safe='')}") == "?secret=****"


def test_parsing_a_config_masks_nothing_until_its_secrets_are_registered():
    """Parsing has no side effect: which values the log formatter masks is one explicit call (run.py, source.py)."""
    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

    typed = "unregistered-s3cr-4q1z"
    raw = config(credentials={"auth_type": "client_secret", "client_secret": typed})
    parse_config(raw)
    assert filter_secrets(f"sent {typed}") == f"sent {typed}"
    register_secrets(raw)
    assert filter_secrets(f"sent {typed}") == "sent ****"


def test_the_longest_application_list_keeps_the_sign_in_url_under_graphs_2048_characters():
    """Beta's non-interactive query on the longest cloud host, with a window bound of 7 fractional digits: the
    longest first-page URL the connector builds."""
    apps = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(SETTINGS["sign_in_app_ids"].high)]
    parsed = parse_config({**BASE, "sign_in_app_ids": apps, "cloud": "china"}, now=NOW)
    moment = NOW.replace(microsecond=123456)
    query = SignInQuery(
        Window.half_open(moment - timedelta(hours=1), moment), tuple(application_matches(apps)), "nonInteractiveUser"
    )
    params = {"$filter": query.filter(), "$top": 999}
    url = requests.Request("GET", f"{parsed.graph_url}/beta/auditLogs/signIns", params=params).prepare().url
    assert len(url) <= 2048 - 300  # room for the skiptoken Graph adds to its next links


def test_the_spec_and_parse_config_bound_the_application_list_alike():
    spec = yaml.safe_load(open("source_dynamics365_cc/spec.yaml"))["connectionSpecification"]
    assert spec["properties"]["sign_in_app_ids"]["maxItems"] == SETTINGS["sign_in_app_ids"].high
    apps = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(SETTINGS["sign_in_app_ids"].high + 1)]
    with pytest.raises(ConfigError) as refused:
        parse_config({**BASE, "sign_in_app_ids": apps}, now=NOW)
    assert refused.value.message == (
        "'sign_in_app_ids' lists 13 applications; at most 12 fit in one Microsoft Graph sign-in filter (Graph "
        "refuses longer request URLs). Keep the applications you need, or use an empty list to read the sign-ins "
        "of every application."
    )
