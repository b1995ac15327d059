"""Reads the user's configuration into a validated, typed `ConnectorConfig`.

Every rule here fails with a `ConfigError` whose message names the setting, says what is wrong and
how to fix it, and never repeats a secret. It runs before any network call, so `check`, `discover`
and `read` all refuse bad input the same way. Parsing has no side effect: `register_secrets` is the one call that
tells the CDK's log formatter which values to mask, made once by whoever reads a config (run.py, source.py).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Union
from urllib.parse import quote, quote_plus, urlsplit

from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

from ..clock import utc_now
from ..errors import ConfigError
from .certificates import CERTIFICATES_PAGE, check_certificate
from .clouds import ALLOW_CUSTOM_ENDPOINTS, CLOUDS, Cloud, custom_endpoints_allowed

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
START_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
PRIVATE_KEY_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
# A key leaks just as badly line by line (a message may quote a piece of it): its base64 lines are masked too.
KEY_LINE = re.compile(r"[A-Za-z0-9+/=]{32,}")

DYNAMICS_365_APP_IDS: tuple[str, ...] = (
    "00000007-0000-0000-c000-000000000000",  # Dataverse / Dynamics CRM Online
    "996def3d-b36c-4153-8607-a6fd3c01b89f",  # Dynamics 365 Business Central
    "00000015-0000-0000-c000-000000000000",  # Microsoft Dynamics ERP (Finance and Operations)
    "637fcc9f-4a9b-4aaa-8713-a2a3cfda1505",  # Dynamics CRM Online Administration
)

# Entra keeps sign-ins 30 days on P1/P2. A filter older than that is refused, and a few minutes of
# margin keep a boundary computed now valid when the request reaches Graph.
RETENTION = timedelta(days=30)
RETENTION_MARGIN = timedelta(minutes=10)
# The roster's scope: the first is a new connection's default (the license answer needs the holders only).
LICENSE_HOLDERS, ALL_USERS = "dynamics_365_license_holders", "all_users"
ROSTER_SCOPES = (LICENSE_HOLDERS, ALL_USERS)
APP_REGISTRATION_HINT = "Azure portal: Microsoft Entra ID > App registrations > your app > Overview"
MIGRATION_GUIDE = (
    "https://github.com/source-dynamics365-cc/source-dynamics365-cc/blob/main/docs/dynamics365-cc-migrations.md"
)


@dataclass(frozen=True)
class Setting:
    """A setting with a default: the value the form starts at and, for a whole number, its bounds (for a list,
    `high` is the most items it may hold).

    A release that changes what a setting defaults to must not change what an existing connection reads: Airbyte's
    form writes every default into a new connection's config, so a config *without* the setting was saved before
    the setting existed. For such a setting `legacy` is what a config without it means (the behaviour it was saved
    with, kept), `label` its name on the form and `changed_in` the release that changed the default; the config is
    migrated to say so (run.py, docs/dynamics365-cc-migrations.md)."""

    name: str
    default: Any
    low: Optional[int] = None
    high: Optional[int] = None
    legacy: Any = None
    label: str = ""
    changed_in: str = ""

    @property
    def when_left_out(self) -> Any:
        """What a config without the setting means."""
        return self.default if self.legacy is None else self.legacy


# The one table of defaults and bounds: parse_config, the worker count and the spec test read it (the spec test
# holds spec.yaml to it).
SETTINGS = {
    setting.name: setting
    for setting in (
        # Each application adds two `eq` terms (appId, resourceId), about 115 characters, to the sign-in `$filter`.
        # Twelve make a first-page URL of about 1,650 characters on the longest form (beta, China cloud host): under
        # the 2,048 characters Graph documents for a filtered request URL, with room left for the skiptoken its next
        # links add.
        Setting("sign_in_app_ids", list(DYNAMICS_365_APP_IDS), high=12),
        Setting("include_sign_in_activity", True),
        Setting("include_sign_in_log", True),
        # 0.1.0 read every user; 0.2.0 made the holders the default for new connections.
        Setting("roster_scope", LICENSE_HOLDERS, legacy=ALL_USERS, label="Users to read", changed_in="0.2.0"),
        Setting("roster_sku_ids", [], high=50),  # each SKU is a query of its own
        Setting("include_non_interactive_sign_ins", False),
        Setting("exclude_concealed_users", True),
        Setting("lookback_window_minutes", 60, low=0, high=1440),
        Setting("cloud", "global"),
        Setting("sign_in_requests_per_10_seconds", 5, low=1, high=5),
        Setting("max_concurrency", 3, low=1, high=8),
        # Off: the stream needs an optional permission and a tenant setting (Dataverse activity logging), and every
        # sync spends some of the tenant's daily audit log query submissions.
        Setting("include_dynamics_activity", False),
    )
}


@dataclass(frozen=True)
class ClientSecret:
    """A client secret value (never its Secret ID); left out of the repr, so no log of a config shows it."""

    secret: str = field(repr=False)


@dataclass(frozen=True)
class ClientCertificate:
    """A PEM certificate with its private key, as uploaded to the app registration; the key stays out of the repr."""

    certificate_pem: str
    private_key_pem: str = field(repr=False)
    private_key_password: Optional[str] = field(repr=False)


Credential = Union[ClientSecret, ClientCertificate]


@dataclass(frozen=True)
class ConnectorConfig:
    """Everything the connector needs, validated and with defaults applied."""

    tenant_id: str
    client_id: str
    credential: Credential
    login_url: str
    graph_url: str
    start: datetime
    sign_in_app_ids: tuple[str, ...]
    lookback: timedelta
    include_sign_in_activity: bool
    include_sign_in_log: bool
    roster_scope: str
    roster_sku_ids: tuple[str, ...]
    include_non_interactive_sign_ins: bool
    exclude_concealed_users: bool
    sign_in_requests_per_10_seconds: int
    max_concurrency: int
    include_dynamics_activity: bool = False
    cloud: str = "global"

    @property
    def authority(self) -> str:
        return f"{self.login_url}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """The token scope follows the Graph host, so an override or national cloud gets its own audience."""
        return f"{self.graph_url}/.default"


def parse_config(
    raw: Mapping[str, Any],
    now: Optional[datetime] = None,
    logger: Any = None,
    allow_custom_endpoints: Optional[bool] = None,
) -> ConnectorConfig:
    """Validate `raw` (the config JSON) and return a `ConnectorConfig`, or raise `ConfigError`.

    `allow_custom_endpoints` defaults to the environment variable DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS."""
    if not isinstance(raw, Mapping):
        raise ConfigError("The configuration must be a JSON object.")
    now = now or utc_now()
    cloud_name = _given(raw, "cloud")
    cloud = _cloud(cloud_name)
    allow_custom = custom_endpoints_allowed() if allow_custom_endpoints is None else allow_custom_endpoints
    login_url = _endpoint(_optional(raw, "login_endpoint", "the cloud's login host"), "login_endpoint")
    graph_url = _endpoint(_optional(raw, "graph_endpoint", "the cloud's Graph host"), "graph_endpoint")
    if not allow_custom:
        _microsoft_host(login_url, cloud.login_url, "login_endpoint", cloud_name)
        _microsoft_host(graph_url, cloud.graph_url, "graph_endpoint", cloud_name)
    return ConnectorConfig(
        tenant_id=_tenant_id(raw.get("tenant_id")),
        client_id=_guid(raw.get("client_id"), "client_id", "Application (client) ID", APP_REGISTRATION_HINT),
        credential=_credential(raw.get("credentials"), now),
        login_url=login_url or cloud.login_url,
        graph_url=graph_url or cloud.graph_url,
        start=_start(_optional(raw, "start_date", "the start of the 30-day retention"), now, logger),
        sign_in_app_ids=_app_ids(_given(raw, "sign_in_app_ids")),
        lookback=timedelta(minutes=_integer(raw, "lookback_window_minutes")),
        include_sign_in_activity=_boolean(raw, "include_sign_in_activity"),
        include_sign_in_log=_boolean(raw, "include_sign_in_log"),
        roster_scope=_choice(_given(raw, "roster_scope"), "roster_scope", ROSTER_SCOPES),
        roster_sku_ids=_sku_ids(_given(raw, "roster_sku_ids")),
        include_non_interactive_sign_ins=_boolean(raw, "include_non_interactive_sign_ins"),
        exclude_concealed_users=_boolean(raw, "exclude_concealed_users"),
        sign_in_requests_per_10_seconds=_integer(raw, "sign_in_requests_per_10_seconds"),
        max_concurrency=_integer(raw, "max_concurrency"),
        include_dynamics_activity=_boolean(raw, "include_dynamics_activity"),
        cloud=cloud_name,
    )


def legacy_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a config saved before their default changed leaves out, each with the value it keeps."""
    return {s.name: s.legacy for s in SETTINGS.values() if s.legacy is not None and s.name not in raw}


