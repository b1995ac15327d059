"""Tokens through real msal against a fake token endpoint: caching, refresh after 401, certificates, roles."""

import base64
import hashlib
import logging
from urllib.parse import parse_qs

import jwt
import pytest
import requests_mock
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider, token_roles
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.errors import ConfigError, TokenError
from testing.certificates import self_signed
from testing.graph_fakes import (
    ALL_ROLES,
    LOGIN,
    TENANT,
    access_token,
    config,
    read_streams,
    register_login,
    token_error,
)


def test_the_token_is_cached_and_refreshed_only_when_asked():
    provider = GraphTokenProvider(parse_config(config()))
    with requests_mock.Mocker() as mocker:
        endpoint = register_login(mocker, tokens=2)
        first = provider.token()
        assert provider.token() == first
        refreshed = GraphAuthenticator(provider)
        refreshed.refresh_and_set_access_token()
        assert provider.token() != first
    assert endpoint.call_count == 2


def test_the_scope_follows_the_graph_host():
    with requests_mock.Mocker() as mocker:
        endpoint = register_login(mocker)
        GraphTokenProvider(parse_config(config())).token()
    assert "scope=https%3A%2F%2Fgraph.example.test%2F.default" in endpoint.last_request.text


def test_a_wrong_secret_is_explained_without_the_secret():
    with requests_mock.Mocker() as mocker:
        token_error(mocker, 7000215)
        with pytest.raises(TokenError) as raised:
            GraphTokenProvider(parse_config(config())).token()
    assert "Secret ID" in raised.value.message
    assert "s3cr3t" not in raised.value.message


def test_a_failing_token_endpoint_is_retried_then_reported_as_transient():
    sleeps = []
    with requests_mock.Mocker() as mocker:
        token_error(mocker, 0, error="temporarily_unavailable", status=503)
        with pytest.raises(TokenError) as raised:
            GraphTokenProvider(parse_config(config()), sleep=sleeps.append).token()
    assert sleeps == [1, 2, 4, 8]
    assert raised.value.failure_type.value == "transient_error"


def test_roles_are_read_from_the_token_claims():
    assert token_roles(access_token(ALL_ROLES)) == ALL_ROLES
    assert token_roles(access_token(None)) == []
    assert token_roles("not-a-jwt") == []


def test_certificate_credentials_are_sent_as_an_assertion_named_by_the_sha256_thumbprint():
    certificate, key = self_signed()
    cfg = config(credentials={"auth_type": "client_certificate", "certificate": certificate, "private_key": key})
    with requests_mock.Mocker() as mocker:
        endpoint = register_login(mocker)
        GraphTokenProvider(parse_config(cfg)).token()
    body = endpoint.last_request.text
    assert "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" in body
    assert "client_secret" not in body
    header = jwt.get_unverified_header(parse_qs(body)["client_assertion"][0])
    der = x509.load_pem_x509_certificate(certificate.encode()).public_bytes(serialization.Encoding.DER)
    assert header["x5t#S256"].rstrip("=") == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert header["alg"] == "PS256" and "x5t" not in header


def test_an_encrypted_private_key_is_opened_with_its_password_and_refused_with_a_wrong_one():
    certificate, key = self_signed(password=b"key-passphrase-1")
    credentials = {"auth_type": "client_certificate", "certificate": certificate, "private_key": key}
    right = config(credentials={**credentials, "private_key_password": "key-passphrase-1"})
    wrong = config(credentials={**credentials, "private_key_password": "not-the-passphrase"})
    with requests_mock.Mocker() as mocker:
        endpoint = register_login(mocker)
        GraphTokenProvider(parse_config(right)).token()
        with pytest.raises(ConfigError) as refused:
            GraphTokenProvider(parse_config(wrong)).token()
    assert "client_assertion=" in endpoint.last_request.text
    assert "private_key_password" in refused.value.message and "not-the-passphrase" not in refused.value.message


def test_every_access_token_is_masked_in_logs_from_the_moment_msal_returns_it():
    with requests_mock.Mocker() as mocker:
        register_login(mocker, tokens=2)
        provider = GraphTokenProvider(parse_config(config()))
        first = provider.token()
        second = provider.refresh()
    assert first != second
    assert filter_secrets(f"'Authorization': 'Bearer {first}' then 'Bearer {second}'") == (
        "'Authorization': 'Bearer ****' then 'Bearer ****'"
    )


