"""Which Microsoft Graph application permissions let each stream read, and what a token's roles leave uncovered.

From Microsoft's permission tables (December 2026, cited in docs/dynamics365-cc.md#permissions):
- `GET /users`: least privileged User.Read.All; higher User.ReadWrite.All, Directory.Read.All,
  Directory.ReadWrite.All. `signInActivity` additionally needs AuditLog.Read.All (the connector reads
  users without it when Graph refuses it).
- `GET /subscribedSkus`: least privileged LicenseAssignment.Read.All; higher Organization.Read.All,
  Directory.Read.All, Organization.ReadWrite.All, Directory.ReadWrite.All.
- `GET /auditLogs/signIns`: AuditLog.Read.All. Older versions of the page (and Microsoft's how-to for
  activity logs) ask for Directory.Read.All alongside it because of a license-check issue; the current
  table does not, so `check` asks for AuditLog.Read.All alone and the docs name Directory.Read.All as the
  fix if Graph still answers 403.
- `users.employeeLeaveDateTime` (a field of `users`, optional): "To read this property, the calling app must be
  assigned the User-LifeCycleInfo.Read.All permission" (the user resource, v1.0,
  https://learn.microsoft.com/graph/api/resources/user); its ReadWrite twin covers reading too. Microsoft does not say
  what Graph answers when it is selected without the permission, so `users` selects it only when the token's roles
  hold one (`LEAVE_DATES`), and reads on without it, with one warning, if Graph answers 403 all the same.
- `GET /groups` (the `groups` stream, optional): GroupMember.Read.All, then Group.Read.All, Directory.Read.All,
  Group.ReadWrite.All, Directory.ReadWrite.All ("List groups", least to most privileged). Optional.
- `GET /directory/subscriptions` (the `subscriptions` stream, optional): least privileged Organization.Read.All;
  higher Directory.Read.All, Organization.ReadWrite.All ("List subscriptions", v1.0,
  https://learn.microsoft.com/graph/api/directory-list-subscriptions). LicenseAssignment.Read.All, which covers
  `subscribed_skus`, is not in the table: optional, or an app granted only the required streams' least-privileged
  permissions would fail.
- `GET /roleManagement/directory/roleAssignments` (the `directory_role_assignments` stream, optional):
  RoleManagement.Read.Directory, then RoleManagement.Read.All, Directory.Read.All, RoleManagement.ReadWrite.Directory,
  Directory.ReadWrite.All ("List unifiedRoleAssignments", directory provider, least to most privileged,
  https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments). Optional.
- `POST /security/auditLog/queries` for `crm` records and the query's `/records` (the `dynamics_activity` stream,
  optional and opt-in): AuditLogsQuery-CRM.Read.All (Microsoft Dynamics CRM), or AuditLogsQuery.Read.All (every
  workload) (docs/purview-audit-facts.md).

An optional stream never turns a connection red: the default catalog (which selects every discovered stream) must
sync green with the least-privileged permissions of the required streams. So `check` warns, never fails, on one, and
a sync skips it with one warning (`optional_stream_skipped`: what, why, which permission, where in the Azure portal)
when the token's roles lack its permission or Graph answers 403 to it (graph/stream.py). A future optional stream
only needs `optional=True` here.
"""

from dataclasses import dataclass
from typing import Iterable, Optional

PERMISSIONS_HINT = (
    "Azure portal: Microsoft Entra ID > App registrations > your app > API permissions > Add a permission > "
    "Microsoft Graph > Application permissions, then 'Grant admin consent'."
)


@dataclass(frozen=True)
class StreamPermissions:
    """The application permissions, any one of which lets `stream` read Graph's `resource`; least privileged first.
    An optional stream's permission is not required by `check`; `without` says what is lost when it is missing."""

    stream: str
    resource: str
    any_of: tuple[str, ...]
    optional: bool = False
    without: str = ""

    @property
    def least_privileged(self) -> str:
        return self.any_of[0]

    def covered_by(self, roles: Iterable[str]) -> bool:
        return not set(self.any_of).isdisjoint(roles)

    def requirement(self) -> str:
        """'X' or 'X (or one of Y, Z)', in the words check and the docs use."""
        if len(self.any_of) == 1:
            return self.least_privileged
        return f"{self.least_privileged} (or one of {', '.join(self.any_of[1:])})"


STREAM_PERMISSIONS = (
    StreamPermissions(
        "users", "users", ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
    ),
    StreamPermissions("sign_ins", "auditLogs/signIns", ("AuditLog.Read.All",)),
    StreamPermissions(
        "subscribed_skus",
        "subscribedSkus",
        (
            "LicenseAssignment.Read.All",
            "Organization.Read.All",
            "Directory.Read.All",
            "Organization.ReadWrite.All",
            "Directory.ReadWrite.All",
        ),
    ),
    StreamPermissions(
        "groups",
        "groups",
        (
            "GroupMember.Read.All",
            "Group.Read.All",
            "Directory.Read.All",
            "Group.ReadWrite.All",
            "Directory.ReadWrite.All",
        ),
        optional=True,
        without="the license answer then names the groups that assign licenses by id only",
    ),
    StreamPermissions(
        "subscriptions",
        "directory/subscriptions",
        ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All"),
        optional=True,
        without="the license answer then knows no renewal date and no trial but by its licence table",
    ),
    StreamPermissions(
        "directory_role_assignments",
        "roleManagement/directory/roleAssignments",
        (
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "Directory.Read.All",
            "RoleManagement.ReadWrite.Directory",
            "Directory.ReadWrite.All",
        ),
        optional=True,
        without="the license answer then classifies no idle seat holder as an administrator only",
    ),
    StreamPermissions(
        "dynamics_activity",
        "security/auditLog/queries",
        ("AuditLogsQuery-CRM.Read.All", "AuditLogsQuery.Read.All"),
        optional=True,
        without="the license answer then shows who signed in to Dynamics 365, not who worked in it",
    ),
)

