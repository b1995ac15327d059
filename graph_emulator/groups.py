"""Group objects as /groups serves them, from the static table in catalog.GROUPS.

Kept apart from the route so tests can ask for the truth (`group`, `GROUP_PROPERTIES`) without HTTP.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any, Callable

from .catalog import Group
from .directory import DOMAIN

# Graph's v1.0 group resource marks these "Returned by default" (the subset the emulator models). assignedLicenses is
# not among them: it is "Returned only on $select".
DEFAULT_GROUP_SELECT = (
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesSyncEnabled",
    "proxyAddresses",
    "renewedDateTime",
    "securityEnabled",
    "securityIdentifier",
    "visibility",
)


def _mail(g: Group) -> str | None:
    return f"{g.mail_nickname}@{DOMAIN}" if g.mail_enabled else None


def _security_identifier(g: Group) -> str:
    """Entra's SID for a cloud group: S-1-12-1- and the object id's four 32-bit words (little-endian)."""
    words = struct.unpack("<4I", uuid.UUID(g.id).bytes_le)
    return "S-1-12-1-" + "-".join(str(w) for w in words)


_VALUES: dict[str, Callable[[Group], Any]] = {
    "id": lambda g: g.id,
    "deletedDateTime": lambda g: None,
    "classification": lambda g: None,
    "createdDateTime": lambda g: g.created,
    "description": lambda g: g.description,
    "displayName": lambda g: g.display_name,
    "expirationDateTime": lambda g: None,
    "groupTypes": lambda g: list(g.group_types),
    "isAssignableToRole": lambda g: None,
    "mail": _mail,
    "mailEnabled": lambda g: g.mail_enabled,
    "mailNickname": lambda g: g.mail_nickname,
    "membershipRule": lambda g: None,
    "membershipRuleProcessingState": lambda g: None,
    "onPremisesSyncEnabled": lambda g: None,
    "proxyAddresses": lambda g: [f"SMTP:{_mail(g)}"] if g.mail_enabled else [],
    "renewedDateTime": lambda g: g.created,
    "securityEnabled": lambda g: g.security_enabled,
    "securityIdentifier": _security_identifier,
    "visibility": lambda g: "Public" if "Unified" in g.group_types else None,
    "assignedLicenses": lambda g: [{"disabledPlans": [], "skuId": sku_id} for sku_id in g.sku_ids],
}
GROUP_PROPERTIES = tuple(_VALUES)  # every property the emulator models, default ones first


def group(g: Group, select: tuple[str, ...] = DEFAULT_GROUP_SELECT) -> dict[str, Any]:
    """One group object with only the selected properties, in the selected order."""
    return {prop: _VALUES[prop](g) for prop in select}
