"""The license queries: one `assignedLicenses/any(x:x/skuId eq <id>)` query per Dynamics 365 SKU of the tenant.

`users` reads the holders of those SKUs and `groups` the groups that assign them. An object that holds several of
them comes back from several queries; the first query that returns it emits it (the stream's `EmittedIds`,
restarts.py), whatever it holds by then, and an object Graph returns for a SKU it does not hold is dropped, not
emitted.
"""

from abc import ABC
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..graph.pages import graph_page
from ..graph.stream import GraphStream
from .subscribed_skus import SubscribedSkus

# The rule the license answer uses (examples/license_usage.sql): Dynamics 365 part numbers start with these.
DYNAMICS_PART_NUMBER_PREFIXES = ("DYN365_", "DYNAMICS_365_", "D365_", "CRM")


def license_filter(sku_id: str) -> str:
    """Graph's filter for the users or groups a SKU is assigned to (in effect: directly or through a group)."""
    return f"assignedLicenses/any(x:x/skuId eq {sku_id})"


def dynamics_skus(skus: Iterable[Mapping[str, Any]]) -> list[str]:
    """The tenant's per-user Dynamics 365 SKU ids, by the license answer's part-number rule (tenant-wide add-ons,
    appliesTo "Company", hold no seat)."""
    found = []
    for sku in skus:
        part = str(sku.get("skuPartNumber") or "")
        if part.startswith(DYNAMICS_PART_NUMBER_PREFIXES) and sku.get("appliesTo", "User") == "User":
            found.append(str(sku.get("skuId", "")).lower())
    return [sku_id for sku_id in found if sku_id]


class LicensedSkus:
    """The SKUs the license queries read, in order: the tenant's Dynamics 365 SKUs from subscribedSkus, then those
    the configuration adds (`roster_sku_ids`). `users` and `groups` ask the same question of the same tenant in one
    sync: whichever reads first asks Graph (through its own client, with its retries and budget), once."""

    def __init__(self, configured: Sequence[str]) -> None:
        self._configured = tuple(configured)
        self._skus: Optional[list[str]] = None

    def of(self, stream: GraphStream) -> list[str]:
        if self._skus is None:
            response = stream.first_page({}, collection=SubscribedSkus.collection)
            found = dynamics_skus(graph_page(response).get("value") or [])
            self._skus = list(dict.fromkeys([*found, *self._configured]))
        return self._skus


class LicenseQueryStream(GraphStream, ABC):
    """A directory stream read as license queries, one per SKU of `LicensedSkus` (shared by the sync's streams)."""

    def __init__(self, *args: Any, licensed: Optional[LicensedSkus] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._licensed = licensed or LicensedSkus(self._config.roster_sku_ids)

    def licensed_skus(self) -> list[str]:
        return self._licensed.of(self)


@dataclass(frozen=True)
class LicenseQuery:
    """One query of a license read: the SKU it filters on (None: no filter)."""

    sku_id: Optional[str] = None

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether the record is what this query asked for: anything without a filter; for a SKU, a holder of it
        (checked on the record's own `assignedLicenses`: Graph has answered filters with records they exclude)."""
        return self.sku_id is None or self.sku_id in held_skus(record)


def license_queries(skus: Sequence[str]) -> list[LicenseQuery]:
    """One query per SKU, in the order given."""
    return [LicenseQuery(sku_id) for sku_id in skus]


def held_skus(record: Mapping[str, Any]) -> set[str]:
    """The SKU ids in a user's or group's `assignedLicenses`, lower case."""
    licenses = record.get("assignedLicenses")
    if not isinstance(licenses, list):
        return set()
    return {str(item.get("skuId", "")).lower() for item in licenses if isinstance(item, Mapping)}