@pytest.mark.parametrize(
    "token_endpoint",
    [
        "https://collector.example.net/t/oauth2/v2.0/token",
        f"{LOGIN.replace('https://', 'http://')}/{TENANT}/oauth2/v2.0/token",
        f"{LOGIN}:8443/{TENANT}/oauth2/v2.0/token",
        f"https://login.example.test.collector.example.net/{TENANT}/oauth2/v2.0/token",
    ],
)
def test_a_discovered_token_endpoint_off_the_login_host_gets_no_credential(token_endpoint):
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(
            f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
            json={
                "token_endpoint": token_endpoint,
                "authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize",
            },
        )
        stolen = mocker.post(requests_mock.ANY)
        with pytest.raises(ConfigError) as refused:
            GraphTokenProvider(parse_config(config())).token()
    assert stolen.call_count == 0, "the credential was posted somewhere"
    assert "names its token endpoint on another host or without https" in refused.value.message
    assert "'login_endpoint'" in refused.value.message


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_from_the_token_endpoint_is_not_followed_and_names_where_it_pointed(status):
    """requests would re-post the form (the client secret with it) of a 307/308 to wherever Location points."""
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.post(
            f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
            status_code=status,
            headers={"Location": "http://collector.example.net:8080/steal?x=1"},
        )
        stolen = mocker.register_uri(requests_mock.ANY, "http://collector.example.net:8080/steal")
        with pytest.raises(ConfigError) as refused:
            GraphTokenProvider(parse_config(config())).token()
    assert stolen.call_count == 0, "the redirect was followed"
    assert f"answered with a redirect (HTTP {status}) to http://collector.example.net:8080;" in refused.value.message
    assert "the credential stayed on this machine" in refused.value.message and "steal" not in refused.value.message


@pytest.mark.parametrize(
    "answer, shown",
    [
        (
            {"status_code": 200, "text": "<html>Web page blocked</html>", "headers": {"Content-Type": "text/html"}},
            "HTTP 200 with content type text/html",
        ),
        ({"status_code": 403, "text": "Access denied"}, "HTTP 403 with no content type"),
    ],
)
def test_a_token_answer_that_is_not_json_is_retried_then_blamed_on_what_stands_in_between(answer, shown, caplog):
    sleeps = []
    caplog.set_level(logging.DEBUG)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        endpoint = mocker.post(f"{LOGIN}/{TENANT}/oauth2/v2.0/token", **answer)
        with pytest.raises(TokenError) as raised:
            GraphTokenProvider(parse_config(config()), sleep=sleeps.append).token()
    message = raised.value.message
    assert message.startswith("Something between this machine and Microsoft Entra answered instead of Entra (a proxy")
    assert shown in message
    assert raised.value.failure_type.value == "transient_error"
    assert sleeps == [1, 2, 4, 8] and endpoint.call_count == 5
    assert answer["text"] not in caplog.text, "a token answer's body was logged"


def test_a_tenant_document_that_is_not_json_is_blamed_on_what_stands_in_between():
    with requests_mock.Mocker() as mocker:
        mocker.get(
            f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
            text="<html>Sign in to the guest network</html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        with pytest.raises(TokenError) as raised:
            GraphTokenProvider(parse_config(config()), sleep=lambda _: None).token()
    assert "a proxy or firewall" in raised.value.message and "content type text/html" in raised.value.message


def test_msal_logs_nothing_of_a_token_request_or_answer(caplog):
    """msal logs a cleaned copy of every token request and answer at DEBUG, and an unreadable answer in full at
    ERROR; with `--debug` the CDK prints every record it gets."""
    caplog.set_level(logging.DEBUG)
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        GraphTokenProvider(parse_config(config())).token()
    assert [record for record in caplog.records if record.name.startswith("msal")] == []


def test_a_sync_retries_a_token_answer_that_is_not_json_then_fails_as_transient_with_the_same_sentence():
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        endpoint = mocker.post(
            f"{LOGIN}/{TENANT}/oauth2/v2.0/token", text="<html>blocked</html>", headers={"Content-Type": "text/html"}
        )
        output = read_streams(config(), ("users", SyncMode.full_refresh))
    failure = output.errors[0].trace.error
    assert failure.message.startswith("Something between this machine and Microsoft Entra answered instead of Entra")
    assert "HTTP 200 with content type text/html" in failure.message
    assert failure.failure_type == FailureType.transient_error
    assert endpoint.call_count == 5 and output.records == []
