"""The directory streams: `users` (the roster, with signInActivity when the tenant allows it), `groups` (the groups
that assign Dynamics 365 licenses) and `subscribed_skus`.

The sign-in streams live in `signins`.

It may import: `clock`, `config`, `errors`, `graph`, `licensing`.
"""

from .groups import Groups
from .subscribed_skus import SubscribedSkus
from .users import Users

__all__ = ["Groups", "SubscribedSkus", "Users"]
