"""`directory_role_assignments`: who holds a Microsoft Entra directory role, with the role's name, so the license
answer can tell an administrator who never uses Dynamics 365 (administering it needs no seat) from an idle user.

Microsoft documents `$filter`, `$expand` and `$select` for the list, and `$expand` of `roleDefinition` for the
directory provider: one query returns each assignment with its role. A `$select` inside the `$expand` is not
documented (Graph has been reported to ignore it on this list, microsoft-graph-docs-contrib issue 8876, and to refuse
it on its sibling list, issue 9157), so the role comes whole and the stream keeps only the fields of its schema:
a built-in role's permissions are a long list nobody reads here. Optional (auth/permissions.py):
RoleManagement.Read.Directory is not one the required streams need.
"""

from typing import Any, Iterable, Mapping

import requests

from ..graph.query import GraphQuery
from ..graph.stream import GraphStream
from .restarts import RESUME_NOTE

ASSIGNMENT_FIELDS = ("id", "principalId", "roleDefinitionId", "directoryScopeId")
ROLE_FIELDS = ("id", "displayName", "templateId", "isBuiltIn")


def role_assignments_params() -> dict[str, str]:
    """The query of every directory role assignment, each with its role definition."""
    return {"$select": ",".join(ASSIGNMENT_FIELDS), "$expand": "roleDefinition"}


class DirectoryRoleAssignments(GraphStream):
    """GET /v1.0/roleManagement/directory/roleAssignments with each assignment's role; a full refresh."""

    name = "directory_role_assignments"
    collection = "roleManagement/directory/roleAssignments"
    resume_note = RESUME_NOTE

    def query_of(self, stream_slice: Mapping[str, Any]) -> GraphQuery:
        return self.query(role_assignments_params())

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        """Each assignment with its role's id, name, template and whether it is built in (None: Graph sent no role,
        as for an assignment whose role was deleted)."""
        for record in super().parse_response(response, **kwargs):
            role = record.get("roleDefinition")
            kept = {name: role.get(name) for name in ROLE_FIELDS} if isinstance(role, Mapping) else None
            yield {**record, "roleDefinition": kept}
