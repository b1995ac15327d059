"""Secrets and trust: no credential or token in any output, no traffic but to the configured hosts, TLS always verified.

`testing.secrets.assert_no_secret_leaked` is the shared assertion every fault, resume and bad-input test applies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import socket
import threading
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, quote_plus, urlsplit

import certifi
import pytest
import requests_mock
from airbyte_cdk.models import AirbyteMessageSerializer, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from cryptography.hazmat.primitives import serialization

from source_dynamics365_cc import SourceDynamics365Cc
from testing.certificates import self_signed
from testing.graph_fakes import (
    ALL_ROLES,
    GRAPH,
    LOGIN,
    TENANT,
    access_token,
    graph_error,
    page,
    read_streams,
    register_login,
    register_user_count,
)
from testing.graph_fakes import config as fake_config
from testing.harness import (
    Result,
    configured_catalog,
    connector_config,
    run_connector,
    running_emulator,
)
from testing.secrets import assert_no_secret_leaked

PACKAGE = Path(__file__).resolve().parent.parent / "source_dynamics365_cc"


def recent(hours: float, now: dt.datetime) -> str:
    return (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


class TrapProxy:
    """A local proxy that accepts connections and records their first bytes, never forwarding anything.

    Pointing HTTP(S)_PROXY at it (with NO_PROXY=127.0.0.1 for the emulator) catches any request the connector
    would send to a host other than the configured endpoints: msal instance discovery, telemetry, a redirect.
    """

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = self._server.accept()
                with connection:
                    connection.settimeout(1)
                    self.seen.append(connection.recv(512))

    def __enter__(self) -> TrapProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._server.close()


def route_everything_else_to(proxy: TrapProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv(name.lower(), proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


ALL_STREAMS = {
    "users": "full_refresh",
    "sign_ins": "incremental",
    "subscribed_skus": "full_refresh",
    "groups": "full_refresh",
}


@pytest.mark.parametrize("auth", ["client_secret", "client_certificate"])
def test_a_sync_talks_only_to_the_configured_hosts_and_prints_no_secret(tmp_path: Path, auth: str, monkeypatch):
    with running_emulator(seed=11, users=15, sign_ins=2000, days=30) as emu, TrapProxy() as proxy:
        route_everything_else_to(proxy, monkeypatch)
        config = connector_config(emu, auth=auth) | {"start_date": recent(2, emu.tenant.now), "sign_in_app_ids": []}
        check = run_connector("check", tmp_path, config, emulator=emu)
        result = run_connector("read", tmp_path, config, configured_catalog(ALL_STREAMS), emulator=emu)
        log = emu.request_log()
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert result.returncode == 0 and result.records_of("users") and result.records_of("subscribed_skus")
    assert proxy.seen == [], "the connector sent traffic to a host other than the configured endpoints"
    assert {entry["route"] for entry in log} <= {
        "openid",
        "token",
        "users",
        "usersCount",
        "signIns",
        "subscribedSkus",
        "groups",
        "subscriptions",
        "roleAssignments",
    }
    assert all(entry["status"] != 404 for entry in log), "a request went to a path the connector should not call"
    for output in (check, result):
        assert_no_secret_leaked(output, config)


def test_an_untrusted_tls_certificate_stops_the_connector_before_any_credential_is_sent(tmp_path: Path, monkeypatch):
    """TLS verification stays on: with the system CA bundle (which does not know the emulator's CA) nothing gets
    through, so the secret never leaves the machine over an unverified connection."""
    with running_emulator(seed=12, users=5, sign_ins=100, days=30) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
        config = connector_config(emu) | {"start_date": recent(2, emu.tenant.now)}
        check = run_connector("check", tmp_path, config)
        result = run_connector("read", tmp_path, config, configured_catalog({"users": "full_refresh"}))
        log = emu.request_log()
    assert check.connection_status["status"] == "FAILED"
    assert result.returncode != 0 and result.records_of("users") == []
    assert log == [], "a request was answered although the server's certificate is not trusted"
    for output in (check, result):
        assert_no_secret_leaked(output, config)


def test_the_source_never_turns_tls_verification_off():
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    assert not re.search(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|disable_warnings", source)


@pytest.mark.parametrize(
    "wrong",
    [
        {"client_secret": "wrong-secret-value-4f9d2c"},
        {"private_key_password": "not-the-password-77ab"},
    ],
)
def test_refused_credentials_are_reported_without_repeating_them(tmp_path: Path, wrong: dict):
    with running_emulator(seed=13, users=5, sign_ins=100, days=30) as emu:
        auth = "client_secret" if "client_secret" in wrong else "client_certificate"
        config = connector_config(emu, auth=auth)
        config["credentials"] |= wrong
        check = run_connector("check", tmp_path, config, emulator=emu)
        result = run_connector("read", tmp_path, config, configured_catalog({"users": "full_refresh"}), emulator=emu)
    assert check.connection_status["status"] == "FAILED"
    assert re.search(
        r"client secret is wrong|'credentials.private_key_password' is set, but the private key is not encrypted",
        check.connection_status["message"],
    )
    assert result.returncode != 0 and result.error_messages
    for output in (check, result):
        assert_no_secret_leaked(output, config)


@pytest.mark.parametrize(
    "next_link",
    [
        "https://graph.evil.test/v1.0/users?$skiptoken=abc",
        "http://graph.example.test/v1.0/users?$skiptoken=abc",
        "https://graph.example.test.evil.test/v1.0/users?$skiptoken=abc",
        "https://user@graph.evil.test/v1.0/users?$skiptoken=abc",
    ],
)
def test_a_next_link_to_another_host_is_refused_and_the_token_stays_home(next_link: str):
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        register_user_count(mocker)
        mocker.get(f"{GRAPH}/v1.0/users", json=page([{"id": "u1"}], next_link))
        config = fake_config()
        catalog = CatalogBuilder().with_stream("users", SyncMode.full_refresh).build()
        output = read(SourceDynamics365Cc(catalog, config, None), config, catalog)
    followed = [request.url for request in mocker.request_history if urlsplit(request.url).path == "/v1.0/users"]
    assert followed == [f"{GRAPH}/v1.0/users?" + followed[0].split("?", 1)[1]]
    assert "refusing to send the access token there" in output.errors[0].trace.error.message
    assert_no_secret_leaked("\n".join(str(message) for message in output._messages), config)


def run_debug(command: str, directory: Path, config: Mapping[str, Any], emulator: Any) -> Result:
    """`python main.py <command> --debug ...`: the CDK then logs every request with its headers."""
    catalog = configured_catalog(ALL_STREAMS) if command == "read" else None
    return run_connector(command, directory, config, catalog, emulator=emulator, flags=["--debug"])


@pytest.mark.parametrize("auth", ["client_secret", "client_certificate"])
def test_debug_logs_of_check_and_read_carry_no_token_secret_or_key(tmp_path: Path, auth: str):
    with running_emulator(seed=14, users=8, sign_ins=200, days=30) as emu:
        config = connector_config(emu, auth=auth) | {"start_date": recent(3, emu.tenant.now), "sign_in_app_ids": []}
        check = run_debug("check", tmp_path, config, emu)
        read = run_debug("read", tmp_path, config, emu)
    assert check.connection_status == {"status": "SUCCEEDED"} and read.returncode == 0
    for output in (check, read):
        assert "'Authorization': 'Bearer ****'" in output.stdout, "the debug log of requests is not there to check"
        assert_no_secret_leaked(output, config)


def test_an_encrypted_key_and_its_password_stay_out_of_debug_logs(tmp_path: Path):
    with running_emulator(seed=15, users=3, sign_ins=20, days=30) as emu:
        config = connector_config(emu, auth="client_certificate")
        key = serialization.load_pem_private_key(config["credentials"]["private_key"].encode(), None)
        password = "debug-key-password-31c"
        config["credentials"] |= {
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password.encode()),
            ).decode(),
            "private_key_password": password,
        }
        check = run_debug("check", tmp_path, config, emu)
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert_no_secret_leaked(check, config)


def test_a_foreign_login_endpoint_gets_no_request_unless_the_deployment_allows_it(tmp_path: Path, monkeypatch):
    """In the Airbyte UI a connection editor may change `login_endpoint` and press Test: the stored secret must
    not follow. The emulator stands in for the editor's server and counts what reaches it."""
    with running_emulator(seed=16, users=3, sign_ins=20, days=30) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        monkeypatch.delenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS")
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config)
        read = run_connector("read", tmp_path, config, configured_catalog({"users": "full_refresh"}))
        refused_log = emu.request_log()
        monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        allowed = run_connector("check", tmp_path, config)
        allowed_log = emu.request_log()
    assert check.connection_status["status"] == "FAILED"
    for text in (check.connection_status["message"], read.error_messages[0]):
        assert "'login_endpoint'" in text and "DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1" in text
    assert read.returncode == 1 and read.records_of("users") == []
    assert refused_log == [], "a request reached the foreign host"
    assert allowed.connection_status == {"status": "SUCCEEDED"}
    assert [entry["route"] for entry in allowed_log].count("token") == 1, "the counter counts token requests"
    for output in (check, read):
        assert_no_secret_leaked(output, config)


