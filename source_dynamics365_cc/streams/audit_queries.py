"""One audit log query's life on Microsoft Graph (Purview's audit log query API, docs/purview-audit-facts.md): created
for a time window, waited for, its records read.

    submit    POST /{version}/security/auditLog/queries                201, the query, `notStarted`
    wait      GET  /{version}/security/auditLog/queries/{id}           `running` ... `succeeded` | `failed` | `cancelled`
    records   GET  /{version}/security/auditLog/queries/{id}/records   pages of auditLogRecords, once `succeeded`

v1.0 first: Microsoft moved the API back to beta once (MC1052169, 2025), so a v1.0 that answers it does not know the
segment (`Resource not found for the segment`, 400) sends the create, and every later create of the sync, to beta.
A query is polled at a bounded interval (`POLL_FIRST_SECONDS`, doubling to `POLL_MOST_SECONDS`: Microsoft documents no
duration, and a query of a day of CRM records takes minutes) until `WINDOW_DEADLINE_SECONDS` of waiting, which ends in
a sentence, never a hang; each wait is logged, which also carries the state saved before it out of the CDK's print
buffer (it leaves on the next line printed) to the platform. A query that failed, was cancelled or vanished (404) is
`Gone`: its window is created again.

Every request is a `GraphQuery` of the stream (graph/stream.py `GraphStream.query`): its permission names a 403, an
optional stream's 403 comes back as `OptionalStreamRefusal` (the stream skips itself), and 429 and Retry-After are
waited out on the road as for every Graph request. Microsoft documents daily and concurrent allowances for creates,
not a rate (limits.py), so the queries count against no pacer.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..graph.answers import graph_error
from ..graph.pages import graph_entity
from ..graph.road import Read, Record
from ..graph.stream import GraphStream, OptionalStreamRefusal

QUERIES = "security/auditLog/queries"
VERSIONS = ("v1.0", "beta")
RECORD_TYPE = "crm"  # as the create page spells it; records say `CRM` (compared case-insensitively)
POLL_FIRST_SECONDS = 10.0
POLL_MOST_SECONDS = 60.0
WINDOW_DEADLINE_SECONDS = 2 * 3600.0
RECORDS_PAGE = 1000  # unconfirmed: Microsoft documents no page size for /records; clients send $top=1000
SUCCEEDED = "succeeded"
GONE_STATUSES = ("failed", "cancelled")
NO_SEGMENT = "resource not found for the segment"


@dataclass(frozen=True)
class AuditWindow:
    """[start, end) of createdDateTime; sent as both filter bounds (Microsoft does not say whether the end is
    inclusive: a record on the edge may come twice, and the stream dedupes by id)."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def halves(self) -> tuple["AuditWindow", "AuditWindow"]:
        middle = self.start + (self.length / 2)
        middle = middle.replace(microsecond=0)
        return AuditWindow(self.start, middle), AuditWindow(middle, self.end)

    def __str__(self) -> str:
        return f"{instant(self.start)} to {instant(self.end)}"


@dataclass(frozen=True)
class Submitted:
    """A created query: its window, its id and the API version that serves it. Kept in the stream's state while it
    runs, so a sync stopped while waiting polls the same query next time (`saved`, `from_saved`)."""

    window: AuditWindow
    query_id: str
    api_version: str

    def saved(self) -> dict[str, str]:
        return {
            "start": instant(self.window.start),
            "end": instant(self.window.end),
            "id": self.query_id,
            "api_version": self.api_version,
        }

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any]) -> "Submitted":
        """Raises ValueError (or KeyError, TypeError) for a value this connector did not write."""
        version = str(saved["api_version"])
        if version not in VERSIONS or not str(saved["id"]):
            raise ValueError(f"not a query of this connector: {saved!r}")
        return cls(AuditWindow(parse_instant(saved["start"]), parse_instant(saved["end"])), str(saved["id"]), version)


@dataclass(frozen=True)
class Finished:
    """The query succeeded; `limit_exceeded`: Purview stopped at its per-query record count, and some are missing."""

    limit_exceeded: bool


@dataclass(frozen=True)
class Gone:
    """The query failed, was cancelled or vanished (`why`): create it again."""

    why: str


def gone_when_missing(response: requests.Response) -> Optional[Gone]:
    """The refusal a query's own routes expect: a 404, the tenant no longer holds the query; or the 400 of a version
    that no longer serves the API (a saved v1.0 query after Microsoft moved it to beta), so the window is created
    again, on beta, instead of failing every sync on the same saved query."""
    if response.status_code == 404:
        return Gone(f"Microsoft Graph no longer holds it ({graph_error(response)[1] or 'HTTP 404'})")
    if segment_missing(response):
        return Gone("its API version no longer serves audit log queries")
    return None


