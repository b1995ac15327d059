"""The emulated tenant a process-level test runs the connector against: an emulator on a clock the test owns, and
the connector's settings for it (the emulator speaks Entra and Graph, not the connector's settings).

Time: an emulator from `running_emulator` runs on a clock the test owns (testing/clock.py `SkippedSeconds`), and a
connector testing/connector_process.py forks for it runs on that clock too: its pacers never wait and every wait it
owes (a Retry-After, a retry's backoff) is skipped and moves the emulator's time on, so its throttle and request log
see the wait as done. Tests of the pacing arithmetic ask for `running_emulator(paced=True)`: the connector's pacers
then wait at Graph's rates, on that clock, and the emulator's throttle judges them in that time. The few tests that
prove pacing on the machine's clock ask for `running_emulator(real_clock=True)`, say so in their names, and wait in
real time, as does every connector run in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Iterator, Mapping

from graph_emulator import Emulator, EmulatorClock, TenantSpec

from .clock import SkippedSeconds


@contextlib.contextmanager
def running_emulator(*, real_clock: bool = False, paced: bool = False, **tenant_kwargs: Any) -> Iterator[Emulator]:
    """An emulated tenant (TenantSpec(**tenant_kwargs)) served on a free port for the block's duration, on a clock
    the test owns (with the connector's pacers waiting on it when `paced`), or on the machine's with `real_clock`
    (for tests about pacing in real time)."""
    clock = EmulatorClock() if real_clock else EmulatorClock(SkippedSeconds(paced))
    with Emulator(TenantSpec(**tenant_kwargs), port=0, clock=clock) as emulator:
        yield emulator


def skipped_seconds(emulator: Emulator | None) -> SkippedSeconds | None:
    """The clock a connector forked for `emulator` waits on: the emulator's own when the test owns it, None (the
    machine's) when it runs on the real clock; a fresh one without an emulator, where there is nothing to share."""
    if emulator is None:
        return SkippedSeconds()
    skipped = emulator.clock.skipped
    return skipped if isinstance(skipped, SkippedSeconds) else None


def config_since(emulator: Emulator, start: dt.datetime, **settings: Any) -> dict[str, Any]:
    """connector_config for app "full", reading from `start`, with the settings a user would give."""
    return connector_config(emulator) | {"start_date": iso(start), **settings}


def config_from_info(info: Mapping[str, Any], app: str = "full") -> dict[str, Any]:
    """The connector config for one of the emulated tenant's app registrations (by name: "full", "no_audit", ...),
    signing in with its client secret, made from the emulator's info (`Emulator.info()`, its info file, or
    `GET /_emulator/info`): the one place the connector's settings are spelled for an emulator. It reads every
    user, so that a roster compares with the tenant's whole directory (tests of the license holders' scope ask for
    that scope)."""
    registration = info["apps"][app]
    return {
        "tenant_id": info["tenant_id"],
        "client_id": registration["client_id"],
        "credentials": {"auth_type": "client_secret", "client_secret": registration["client_secret"]},
        "login_endpoint": info["base_url"],
        "graph_endpoint": info["base_url"],
        "roster_scope": "all_users",
    }


def connector_config(emulator: Emulator, app: str = "full", auth: str = "client_secret") -> dict[str, Any]:
    """config_from_info for a running emulator, signing in with the app's client secret or its certificate (which
    the info does not carry)."""
    config = config_from_info(emulator.info(), app)
    if auth == "client_certificate":
        registration = emulator.apps[app]
        config["credentials"] = {
            "auth_type": "client_certificate",
            "certificate": registration.certificate_pem,
            "private_key": registration.private_key_pem,
        }
    elif auth != "client_secret":
        raise ValueError(f"auth must be client_secret or client_certificate, not {auth!r}")
    return config


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