# Not a stream: the permission that adds `employeeLeaveDateTime` to `users` (see above); `check` names it when missing.
LEAVE_DATES = StreamPermissions(
    "users",
    "users.employeeLeaveDateTime",
    ("User-LifeCycleInfo.Read.All", "User-LifeCycleInfo.ReadWrite.All"),
    optional=True,
    without="leavers stay unknown: the license answer classifies nobody as a leaver",
)


def leave_dates_unread(why: str) -> str:
    """What check and a sync say when `users` is read without employeeLeaveDateTime (`why`): what is lost, which
    permission adds it, and where to grant it."""
    return (
        f"users is read without employeeLeaveDateTime: {why}. It needs the application permission "
        f"{LEAVE_DATES.requirement()}; {LEAVE_DATES.without}. {PERMISSIONS_HINT}"
    )


NO_ROLES_MESSAGE = "The app's token carries no application permissions: admin consent has not been granted."
UNCOVERED_MESSAGE = "The app's application permissions do not cover every stream"


def uncovered_streams(roles: Iterable[str], left_out: Iterable[str] = ()) -> list[StreamPermissions]:
    """The required streams (but those `left_out`) none of whose permissions the roles include, in stream order."""
    granted, skipped = set(roles), set(left_out)
    return [s for s in STREAM_PERMISSIONS if not s.optional and s.stream not in skipped and not s.covered_by(granted)]


def optional_streams(roles: Iterable[str]) -> tuple[list[StreamPermissions], list[StreamPermissions]]:
    """The optional streams the roles cover, and those they do not."""
    granted = set(roles)
    optional = [s for s in STREAM_PERMISSIONS if s.optional]
    return [s for s in optional if s.covered_by(granted)], [s for s in optional if not s.covered_by(granted)]


def optional_permissions(stream: str) -> Optional[StreamPermissions]:
    """The permissions of `stream` if it is optional (a sync skips it when the app may not read it), else None."""
    permissions = stream_permissions(stream)
    return permissions if permissions is not None and permissions.optional else None


def optional_stream_warning(stream: StreamPermissions) -> str:
    """What check says when an optional stream cannot be read: the other streams can."""
    return (
        f"The app cannot read the optional {stream.stream} stream: it needs the application permission "
        f"{stream.requirement()}. Every other stream works without it, and {stream.without}; a sync skips "
        f"{stream.stream} with a warning until the permission is granted. {PERMISSIONS_HINT}"
    )


def optional_stream_refused(stream: StreamPermissions, answer: str) -> str:
    """What check says when the app holds an optional stream's permission but Graph still refuses its probe
    (`answer`: check's sentence for the refusal)."""
    return (
        f"The optional {stream.stream} stream cannot be read now: {answer} Every other stream works without it, and "
        f"{stream.without}; a sync skips {stream.stream} with a warning while this lasts."
    )


# Why a sync skips an optional stream (`optional_stream_skipped`).
NOT_GRANTED = "the app's token does not carry its permission"


def refused_by_graph(message: str) -> str:
    return f"Microsoft Graph refused it (HTTP 403: {message or 'Authorization_RequestDenied'})"


def optional_stream_skipped(stream: StreamPermissions, why: str) -> str:
    """The one warning of a sync that skips an optional stream: what, why, which permission and where to grant it."""
    return (
        f"Skipping the optional {stream.stream} stream: {why}. It needs the application permission "
        f"{stream.requirement()}; every other stream is read, and {stream.without}. {PERMISSIONS_HINT}"
    )


def missing_permissions_message(roles: Iterable[str], left_out: Iterable[str] = ()) -> Optional[str]:
    """What an admin must grant, per stream, or None when the roles cover every stream the configuration reads
    (all but `left_out`); without the portal hint."""
    granted = sorted(set(roles))
    if not granted:
        return NO_ROLES_MESSAGE
    missing = uncovered_streams(granted, left_out)
    if not missing:
        return None
    needs = "; ".join(f"{stream.stream} needs {stream.requirement()}" for stream in missing)
    return f"{UNCOVERED_MESSAGE} (it has {', '.join(granted)}): {needs}."


def stream_permissions(stream: str) -> Optional[StreamPermissions]:
    """The permissions that let `stream` read (None for a name this table does not know)."""
    return next((s for s in STREAM_PERMISSIONS if s.stream == stream), None)


def forbidden_message(permission: Optional[StreamPermissions], message: str) -> str:
    """Name the least-privileged application permission of the query Graph answered 403 (`permission`: the
    permissions that cover it, as the query says; None: Graph's own words only)."""
    needs = f"the application permission {permission.requirement()}" if permission else "its application permissions"
    return (
        f"Microsoft Graph denied access ({message or 'Authorization_RequestDenied'}): the app needs {needs} "
        f"with admin consent. {PERMISSIONS_HINT}"
    )
