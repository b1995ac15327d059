"""Least privilege: `check` accepts any set of application permissions that covers every stream and names,
per stream, what a set lacks; a 403 names the least-privileged permission of the resource it came from."""

import pytest

from source_dynamics365_cc.auth.permissions import (
    STREAM_PERMISSIONS,
    forbidden_message,
    missing_permissions_message,
    optional_stream_warning,
    optional_streams,
    stream_permissions,
    uncovered_streams,
)
from source_dynamics365_cc.auth.tokens import token_roles
from source_dynamics365_cc.check import check_roles
from source_dynamics365_cc.errors import ConfigError
from testing.graph_fakes import access_token

LEAST_PRIVILEGED_ROLES = tuple(stream.least_privileged for stream in STREAM_PERMISSIONS)
# The simple alternative: two permissions that cover every stream, at the price of reading the whole directory.
SIMPLE_ROLES = ("Directory.Read.All", "AuditLog.Read.All")

COVERING_SETS = {
    "least privileged": ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"],
    "directory and audit log (the simple set)": ["Directory.Read.All", "AuditLog.Read.All"],
    "organization for licenses": ["User.Read.All", "Organization.Read.All", "AuditLog.Read.All"],
    "read-write permissions": ["User.ReadWrite.All", "Organization.ReadWrite.All", "AuditLog.Read.All"],
}


def test_the_least_privileged_set_is_one_permission_per_stream_as_microsoft_lists_it():
    assert LEAST_PRIVILEGED_ROLES == (
        "User.Read.All",
        "AuditLog.Read.All",
        "LicenseAssignment.Read.All",
        "GroupMember.Read.All",
        "Organization.Read.All",
        "RoleManagement.Read.Directory",
        "AuditLogsQuery-CRM.Read.All",
    )
    assert [stream.stream for stream in STREAM_PERMISSIONS] == [
        "users",
        "sign_ins",
        "subscribed_skus",
        "groups",
        "subscriptions",
        "directory_role_assignments",
        "dynamics_activity",
    ]


def test_the_optional_streams_are_the_directory_extras_and_activity_and_a_set_without_their_permissions_passes():
    optional = [stream for stream in STREAM_PERMISSIONS if stream.optional]
    directory_extras, activity = optional[:3], optional[3]
    assert [stream.stream for stream in optional] == [
        "groups",
        "subscriptions",
        "directory_role_assignments",
        "dynamics_activity",
    ]
    without_them = ["User.Read.All", "LicenseAssignment.Read.All", "AuditLog.Read.All"]
    check_roles(without_them)
    assert optional_streams(without_them) == ([], optional)
    assert optional_streams(SIMPLE_ROLES) == (directory_extras, [activity]), "Directory.Read.All reads all three"
    assert optional_streams(["AuditLogsQuery.Read.All"]) == ([activity], directory_extras), (
        "every workload's audit role"
    )


def test_the_subscriptions_permission_is_not_the_one_subscribed_skus_needs():
    """Microsoft's "List subscriptions" table has no LicenseAssignment.Read.All: the least-privileged app cannot read
    subscriptions, so the stream must be optional for the default catalog to sync green."""
    subscriptions, skus = stream_permissions("subscriptions"), stream_permissions("subscribed_skus")
    assert subscriptions.optional and not subscriptions.covered_by([skus.least_privileged])


def test_the_warning_for_an_unreadable_groups_stream_names_its_permission_and_what_is_lost():
    warning = optional_stream_warning(STREAM_PERMISSIONS[3])
    assert (
        "needs the application permission GroupMember.Read.All (or one of Group.Read.All, Directory.Read.All" in warning
    )
    assert "by id only" in warning and "Every other stream works without it" in warning
    assert "API permissions" in warning, "the portal page"


def test_a_403_to_groups_names_the_groups_permission():
    message = forbidden_message(stream_permissions("groups"), "Insufficient privileges")
    assert "the application permission GroupMember.Read.All (or one of Group.Read.All" in message


@pytest.mark.parametrize("roles", list(COVERING_SETS.values()), ids=list(COVERING_SETS))
def test_check_accepts_every_set_that_covers_each_stream(roles):
    assert uncovered_streams(roles) == []
    check_roles(roles)


def test_the_two_recommended_sets_cover_every_stream():
    assert uncovered_streams(LEAST_PRIVILEGED_ROLES) == uncovered_streams(SIMPLE_ROLES) == []


@pytest.mark.parametrize(
    "roles, expected",
    [
        (
            ["User.Read.All", "LicenseAssignment.Read.All"],
            "(it has LicenseAssignment.Read.All, User.Read.All): sign_ins needs AuditLog.Read.All.",
        ),
        (
            ["AuditLog.Read.All", "LicenseAssignment.Read.All"],
            "users needs User.Read.All (or one of User.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All).",
        ),
        (
            ["User.Read.All", "AuditLog.Read.All"],
            "subscribed_skus needs LicenseAssignment.Read.All (or one of Organization.Read.All, Directory.Read.All,",
        ),
        (
            ["Directory.Read.All"],
            "(it has Directory.Read.All): sign_ins needs AuditLog.Read.All.",
        ),
    ],
)
def test_check_names_what_is_missing_per_stream(roles, expected):
    with pytest.raises(ConfigError) as refused:
        check_roles(roles)
    assert expected in refused.value.message
    assert "Grant admin consent" in refused.value.message


def test_only_the_uncovered_streams_are_named():
    message = missing_permissions_message(["AuditLog.Read.All"])
    assert message is not None
    assert "users needs" in message and "subscribed_skus needs" in message and "sign_ins needs" not in message


def test_a_token_without_roles_means_admin_consent_is_missing():
    with pytest.raises(ConfigError) as refused:
        check_roles(token_roles(access_token(None)))
    assert "admin consent has not been granted" in refused.value.message


@pytest.mark.parametrize(
    "stream, permission",
    [("users", "User.Read.All"), ("subscribed_skus", "LicenseAssignment.Read.All"), ("sign_ins", "AuditLog.Read.All")],
)
def test_a_403_names_the_least_privileged_permission_of_its_stream(stream, permission):
    message = forbidden_message(stream_permissions(stream), "Insufficient privileges to complete the operation.")
    assert f"the app needs the application permission {permission}" in message
