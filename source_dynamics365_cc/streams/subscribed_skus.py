"""`subscribed_skus`: what the tenant pays for (prepaid and consumed units per license)."""

from ..graph.stream import GraphStream


class SubscribedSkus(GraphStream):
    """GET /v1.0/subscribedSkus: one small page, no filter."""

    name = "subscribed_skus"
    primary_key = "skuId"
    collection = "subscribedSkus"
