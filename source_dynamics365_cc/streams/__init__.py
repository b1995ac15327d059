"""The connector's three streams: users (roster), sign_ins (access log) and subscribed_skus (licenses)."""

from .sign_ins import SignIns
from .subscribed_skus import SubscribedSkus
from .users import Users

__all__ = ["SignIns", "SubscribedSkus", "Users"]
