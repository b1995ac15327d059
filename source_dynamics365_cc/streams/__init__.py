"""The directory streams: `users` (the roster, with signInActivity when the tenant allows it) and `subscribed_skus`.

The sign-in streams live in `signins`.

It may import: `clock`, `config`, `errors`, `graph`.
"""

from .subscribed_skus import SubscribedSkus
from .users import Users

__all__ = ["SubscribedSkus", "Users"]
