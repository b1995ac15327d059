"""Refusals and their words: every config, config file, catalog file and certificate parse_config or the entrypoint's
precheck refuses gets a clear message naming the setting, a failure (FAILED or non-zero exit), no stack trace and no
secret, whatever the user typed. Property-based over every setting, plus hand-picked cases.

What a valid config becomes is in test_config.py; the same refusals through `python main.py` are in
integration_tests/test_entrypoint.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.config import parse_config, register_secrets
from source_dynamics365_cc.errors import ConfigError
from source_dynamics365_cc.run import _precheck
from testing.certificates import self_signed, unusable_certificate_credentials
from testing.graph_fakes import SECRET, config
from testing.secrets import assert_no_secret_leaked

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
SETTINGS = (
    "tenant_id",
    "client_id",
    "credentials",
    "start_date",
    "cloud",
    "login_endpoint",
    "graph_endpoint",
    "sign_in_app_ids",
    "lookback_window_minutes",
    "include_sign_in_activity",
    "exclude_concealed_users",
    "sign_in_requests_per_10_seconds",
    "max_concurrency",
)
CREDENTIAL_FIELDS = ("auth_type", "client_secret", "certificate", "private_key", "private_key_password")
MAX_MESSAGE = 600
HUGE = "x" * 100_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
url_like = st.text(max_size=40).map(lambda text: f"https://{text}")


def refusal(raw: Any) -> ConfigError | None:
    """The ConfigError parse_config raises for `raw`, or None when it accepts it; anything else fails the test."""
    try:
        parse_config(raw, now=NOW)
    except ConfigError as error:
        return error
    return None


def assert_clear(error: ConfigError, *fragments: str) -> None:
    message = error.message or ""
    assert message.endswith(".") and len(message) <= MAX_MESSAGE
    assert SECRET not in message
    for fragment in fragments:
        assert fragment in message


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SETTINGS), json_values | url_like)
def test_any_value_of_any_setting_is_accepted_or_refused_in_plain_words(name, value):
    error = refusal(config(**{name: value}))
    if error is not None:
        assert_clear(error)


VALID_TEXT = ("contoso.onmicrosoft.com", "00000007-0000-0000-c000-000000000000", "https://graph.example.test")
padded_valid = st.tuples(
    st.sampled_from(["", " ", "\n", "\t"]), st.sampled_from(VALID_TEXT), st.sampled_from(["", " ", "\r\n"])
)
SPEC = Draft7Validator(SourceDynamics365Cc().spec(logging.getLogger("t")).connectionSpecification)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SETTINGS), json_values | url_like | padded_valid.map("".join))
def test_what_the_connector_accepts_the_spec_accepts_so_the_cdk_never_refuses_it_in_its_own_words(name, value):
    raw = config(**{name: value})
    if refusal(raw) is None:
        assert SPEC.is_valid(raw), [error.message for error in SPEC.iter_errors(raw)]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CREDENTIAL_FIELDS), json_values)
def test_any_credential_field_value_is_accepted_or_refused_without_echoing_it(name, value):
    credentials = {"auth_type": "client_secret", "client_secret": SECRET, name: value}
    error = refusal(config(credentials=credentials))
    if error is not None:
        assert_clear(error)
        assert not (isinstance(value, str) and len(value) > 8 and value in (error.message or ""))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SETTINGS), json_values)
def test_the_entrypoint_precheck_answers_check_with_failed_and_read_with_exit_1(tmp_path, capsys, name, value):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(**{name: value})))
    check_code = _precheck(["check", "--config", str(path)])
    read_code = _precheck(["read", "--config", str(path), "--catalog", str(path)])
    out = capsys.readouterr().out
    if check_code is None:
        return
    status, trace = (json.loads(line) for line in out.splitlines())
    assert check_code == 0 and status["connectionStatus"]["status"] == "FAILED"
    assert read_code == 1 and trace["trace"]["error"]["failure_type"] == "config_error"
    assert "Traceback" not in out
    assert_no_secret_leaked(out, config())


GUID_HINT = "GUID"
BAD_SETTINGS = [
    ("tenant_id", None, "'tenant_id' is required"),
    ("tenant_id", "", "'tenant_id' is required"),
    ("tenant_id", "   ", "'tenant_id' is required"),
    ("tenant_id", " contoso.onmicrosoft.com\n", "starts or ends with a space"),
    ("client_id", "11111111-2222-3333-4444-555555555555 ", "starts or ends with a space"),
    ("start_date", None, "'start_date' is set but empty: leave it out"),
    ("start_date", "", "'start_date' is set but empty: leave it out"),
    ("login_endpoint", None, "'login_endpoint' is set but empty"),
    ("graph_endpoint", " ", "'graph_endpoint' is set but empty"),
    ("graph_endpoint", "HTTPS://graph.example.test", "in lower case"),
    ("tenant_id", 42, "'tenant_id' is required"),
    ("tenant_id", HUGE, "'tenant_id' must be"),
    ("tenant_id", "contoso.onmicrosoft.com/evil", "'tenant_id' must be"),
    ("tenant_id", "contoso?x=1", "'tenant_id' must be"),
    ("tenant_id", "contoso#frag", "'tenant_id' must be"),
    ("tenant_id", "admin@contoso.com", "'tenant_id' must be"),
    ("tenant_id", "..", "'tenant_id' must be"),
    ("tenant_id", "contoso..onmicrosoft.com", "'tenant_id' must be"),
    ("tenant_id", "https://login.microsoftonline.com/contoso.onmicrosoft.com", "'tenant_id' must be"),
    ("tenant_id", "ｃｏｎｔｏｓｏ.com", "'tenant_id' must be"),
    ("tenant_id", "{11111111-2222-3333-4444-555555555555}", "'tenant_id' must be"),
    ("client_id", "{11111111-2222-3333-4444-555555555555}", "without braces"),
    ("client_id", "11111111-2222-3333-4444-55555555555", "got 35"),
    ("client_id", "11111111-2222-3333-4444-5555555555555", "got 37"),
    ("client_id", "1111111122223333444455555555555555555", "'client_id' must be"),
    ("client_id", "٣٣٣٣٣٣٣٣-2222-3333-4444-555555555555", "'client_id' must be"),
    ("client_id", ["11111111-2222-3333-4444-555555555555"], "'client_id' is required"),
    ("client_id", HUGE, "got 100000"),
    ("credentials", None, "'credentials' is required"),
    ("credentials", "secret", "'credentials' is required"),
    ("credentials", {"auth_type": "password"}, "'credentials.auth_type' must be"),
    ("credentials", {"auth_type": ["client_secret"]}, "'credentials.auth_type' must be"),
    ("credentials", {"auth_type": "client_secret", "client_secret": ""}, "'credentials.client_secret' is empty"),
    ("credentials", {"auth_type": "client_secret", "client_secret": 123}, "'credentials.client_secret' is empty"),
    ("credentials", {"auth_type": "client_certificate", "certificate": "abc"}, "'credentials.certificate' must be"),
    (
        "credentials",
        {"auth_type": "client_certificate", "certificate": "-----BEGIN CERTIFICATE-----", "private_key": SECRET},
        "'credentials.private_key' must be",
    ),
    (
        "credentials",
        {
            "auth_type": "client_certificate",
            "certificate": "-----BEGIN CERTIFICATE-----",
            "private_key": "-----BEGIN PRIVATE KEY-----",
            "private_key_password": 1234,
        },
        "'credentials.private_key_password' must be text",
    ),
    ("start_date", "2026-11-01", "'start_date' must look like"),
    ("start_date", "2026-11-01 00:00:00", "'start_date' must look like"),
    ("start_date", "2026-11-01T00:00:00+01:00", "'start_date' must look like"),
    ("start_date", "2026-11-01T00:00:00.000Z", "'start_date' must look like"),
    ("start_date", "01/11/2026", "'start_date' must look like"),
    ("start_date", "2026-11-01T00:00:00Z\n", "'start_date' must look like"),
    ("start_date", "٢٠٢٦-١١-٠١T00:00:00Z", "'start_date' must look like"),
    ("start_date", "2026-02-30T00:00:00Z", "not a real date"),
    ("start_date", "2026-11-01T25:00:00Z", "not a real date"),
    ("start_date", "2026-11-27T00:00:00Z", "in the future"),
    ("start_date", 1764547200, "'start_date' must look like"),
    ("start_date", HUGE, "'start_date' must look like"),
    ("cloud", "mars", "'cloud' must be one of"),
    ("cloud", {"name": "global"}, "'cloud' must be one of"),
    ("cloud", ["global"], "'cloud' must be one of"),
    ("login_endpoint", "http://login.example.test", "must use https://"),
    ("login_endpoint", "login.example.test", "must use https://"),
    ("login_endpoint", "https://user:pw@login.example.test", "user name or password"),
    ("login_endpoint", "https://login.example.test/tenant", "without a path"),
    ("login_endpoint", "https://login.example.test?x=1", "without a path"),
    ("login_endpoint", "https://login.example.test#x", "without a path"),
    ("login_endpoint", "https://", "no valid host"),
    ("login_endpoint", "https://host:99999", "no valid host"),
    ("login_endpoint", "https://[::1", "not a valid URL"),
    ("login_endpoint", 443, "must be a URL"),
    ("graph_endpoint", "http://graph.example.test", "must use https://"),
    ("graph_endpoint", "https://me@graph.example.test", "user name or password"),
    ("graph_endpoint", "https://graph.example.test/v1.0", "without a path"),
    ("graph_endpoint", "https://graph.example.test/?$top=1", "without a path"),
    ("graph_endpoint", "https://]evil", "not a valid URL"),
    ("sign_in_app_ids", "00000007-0000-0000-c000-000000000000", "must be a list"),
    ("sign_in_app_ids", None, "must be a list"),
    ("sign_in_app_ids", ["Dynamics 365"], "item 1 is not an application ID"),
    ("sign_in_app_ids", ["00000007-0000-0000-c000-000000000000", "{00000007-0000-0000-c000-000000000000}"], "item 2"),
    ("sign_in_app_ids", [7], "item 1 is not an application ID"),
    ("sign_in_app_ids", [f"{n:08x}-0000-4000-8000-000000000000" for n in range(13)], "at most 12 fit"),
    ("lookback_window_minutes", -1, "from 0 to 1440"),
    ("lookback_window_minutes", 1441, "from 0 to 1440"),
    ("lookback_window_minutes", "60", "from 0 to 1440"),
    ("lookback_window_minutes", 60.5, "from 0 to 1440"),
    ("lookback_window_minutes", True, "from 0 to 1440"),
    ("include_sign_in_activity", "true", "must be true or false"),
    ("exclude_concealed_users", 1, "must be true or false"),
    ("sign_in_requests_per_10_seconds", 0, "from 1 to 5"),
    ("sign_in_requests_per_10_seconds", 6, "from 1 to 5"),
    ("max_concurrency", 0, "from 1 to 8"),
    ("max_concurrency", 9, "from 1 to 8"),
    ("max_concurrency", None, "from 1 to 8"),
]


@pytest.mark.parametrize("name, value, fragment", BAD_SETTINGS)
def test_each_bad_setting_is_refused_naming_the_setting(name, value, fragment):
    error = refusal(config(**{name: value}))
    assert error is not None, f"{name}={str(value)[:60]!r} was accepted"
    assert_clear(error, fragment)


@pytest.mark.parametrize("raw", [None, [], "config", 42])
def test_a_config_that_is_not_an_object_is_refused(raw):
    assert_clear(refusal(raw), "JSON object")


def test_an_unreadable_catalog_file_is_refused_in_plain_words(tmp_path: Path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(config()))
    (tmp_path / "catalog.json").write_text("{not json")
    code = _precheck(["read", "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")])
    message = json.loads(capsys.readouterr().out)["trace"]["error"]["message"]
    assert code == 1 and message.startswith("Cannot read the catalog file")


def test_an_unreadable_config_file_is_refused_in_plain_words(tmp_path: Path, capsys):
    (tmp_path / "config.json").write_text("{not json")
    code = _precheck(["check", "--config", str(tmp_path / "config.json")])
    status = json.loads(capsys.readouterr().out)["connectionStatus"]
    assert code == 0 and status["status"] == "FAILED"
    assert status["message"].startswith("Cannot read the config file") and "JSON object" in status["message"]


CERTIFICATE_CASES = [
    ("encrypted_without_password", "'credentials.private_key' is encrypted: enter its password"),
    ("wrong_password", "'credentials.private_key_password' does not open the encrypted private key"),
    ("password_for_a_plain_key", "'credentials.private_key_password' is set, but the private key is not encrypted"),
    (
        "ec_key",
        "'credentials.private_key' holds a key of type EC (elliptic curve), but Microsoft Entra accepts only RSA",
    ),
    ("dsa_key", "'credentials.private_key' holds a key of type DSA"),
    ("openssh_key", "'credentials.private_key' is in OpenSSH format"),
    ("key_of_another_certificate", "'credentials.private_key' does not belong to 'credentials.certificate'"),
    ("expired", "'credentials.certificate' expired on"),
    ("not_yet_valid", "'credentials.certificate' is valid only from"),
]


@pytest.mark.parametrize("case, fragment", CERTIFICATE_CASES)
def test_each_unusable_certificate_or_key_gets_one_sentence_naming_the_setting(case, fragment):
    credentials = unusable_certificate_credentials(case)
    error = refusal_now(config(credentials=credentials))
    assert error is not None, f"{case} was accepted"
    assert fragment in error.message
    assert error.message.count(". ") <= 2 and "Traceback" not in error.message
    for name in ("private_key", "private_key_password"):
        assert not credentials.get(name) or credentials[name] not in error.message


def refusal_now(raw: Any) -> ConfigError | None:
    """parse_config's refusal at the real time: a certificate's validity is checked against it."""
    try:
        parse_config(raw)
    except ConfigError as error:
        return error
    return None


@pytest.mark.parametrize(
    "overrides, setting",
    [
        ({"login_endpoint": "https://login.example.test"}, "login_endpoint"),
        (
            {"login_endpoint": "https://login.microsoftonline.com", "graph_endpoint": "https://graph.example.test"},
            "graph_endpoint",
        ),
        ({"cloud": "us_government_l4", "login_endpoint": "https://login.microsoftonline.com"}, "login_endpoint"),
        ({"cloud": "china", "graph_endpoint": "https://graph.microsoft.com"}, "graph_endpoint"),
        ({"login_endpoint": "https://login.microsoftonline.com:8443"}, "login_endpoint"),
        ({"login_endpoint": "https://login.microsoftonline.com.example.test"}, "login_endpoint"),
    ],
)
def test_an_endpoint_off_the_clouds_microsoft_hosts_is_refused_unless_the_deployment_allows_it(
    monkeypatch, overrides, setting
):
    monkeypatch.delenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS")
    raw = {key: value for key, value in config(**overrides).items() if key not in ("login_endpoint", "graph_endpoint")}
    raw |= overrides
    error = refusal(raw)
    assert error is not None
    assert f"'{setting}'" in error.message and "DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1" in error.message
    monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
    assert refusal(raw) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"login_endpoint": "https://login.microsoftonline.com", "graph_endpoint": "https://graph.microsoft.com:443"},
        {"cloud": "us_government_l5_dod", "graph_endpoint": "https://DOD-GRAPH.microsoft.us"},
    ],
)
def test_microsofts_own_hosts_need_no_permission(monkeypatch, overrides):
    monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "0")
    raw = {key: value for key, value in config().items() if key not in ("login_endpoint", "graph_endpoint")}
    assert refusal(raw | overrides) is None


def pkcs12_nodes_bundle(certificate: str, key: str) -> str:
    """What `openssl pkcs12 -nodes` writes: the private key and the certificate in one file, with bag attributes."""
    return (
        f"Bag Attributes\n    localKeyID: 01 00 00 00\nKey Attributes: <No Attributes>\n{key}"
        f"Bag Attributes\n    localKeyID: 01 00 00 00\nsubject=CN = connector\nissuer=CN = connector\n{certificate}"
    )


@pytest.mark.parametrize("pasted", ["bundle", "key_alone", "traditional_rsa_key"])
def test_a_private_key_pasted_into_the_certificate_field_is_refused_and_asked_to_be_replaced(pasted):
    """The certificate field is not a secret: a key in it is stored unmasked, so it must be refused, never echoed,
    and the user told to rotate it."""
    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
    from cryptography.hazmat.primitives import serialization

    certificate, key = self_signed()
    traditional = (
        serialization.load_pem_private_key(key.encode(), None)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        .decode()
    )
    value = {
        "bundle": pkcs12_nodes_bundle(certificate, key),
        "key_alone": key,
        "traditional_rsa_key": traditional,
    }[pasted]
    credentials = {"auth_type": "client_certificate", "certificate": value, "private_key": key}
    error = refusal_now(config(credentials=credentials))
    assert error is not None, "a private key was accepted as the certificate"
    assert error.message.startswith("'credentials.certificate' holds a private key")
    assert "the key in 'credentials.private_key'" in error.message
    assert "now stored in the clear: replace it with a new certificate and key" in error.message
    assert_no_secret_leaked(error.message, {"credentials": {"private_key": value}})
    register_secrets(config(credentials=credentials))
    assert filter_secrets(f"config: {value}") == "config: ****", "the pasted value is masked from now on"


@pytest.mark.parametrize(
    "credentials, setting",
    [
        ({"auth_type": "client_secret", "client_secret": "abc\ud83ddef"}, "credentials.client_secret"),
        ({"private_key_password": "pass\udc00word"}, "credentials.private_key_password"),
    ],
)
def test_a_credential_holding_a_lone_surrogate_is_refused_in_plain_words(credentials, setting):
    """A JSON escape such as \\ud83d gives Python half a character, which no form or key can carry: without this
    refusal the sign-in ends in a UnicodeEncodeError traceback."""
    if "auth_type" not in credentials:
        certificate, key = self_signed(password=b"pass-word")
        credentials = {"auth_type": "client_certificate", "certificate": certificate, "private_key": key, **credentials}
    error = refusal_now(config(credentials=credentials))
    assert error is not None
    assert error.message.startswith(f"'{setting}' holds a character that is not valid text (a lone surrogate")
