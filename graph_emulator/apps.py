"""App registrations of the emulated tenant: credentials, consented roles, account state."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field

from .gen import guid, mix
from .tls import AppCertificate, make_app_certificate

AUDIT = "AuditLog.Read.All"
DIRECTORY = "Directory.Read.All"
AUDIT_QUERY_CRM = "AuditLogsQuery-CRM.Read.All"  # Purview's audit log query API, Dynamics CRM records only
LIFECYCLE = "User-LifeCycleInfo.Read.All"  # reads users' employeeLeaveDateTime
LIFECYCLE_READ_WRITE = "User-LifeCycleInfo.ReadWrite.All"


@dataclass(frozen=True)
class App:
    """One app registration, as the connector's operator would have created it."""

    name: str
    client_id: str
    client_secret: str
    secret_id: str
    certificate_pem: str
    private_key_pem: str
    roles: tuple[str, ...]
    thumbprint: str = ""  # SHA-1 hex, what msal's client_credential["thumbprint"] wants
    sha256_thumbprint: str = ""
    enabled: bool = True
    secret_expired: bool = False
    display_name: str = field(default="")

    def thumbprint_b64(self) -> tuple[str, str]:
        """(x5t, x5t#S256) as they appear in a client assertion header."""

        def enc(hexdigest: str) -> str:
            return base64.urlsafe_b64encode(bytes.fromhex(hexdigest)).decode().rstrip("=")

        return enc(self.thumbprint), enc(self.sha256_thumbprint)


@functools.cache
def _certificate(name: str) -> AppCertificate:
    """RSA key generation is the slow part of start-up; reuse per process (tests start many)."""
    return make_app_certificate(f"CN=graph-emulator-{name}")


_PROFILES: dict[str, dict] = {
    "full": {"roles": (AUDIT, DIRECTORY)},
    "no_audit": {"roles": (DIRECTORY,)},
    "no_consent": {"roles": ()},
    "disabled": {"roles": (AUDIT, DIRECTORY), "enabled": False},
    "expired_secret": {"roles": (AUDIT, DIRECTORY), "secret_expired": True},
    # `full` plus the CRM audit log query permission and the one that reads leave dates
    "activity": {"roles": (AUDIT, DIRECTORY, AUDIT_QUERY_CRM, LIFECYCLE)},
}


def _secret(h: int) -> str:
    """Looks like an Entra secret value: 3 chars, '8Q~', 34 more."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
    chars = []
    for k in range(37):
        h = mix(h + k)
        chars.append(alphabet[h % len(alphabet)])
    s = "".join(chars)
    return f"{s[:3]}8Q~{s[3:]}"


def make_apps(seed: int) -> dict[str, App]:
    """The standard set of registrations every emulated tenant has."""
    apps = {}
    for k, (name, profile) in enumerate(_PROFILES.items()):
        h = mix(seed * 31 + k + 1000)
        cert = _certificate(name)
        apps[name] = App(
            name=name,
            client_id=guid(h, mix(h)),
            client_secret=_secret(h),
            secret_id=guid(mix(h + 1), mix(h + 2)),
            certificate_pem=cert.certificate_pem,
            private_key_pem=cert.private_key_pem,
            roles=profile["roles"],
            thumbprint=cert.sha1_thumbprint,
            sha256_thumbprint=cert.sha256_thumbprint,
            enabled=profile.get("enabled", True),
            secret_expired=profile.get("secret_expired", False),
            display_name=f"Dynamics usage connector ({name})",
        )
    return apps
