"""The user's configuration: every setting checked before any request, a sentence per problem.

`settings` holds `SETTINGS` (the one table of defaults and bounds), `parse_config` (the typed `ConnectorConfig`)
and `register_secrets` (the one call that makes the log formatter mask the config's secrets); `clouds` names
Microsoft's hosts per national cloud, the only ones a secret is sent to; `certificates` checks a certificate and
its key before msal sees them. A leaf: every other package reads the config, and it reads none of them.

It may import: `clock`, `errors`.
"""

from .settings import (
    ALL_USERS,
    DYNAMICS_365_APP_IDS,
    RETENTION,
    SETTINGS,
    ClientCertificate,
    ClientSecret,
    ConnectorConfig,
    integer_or_default,
    legacy_notice,
    legacy_settings,
    parse_config,
    register_secrets,
)

__all__ = [
    "ALL_USERS",
    "DYNAMICS_365_APP_IDS",
    "RETENTION",
    "SETTINGS",
    "ClientCertificate",
    "ClientSecret",
    "ConnectorConfig",
    "integer_or_default",
    "legacy_notice",
    "legacy_settings",
    "parse_config",
    "register_secrets",
]
