"""Shared fixtures: one emulator per module for read-only tests, fresh ones for tests that mutate."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import pytest
import requests

from graph_emulator import Emulator, TenantSpec

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


class Client:
    """A tiny Graph client for tests: gets a token for an app and sends GETs, verifying TLS."""

    def __init__(self, emu: Emulator, app: str = "full") -> None:
        self.emu = emu
        self.http = requests.Session()
        self.app = app
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        a = self.emu.apps[self.app]
        r = self.http.post(
            f"{self.emu.base_url}/{self.emu.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": a.client_id,
                "client_secret": a.client_secret,
                "scope": f"{self.emu.base_url}/.default",
            },
            verify=self.emu.ca_path,
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def get(self, path_or_url: str, params: Any = None, token: str | None = None) -> requests.Response:
        url = path_or_url if path_or_url.startswith("https://") else self.emu.base_url + path_or_url
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.get(url, params=params, headers=headers, verify=self.emu.ca_path, timeout=30)

    def pages(self, path: str, params: dict) -> list[list[dict]]:
        """Every page of a query, following @odata.nextLink as given; each answer must be a 200."""
        r = self.get(path, params)
        assert r.status_code == 200, r.text
        pages = [r.json()["value"]]
        while "@odata.nextLink" in r.json():
            r = self.get(r.json()["@odata.nextLink"])
            assert r.status_code == 200, r.text
            pages.append(r.json()["value"])
        return pages


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(TenantSpec(seed=7, users=120, sign_ins=4000, days=30, now=NOW)) as e:
        yield e


@pytest.fixture
def fresh() -> Iterator[Emulator]:
    with Emulator(TenantSpec(seed=11, users=50, sign_ins=1500, days=30, now=NOW)) as e:
        yield e


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Client:
    return Client(emu)
