"""Every stream the connector offers: `users` (the roster, with signInActivity when the tenant allows it), `groups`
(the groups that assign Dynamics 365 licenses), `subscribed_skus`, `subscriptions` (renewal dates and trials),
`directory_role_assignments` (who holds a directory role), and `sign_ins` with `non_interactive_sign_ins`
(`sign_ins`: the sign-in log, read in the windows of the window engine, `signins`).

Next to them: `licenses` (the queries for the holders of Dynamics 365 seats) and `restarts` (a directory read again
from its first page when its page token expires).

A stream's queries name the permissions that cover them (from `auth`) and the throttling limits they count against
(from `limits`).

It may import: `auth`, `clock`, `config`, `errors`, `graph`, `licensing`, `limits`, `signins`.
"""

from .groups import Groups
from .role_assignments import DirectoryRoleAssignments
from .sign_ins import NonInteractiveSignIns, SignIns
from .subscribed_skus import SubscribedSkus
from .subscriptions import Subscriptions
from .users import Users

__all__ = [
    "DirectoryRoleAssignments",
    "Groups",
    "NonInteractiveSignIns",
    "SignIns",
    "SubscribedSkus",
    "Subscriptions",
    "Users",
]
