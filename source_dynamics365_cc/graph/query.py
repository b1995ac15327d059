"""`GraphQuery`: one question to Microsoft Graph, as a value the stream derives from its slice and hands to the road
(road.py): what to ask (the collection under its API version, the first page's parameters, the headers of every
page), the documented limits its requests count against (the budget paces by them), the permission that covers it
(a 403 names it), which of Graph's refusals the asker handles itself, and how its read resumes when Graph expires its
page token. Most queries are GETs; a create (an audit log query, streams/audit_queries.py) is a POST with a JSON body. The answer side reads all of it here, never from the request's URL.

The streams build their queries; nothing here knows a stream. A refusal is worded by the stream that expects it:
what it returns is the outcome the road hands back instead of failing the read.
"""

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Protocol

import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from ..auth.permissions import StreamPermissions
from .throttle import GraphLimit

# A refusal the asker expects: what it makes of Graph's answer (any value but None), or None for an answer it does not
# claim, which the error handler then classifies as usual (graph/answers.py).
ExpectedRefusal = Callable[[requests.Response], Optional[object]]


class ResumePolicy(Protocol):
    """How a query's read goes on after Graph expires its page token: a page token cannot be asked again, so the
    query is sent again (from its first page, or narrowed), and the policy keeps what was already emitted out."""

    def admit(self, record: Mapping[str, Any]) -> bool:
        """Note the record as emitted and say whether it is new to this read (False: a restart sent it again)."""

    def resumed(self, query: "GraphQuery") -> Optional["GraphQuery"]:
        """The query to send after the page token expired (saying so in the log), or None when nothing is left."""

    def exhausted(self) -> AirbyteTracedException:
        """The failure once Graph has expired the page token too often (road.py's `MAX_RESTARTS`)."""


@dataclass(frozen=True)
class GraphQuery:
    """One query: its first page is `collection` under `api_version` with `params`; every later page is the
    nextLink exactly as given. `headers` go on every page; `limits` are the documented throttling limits every
    request of it counts against (limits.py); `permission` the application permissions that cover it, which a 403
    names (None: Graph's own words only); `refusals` are the answers the asker handles itself, to any page,
    `first_refusals` those it handles to the first page only (Graph judges a filter there: a 400 to a nextLink is
    another failure); `resume` is how the read goes on after an expired page token (None: the read fails, as for a
    collection no one reads twice). `method` and `body` are the HTTP method and JSON body of its requests (a create: one
    `POST` with the object to create, answered with that object, no nextLink); `entity` says the answer is one entity
    (graph/pages.py `graph_entity`), not a page of records."""

    collection: str
    params: Mapping[str, Any] = field(default_factory=dict)
    api_version: str = "v1.0"
    headers: Mapping[str, str] = field(default_factory=dict)
    limits: tuple[GraphLimit, ...] = ()
    permission: Optional[StreamPermissions] = None
    refusals: tuple[ExpectedRefusal, ...] = ()
    first_refusals: tuple[ExpectedRefusal, ...] = ()
    resume: Optional[ResumePolicy] = field(default=None, compare=False)
    method: str = "GET"
    body: Optional[Mapping[str, Any]] = None
    entity: bool = False

    def url(self, graph_url: str) -> str:
        """The first page's address, without its parameters."""
        return f"{graph_url}/{self.api_version}/{self.collection}"

    def narrowed(self) -> "GraphQuery":
        """The same question for its first record only (`$top=1`): what `check` sends to prove the query is answered,
        with the headers and expected refusals of the read it stands for."""
        return replace(self, params={**self.params, "$top": 1}, resume=None)

    def refusal_of(self, response: requests.Response, first_page: bool) -> Optional[object]:
        """What the first refusal that claims the answer (to the first page or a later one) makes of it; None when
        the query expects no such answer there."""
        for refusal in (*self.first_refusals, *self.refusals) if first_page else self.refusals:
            claimed = refusal(response)
            if claimed is not None:
                return claimed
        return None
