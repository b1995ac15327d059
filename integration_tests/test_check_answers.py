"""`check` through main.py against the emulator: every way a setup goes wrong gets a plain answer.

Each case asserts the status, the message an admin reads, the exit code, that no Python traceback
reaches stderr or the status message, and that no secret is printed.
"""

import datetime as dt
import json
import socket
from typing import Any

import pytest

from testing.harness import Result, connector_config, iso, run_connector, running_emulator
from testing.secrets import assert_no_secret_leaked
from tools import emulator_config

SECRET_ID_LOOKALIKE = "3f2b6c1e-1d7a-4c9b-9a63-0e4a9c2f8b11"


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=11, users=12, sign_ins=200, days=2) as emu:
        yield emu


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_check(emulator, tmp_path, config: dict[str, Any]) -> Result:
    result = run_connector("check", tmp_path, config, emulator=emulator, timeout=90)
    assert "Traceback" not in result.stderr
    assert_no_secret_leaked(result, config)
    assert result.stray_lines == [], "stdout carries only Airbyte messages"
    return result


def assert_failed(result: Result, *fragments: str) -> None:
    status = result.connection_status
    assert result.returncode == 0
    assert status is not None and status["status"] == "FAILED"
    assert "Traceback" not in status["message"]
    for fragment in fragments:
        assert fragment in status["message"]


@pytest.mark.parametrize("auth", ["client_secret", "client_certificate"])
def test_check_succeeds_with_each_credential_type(emulator, tmp_path, auth):
    result = run_check(emulator, tmp_path, connector_config(emulator, "full", auth=auth))

    assert result.returncode == 0
    assert result.connection_status == {"status": "SUCCEEDED"}


def test_check_succeeds_with_the_config_tools_emulator_config_makes_from_the_info_file(emulator, tmp_path, capsys):
    """What a human running the emulator from a shell does: `python -m tools.emulator_config info.json`."""
    info_file = tmp_path / "info.json"
    info_file.write_text(json.dumps(emulator.info()))
    start = iso(emulator.tenant.now - dt.timedelta(days=1))

    assert emulator_config.main([str(info_file), "--start-date", start]) == 0
    config = json.loads(capsys.readouterr().out)
    result = run_check(emulator, tmp_path / "check", config)

    assert config == connector_config(emulator) | {"start_date": start}
    assert result.connection_status == {"status": "SUCCEEDED"}


def test_check_explains_a_secret_id_pasted_instead_of_the_secret_value(emulator, tmp_path):
    config = connector_config(emulator, "full")
    config["credentials"]["client_secret"] = SECRET_ID_LOOKALIKE

    result = run_check(emulator, tmp_path, config)

    assert_failed(result, "AADSTS7000215", "Value, not its Secret ID")


def test_check_says_the_secret_expired(emulator, tmp_path):
    result = run_check(emulator, tmp_path, connector_config(emulator, "expired_secret"))

    assert_failed(result, "AADSTS7000222", "expired")


def test_check_names_an_unknown_client_id(emulator, tmp_path):
    config = {**connector_config(emulator, "full"), "client_id": "33333333-3333-4333-8333-333333333333"}

    result = run_check(emulator, tmp_path, config)

    assert_failed(result, "AADSTS700016", "Client ID")


def test_check_names_an_unknown_tenant(emulator, tmp_path):
    config = {**connector_config(emulator, "full"), "tenant_id": "44444444-4444-4444-8444-444444444444"}

    result = run_check(emulator, tmp_path, config)

    assert_failed(result, "44444444-4444-4444-8444-444444444444", "was not found", "Tenant ID")


def test_check_says_the_app_is_disabled(emulator, tmp_path):
    result = run_check(emulator, tmp_path, connector_config(emulator, "disabled"))

    assert_failed(result, "AADSTS7000112", "disabled")


def test_check_asks_for_admin_consent_when_the_token_has_no_roles(emulator, tmp_path):
    result = run_check(emulator, tmp_path, connector_config(emulator, "no_consent"))

    assert_failed(result, "admin consent", "Grant admin consent")


def test_check_names_the_missing_audit_log_permission(emulator, tmp_path):
    result = run_check(emulator, tmp_path, connector_config(emulator, "no_audit"))

    assert_failed(result, "AuditLog.Read.All")


def test_check_asks_for_entra_p1_when_the_tenant_has_no_premium_license(tmp_path):
    with running_emulator(seed=12, users=5, sign_ins=50, days=2, premium=False) as emu:
        result = run_check(emu, tmp_path, connector_config(emu, "full"))

    assert_failed(result, "P1 or P2", "turn off the setting 'Read the sign-in log (needs Entra ID P1/P2)'")


