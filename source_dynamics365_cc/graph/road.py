"""The road every Graph query takes: `read_query` reads a `GraphQuery` (query.py) page after page and hands back
its records, then how it ended: None when it was read to its last page, or the value of the refusal that ended it.

Three loops, each around the next, the way httpx layers its sending:

    read_query     Graph expired the page token: the query's ResumePolicy says what to send again (MAX_RESTARTS times)
     └─ _pages     the nextLinks, each checked by the query's own Paginator (never another host, never a page twice)
         └─ send   one request through the CDK's HttpClient: retries, Retry-After, token refresh, the budget

An answer the query expects as a refusal is let through by the error handler (answers.py) and ends the read as a
returned outcome; the caller decides what follows (a fallback, a retry, a skip).
"""

from functools import partial
from typing import Any, Callable, Generator, Iterable, Mapping, Optional, Protocol
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.pagination_reset_exception import PaginationResetRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.utils import requote_uri

from .pages import graph_page
from .query import ExpectedRefusal, GraphQuery

MAX_RESTARTS = 5
NEXT_LINK = "@odata.nextLink"
Record = Mapping[str, Any]
# What a read yields and finally returns: the records, then None (read to the end) or a refusal's value.
Read = Generator[Record, None, Optional[object]]


class Paginator:
    """One query's nextLinks, followed exactly as given: only to the Graph host (the request would carry the token),
    and never to a page the query already read (a cycle of any length, A B A, would emit the same records forever).
    One per query read, so the sign-in windows that workers read at once each keep their own."""

    def __init__(self, graph_netloc: str, stream: str) -> None:
        self._netloc = graph_netloc
        self._stream = stream
        self._seen: set[str] = set()

    def next_link(self, response: requests.Response) -> Optional[str]:
        """The page after `response`, or None after the last page."""
        link = graph_page(response).get(NEXT_LINK)
        if not link:
            return None
        self._refuse_foreign_link(str(link))
        self._refuse_repeated_link(response.request.url, requote_uri(str(link)))
        return str(link)

    def _refuse_repeated_link(self, page_url: Optional[str], link: str) -> None:
        self._seen.add(str(page_url))
        if link in self._seen:
            raise AirbyteTracedException(
                message=(
                    f"Microsoft Graph repeated a page link while reading the {self._stream} stream (the same page link "
                    "twice in one query); stopping to avoid an endless loop. Run the sync again later."
                ),
                failure_type=FailureType.system_error,
            )

    def _refuse_foreign_link(self, link: str) -> None:
        parts = urlsplit(link)
        if parts.scheme != "https" or parts.netloc != self._netloc:
            raise AirbyteTracedException(
                message=(
                    f"Microsoft Graph returned a next-page link to another host ({parts.scheme}://{parts.hostname}); "
                    "refusing to send the access token there."
                ),
                failure_type=FailureType.system_error,
            )


class Transport(Protocol):
    """What the road needs of the stream that reads: Graph's address, a way to send a query's request (a page's
    address and its parameters, none for a nextLink, which carries them; the answers its error handler lets through),
    a paginator per query read, and the records of a page."""

    @property
    def graph_url(self) -> str: ...

    def send(
        self, query: GraphQuery, url: str, params: Mapping[str, Any], expected: ExpectedRefusal
    ) -> requests.Response: ...

    def paginator(self) -> Paginator: ...

    def records(self, response: requests.Response) -> Iterable[Record]: ...


def read_query(transport: Transport, query: GraphQuery, keep: Callable[[Record], bool] = lambda record: True) -> Read:
    """The query's records that `keep` accepts and its resume policy admits, first page to last; sent again as the
    policy says each time Graph expires its page token. Returns None, or the value of the refusal that ended it."""
    restarts = 0
    current: Optional[GraphQuery] = query
    while current is not None:
        try:
            return (yield from _pages(transport, current, keep))
        except PaginationResetRequiredException:
            if current.resume is None:
                raise
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise current.resume.exhausted() from None
            current = current.resume.resumed(current)
    return None


def _pages(transport: Transport, query: GraphQuery, keep: Callable[[Record], bool]) -> Read:
    """One pass over the query's pages; a refusal it expects ends it with the refusal's value."""
    paginator = transport.paginator()
    url: Optional[str] = query.url(transport.graph_url)
    params: Mapping[str, Any] = query.params
    first_page = True
    while url is not None:
        response, refused = ask(transport, query, url, params, first_page)
        if refused is not None:
            return refused
        for record in transport.records(response):
            if keep(record) and (query.resume is None or query.resume.admit(record)):
                yield record
        url, params, first_page = paginator.next_link(response), {}, False
    return None


def ask(
    transport: Transport, query: GraphQuery, url: str, params: Mapping[str, Any], first_page: bool
) -> tuple[requests.Response, Optional[object]]:
    """One page of the query, and the refusal it met (None: an answer to read); the error handler lets through only
    the refusals the query expects of that page."""
    expected = partial(query.refusal_of, first_page=first_page)
    response = transport.send(query, url, params, expected)
    return response, expected(response)


def filtered(read: Read, keep: Callable[[Record], bool]) -> Read:
    """The records of `read` that `keep` accepts, then its outcome: for a caller that emits fewer of a query's records
    than the query's own read admits (a sign-in that an earlier split query already emitted)."""
    while True:
        try:
            record = next(read)
        except StopIteration as end:
            return end.value
        if keep(record):
            yield record
