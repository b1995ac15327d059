"""Who holds a Microsoft Entra directory role, as /roleManagement/directory/roleAssignments serves it
(unifiedRoleAssignment, each role a built-in unifiedRoleDefinition whose id is its template id).

The tenant's first member is its Global Administrator and its second a Power Platform Administrator; a service
principal reads the directory as Global Reader (a principal that is no user); with the worklist's cases on, the
"administrator without use" holds Dynamics 365 Administrator: administering Dynamics 365 needs no seat.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .gen import guid, mix

if TYPE_CHECKING:
    from .directory import Directory


@dataclass(frozen=True)
class Role:
    """A built-in role definition: its template id (also its id), name and a few of its allowed actions."""

    template_id: str
    display_name: str
    description: str
    actions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.template_id,
            "description": self.description,
            "displayName": self.display_name,
            "isBuiltIn": True,
            "isEnabled": True,
            "resourceScopes": ["/"],
            "templateId": self.template_id,
            "version": "1",
            "rolePermissions": [{"allowedResourceActions": list(self.actions), "condition": None}],
        }


GLOBAL_ADMINISTRATOR = Role(
    "62e90394-69f5-4237-9190-012177145e10",
    "Global Administrator",
    "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ("microsoft.directory/users/allProperties/allTasks", "microsoft.dynamics365/allEntities/allTasks"),
)
DYNAMICS_ADMINISTRATOR = Role(
    "44367163-eba1-44c3-98af-f5787879f96a",
    "Dynamics 365 Administrator",
    "Can manage all aspects of the Dynamics 365 product.",
    ("microsoft.dynamics365/allEntities/allTasks", "microsoft.office365.serviceHealth/allEntities/allTasks"),
)
POWER_PLATFORM_ADMINISTRATOR = Role(
    "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
    "Power Platform Administrator",
    "Can create and manage all aspects of Microsoft Dynamics 365, Power Apps and Power Automate.",
    ("microsoft.dynamics365/allEntities/allTasks", "microsoft.powerApps/allEntities/allTasks"),
)
GLOBAL_READER = Role(
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Global Reader",
    "Can read everything that a Global Administrator can, but not update anything.",
    ("microsoft.directory/users/standard/read", "microsoft.dynamics365/allEntities/standard/read"),
)
ADMINISTRATOR_CASE = "administrator without use"  # catalog.CASES


@dataclass(frozen=True)
class Assignment:
    """`role` held by `principal_id` (a user's or a service principal's id) over the whole directory ("/")."""

    role: Role
    principal_id: str
    user_index: int | None  # the directory index of a user principal; None for a service principal

    @property
    def id(self) -> str:
        """Graph's form: the role's and the principal's GUID bytes, base64url without padding, then "-1"."""
        raw = uuid.UUID(self.role.template_id).bytes_le + uuid.UUID(self.principal_id).bytes_le
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "-1"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "principalId": self.principal_id,
            "resourceScope": "/",
            "directoryScopeId": "/",
            "roleDefinitionId": self.role.template_id,
        }


def role_assignments(directory: Directory, seed: int) -> list[Assignment]:
    """The tenant's directory role assignments, in a stable order."""
    members = (i for i in range(directory.count) if i not in directory.cast and directory.identity(i).kind == "member")
    first, second = next(members), next(members)
    found = [
        Assignment(GLOBAL_ADMINISTRATOR, directory.identity(first).id, first),
        Assignment(POWER_PLATFORM_ADMINISTRATOR, directory.identity(second).id, second),
        Assignment(GLOBAL_READER, guid(mix(seed * 131 + 7), mix(seed * 131 + 8)), None),
    ]
    found += [
        Assignment(DYNAMICS_ADMINISTRATOR, directory.identity(index).id, index)
        for index, case in directory.cast.items()
        if case.name == ADMINISTRATOR_CASE
    ]
    return found
