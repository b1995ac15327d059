"""`subscribed_skus`: what the tenant pays for (prepaid and consumed units per license), each SKU with Microsoft's
product name and whether it is Dynamics 365 (licensing.py), so the answer reads the connector's own classification.
"""

import logging
from dataclasses import replace
from typing import Any, Iterable, Mapping, Optional, Sequence

import requests

from ..auth.permissions import stream_permissions
from ..graph.query import GraphQuery
from ..graph.stream import GraphStream
from ..licensing import SkuClass, classify
from .restarts import RESUME_NOTE


class ClassifiedSkus:
    """The tenant's SKUs as licensing.py classifies them, told once per sync: which SKUs it treats as Dynamics 365
    (seats, and tenant-wide add-ons), and at WARN each SKU Microsoft's table does not list, with what the fallback
    decided. `subscribed_skus` and the license queries of `users` and `groups` share one, so the log says it once
    whichever reads first. A SKU the configuration names (`roster_sku_ids`: "a Dynamics 365 product the rule does not
    catch") is Dynamics 365 whatever the rule says, for the roster and the answer alike."""

    def __init__(self, logger: logging.Logger, configured: Sequence[str] = ()) -> None:
        self._log = logger
        self._configured = {sku_id.lower() for sku_id in configured}
        self._told = False

    def of(self, skus: Iterable[Mapping[str, Any]]) -> list[SkuClass]:
        classes = [self._configured_or_classified(sku) for sku in skus]
        if not self._told:
            self._told = True
            self._tell(classes)
        return classes

    def _configured_or_classified(self, sku: Mapping[str, Any]) -> SkuClass:
        found = classify(sku)
        if found.sku_id in self._configured and not found.is_dynamics365:
            return replace(
                found,
                is_dynamics365=True,
                reason=f"{found.reason}, but roster_sku_ids names it: treated as Dynamics 365",
            )
        return found

    def _tell(self, classes: list[SkuClass]) -> None:
        dynamics = [c for c in classes if c.is_dynamics365]
        seats = ", ".join(c.label for c in dynamics if c.is_seat) or "none"
        add_ons = ", ".join(c.label for c in dynamics if not c.is_seat)
        self._log.info(
            f"Dynamics 365 SKUs of the tenant ({len(dynamics)} of {len(classes)}, by Microsoft's licence table): "
            f"seats: {seats}" + (f"; tenant-wide add-ons, nobody's seat: {add_ons}" if add_ons else "") + "."
        )
        for sku in classes:
            if sku.product_name is None:
                advice = (
                    ""
                    if sku.is_dynamics365
                    else (
                        " If it is a Dynamics 365 product, add its skuId to 'More SKU IDs whose holders to read' "
                        "(roster_sku_ids)."
                    )
                )
                self._log.warning(f"SKU {sku.part_number} ({sku.sku_id}) is {sku.reason}.{advice}")


class SubscribedSkus(GraphStream):
    """GET /v1.0/subscribedSkus: one small page, no filter. Each record gains `productDisplayName` (Microsoft's, null
    for a SKU its table does not list) and `isDynamics365` (licensing.py's rule, appliesTo aside)."""

    name = "subscribed_skus"
    primary_key = "skuId"
    collection = "subscribedSkus"
    resume_note = RESUME_NOTE

    def __init__(self, *args: Any, classified: Optional[ClassifiedSkus] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classified = classified or ClassifiedSkus(self._log, self._config.roster_sku_ids)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        records = list(super().parse_response(response, **kwargs))
        for record, sku in zip(records, self._classified.of(records), strict=True):
            yield {**record, "productDisplayName": sku.product_name, "isDynamics365": sku.is_dynamics365}


def sku_list_query() -> GraphQuery:
    """The tenant's SKUs as `subscribed_skus` asks for them (one page: a tenant has a few hundred at most), for the
    license queries of other streams: covered by this stream's permission, which a 403 names."""
    return GraphQuery(SubscribedSkus.collection, permission=stream_permissions(SubscribedSkus.name))