def legacy_notice(setting: Setting) -> str:
    return (
        f"'{setting.name}' ('{setting.label}') is not set in this configuration: applying '{setting.legacy}', what a "
        f"connection saved before {setting.changed_in} read ({setting.changed_in} made '{setting.default}' the default "
        f"for new connections). Choose '{setting.label}' in the source's settings to change it. {MIGRATION_GUIDE}"
    )


def integer_or_default(raw: Optional[Mapping[str, Any]], name: str) -> int:
    """A whole-number setting when it is valid, its default otherwise: for what must be known before parse_config
    reports a problem (the worker count, when the source is built)."""
    try:
        return _integer(raw or {}, name)
    except ConfigError:
        return int(SETTINGS[name].default)


def _optional(raw: Mapping[str, Any], name: str, default: str) -> Any:
    """An optional setting is either left out or given: a null or blank value (which the spec's JSON schema
    refuses in its own words) gets a sentence saying how to ask for the default."""
    value = raw.get(name)
    if name in raw and (value is None or (isinstance(value, str) and not value.strip())):
        raise ConfigError(f"'{name}' is set but empty: leave it out to use {default}, or give a value.")
    return value


def _text(value: Any, name: str) -> str:
    """Required text without surrounding spaces: the spec's pattern refuses them too, in far less plain words."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{name}' is required and must be a non-empty text value.")
    if value != value.strip():
        raise ConfigError(
            f"'{name}' starts or ends with a space or line break: remove it (it often comes along when copying "
            "from the Azure portal)."
        )
    return value


def _guid(value: Any, name: str, label: str, hint: str) -> str:
    text = _text(value, name)
    if text.startswith("{") and text.endswith("}"):
        raise ConfigError(f"'{name}' must be a GUID without braces: remove the {{ and }}. {hint}.")
    if not GUID.match(text):
        raise ConfigError(
            f"'{name}' must be the {label}, a GUID like 00000000-0000-0000-0000-000000000000 "
            f"(36 characters, got {len(text)}). {hint}."
        )
    return text.lower()


def _tenant_id(value: Any) -> str:
    text = _text(value, "tenant_id")
    if GUID.match(text):
        return text.lower()
    if DOMAIN.match(text):
        return text.lower()
    raise ConfigError(
        "'tenant_id' must be the Directory (tenant) ID, a GUID, or a verified domain such as "
        "contoso.onmicrosoft.com; it may not contain '/', '?', '#', '@', spaces or a URL. "
        "Azure portal: Microsoft Entra ID > Overview > Tenant ID."
    )


def register_secrets(raw: Any) -> None:
    """From now on the CDK's log formatter masks every secret of the config (`raw`, as read, valid or not): the
    client secret, the private key and each of its base64 lines, the key's password, and a private key pasted into
    the certificate field, which is not marked secret. Called once per command, before anything may log. The
    formatter replaces secrets in the order they are registered, so the longest go first: a secret that holds
    another (a pasted bundle holds the key) is masked whole."""
    credentials = raw.get("credentials") if isinstance(raw, Mapping) else None
    if not isinstance(credentials, Mapping):
        return
    key = credentials.get("private_key")
    certificate = credentials.get("certificate")
    secrets = [credentials.get("client_secret"), key, credentials.get("private_key_password")]
    if isinstance(certificate, str) and PRIVATE_KEY_PEM.search(certificate):
        secrets.append(certificate)
    if isinstance(key, str):
        secrets += [line for line in key.splitlines() if KEY_LINE.fullmatch(line.strip())]
    forms = {form for secret in secrets if isinstance(secret, str) and secret.strip() for form in _forms(secret)}
    for form in sorted(forms, key=len, reverse=True):
        add_to_secrets(form)


def _forms(value: str) -> set[str]:
    """`value` as typed and stripped, and each URL-encoded (a form body or a query string carries a secret that way):
    a message may quote any of them. A value that is not valid text (a lone surrogate) is never sent, so it is never
    encoded: parse_config refuses it."""
    forms = set()
    for typed in (value, value.strip()):
        forms.add(typed)
        try:
            forms.update((quote_plus(typed, safe=""), quote(typed, safe="")))
        except UnicodeEncodeError:
            pass
    return forms


def _sendable(value: str, name: str) -> str:
    """A credential travels as UTF-8; a lone surrogate (half an emoji, or a JSON escape such as \\ud83d) cannot,
    and would stop the sign-in with a traceback."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"'{name}' holds a character that is not valid text (a lone surrogate, such as half of an emoji): paste "
            "the value again, copied from where it was created."
        ) from None
    return value