@pytest.mark.parametrize("token_host", ["https://localhost:{port}", "http://127.0.0.1:{port}"])
def test_a_token_endpoint_the_login_host_names_elsewhere_gets_no_credential(tmp_path: Path, token_host: str):
    with running_emulator(seed=17, users=3, sign_ins=20, days=30) as emu:
        emu.login.token_endpoint_base = token_host.format(port=emu.base_url.rsplit(":", 1)[1])
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu)
        log = emu.request_log()
    assert check.connection_status["status"] == "FAILED"
    assert "names its token endpoint on another host or without https" in check.connection_status["message"]
    assert [entry["route"] for entry in log] == ["openid"], "only the OpenID document may be fetched"
    assert_no_secret_leaked(check, config)


@pytest.mark.parametrize("status", [307, 308])
def test_a_token_endpoint_that_redirects_gets_the_credential_sent_nowhere_else(tmp_path: Path, status: int):
    """A 307/308 asks the client to post the same form, secret included, to the Location: the second listener
    stands there and records any connection at all."""
    with running_emulator(seed=18, users=3, sign_ins=20, days=30) as emu, TrapProxy() as elsewhere:
        target = elsewhere.url
        emu.add_fault({"route": "token", "kind": "redirect", "status": status, "location": f"{target}/collect"})
        config = connector_config(emu)
        check = run_connector("check", tmp_path, config, emulator=emu)
        log = emu.request_log()
    assert check.connection_status["status"] == "FAILED"
    assert (
        f"The login endpoint {emu.base_url} answered with a redirect (HTTP {status}) to {target}; "
        in check.connection_status["message"]
    )
    assert elsewhere.seen == [], "the token request was repeated at the redirect's target"
    assert [entry["fault"] for entry in log if entry["route"] == "token"] == ["redirect"]
    assert "Traceback" not in check.stderr
    assert_no_secret_leaked(check, config)


