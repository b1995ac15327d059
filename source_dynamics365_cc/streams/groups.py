"""`groups`: the groups that assign the tenant's Dynamics 365 licenses, for the names a license manager knows.

A user's `licenseAssignmentStates` names a group by id only; reclaiming that seat means removing the user from the
group, so the answer needs the group's name. One license query per Dynamics 365 SKU (licenses.py), each group once
per sync (restarts.py).

Microsoft documents `assignedLicenses` of a group as filterable with `eq`, but not whether the lambda form works as
a default query or only as an advanced one. Every default query also works as an advanced query (Microsoft's
"Advanced query capabilities" page), so the queries are sent as advanced queries (`ConsistencyLevel: eventual` on
every page and `$count=true`): right in both cases, at the cost of eventual consistency, which a name lookup can
afford.

Microsoft does not say which group properties `GroupMember.Read.All` (the least-privileged permission, "basic group
properties") returns. A group without `assignedLicenses` cannot be checked against its query, so it is taken on the
filter's word: emitted once, with one warning.
"""

from functools import partial
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import SyncMode

from ..graph.stream import ADVANCED_QUERY
from .licenses import LicenseQuery, LicenseQueryStream, license_filter, license_queries
from .restarts import EmittedIds, restarting

GROUP_FIELDS = (
    "id",
    "displayName",
    "description",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "groupTypes",
    "createdDateTime",
    "assignedLicenses",
)
PAGE_SIZE = 999  # Microsoft: "The default and maximum page sizes are 100 and 999 group objects"
QUERY = "license_query"  # the slice key that carries a request's LicenseQuery


def group_query_params(sku_id: str) -> MutableMapping[str, Any]:
    """The first page of the groups assigning `sku_id`: an advanced query (with `ADVANCED_QUERY` as its header)."""
    return {"$select": ",".join(GROUP_FIELDS), "$filter": license_filter(sku_id), "$count": "true", "$top": PAGE_SIZE}


class Groups(LicenseQueryStream):
    """GET /v1.0/groups filtered on each Dynamics 365 SKU; a full refresh, the groups are few."""

    name = "groups"
    collection = "groups"

    def request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        """Every page of an advanced query carries its header; a nextLink carries only the query string."""
        return ADVANCED_QUERY

    def first_page_params(self, stream_slice: Mapping[str, Any]) -> MutableMapping[str, Any]:
        query: LicenseQuery = stream_slice[QUERY]
        return group_query_params(str(query.sku_id))

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterator[Mapping[str, Any]]:
        """The groups assigning each Dynamics 365 SKU, SKU by SKU, each group once; each query restarts when its page
        token expires."""
        skus = self.licensed_skus()
        self._log.info(f"groups: reading the groups that assign {len(skus)} Dynamics 365 SKUs, one query each.")
        emitted = EmittedIds()
        unchecked: list[str] = []
        for query in license_queries(skus):
            read = partial(self._emit_new, sync_mode, query, emitted, unchecked)
            yield from restarting(read, emitted, self.name, self._log)
        if unchecked:
            self._log.warning(
                f"Microsoft Graph returned {len(unchecked)} groups without assignedLicenses (the app's permission may "
                "not cover that property: Group.Read.All or Directory.Read.All do); each was emitted once, as the "
                "license filter returned it."
            )

    def _emit_new(
        self, sync_mode: SyncMode, query: LicenseQuery, emitted: EmittedIds, unchecked: list[str]
    ) -> Iterator[Mapping[str, Any]]:
        """The groups this query asked for that this read has not emitted yet; one without an id is dropped and
        counted, one without `assignedLicenses` is taken on the filter's word (`unchecked` lists those emitted)."""
        for record in super().read_records(sync_mode, stream_slice={QUERY: query}):
            if not self._dropped.has_id(self.name, record):
                continue
            bare = record.get("assignedLicenses") is None
            if (bare or query.matches(record)) and emitted.add(record["id"]):
                if bare:
                    unchecked.append(record["id"])
                yield record