def segment_missing(response: requests.Response) -> Optional[str]:
    """The refusal a v1.0 create expects: a 400 saying v1.0 does not know the segment (the API served on beta only)."""
    if response.status_code == 400 and NO_SEGMENT in graph_error(response)[1].lower():
        return "beta"
    return None


class AuditQueries:
    """The audit log queries of one stream's sync, on its road; `sleep` waits between polls (tests pass their own)."""

    def __init__(self, stream: GraphStream, sleep: Callable[[float], None], logger: logging.Logger) -> None:
        self._stream = stream
        self._sleep = sleep
        self._log = logger
        self._versions = VERSIONS

    def submit(self, window: AuditWindow) -> Union[Submitted, OptionalStreamRefusal]:
        """Create the window's query (on beta from the first v1.0 that does not know the API)."""
        for version in self._versions:
            body = {
                "displayName": f"source-dynamics365-cc dynamics_activity {window}",
                "filterStartDateTime": instant(window.start),
                "filterEndDateTime": instant(window.end),
                "recordTypeFilters": [RECORD_TYPE],
            }
            first = (segment_missing,) if version != VERSIONS[-1] else ()
            query = self._stream.query(
                collection=QUERIES, api_version=version, method="POST", body=body, first_refusals=first, entity=True
            )
            response, refusal = self._stream.probe(query)
            if refusal == "beta":
                self._log.info("dynamics_activity: Microsoft Graph v1.0 does not serve audit log queries; using beta.")
                self._versions = VERSIONS[1:]
                continue
            if isinstance(refusal, OptionalStreamRefusal):
                return refusal
            return Submitted(window, str(graph_entity(response)["id"]), version)
        raise AssertionError("beta takes every create")  # the last version expects no segment refusal

    def wait(self, submitted: Submitted) -> Union[Finished, Gone, OptionalStreamRefusal]:
        """Poll until the query finishes; past `WINDOW_DEADLINE_SECONDS` of waiting, fail in a sentence (the query id
        stays in the state, so the next sync polls it again)."""
        query = self._stream.query(
            collection=f"{QUERIES}/{submitted.query_id}",
            api_version=submitted.api_version,
            refusals=(gone_when_missing,),
            entity=True,
        )
        waited, interval = 0.0, POLL_FIRST_SECONDS
        while True:
            response, refusal = self._stream.probe(query)
            if refusal is not None:
                return refusal  # type: ignore[return-value]  # Gone or OptionalStreamRefusal
            answer = graph_entity(response)
            status = str(answer.get("status"))
            if status == SUCCEEDED:
                return Finished(bool(answer.get("isRecordCountLimitExceeded")))
            if status in GONE_STATUSES:
                return Gone(f"Purview says it {status}")
            if waited >= WINDOW_DEADLINE_SECONDS:
                raise too_slow(submitted, status, waited)
            pause = min(interval, WINDOW_DEADLINE_SECONDS - waited)
            self._log.info(
                f"dynamics_activity: Purview's audit log query for {submitted.window} is {status}; asking again in "
                f"{pause:.0f} s ({waited / 60:.0f} of at most {WINDOW_DEADLINE_SECONDS / 60:.0f} minutes waited)."
            )
            self._sleep(pause)
            waited += pause
            interval = min(interval * 2, POLL_MOST_SECONDS)

    def records(self, submitted: Submitted, keep: Callable[[Record], bool]) -> Read:
        """The records of a succeeded query, page by page; returns None, `Gone` (it vanished) or the 403."""
        query = self._stream.query(
            {"$top": RECORDS_PAGE},
            collection=f"{QUERIES}/{submitted.query_id}/records",
            api_version=submitted.api_version,
            refusals=(gone_when_missing,),
        )
        return (yield from self._stream.read_query(query, keep))


def too_slow(submitted: Submitted, status: str, waited: float) -> AirbyteTracedException:
    """What a window whose query outlived the wait says: what is slow, what the next sync does, what to do."""
    message = (
        f"The Microsoft Purview audit log query for Dynamics 365 activity from {submitted.window} (id "
        f"{submitted.query_id}) was still {status} after {waited / 60:.0f} minutes of waiting. Purview is slow or busy; "
        "the records read so far are kept, and the next sync goes on polling this same query (its id is in the "
        "state). If it keeps happening, sync dynamics_activity less often or from a later start date."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)


def instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: Any) -> datetime:
    """A UTC instant as `instant` writes it; ValueError otherwise."""
    return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
