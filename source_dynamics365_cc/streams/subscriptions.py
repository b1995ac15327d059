"""`subscriptions`: the tenant's commercial subscriptions, for the date from which a smaller order saves money and for
which licences are trials.

`subscribed_skus` says how many units of a SKU the tenant has, not when they renew nor whether they are a free trial:
Graph's `companySubscription` does (`nextLifecycleDateTime`: when the subscription moves to its next state unless
renewed; `isTrial`). A SKU bought twice has two subscriptions, each with its own date. Microsoft documents no paging
and no query option by name for the list, so the stream asks for the whole collection, as its example does, and
follows a nextLink if Graph sends one. Optional (auth/permissions.py): its least-privileged permission,
Organization.Read.All, is not one the required streams need.
"""

from ..graph.stream import GraphStream
from .restarts import RESUME_NOTE


class Subscriptions(GraphStream):
    """GET /v1.0/directory/subscriptions: a few records, no filter; a full refresh."""

    name = "subscriptions"
    collection = "directory/subscriptions"
    resume_note = RESUME_NOTE
