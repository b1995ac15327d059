"""Least privilege end to end: the emulator consents each set of application permissions, issues tokens that
carry exactly those roles and enforces them on each Graph resource; `check` (main.py) passes with every
covering set and names, per stream, what any other set lacks."""

import pytest

from testing.harness import connector_config, run_connector, running_emulator

COVERING_SETS = {
    "least_privileged": ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"],
    "least_privileged_with_groups": [
        "User.Read.All",
        "LicenseAssignment.Read.All",
        "AuditLog.Read.All",
        "GroupMember.Read.All",
    ],
    "simple": ["Directory.Read.All", "AuditLog.Read.All"],
}
LACKING_SETS = {
    "no_audit_log": (["User.Read.All", "LicenseAssignment.Read.All"], "sign_ins needs AuditLog.Read.All"),
    "no_users": (["LicenseAssignment.Read.All", "AuditLog.Read.All"], "users needs User.Read.All"),
    "no_licenses": (["User.Read.All", "AuditLog.Read.All"], "subscribed_skus needs LicenseAssignment.Read.All"),
}


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=14, users=8, sign_ins=100, days=2) as emu:
        yield emu


def check_with_roles(emulator, tmp_path, roles: list[str]) -> dict:
    """Consent `roles` for the emulator's app, run `check` with it, and return the CONNECTION_STATUS."""
    emulator.grant_roles("full", roles)
    result = run_connector("check", tmp_path, connector_config(emulator, "full"), emulator=emulator, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.connection_status is not None
    return result.connection_status


@pytest.mark.parametrize("roles", list(COVERING_SETS.values()), ids=list(COVERING_SETS))
def test_check_succeeds_with_each_covering_set_of_application_permissions(emulator, tmp_path, roles):
    assert check_with_roles(emulator, tmp_path, roles) == {"status": "SUCCEEDED"}


@pytest.mark.parametrize("roles, named", list(LACKING_SETS.values()), ids=list(LACKING_SETS))
def test_check_fails_naming_the_stream_and_the_permission_it_lacks(emulator, tmp_path, roles, named):
    status = check_with_roles(emulator, tmp_path, roles)
    assert status["status"] == "FAILED"
    assert named in status["message"]
    assert "Grant admin consent" in status["message"]