def _credential(value: Any, now: datetime) -> Credential:
    if not isinstance(value, Mapping):
        raise ConfigError("'credentials' is required: choose 'client_secret' or 'client_certificate'.")
    auth_type = value.get("auth_type")
    if auth_type == "client_secret":
        secret = value.get("client_secret")
        if not isinstance(secret, str) or not secret.strip():
            raise ConfigError(
                "'credentials.client_secret' is empty: paste the secret's Value. "
                "Azure portal: App registrations > your app > Certificates & secrets > Client secrets."
            )
        _sendable(secret, "credentials.client_secret")
        return ClientSecret(secret.strip())
    if auth_type == "client_certificate":
        return _certificate(value, now)
    raise ConfigError("'credentials.auth_type' must be 'client_secret' or 'client_certificate'.")


def _certificate(value: Mapping[str, Any], now: datetime) -> ClientCertificate:
    certificate = value.get("certificate")
    if isinstance(certificate, str) and PRIVATE_KEY_PEM.search(certificate):
        _sendable(certificate, "credentials.certificate")
        raise ConfigError(
            "'credentials.certificate' holds a private key: paste only the certificate here (from -----BEGIN "
            "CERTIFICATE----- to -----END CERTIFICATE-----) and the key in 'credentials.private_key', which is kept "
            "as a secret. This field is not, so the key pasted into it is now stored in the clear: replace it with a "
            f"new certificate and key (upload the new certificate, delete the old one). {CERTIFICATES_PAGE}."
        )
    if not isinstance(certificate, str) or "-----BEGIN CERTIFICATE-----" not in certificate:
        raise ConfigError(
            "'credentials.certificate' must be the PEM certificate (-----BEGIN CERTIFICATE----- ...) that is "
            "uploaded to App registrations > your app > Certificates & secrets > Certificates."
        )
    key = value.get("private_key")
    if not isinstance(key, str) or "PRIVATE KEY-----" not in key:
        raise ConfigError(
            "'credentials.private_key' must be the certificate's PEM private key (-----BEGIN PRIVATE KEY----- ...)."
        )
    password = value.get("private_key_password")
    if password is not None and not isinstance(password, str):
        raise ConfigError("'credentials.private_key_password' must be text.")
    _sendable(key, "credentials.private_key")
    if password:
        _sendable(password, "credentials.private_key_password")
    check_certificate(_sendable(certificate, "credentials.certificate").strip(), key.strip(), password or None, now)
    return ClientCertificate(certificate.strip(), key.strip(), password or None)


