"""Access tokens for Microsoft Graph through msal's client-credentials flow.

`GraphTokenProvider` owns the msal application (built lazily: its constructor calls the network)
and the token cache; `GraphAuthenticator` is the requests auth object the CDK applies to every
request and asks to refresh when Graph answers 401. Token-endpoint outages are retried here, so
no stream ever sees them. Each token request, retries included, ends within its deadline (auth/deadline.py):
a login host that drops connections or trickles its answer is named in a sentence, never waited on forever.

msal logs the raw body of a token answer it cannot read (at ERROR) and a cleaned copy of each token request
and answer (at DEBUG); its loggers are held above every level it uses, and each failure is told in the
connector's own words instead.
"""

import base64
import binascii
import json
import logging
import threading
import time
from typing import Any, Callable, Optional
from urllib.parse import urljoin, urlsplit

import msal
import msal.exceptions
import requests
import requests.adapters
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_token import AbstractHeaderAuthenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..config import ClientCertificate, ClientSecret, ConnectorConfig
from ..errors import ConfigError, DeadlinePassed, NotEntraDiscovery, NotFromEntra, TokenError
from .deadline import DEADLINE_SECONDS, Deadline, within
from .entra import token_error_message

TOKEN_ATTEMPTS = 5
TOKEN_TIMEOUT_SECONDS = 30
# msal logs at CRITICAL nowhere; its loggers (all children of "msal") inherit this level.
MSAL_LOG_LEVEL = logging.CRITICAL


def msal_credential(config: ConnectorConfig) -> Any:
    """The `client_credential` argument msal expects for a secret or a certificate.

    A certificate goes as `public_certificate` without a `thumbprint`: msal then names the key by its SHA-256
    thumbprint (`x5t#S256`, signed PS256), which Microsoft recommends over the SHA-1 `x5t`."""
    credential = config.credential
    if isinstance(credential, ClientSecret):
        return credential.secret
    assert isinstance(credential, ClientCertificate)
    result = {"private_key": credential.private_key_pem, "public_certificate": credential.certificate_pem}
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
    if isinstance(failure, NotEntraDiscovery):
        return TokenError(
            f"Something between this machine and Microsoft Entra answered instead of Entra (a proxy or gateway): the "
            f"tenant's OpenID configuration at {login_url} came back as JSON that is not Entra's, saying "
            f"'{failure.said}'. Ask the network administrator to let this machine reach the login endpoint "
            "directly, or check 'login_endpoint' and 'cloud'.",
            transient=True,
        )
    if isinstance(failure, NotFromEntra):
        return TokenError(
            f"Something between this machine and Microsoft Entra answered instead of Entra (a proxy or firewall): "
            f"the login endpoint {login_url} answered HTTP {failure.status} with {failure.content_type}, not Entra's "
            "JSON. Ask the network administrator to let this machine reach the login endpoint directly (no web "
            "filter, sign-in page or TLS inspection in between), or check 'login_endpoint' and 'cloud'.",
            transient=True,
        )
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


def login_timeout(login_url: str, seconds: float) -> TokenError:
    """The sentence for a login host that did not answer in time: it names the host and what to check."""
    host = urlsplit(login_url).netloc
    return TokenError(
        f"{host} did not answer within {seconds:.0f} s (the Microsoft Entra login endpoint {login_url} dropped the "
        "connection or sent its answer too slowly). Check the network and any proxy or firewall between this machine "
        f"and {host}, and 'cloud' and 'login_endpoint'; then try again.",
        transient=True,
    )


def on_login_host(url: str, login_url: str) -> bool:
    """Whether `url` is https on exactly the configured login host (and port)."""
    parts = urlsplit(url)
    return parts.scheme == "https" and f"https://{parts.netloc.lower()}".removesuffix(":443") == login_url


def content_type(response: requests.Response) -> str:
    """The answer's content type as the message shows it: short, and saying so when there is none."""
    value = response.headers.get("Content-Type", "").split(";")[0].strip()[:80]
    return f"content type {value}" if value else "no content type"


