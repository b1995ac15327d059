"""Access tokens for Microsoft Graph through msal's client-credentials flow.

`GraphTokenProvider` owns the msal application (built lazily: its constructor calls the network)
and the token cache; `GraphAuthenticator` is the requests auth object the CDK applies to every
request and asks to refresh when Graph answers 401. Token-endpoint outages are retried here, so
no stream ever sees them.
"""

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from typing import Any, Callable, Mapping, Optional

import msal
import msal.exceptions
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_token import AbstractHeaderAuthenticator
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .config import ClientCertificate, ClientSecret, ConnectorConfig
from .errors import ConfigError, TokenError, token_error_message

TOKEN_ATTEMPTS = 5
TOKEN_TIMEOUT_SECONDS = 30


def certificate_thumbprint(certificate_pem: str) -> str:
    """The SHA-1 thumbprint Entra shows for the certificate, which msal needs to name the key."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise ConfigError(
            "'credentials.certificate' could not be read as a PEM certificate: paste the whole file, "
            "from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
        ) from None
    return hashlib.sha1(certificate.public_bytes(Encoding.DER)).hexdigest().upper()  # noqa: S324 - Entra's thumbprint is SHA-1


def msal_credential(config: ConnectorConfig) -> Any:
    """The `client_credential` argument msal expects for a secret or a certificate."""
    credential = config.credential
    if isinstance(credential, ClientSecret):
        return credential.secret
    assert isinstance(credential, ClientCertificate)
    result = {
        "private_key": credential.private_key_pem,
        "thumbprint": certificate_thumbprint(credential.certificate_pem),
    }
    if credential.private_key_password:
        result["passphrase"] = credential.private_key_password
    return result


def token_roles(access_token: str) -> list[str]:
    """The application permissions (`roles` claim) granted with admin consent; no signature check is needed to read them."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return []
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(role) for role in roles] if isinstance(roles, list) else []


def login_failure(failure: Exception, login_url: str) -> AirbyteTracedException:
    """An untrusted certificate is the user's to fix (and is never retried or bypassed); anything else may pass."""
    if isinstance(failure, requests.exceptions.SSLError):
        return ConfigError(
            f"The TLS certificate of the login endpoint {login_url} is not trusted: check 'login_endpoint', or add "
            "the issuing CA to this machine's trusted certificates."
        )
    return TokenError(
        f"The Microsoft Entra login endpoint {login_url} is unreachable or failing: check the network, "
        "'cloud' and 'login_endpoint'.",
        transient=True,
    )


class GraphTokenProvider:
    """Hands out a valid app token; msal's cache renews it near expiry. Thread-safe."""

    def __init__(
        self,
        config: ConnectorConfig,
        logger: Optional[logging.Logger] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._logger = logger or logging.getLogger("airbyte")
        self._sleep = sleep
        self._lock = threading.Lock()
        self._app: Optional[msal.ConfidentialClientApplication] = None

    def token(self) -> str:
        with self._lock:
            return self._acquire()

    def refresh(self) -> str:
        """Drop the cached token (revoked or expired early) and fetch a new one."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()
            return self._acquire()

    def _acquire(self) -> str:
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                result = self._application().acquire_token_for_client(scopes=[self._config.scope])
            except (requests.RequestException, msal.exceptions.MsalServiceError) as failure:
                error: AirbyteTracedException = login_failure(failure, self._config.login_url)
            else:
                if "access_token" in result:
                    return str(result["access_token"])
                error = token_error_message(result)
            if error.failure_type != FailureType.transient_error or attempt == TOKEN_ATTEMPTS:
                raise error
            self._logger.warning(
                f"Token request failed ({error.message}); retrying, attempt {attempt + 1} of {TOKEN_ATTEMPTS}."
            )
            self._sleep(2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = self._build_application()
        return self._app

    def _build_application(self) -> msal.ConfidentialClientApplication:
        try:
            return msal.ConfidentialClientApplication(
                self._config.client_id,
                client_credential=msal_credential(self._config),
                authority=self._config.authority,
                instance_discovery=False,
                timeout=TOKEN_TIMEOUT_SECONDS,
            )
        except (ValueError, TypeError) as error:  # cryptography raises TypeError for a password on a plain key
            text = str(error)
            if "private" in text.lower() or "key" in text.lower() or "password" in text.lower():
                raise ConfigError(
                    "The private key could not be loaded: check 'credentials.private_key' and, if the key is "
                    "encrypted, 'credentials.private_key_password'."
                ) from None
            raise ConfigError(
                f"The tenant '{self._config.tenant_id}' was not found at {self._config.login_url}: check the Tenant ID "
                "(Microsoft Entra ID > Overview > Tenant ID) and 'cloud'."
            ) from None


class GraphAuthenticator(AbstractHeaderAuthenticator):
    """Puts `Authorization: Bearer ...` on each request; the CDK calls `refresh_and_set_access_token` after a 401."""

    def __init__(self, provider: GraphTokenProvider) -> None:
        self._provider = provider

    @property
    def auth_header(self) -> str:
        return "Authorization"

    @property
    def token(self) -> str:
        return f"Bearer {self._provider.token()}"

    def refresh_and_set_access_token(self) -> None:
        self._provider.refresh()

    def get_auth_header(self) -> Mapping[str, Any]:
        return {self.auth_header: self.token}
