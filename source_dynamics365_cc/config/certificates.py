"""The client certificate and its private key, checked with `cryptography` before msal ever sees them.

msal (through pyjwt) would otherwise fail deep inside `check` with a traceback for an encrypted key
without its password, a wrong password, an EC/DSA/OpenSSH key or a key of another certificate. Here
each case gets one sentence naming the setting to change. A certificate outside its validity dates
is refused too: Entra checks the dates of the key credential it matches (the certificate's own,
when uploaded in the portal) and answers AADSTS700027 ("The key used is expired"), so sending it
could only fail, with a vaguer message.
"""

from datetime import datetime
from typing import Optional

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from ..errors import ConfigError

CERTIFICATES_PAGE = "Azure portal: App registrations > your app > Certificates & secrets > Certificates"
PEM_KEY_HINT = "a PEM key that begins with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"


def check_certificate(certificate_pem: str, key_pem: str, password: Optional[str], now: datetime) -> None:
    """Raise `ConfigError` unless the key is RSA, opens with `password`, belongs to the certificate, and the
    certificate is valid at `now`."""
    certificate = _certificate(certificate_pem)
    key = _private_key(key_pem, password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"'credentials.private_key' holds a key of type {_key_kind(key)}, but Microsoft Entra accepts only RSA keys for app "
            f"certificates: create an RSA certificate (2048 bits or more) and upload it. {CERTIFICATES_PAGE}."
        )
    if _public_bytes(key) != _certificate_public_bytes(certificate):
        raise ConfigError(
            "'credentials.private_key' does not belong to 'credentials.certificate': paste the key that was created "
            f"with this certificate, or the certificate of this key. {CERTIFICATES_PAGE}."
        )
    _check_validity(certificate, now)


def _certificate(certificate_pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise ConfigError(
            "'credentials.certificate' could not be read as a PEM certificate: paste the whole file, "
            "from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
        ) from None


def _private_key(key_pem: str, password: Optional[str]) -> PrivateKeyTypes:
    if "OPENSSH PRIVATE KEY" in key_pem:
        raise ConfigError(
            f"'credentials.private_key' is in OpenSSH format; paste {PEM_KEY_HINT} (convert it with "
            "'ssh-keygen -p -m PKCS8 -f <key file>')."
        )
    encrypted = "ENCRYPTED" in key_pem
    try:
        return load_pem_private_key(key_pem.encode(), password.encode() if password else None)
    except TypeError:  # cryptography's way of saying a password is missing, or given for a plain key
        if encrypted:
            raise ConfigError(
                "'credentials.private_key' is encrypted: enter its password in 'credentials.private_key_password'."
            ) from None
        raise ConfigError(
            "'credentials.private_key_password' is set, but the private key is not encrypted: leave "
            "'credentials.private_key_password' empty."
        ) from None
    except ValueError:
        if encrypted and password:
            raise ConfigError(
                "'credentials.private_key_password' does not open the encrypted private key: enter the password "
                "that was set when the key was exported."
            ) from None
        raise ConfigError(f"'credentials.private_key' could not be read: paste {PEM_KEY_HINT}, whole.") from None
    except UnsupportedAlgorithm:
        raise ConfigError(
            f"'credentials.private_key' uses an algorithm this connector cannot read; paste an RSA {PEM_KEY_HINT}."
        ) from None


def _key_kind(key: PrivateKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "EC (elliptic curve)"
    if isinstance(key, dsa.DSAPrivateKey):
        return "DSA"
    return type(key).__name__.removesuffix("PrivateKey") or "unsupported"


def _public_bytes(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _certificate_public_bytes(certificate: x509.Certificate) -> Optional[bytes]:
    try:
        return certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (UnsupportedAlgorithm, ValueError):
        return None


def _check_validity(certificate: x509.Certificate, now: datetime) -> None:
    starts, ends = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now > ends:
        raise ConfigError(
            f"'credentials.certificate' expired on {ends:%Y-%m-%d %H:%M} UTC, and Microsoft Entra refuses an expired "
            f"certificate: create a new one, upload it, and paste it and its key here. {CERTIFICATES_PAGE}."
        )
    if now < starts:
        raise ConfigError(
            f"'credentials.certificate' is valid only from {starts:%Y-%m-%d %H:%M} UTC, and Microsoft Entra refuses "
            "it before then: wait until that time, or check the clock of the machine that runs the connector."
        )