def test_check_refuses_a_plain_http_graph_endpoint_before_sending_anything(emulator, tmp_path):
    """Not even the token request goes out: the secret would be spent on a sync that cannot run."""
    config = {**connector_config(emulator, "full"), "graph_endpoint": emulator.base_url.replace("https://", "http://")}
    requests_before = len(emulator.request_log())

    result = run_check(emulator, tmp_path, config)

    assert_failed(result, "'graph_endpoint' must use https://")
    assert len(emulator.request_log()) == requests_before


def test_check_reports_an_unreachable_endpoint_as_a_failed_status(emulator, tmp_path):
    dead = f"https://127.0.0.1:{closed_port()}"
    config = {**connector_config(emulator, "full"), "login_endpoint": dead, "graph_endpoint": dead}

    result = run_check(emulator, tmp_path, config)

    assert_failed(result, "unreachable", dead)


def test_check_says_a_graph_endpoint_the_tenants_cloud_does_not_know(emulator, tmp_path):
    unknown = f"https://127.0.0.1:{closed_port()}"  # Entra issues no token for a resource it does not know

    result = run_check(emulator, tmp_path, {**connector_config(emulator, "full"), "graph_endpoint": unknown})

    assert_failed(result, "AADSTS500011", "Check 'cloud' and 'graph_endpoint'")


@pytest.mark.parametrize(
    "status, fragments",
    [
        (503, ("busy or unavailable (HTTP 503)", "try again")),
        (401, ("rejected a token just issued for it (HTTP 401)", "same Microsoft cloud")),
    ],
)
def test_check_explains_a_graph_that_is_busy_or_refuses_a_fresh_token(tmp_path, status, fragments):
    with running_emulator(seed=14, users=5, sign_ins=50, days=2) as emu:
        # A Retry-After beyond check's minute of waiting: it fails at once instead of waiting in vain.
        fault = {"route": "subscribedSkus", "kind": "status", "status": status, "times": None, "retry_after": "120"}
        emu.add_fault(fault)
        result = run_check(emu, tmp_path, connector_config(emu, "full"))

    assert_failed(result, *fragments)


def test_check_waits_out_a_tenant_busy_with_another_tool_and_succeeds(tmp_path):
    """Another tool on the same app makes Graph answer check's sign-in probe with 429s for a while."""
    with running_emulator(seed=15, users=5, sign_ins=50, days=2) as emu:
        emu.add_fault({"route": "signIns", "kind": "status", "status": 429, "times": 2, "retry_after": "1"})
        result = run_check(emu, tmp_path, connector_config(emu, "full"))
        sign_in_statuses = [entry["status"] for entry in emu.request_log("signIns")]

    assert result.connection_status == {"status": "SUCCEEDED"}
    assert sign_in_statuses == [429, 429, 200]
    waits = [line for line in result.log_lines() if "Microsoft Graph is busy (HTTP 429); waiting 2.0 s" in line]
    assert len(waits) == 2, "each wait is logged"


@pytest.mark.parametrize("status", [200, 403])
def test_check_blames_a_proxy_or_firewall_that_answers_in_entras_place(tmp_path, status):
    """A web filter's block page or a captive portal instead of Entra's JSON: msal alone ends in a JSONDecodeError
    traceback and logs the page. Each attempt meets the page, so check gives up after the token retries."""
    with running_emulator(seed=16, users=3, sign_ins=20, days=2) as emu:
        emu.add_fault({"route": "token", "kind": "block_page", "status": status, "times": None})
        result = run_check(emu, tmp_path, connector_config(emu, "full"))
        token_faults = [entry["fault"] for entry in emu.request_log() if entry["route"] == "token"]

    assert_failed(
        result,
        "Something between this machine and Microsoft Entra answered instead of Entra (a proxy or firewall)",
        f"answered HTTP {status} with content type text/html",
    )
    assert token_faults == ["block_page"] * 5
    assert "Web page blocked" not in result.stdout + result.stderr, "the page's body was printed"


@pytest.mark.slow
def test_check_keeps_its_minute_when_graph_keeps_answering_retry_after_zero(tmp_path):
    """`Retry-After: 0` on every answer: check asks again about once a second and gives up after its minute,
    instead of falling back to the CDK's default backoff (up to 61 tries over 15 minutes)."""
    with running_emulator(seed=14, users=5, sign_ins=50, days=2) as emu:
        fault = {"route": "subscribedSkus", "kind": "status", "status": 429, "times": None, "retry_after": 0}
        emu.add_fault(fault)
        result = run_check(emu, tmp_path, connector_config(emu, "full"))
        asked = len(emu.request_log("subscribedSkus"))

    assert_failed(result, "busy or unavailable (HTTP 429)", "try again")
    assert 50 <= asked <= 61
