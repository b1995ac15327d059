"""Opaque, expiring skiptokens bound to the query that produced them (as moto's paginator does).

A token is base64url(json{q: query digest, p: position, e: expiry}) + HMAC, so a client can
neither forge a position nor reuse a token with a different $filter/$top/$select.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from . import errors


class PageTokens:
    """Issues and checks skiptokens; `ttl` seconds of validity (Graph: minutes)."""

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._key = os.urandom(16)

    @staticmethod
    def digest(route: str, query: dict[str, str]) -> str:
        canonical = json.dumps([route, sorted((k, v) for k, v in query.items() if k != "$skiptoken")])
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def issue(self, route: str, query: dict[str, str], position: Any) -> str:
        body = json.dumps(
            {"q": self.digest(route, query), "p": position, "e": time.time() + self.ttl}, separators=(",", ":")
        ).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def read(self, route: str, query: dict[str, str], token: str) -> Any:
        """Position carried by a token, or the 400 Graph would answer."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body, mac = raw[:-12], raw[-12:]
            ok = hmac.compare_digest(mac, hmac.new(self._key, body, hashlib.sha256).digest()[:12])
            data = json.loads(body) if ok else None
        except (ValueError, TypeError):
            data = None
        if not data:
            raise errors.bad_request("Invalid value specified for property 'skiptoken'.", "Directory_InvalidPageToken")
        if data["q"] != self.digest(route, query):
            raise errors.bad_request(
                "The specified page token value is not valid for this query.", "Directory_InvalidPageToken"
            )
        if data["e"] < time.time():
            raise errors.expired_page_token()
        return data["p"]