def redirect_target(response: requests.Response) -> str:
    """Where a 3xx answer pointed (a relative location on the host that answered): scheme, host and port only, as
    a path or query could carry anything."""
    location = response.headers.get("Location")
    if not location:
        return "no location"
    try:
        parts = urlsplit(urljoin(response.url, location))
        host, port = parts.hostname, parts.port
    except ValueError:  # an unbalanced IPv6 bracket, a port that is not a number
        return "an unreadable location"
    if not host:
        return "an unreadable location"
    return f"{parts.scheme or 'https'}://{host}{f':{port}' if port else ''}"


def is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


# What msal reads of an OpenID document without asking (a KeyError inside msal when one is missing).
OPENID_ENDPOINTS = ("authorization_endpoint", "token_endpoint")
# How much of a stranger's answer a message quotes: enough to recognise a proxy's words, too little to carry a page.
QUOTED_CHARACTERS = 200


def is_openid_document(document: Any) -> bool:
    """Whether a discovery answer names the endpoints msal needs, as Entra's always does."""
    return isinstance(document, dict) and all(isinstance(document.get(key), str) for key in OPENID_ENDPOINTS)


def what_it_said(document: Any) -> str:
    """A short quote of a JSON answer that is not Entra's: its `error` (and `error_description` or `message`) when
    it has them, else its keys; never more than `QUOTED_CHARACTERS`. A discovery answer carries no credential."""
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):  # {"error": {"code": ..., "message": ...}}, Graph's and many gateways' shape
            error = ": ".join(str(error[key]) for key in ("code", "message") if error.get(key))
        detail = document.get("error_description") or document.get("message")
        said = ": ".join(str(part) for part in (error, detail) if part)
        said = said or f"a JSON object with the keys {', '.join(sorted(map(str, document))[:8]) or 'none'}"
    else:
        said = f"a JSON {type(document).__name__}"
    return said[:QUOTED_CHARACTERS]


def quiet_msal() -> None:
    """msal's own logs can quote a token request or answer in full: only the connector's words are printed."""
    logging.getLogger("msal").setLevel(MSAL_LOG_LEVEL)


class LoginSession(requests.Session):
    """msal's HTTP client: it sends only to the configured login host, over https, and refuses an OpenID
    document whose token endpoint lies elsewhere before msal can post the credential there (msal itself takes
    that endpoint on trust, so a document served by someone else could collect the secret).

    It follows no redirect: requests would re-post the form of a 307/308, secret or assertion included, to
    wherever the `Location` points, past the host check above. And below 500 it hands msal only JSON: msal
    would fail on anything else with a bare JSONDecodeError, after logging the body."""

    def __init__(self, login_url: str) -> None:
        super().__init__()
        self._login_url = login_url
        adapter = requests.adapters.HTTPAdapter(max_retries=1)  # msal's own default: one quiet retry
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if not on_login_host(str(url), self._login_url):
            raise ConfigError(
                f"The sign-in was about to send a request to {urlsplit(str(url)).hostname}, which is not the login "
                f"endpoint {self._login_url}; nothing was sent: check 'login_endpoint' and 'cloud'."
            )
        kwargs.setdefault("timeout", TOKEN_TIMEOUT_SECONDS)
        kwargs["allow_redirects"] = False
        response = super().request(method, url, *args, **kwargs)
        if 300 <= response.status_code < 400:
            raise ConfigError(
                f"The login endpoint {self._login_url} answered with a redirect (HTTP {response.status_code}) to "
                f"{redirect_target(response)}; Microsoft Entra does not redirect sign-in requests, so nothing was "
                "sent there and the credential stayed on this machine: check 'login_endpoint' and 'cloud', and any "
                "proxy between this machine and Entra."
            )
        if response.status_code < 500 and not is_json(response):  # msal reports a 5xx itself, as an outage
            raise NotFromEntra(response.status_code, content_type(response))
        if str(url).endswith("/.well-known/openid-configuration"):
            self._refuse_foreign_token_endpoint(response)
        return response

    def _refuse_foreign_token_endpoint(self, response: requests.Response) -> None:
        document = response.json()
        if response.status_code == 200 and not is_openid_document(document):
            raise NotEntraDiscovery(what_it_said(document))
        endpoint = document.get("token_endpoint") if isinstance(document, dict) else None
        if isinstance(endpoint, str) and not on_login_host(endpoint, self._login_url):
            parts = urlsplit(endpoint)
            raise ConfigError(
                f"The login endpoint {self._login_url} names its token endpoint on another host or without https "
                f"({parts.scheme}://{parts.netloc}), so the credential is not sent: check 'login_endpoint' and 'cloud'."
            )


