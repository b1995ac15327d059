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
from typing import Any, Iterable, Iterator, Mapping, MutableMapping, Optional

from airbyte_cdk.sources.streams.core import StreamData

from ..graph.query import GraphQuery
from ..graph.stream import ADVANCED_QUERY
from .licenses import LicenseQuery, LicenseQueryStream, license_filter
from .restarts import EmittedIds, FromFirstPage

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


def group_query_params(sku_id: str) -> MutableMapping[str, Any]:
    """The first page of the groups assigning `sku_id`: an advanced query (with `ADVANCED_QUERY` as its header)."""
    return {"$select": ",".join(GROUP_FIELDS), "$filter": license_filter(sku_id), "$count": "true", "$top": PAGE_SIZE}


class Groups(LicenseQueryStream):
    """GET /v1.0/groups filtered on each Dynamics 365 SKU; a full refresh, the groups are few."""

    name = "groups"
    collection = "groups"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._emitted = EmittedIds()
        self._unchecked: list[str] = []

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        """One slice per Dynamics 365 SKU, `{"sku_id": ...}`; each group emitted once per sync, whichever query
        returns it first. The groups taken on the filter's word are reported once the last slice is read."""
        self._emitted, self._unchecked = EmittedIds(), []
        skus = self.licensed_skus()
        self._log.info(f"groups: reading the groups that assign {len(skus)} Dynamics 365 SKUs, one query each.")
        yield from ({"sku_id": sku_id} for sku_id in skus)
        if self._unchecked:
            self._log.warning(
                f"Microsoft Graph returned {len(self._unchecked)} groups without assignedLicenses (the app's permission "
                "may not cover that property: Group.Read.All or Directory.Read.All do); each was emitted once, as the "
                "license filter returned it."
            )

    def query_of(self, stream_slice: Mapping[str, Any]) -> GraphQuery:
        """The groups assigning the slice's SKU, as an advanced query (its header on every page: a nextLink carries
        only the query string), read again from its first page when its page token expires."""
        return self.query(
            group_query_params(str(stream_slice["sku_id"])),
            headers=ADVANCED_QUERY,
            resume=FromFirstPage(self._emitted, self.name, self._log),
        )

    def any_group_query(self) -> GraphQuery:
        """Any group, as an advanced query: what `check` asks of a tenant with no Dynamics 365 SKU to slice on."""
        return self.query({"$select": "id,displayName"}, headers=ADVANCED_QUERY)

    def slice_records(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """The groups the slice's query asked for that this sync has not emitted yet; one without `assignedLicenses`
        is taken on the filter's word (and counted for the warning)."""
        query = LicenseQuery(stream_slice["sku_id"])
        for record in self.read_query(self.query_of(stream_slice), partial(self._asked_for, query)):
            if record.get("assignedLicenses") is None:
                self._unchecked.append(record["id"])
            yield record

    def _asked_for(self, query: LicenseQuery, record: Mapping[str, Any]) -> bool:
        """A group the query asked for, or one without `assignedLicenses` to check; one without an id is dropped and
        counted."""
        if not self._dropped.has_id(self.name, record):
            return False
        return record.get("assignedLicenses") is None or query.matches(record)
