"""`check`: prove that a sync will work, or say in an admin's words why it will not.

In order: the configuration, a token (secret, tenant, app, consent), the token's application
permissions, then one cheap call to each Graph resource the streams read, the sign-in call with
the very filter a sync sends. Each failure raises `ConfigError`/`TokenError` with its message.
"""

from datetime import datetime, timedelta, timezone
from typing import Sequence

import requests
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction

from .auth import GraphAuthenticator, GraphTokenProvider, token_roles
from .config import ConnectorConfig
from .errors import PERMISSIONS_HINT, ConfigError, GraphErrorHandler, OrFilterRefused, TokenError, refuses_or
from .odata import Match, application_matches, sign_in_filter
from .pages import graph_page
from .permissions import missing_permissions_message

PROBE_TIMEOUT_SECONDS = 60
HOUR = timedelta(hours=1)


def check_roles(access_token: str) -> None:
    """Fail, naming per stream what is missing, unless the token's application permissions cover every stream."""
    missing = missing_permissions_message(token_roles(access_token))
    if missing:
        raise ConfigError(f"{missing} {PERMISSIONS_HINT}")


def probe(config: ConnectorConfig, authenticator: GraphAuthenticator, path: str, params: dict) -> None:
    """One GET through the same error translation a sync uses; anything but success becomes a clear failure."""
    url = f"{config.graph_url}/v1.0/{path}"
    try:
        response = requests.get(url, params=params, auth=authenticator, timeout=PROBE_TIMEOUT_SECONDS)
    except requests.exceptions.SSLError:
        raise ConfigError(
            f"The TLS certificate of {config.graph_url} is not trusted: check 'graph_endpoint'."
        ) from None
    except requests.RequestException:
        raise TokenError(
            f"Cannot reach Microsoft Graph at {config.graph_url}: check the network, 'cloud' and 'graph_endpoint'.",
            transient=True,
        ) from None
    if refuses_or(response):
        raise OrFilterRefused()
    resolution = GraphErrorHandler(logger=None).interpret_response(response)  # type: ignore[arg-type]
    if resolution.response_action == ResponseAction.SUCCESS:
        graph_page(response)
        return
    if resolution.response_action == ResponseAction.REFRESH_TOKEN_THEN_RETRY:
        raise ConfigError(
            f"Microsoft Graph at {config.graph_url} rejected a token just issued for it (HTTP 401): check that "
            "'cloud', 'login_endpoint' and 'graph_endpoint' name the same Microsoft cloud; if they do, a new app's "
            "permissions can take a few minutes to apply, so check again later."
        )
    if resolution.response_action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED):
        raise TokenError(
            f"Microsoft Graph is busy or unavailable (HTTP {response.status_code}); try again in a few minutes.",
            transient=True,
        )
    raise ConfigError(resolution.error_message or f"Microsoft Graph answered HTTP {response.status_code} to {path}.")


def check_connection(config: ConnectorConfig, provider: GraphTokenProvider) -> None:
    """Raise on the first problem found; return quietly when every stream can be read."""
    access_token = provider.token()
    check_roles(access_token)
    authenticator = GraphAuthenticator(provider)
    probe(config, authenticator, "subscribedSkus", {})
    probe(config, authenticator, "users", {"$select": "id,userPrincipalName", "$top": 1})
    probe_sign_ins(config, authenticator)


def probe_sign_ins(config: ConnectorConfig, authenticator: GraphAuthenticator) -> None:
    """The last hour with the sync's application filter; where Graph refuses its `or`, with one term, as a sync
    would then read it."""
    now = datetime.now(timezone.utc)
    matches = application_matches(config.sign_in_app_ids)

    def last_hour(terms: Sequence[Match]) -> dict:
        return {"$filter": sign_in_filter(now - HOUR, now, terms), "$top": 1}

    try:
        probe(config, authenticator, "auditLogs/signIns", last_hour(matches))
    except OrFilterRefused:
        probe(config, authenticator, "auditLogs/signIns", last_hour(matches[:1]))
