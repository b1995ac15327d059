"""Entra login: real msal over real TLS, and every AADSTS error the connector must explain."""

from __future__ import annotations

import jwt
import msal
import pytest
import requests

from graph_emulator import Emulator


def _msal(emu: Emulator, app: str, credential, tenant: str | None = None) -> dict:
    a = emu.apps[app]
    client = msal.ConfidentialClientApplication(
        a.client_id,
        client_credential=credential,
        authority=f"{emu.base_url}/{tenant or emu.tenant_id}",
        instance_discovery=False,
    )
    return client.acquire_token_for_client([f"{emu.base_url}/.default"])


@pytest.fixture(autouse=True)
def trust_emulator_ca(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)


def test_msal_gets_a_token_with_the_client_secret(emu: Emulator) -> None:
    result = _msal(emu, "full", emu.apps["full"].client_secret)
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert result["expires_in"] == 3600
    assert claims["tid"] == emu.tenant_id and claims["appid"] == emu.apps["full"].client_id
    assert claims["roles"] == ["AuditLog.Read.All", "Directory.Read.All"]


def test_msal_gets_a_token_with_a_certificate_thumbprint_rs256(emu: Emulator) -> None:
    a = emu.apps["full"]
    result = _msal(emu, "full", {"private_key": a.private_key_pem, "thumbprint": a.thumbprint})
    assert "access_token" in result, result


def test_msal_gets_a_token_with_a_public_certificate_ps256_and_domain_tenant(emu: Emulator) -> None:
    a = emu.apps["full"]
    cred = {"private_key": a.private_key_pem, "public_certificate": a.certificate_pem}
    result = _msal(emu, "full", cred, tenant="contoso.onmicrosoft.com")
    assert "access_token" in result, result


def test_certificate_of_another_app_is_rejected_with_700027(emu: Emulator) -> None:
    other = emu.apps["no_audit"]
    result = _msal(emu, "full", {"private_key": other.private_key_pem, "thumbprint": other.thumbprint})
    assert result["error_codes"] == [700027]


def test_app_without_consent_gets_a_token_without_roles(emu: Emulator) -> None:
    result = _msal(emu, "no_consent", emu.apps["no_consent"].client_secret)
    assert "roles" not in jwt.decode(result["access_token"], options={"verify_signature": False})


@pytest.mark.parametrize(
    ("app", "secret", "code", "status", "starts"),
    [
        ("full", "wrong", 7000215, 401, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent"),
        ("full", "SECRET_ID", 7000215, 401, "AADSTS7000215:"),
        ("expired_secret", None, 7000222, 401, "AADSTS7000222: The provided client secret keys for app"),
        ("disabled", None, 7000112, 400, "AADSTS7000112: Application"),
    ],
)
def test_token_errors_have_entra_shape(
    emu: Emulator, app: str, secret: str | None, code: int, status: int, starts: str
) -> None:
    a = emu.apps[app]
    value = {None: a.client_secret, "SECRET_ID": a.secret_id}.get(secret, secret)
    r = requests.post(
        f"{emu.base_url}/{emu.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": a.client_id,
            "client_secret": value,
            "scope": f"{emu.base_url}/.default",
        },
    )
    body = r.json()
    assert r.status_code == status
    assert body["error_codes"] == [code] and body["error_description"].startswith(starts)
    assert {"error", "timestamp", "trace_id", "correlation_id"} <= set(body)


def test_unknown_app_is_700016(emu: Emulator) -> None:
    r = requests.post(
        f"{emu.base_url}/{emu.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "x",
            "scope": f"{emu.base_url}/.default",
        },
    )
    assert r.status_code == 400 and r.json()["error_codes"] == [700016]


def test_unknown_tenant_is_90002_and_msal_fails_discovery(emu: Emulator) -> None:
    r = requests.get(f"{emu.base_url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]
    with pytest.raises(ValueError):
        _msal(emu, "full", emu.apps["full"].client_secret, tenant="fabrikam.onmicrosoft.com")


def test_token_lifetime_is_configurable(fresh: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fresh.ca_path)
    fresh.set_token_lifetime(120)
    assert _msal(fresh, "full", fresh.apps["full"].client_secret)["expires_in"] == 120


@pytest.mark.parametrize(
    "scope, code",
    [("https://graph.contoso.example/.default", 500011), ("https://graph.microsoft.com/User.Read", 1002012)],
)
def test_a_scope_for_an_unknown_resource_or_without_default_is_refused_as_entra_does(
    emu: Emulator, scope: str, code: int
) -> None:
    a = emu.apps["full"]
    r = requests.post(
        f"{emu.base_url}/{emu.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": a.client_id,
            "client_secret": a.client_secret,
            "scope": scope,
        },
    )
    assert r.status_code == 400 and r.json()["error_codes"] == [code]
