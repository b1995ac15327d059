"""The tenant's commercial subscriptions, as /directory/subscriptions serves them (Graph's companySubscription).

Each SKU of the inventory is bought as one subscription (its `subscriptionIds` in /subscribedSkus), a yearly term
renewed on the anniversary of its purchase: `nextLifecycleDateTime` is the next anniversary, when it moves on unless
renewed. A trial (catalog.Sku.trial) is a 30-day term started days ago. Two facts a license manager meets: the Sales
SKU was bought twice (a later top-up with its own anniversary, so the SKU's earliest date is the one that counts),
and a Business Central trial that ran out months ago is still listed, `Deleted`, its units no longer counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import catalog
from .gen import TICKS, format_ticks, guid, mix

DAY = 86400 * TICKS
TERM_DAYS = 365
TRIAL_DAYS = 30
TOP_UP = {"DYN365_ENTERPRISE_SALES": 10}  # part number -> units of a second, later subscription of the SKU
EXPIRED_TRIAL = "DYN365_BUSCENTRAL_ESSENTIAL"  # a trial of it ran out: listed as Deleted, counted nowhere


@dataclass(frozen=True)
class Subscription:
    """One companySubscription: `units` seats of `sku` from `created` (ticks, midnight UTC) in `status`."""

    id: str
    sku: catalog.Sku
    units: int
    created: int
    trial: bool
    status: str = "Enabled"

    def next_lifecycle(self, now: int) -> int:
        """When the term ends unless renewed: a trial's end, or the first purchase anniversary after `now`; a deleted
        subscription's end, long past."""
        if self.trial:
            return self.created + TRIAL_DAYS * DAY
        years = (now - self.created) // (TERM_DAYS * DAY) + 1
        return self.created + years * TERM_DAYS * DAY

    def to_dict(self, now: int, owner_id: str | None) -> dict[str, Any]:
        """The record, in the property order of Microsoft's example."""
        return {
            "createdDateTime": format_ticks(self.created),
            "commerceSubscriptionId": guid(mix(int(self.id[:8], 16)), mix(self.units)),
            "id": self.id,
            "isTrial": self.trial,
            "nextLifecycleDateTime": format_ticks(self.next_lifecycle(now)),
            "serviceStatus": [
                {
                    "appliesTo": self.sku.applies_to,
                    "provisioningStatus": "Success" if self.status == "Enabled" else "Disabled",
                    "servicePlanId": plan_id,
                    "servicePlanName": plan_name,
                }
                for plan_id, plan_name in self.sku.plans
            ],
            "skuId": self.sku.sku_id,
            "skuPartNumber": self.sku.part_number,
            "status": self.status,
            "totalLicenses": self.units,
            "ownerId": owner_id,
            "ownerTenantId": None,
            "ownerType": "User" if owner_id else None,
        }


def _midnight(ticks: int) -> int:
    return ticks - ticks % DAY


def subscriptions_of(sku: catalog.Sku, units: int, salt: int, now: int) -> list[Subscription]:
    """The subscriptions that make up `units` seats of `sku` (its first id is the one /subscribedSkus always named),
    and an expired trial of it when it has one; deterministic in `salt` and the tenant's clock."""
    h = mix(int(sku.sku_id[:8], 16) ^ salt)
    first_id = guid(mix(int(sku.sku_id[:8], 16)), salt)
    if sku.trial:
        return [Subscription(first_id, sku, units, _midnight(now - (5 + h % 20) * DAY), trial=True)]
    top_up = min(TOP_UP.get(sku.part_number, 0), units - 1)
    bought = _midnight(now - (40 + h % 300) * DAY)
    found = [Subscription(first_id, sku, units - top_up, bought, trial=False)]
    if top_up > 0:
        found.append(Subscription(guid(mix(h), salt), sku, top_up, _midnight(now - (10 + h % 25) * DAY), False))
    if sku.part_number == EXPIRED_TRIAL:
        started = _midnight(now - (200 + h % 100) * DAY)
        found.append(Subscription(guid(mix(h + 1), salt), sku, 25, started, trial=True, status="Deleted"))
    return found
