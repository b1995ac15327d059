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
from ..licensing import SkuClass, classify
from .restarts import RESUME_NOTE
from .subscribed_skus import ClassifiedSkus, sku_list_query


def license_filter(sku_id: str) -> str:
    """Graph's filter for the users or groups a SKU is assigned to (in effect: directly or through a group)."""
    return f"assignedLicenses/any(x:x/skuId eq {sku_id})"


def dynamics_skus(skus: Iterable[Mapping[str, Any]]) -> list[str]:
    """The per-user Dynamics 365 SKU ids among subscribedSkus entries, by licensing.py's rule."""
    return dynamics_seats(classify(sku) for sku in skus)


def dynamics_seats(classes: Iterable[SkuClass]) -> list[str]:
    """The ids of the classified SKUs that are Dynamics 365 seats (tenant-wide add-ons, appliesTo "Company", hold
    no seat)."""
    return [sku.sku_id for sku in classes if sku.is_dynamics365 and sku.is_seat and sku.sku_id]


class LicensedSkus:
    """The SKUs the license queries read, in order: the tenant's Dynamics 365 seats from subscribedSkus (licensing.py
    decides, `ClassifiedSkus` tells the log), then those the configuration adds (`roster_sku_ids`). `users` and
    `groups` ask the same question of the same tenant in one sync: whichever reads first asks Graph (through its own
    client, with its retries and budget), once."""

    def __init__(self, configured: Sequence[str], classified: ClassifiedSkus) -> None:
        self._configured = tuple(configured)
        self._classified = classified
        self._skus: Optional[list[str]] = None

    def of(self, stream: GraphStream) -> list[str]:
        if self._skus is None:
            response, _ = stream.probe(sku_list_query())
            found = dynamics_seats(self._classified.of(graph_page(response).get("value") or []))
            self._skus = list(dict.fromkeys([*found, *self._configured]))
        return self._skus


class LicenseQueryStream(GraphStream, ABC):
    """A directory stream read as license queries, one per SKU of `LicensedSkus` (shared by the sync's streams)."""

    resume_note = RESUME_NOTE

    def __init__(self, *args: Any, licensed: Optional[LicensedSkus] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._licensed = licensed or LicensedSkus(
            self._config.roster_sku_ids, ClassifiedSkus(self._log, self._config.roster_sku_ids)
        )

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


def held_skus(record: Mapping[str, Any]) -> set[str]:
    """The SKU ids in a user's or group's `assignedLicenses`, lower case."""
    licenses = record.get("assignedLicenses")
    if not isinstance(licenses, list):
        return set()
    return {str(item.get("skuId", "")).lower() for item in licenses if isinstance(item, Mapping)}
