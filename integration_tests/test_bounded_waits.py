"""Every wait has an end, and odd answers get sentences: the connector in-process against the emulator's faults,
over HTTPS, with its deadline shortened through the runtime so that a trickling host costs seconds, not a minute.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace

import pytest
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.errors import ConfigError
from testing.clock import SkippedSeconds
from testing.graph_fakes import read_streams
from testing.harness import config_since, connector_config, running_emulator
from testing.runtime import skip_library_waits, unpaced_runtime

ALL = {"exclude_concealed_users": False}  # every user the tenant has, as its truth lists them


@pytest.fixture
def emulator(monkeypatch):
    with running_emulator(seed=31, users=20, sign_ins=300, days=5) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        yield emu


def check_within(emu, seconds: float) -> tuple[str, float]:
    """`check` with a deadline of `seconds` that must fail: its sentence and how long it took."""
    config = connector_config(emu)
    runtime = replace(unpaced_runtime(sleep=lambda _s: None), deadline_seconds=seconds)
    started = time.monotonic()
    with pytest.raises(ConfigError) as failed:  # the entrypoint's FAILED status (integration_tests/test_check_answers)
        SourceDynamics365Cc(None, config, None, runtime).check(logging.getLogger("airbyte"), config)
    return failed.value.message or "", time.monotonic() - started


def test_check_ends_at_its_deadline_naming_a_login_host_that_trickles_its_answer(emulator):
    emulator.add_fault({"route": "token", "kind": "trickle", "seconds": 0.5, "times": None})
    message, took = check_within(emulator, 3.0)
    host = emulator.base_url.removeprefix("https://")
    assert took < 6.0 and f"{host} did not answer within 3 s" in message and "login_endpoint" in message, message


def test_check_ends_at_its_deadline_naming_a_graph_host_that_trickles_its_answer(emulator):
    emulator.add_fault({"route": "subscribedSkus", "kind": "trickle", "seconds": 0.5, "times": None})
    message, took = check_within(emulator, 3.0)
    host = emulator.base_url.removeprefix("https://")
    assert took < 6.0 and f"{host} did not answer within 3 s" in message and "graph_endpoint" in message, message


def test_a_proxys_json_in_place_of_openid_discovery_is_told_as_such_with_what_it_said(emulator):
    emulator.add_fault({"route": "openid", "kind": "foreign_json", "times": None})
    message, _ = check_within(emulator, 60.0)
    assert "answered instead of Entra" in message and "Request blocked by the gateway policy" in message, message


@pytest.mark.parametrize("kind", ["null_record", "corrupt_gzip"])
def test_a_malformed_page_is_fetched_again_and_the_read_completes(emulator, kind, monkeypatch):
    """The CDK's backoff before each retry is skipped onto a clock the test owns, and counted there."""
    skipped = SkippedSeconds()
    skip_library_waits(skipped, monkeypatch.setattr)
    emulator.add_fault({"route": "users", "kind": kind, "times": 2})
    output = read_streams(connector_config(emulator) | ALL, ("users", SyncMode.full_refresh))
    assert not output.errors
    assert len(output.records) == len(list(emulator.tenant.users()))
    assert skipped() > 0, "the retries waited (on the test's clock) before asking again"


def test_the_users_estimate_gets_one_short_try_and_the_read_goes_on(emulator):
    emulator.add_fault({"route": "usersCount", "kind": "status", "status": 503, "times": None})
    started = time.monotonic()
    output = read_streams(connector_config(emulator) | ALL, ("users", SyncMode.full_refresh))
    assert time.monotonic() - started < 10 and not output.errors
    assert len(emulator.request_log("usersCount")) == 1
    assert len(output.records) == len(list(emulator.tenant.users()))


def test_the_sign_in_estimate_comes_within_25_percent_when_the_log_starts_inside_the_range(monkeypatch):
    """12 days of log in a 29-day range: by the time half the records are out, the estimate the platform shows is
    within 25% of what the read emits."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    with running_emulator(seed=32, users=60, sign_ins=60000, days=12, now=now, non_interactive_ratio=1) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        emu.set_throttle(None)
        config = config_since(emu, now - dt.timedelta(days=29))
        output = read_streams(config, ("sign_ins", SyncMode.incremental))
    assert not output.errors
    shown, at_half, emitted = None, None, 0
    total = len(output.records)
    for message in output._messages:
        if message.type.value == "TRACE" and message.trace.type.value == "ESTIMATE":
            shown = message.trace.estimate.row_estimate
        elif message.type.value == "RECORD":
            emitted += 1
            if emitted == total // 2:
                at_half = shown
    assert total > 0 and at_half is not None
    assert abs(at_half - total) <= 0.25 * total, (at_half, total)
