"""The connector's streams: users (roster), sign_ins and non_interactive_sign_ins (access log), subscribed_skus."""

from .sign_ins import NonInteractiveSignIns, SignIns
from .subscribed_skus import SubscribedSkus
from .users import Users

__all__ = ["NonInteractiveSignIns", "SignIns", "SubscribedSkus", "Users"]