def _cloud(value: Any) -> Cloud:
    if not isinstance(value, str) or value not in CLOUDS:
        raise ConfigError(f"'cloud' must be one of: {', '.join(CLOUDS)}.")
    return CLOUDS[value]


def _endpoint(value: Any, name: str) -> Optional[str]:
    """An override must be a bare https origin: no credentials, path, query or fragment to leak or misroute."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"'{name}' must be a URL like https://host[:port].")
    try:
        parts = urlsplit(_text(value, name))
    except ValueError:  # an unbalanced IPv6 bracket
        raise ConfigError(f"'{name}' is not a valid URL; use https://host[:port].") from None
    if parts.scheme != "https":
        raise ConfigError(f"'{name}' must use https:// (plain http would expose the token); use https://host[:port].")
    if not value.startswith("https://"):
        raise ConfigError(f"'{name}' must begin with https:// in lower case (the spec's pattern is case-sensitive).")
    if "@" in parts.netloc:
        raise ConfigError(f"'{name}' must not carry a user name or password; give only https://host[:port].")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"'{name}' must be a base URL without a path, query or fragment: https://host[:port].")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        host = None
    if not host or " " in parts.netloc:
        raise ConfigError(f"'{name}' has no valid host name; use https://host[:port].")
    return f"https://{parts.netloc.lower()}".removesuffix(":443")


def _microsoft_host(url: Optional[str], own_url: str, name: str, cloud: str) -> None:
    """A stored secret (login) or token (Graph) goes only to Microsoft's host for the cloud, unless the machine
    running the connector allows other hosts: whoever may edit a connection must not be able to redirect it."""
    if url is None or url == own_url:
        return
    raise ConfigError(
        f"'{name}' {url} is not Microsoft's host for the cloud '{cloud}' ({own_url}), so no credential is sent "
        f"there: leave '{name}' out, or choose the matching 'cloud'; to use a host of your own (a proxy or a test "
        f"emulator), whoever runs the connector must set the environment variable {ALLOW_CUSTOM_ENDPOINTS}=1."
    )


def _start(value: Any, now: datetime, logger: Any) -> datetime:
    earliest = now - RETENTION + RETENTION_MARGIN
    if value is None:
        return earliest
    if not isinstance(value, str) or not START_DATE.fullmatch(value):
        raise ConfigError("'start_date' must look like 2026-11-01T00:00:00Z (UTC, YYYY-MM-DDTHH:MM:SSZ).")
    try:
        start = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ConfigError(f"'start_date' {value} is not a real date and time.") from None
    if start > now:
        raise ConfigError(f"'start_date' {value} is in the future; choose a date within the last 30 days.")
    if start < earliest:
        if logger is not None:
            logger.warning(
                f"start_date {value} is older than Microsoft Entra's 30-day sign-in retention; "
                f"reading sign-ins from {earliest.strftime('%Y-%m-%dT%H:%M:%SZ')} instead."
            )
        return earliest
    return start


def _app_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError("'sign_in_app_ids' must be a list of application IDs (GUIDs).")
    most = SETTINGS["sign_in_app_ids"].high
    if len(value) > most:  # type: ignore[operator]
        raise ConfigError(
            f"'sign_in_app_ids' lists {len(value)} applications; at most {most} fit in one Microsoft Graph "
            "sign-in filter (Graph refuses longer request URLs). Keep the applications you need, or use an empty "
            "list to read the sign-ins of every application."
        )
    ids = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not GUID.match(item.strip()):
            raise ConfigError(
                f"'sign_in_app_ids' item {index + 1} is not an application ID: each must be a GUID like "
                "00000007-0000-0000-c000-000000000000. Azure portal: Enterprise applications > the app > Application ID."
            )
        ids.append(item.strip().lower())
    return tuple(dict.fromkeys(ids))


def _sku_ids(value: Any) -> tuple[str, ...]:
    most = SETTINGS["roster_sku_ids"].high
    if not isinstance(value, list) or len(value) > most:
        raise ConfigError(f"'roster_sku_ids' must be a list of at most {most} SKU IDs (GUIDs).")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not GUID.match(item.strip()):
            raise ConfigError(
                f"'roster_sku_ids' item {index + 1} is not a SKU ID: each must be a GUID like "
                "6fd2c87f-b296-42f0-b197-1e91e994b900. Microsoft 365 admin center > Billing > Your products, or "
                "the skuId column of the subscribed_skus stream."
            )
    return tuple(dict.fromkeys(item.strip().lower() for item in value))


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"'{name}' must be one of: {', '.join(choices)}.")
    return str(value)


def _given(raw: Mapping[str, Any], name: str) -> Any:
    """The setting's value in the config, or what leaving it out means (`Setting.when_left_out`)."""
    return raw[name] if name in raw else SETTINGS[name].when_left_out


def _integer(raw: Mapping[str, Any], name: str) -> int:
    setting = SETTINGS[name]
    value, low, high = _given(raw, name), setting.low, setting.high
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:  # type: ignore[operator]
        raise ConfigError(f"'{name}' must be a whole number from {low} to {high}.")
    return value


def _boolean(raw: Mapping[str, Any], name: str) -> bool:
    value = _given(raw, name)
    if not isinstance(value, bool):
        raise ConfigError(f"'{name}' must be true or false.")
    return value
