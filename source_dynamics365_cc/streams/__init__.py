"""Every stream the connector offers: `users` (the roster, with signInActivity when the tenant allows it), `groups`
(the groups that assign Dynamics 365 licenses), `subscribed_skus`, `subscriptions` (renewal dates and trials),
`directory_role_assignments` (who holds a directory role), and `sign_ins` with `non_interactive_sign_ins`
(`sign_ins`: the sign-in log, read in the windows of the window engine, `signins`), and the opt-in
`dynamics_activity` (Dataverse operations from Purview's audit log).

Next to them: `licenses` (the queries for the holders of Dynamics 365 seats) and `restarts` (a directory read again
from its first page when its page token expires), and `audit_queries` (an audit log query's create, poll and
records, for `dynamics_activity`).

A stream's queries name the permissions that cover them (from `auth`) and the throttling limits they count against
(from `limits`).

It may import: `auth`, `clock`, `config`, `errors`, `graph`, `licensing`, `limits`, `signins`.
"""

from .dynamics_activity import DynamicsActivity
from .groups import Groups
from .role_assignments import DirectoryRoleAssignments
from .sign_ins import NonInteractiveSignIns, SignIns
from .subscribed_skus import SubscribedSkus
from .subscriptions import Subscriptions
from .users import Users

__all__ = [
    "DirectoryRoleAssignments",
    "DynamicsActivity",
    "Groups",
    "NonInteractiveSignIns",
    "SignIns",
    "SubscribedSkus",
    "Subscriptions",
    "Users",
]
