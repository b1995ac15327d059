"""Self-signed certificates and keys for the certificate-credential tests, and credentials that cannot work."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID


def self_signed(
    password: bytes | None = None, key: object = None, valid_from: float = 0, valid_days: float = 1
) -> tuple[str, str]:
    """A PEM certificate and its PKCS#8 key; `key` signs with another key type, the days move its validity."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector")])
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=valid_from)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def unusable_certificate_credentials(case: str) -> dict[str, str]:
    """The credentials block for one way a certificate or its key can be wrong: "encrypted_without_password",
    "wrong_password", "password_for_a_plain_key", "ec_key", "dsa_key", "openssh_key",
    "key_of_another_certificate", "expired" or "not_yet_valid"."""
    password = b"the-key-password-5f1" if case in ("encrypted_without_password", "wrong_password") else None
    if case == "ec_key":
        certificate, key = self_signed(key=ec.generate_private_key(ec.SECP256R1()))
    elif case == "dsa_key":
        certificate, key = self_signed(key=dsa.generate_private_key(2048))
    else:
        certificate, key = self_signed(
            password=password,
            valid_from={"expired": -10, "not_yet_valid": 2}.get(case, 0),
        )
    if case == "openssh_key":
        rsa_key = serialization.load_pem_private_key(key.encode(), None)
        key = rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
    if case == "key_of_another_certificate":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key = other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    credentials = {"auth_type": "client_certificate", "certificate": certificate, "private_key": key}
    if case == "wrong_password":
        credentials["private_key_password"] = "not-the-key-password"
    if case == "password_for_a_plain_key":
        credentials["private_key_password"] = "a-password-for-nothing"
    return credentials