def every_message(output: Any) -> str:
    """All an in-process run emitted, as the platform reads it: one JSON line per message."""
    return "\n".join(json.dumps(AirbyteMessageSerializer.dump(message)) for message in output._messages)


SPILLING_SECRET = "sp1ll s3cr3t+value/9q"  # a space, a plus and a slash: its URL-encoded forms differ from it


@pytest.mark.parametrize("failing", ["graph", "token"])
@pytest.mark.parametrize("auth", ["client_secret", "client_certificate"])
def test_a_concurrent_stream_failure_carries_no_secret_token_or_key_line(failing: str, auth: str):
    """The CDK reports a failure of a concurrent stream (the sign-in windows) as a TRACE message without its secret
    filter: message, internal message and stack trace as raised. Here Graph, or Entra, echoes what it was sent (the
    bearer token, the secret typed and URL-encoded, a line of the key) in its error, and every message of the run
    is checked."""
    certificate, key = self_signed()
    credentials = (
        {"auth_type": "client_secret", "client_secret": SPILLING_SECRET}
        if auth == "client_secret"
        else {"auth_type": "client_certificate", "certificate": certificate, "private_key": key}
    )
    config = fake_config(credentials=credentials)
    key_line = key.splitlines()[1]
    spilled = f"{SPILLING_SECRET} {quote_plus(SPILLING_SECRET)} {quote(SPILLING_SECRET, safe='')} {key_line}"
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        token = access_token(ALL_ROLES)
        if failing == "token":
            mocker.post(
                f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
                status_code=400,
                json={"error": "invalid_request", "error_description": f"AADSTS9999999: got {spilled}"},
            )
        mocker.get(
            f"{GRAPH}/v1.0/auditLogs/signIns",
            status_code=400,
            json=graph_error("BadRequest", f"Echo of the request: Authorization: Bearer {token}; {spilled}"),
        )
        output = read_streams(config, ("sign_ins", SyncMode.incremental))
    failures = [message.trace.error for message in output.errors]
    assert failures and any(error.stream_descriptor for error in failures), "no concurrent stream failed"
    assert any(error.stack_trace for error in failures), "the failure carries no stack trace to check"
    assert_no_secret_leaked(every_message(output), config)
