"""The connector's directory streams: users (roster) and subscribed_skus. The sign-in streams live in signins/."""

from .subscribed_skus import SubscribedSkus
from .users import Users

__all__ = ["SubscribedSkus", "Users"]