class GraphTokenProvider:
    """Hands out a valid app token; msal's cache renews it near expiry. Thread-safe."""

    def __init__(
        self,
        config: ConnectorConfig,
        logger: Optional[logging.Logger] = None,
        sleep: Callable[[float], None] = time.sleep,
        deadline_seconds: float = DEADLINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`deadline_seconds` bounds each token request with its retries; `clock` measures it (tests pass theirs)."""
        self._config = config
        self._logger = logger or logging.getLogger("airbyte")
        self._sleep = sleep
        self._deadline_seconds = deadline_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._app: Optional[msal.ConfidentialClientApplication] = None
        self._masked_token: Optional[str] = None

    def token(self, seconds: Optional[float] = None) -> str:
        """A valid token within `seconds` (at most the provider's deadline): `check` passes the time it has left."""
        with self._lock:
            return self._bounded(seconds)

    def refresh(self) -> str:
        """Drop the cached token (revoked or expired early) and fetch a new one."""
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()
            return self._bounded(None)

    def _bounded(self, seconds: Optional[float]) -> str:
        """`_acquire` under one deadline: its retries stop before it, and a request still open then (a trickling
        host) is left to its own timeouts while the caller gets the sentence that names the host."""
        limit = self._deadline_seconds if seconds is None else min(seconds, self._deadline_seconds)
        deadline = Deadline(limit, self._clock)
        try:
            return within(limit, lambda: self._acquire(deadline), "token-request")
        except DeadlinePassed:
            raise login_timeout(self._config.login_url, limit) from None

    def _acquire(self, deadline: Deadline) -> str:
        for attempt in range(1, TOKEN_ATTEMPTS + 1):
            try:
                result = self._application().acquire_token_for_client(scopes=[self._config.scope])
            except (
                requests.RequestException,
                msal.exceptions.MsalServiceError,
                NotFromEntra,
                NotEntraDiscovery,
            ) as failure:
                error: AirbyteTracedException = login_failure(failure, self._config.login_url)
            else:
                if "access_token" in result:
                    return self._masked(str(result["access_token"]))
                error = token_error_message(result)
            last = attempt == TOKEN_ATTEMPTS or not deadline.allows(2 ** (attempt - 1))  # no time for another
            if error.failure_type != FailureType.transient_error or last:
                raise error
            self._logger.warning(
                f"Token request failed ({error.message}); retrying, attempt {attempt + 1} of {TOKEN_ATTEMPTS}."
            )
            self._sleep(2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _masked(self, access_token: str) -> str:
        """Register a new token with the CDK's log formatter before anything can log it (`--debug` prints every
        request's headers); msal hands the same token out of its cache for an hour, and it is registered once."""
        if access_token != self._masked_token:
            add_to_secrets(access_token)
            self._masked_token = access_token
        return access_token

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = self._build_application()
        return self._app

    def _build_application(self) -> msal.ConfidentialClientApplication:
        quiet_msal()
        try:
            return msal.ConfidentialClientApplication(
                self._config.client_id,
                client_credential=msal_credential(self._config),
                authority=self._config.authority,
                instance_discovery=False,
                http_client=LoginSession(self._config.login_url),
            )
        except ValueError:  # msal's word for a tenant whose OpenID configuration cannot be fetched
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

    def roles(self) -> list[str]:
        """The application permissions the current token carries (`token_roles`)."""
        return token_roles(self._provider.token())
