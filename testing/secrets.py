"""The shared assertion that no credential, key line or access token appears in a connector's output."""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote, quote_plus

from testing.harness import Result

# A JSON Web Token: what Entra's access tokens (and the emulator's) look like on the wire.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
SECRET_KEYS = ("client_secret", "private_key", "private_key_password")
# A private key leaks just as badly line by line; its base64 lines are 64 characters.
KEY_LINE = re.compile(r"^[A-Za-z0-9+/=]{32,}$")


def secret_fragments(config: Mapping[str, Any]) -> list[str]:
    """Every value of the config that must never be printed, as typed and URL-encoded (a form body or a query string
    carries it so), and each base64 line of a private key."""
    credentials = config.get("credentials") or {}
    values = [str(credentials[key]) for key in SECRET_KEYS if credentials.get(key)]
    encoded = [form for value in values for form in (quote_plus(value, safe=""), quote(value, safe=""))]
    lines = [line.strip() for value in values for line in value.splitlines() if KEY_LINE.match(line.strip())]
    return list(dict.fromkeys(value for value in values + encoded if len(value) >= 4)) + lines


def assert_no_secret_leaked(output: str | Result, config: Mapping[str, Any]) -> None:
    """No credential of `config`, and no access token at all, appears in `output` (stdout and stderr of a run)."""
    text = f"{output.stdout}\n{output.stderr}" if isinstance(output, Result) else output
    for fragment in secret_fragments(config):
        assert fragment not in text, "a credential from the config appears in the connector's output"
    assert not JWT.search(text), "an access token appears in the connector's output"
