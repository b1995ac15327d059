"""`GraphStream`: what every Graph collection shares (base URL, errors, retries, the skip of an optional stream the
app may not read), and how it reads a slice: as the slice's `GraphQuery` (query.py), on the road (road.py).

Each query is sent on a session paced by the budget of its own limits (`GraphApiBudget.for_limits`); the sessions of
one stream share one connection pool."""

import logging
from abc import ABC
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, List, Mapping, MutableMapping, Optional
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import ConfiguredAirbyteStream, SyncMode
from airbyte_cdk.sources.http_config import MAX_CONNECTION_POOL_SIZE
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget, APIBudget, LimiterSession
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpClient, HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler

from ..auth.deadline import within
from ..auth.permissions import (
    NOT_GRANTED,
    StreamPermissions,
    optional_permissions,
    optional_stream_skipped,
    refused_by_graph,
    stream_permissions,
)
from ..auth.tokens import GraphAuthenticator
from ..config import ConnectorConfig
from .answers import GraphErrorHandler, graph_error
from .concealed import ConcealedUserFilter
from .dropped import DroppedRecords
from .pages import graph_page
from .query import ExpectedRefusal, GraphQuery
from .road import Paginator, Read, Record, ask, read_query
from .throttle import GraphApiBudget, GraphLimit, RetryAfterBackoff

# The header of Graph's advanced queries on directory objects (https://learn.microsoft.com/graph/aad-advanced-queries):
# `$count` needs it, and every default query also works with it.
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
CONNECT_TIMEOUT_SECONDS = 15
READ_TIMEOUT_SECONDS = 120
# The one try an estimate gets (`count`), connection, token and answer included.
COUNT_SECONDS = 10.0
# What sends a query's requests: its error handler, given the query and the refusals it expects of the page.
Answers = Callable[[GraphQuery, ExpectedRefusal], ErrorHandler]


@dataclass(frozen=True)
class OptionalStreamRefusal:
    """Graph answered 403 to a query of an optional stream, in Graph's words (`said`): the stream is skipped."""

    said: str


def optional_stream_refusal(response: requests.Response) -> Optional[OptionalStreamRefusal]:
    """The refusal every query of an optional stream expects: a 403, to any page."""
    if response.status_code != 403:
        return None
    return OptionalStreamRefusal(graph_error(response)[1])


class GraphStream(HttpStream, ABC):
    """A Graph collection (v1.0 unless a stream says otherwise): each slice one query, read page by page through
    `@odata.nextLink`, followed exactly as given."""

    primary_key = "id"
    raise_on_http_errors = True
    api_version = "v1.0"
    # The collection's path under the API version, such as "users": each stream names its own, and check probes it.
    collection = ""
    # What a failed read's message says the next sync does; the streams word it (streams/restarts.py).
    resume_note: str
    # The documented throttling limits every request of the stream's queries counts against (limits.py).
    limits: tuple[GraphLimit, ...] = ()
    # The stream whose permissions (auth/permissions.py) cover this one's queries, when not its own.
    covered_as: Optional[str] = None

    def __init__(
        self,
        config: ConnectorConfig,
        authenticator: GraphAuthenticator,
        api_budget: Optional[GraphApiBudget] = None,
        logger: Optional[logging.Logger] = None,
        dropped: Optional[DroppedRecords] = None,
        answers: Optional[Answers] = None,
        backoff: Optional[BackoffStrategy] = None,
    ) -> None:
        """`api_budget` paces every query by its limits (None: unpaced). `dropped` counts the records Graph should not
        have sent; the source reports them when the sync ends. `answers` (the handler of a query's answers) and
        `backoff` replace the stream's own on its road: `check` sends the streams' queries with its own deadline and
        wording."""
        self._config = config
        self._graph_auth = authenticator
        self._dropped = dropped or DroppedRecords()
        self._log = logger or logging.getLogger("airbyte")
        self._graph_netloc = urlsplit(config.graph_url).netloc
        self._concealed = ConcealedUserFilter(config.exclude_concealed_users)
        self._answers = answers or self._error_handler
        self._backoff = backoff
        self._skipped = False
        super().__init__(authenticator=authenticator)
        self._budget = api_budget
        self._pool = graph_pool()
        self._sessions: dict[tuple[GraphLimit, ...], requests.Session] = {}
        # No resumable full refresh: a saved skiptoken expires, so a retried sync must start the collection
        # again. The sign-in stream gets its window cursor from the source instead.
        self.cursor = None

    @property
    def is_resumable(self) -> bool:
        return self.supports_incremental

    @property
    def url_base(self) -> str:
        return f"{self._config.graph_url}/{self.api_version}/"

    def get_error_handler(self) -> Optional[ErrorHandler]:
        return GraphErrorHandler(self._log, self.resume_note, permission=self.permission)

    def _error_handler(self, query: GraphQuery, expected: ExpectedRefusal) -> GraphErrorHandler:
        """The handler of this stream's answers to `query`; `expected` lets through the refusals it handles itself."""
        return GraphErrorHandler(
            self._log, self.resume_note, expected=expected, permission=query.permission, entity=query.entity
        )

    @property
    def permission(self) -> Optional[StreamPermissions]:
        """The application permissions that let this stream read (auth/permissions.py)."""
        return stream_permissions(self.covered_as or self.name)

    def query(self, params: Optional[Mapping[str, Any]] = None, **fields: Any) -> GraphQuery:
        """A query of this stream's collection (unless `fields` say otherwise): under its API version, counted against
        its limits, covered by its permission and, for an optional stream, ended by Graph's 403 as a skip."""
        optional = (optional_stream_refusal,) if optional_permissions(self.name) is not None else ()
        fields.setdefault("collection", self.collection)
        fields.setdefault("api_version", self.api_version)
        fields.setdefault("limits", self.limits)
        fields.setdefault("permission", self.permission)
        fields["refusals"] = (*fields.get("refusals", ()), *optional)
        return GraphQuery(params=params or {}, **fields)

    def read(  # type: ignore[override]  # the CDK's own signature leaves the state manager untyped
        self,
        configured_stream: ConfiguredAirbyteStream,
        logger: logging.Logger,
        slice_logger: Any,
        stream_state: MutableMapping[str, Any],
        state_manager: Any,
        internal_config: Any,
    ) -> Iterable[StreamData]:
        """An optional stream the app may not read (auth/permissions.py) is skipped with one warning, and the sync
        goes on green: before any request when the token lacks its permission, or at Graph's 403 (a refusal its
        queries expect, `read_query`). Streams read one page after another only: the concurrent sign-in streams are
        required (`check` fails without them)."""
        permissions = optional_permissions(self.name)
        if permissions is not None and not permissions.covered_by(self._graph_auth.roles()):
            self._log.warning(optional_stream_skipped(permissions, NOT_GRANTED))
            return
        self._skipped = False
        if not self.read_starts():
            return
        yield from super().read(configured_stream, logger, slice_logger, stream_state, state_manager, internal_config)
        self.read_ended()

    def read_starts(self) -> bool:
        """A stream's own start of a read (its per-sync counters), or False to read nothing (saying why)."""
        return True

    def read_ended(self) -> None:
        """A stream's own end of a read that went through (what it says about what it found)."""

    def get_backoff_strategy(self) -> Optional[BackoffStrategy]:
        return RetryAfterBackoff(self.resume_note)

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"timeout": (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)}

    def path(self, **kwargs: Any) -> str:
        return self.collection

    def probe(self, query: GraphQuery) -> tuple[requests.Response, Optional[object]]:
        """The query's first page alone, sent as the stream sends its pages (`send`), and the refusal it met there
        (None: a page to read): for a request outside a read (the density probe, the SKU list of the license queries,
        `check`)."""
        return ask(self, query, query.url(self.graph_url), query.params, first_page=True)

    def count(self) -> requests.Response:
        """`<collection>/$count` (an advanced query, the only kind in which Graph counts directory objects) in one
        short try: one request, no retry, `COUNT_SECONDS` in all. An estimate is worth seconds, never a read's retry
        budget (a count endpoint answering 503 once cost a read over four minutes); progress.py goes on without it. Sent
        on the stream's own session (its connection pool and budget), without the handler's retries."""
        url = f"{self.url_base}{self.collection}/$count"
        return within(
            COUNT_SECONDS,
            lambda: self._session_for(()).get(
                url, headers=ADVANCED_QUERY, auth=self._graph_auth, timeout=(CONNECT_TIMEOUT_SECONDS, COUNT_SECONDS)
            ),
            f"{self.name}-count",
        )

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        """Not the CDK's paging: a query's pages are read on the road (`read_query`), its nextLinks checked there."""
        return None

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        """A slice's records: the one way a stream reads, whatever its slices are (a SKU, a window); none once an
        optional stream was refused."""
        if not self._skipped:
            yield from self.slice_records(stream_slice or {})

    def slice_records(self, stream_slice: Mapping[str, Any]) -> Iterator[StreamData]:
        """The records of the slice's query, read on the road. A stream whose slices take more (a fallback after a
        refusal, a split query) says so here."""
        yield from self.read_query(self.query_of(stream_slice))

    def query_of(self, stream_slice: Mapping[str, Any]) -> GraphQuery:
        """The slice's query: by default the whole collection (a stream that slices says what each slice asks)."""
        return self.query()

    def read_query(self, query: GraphQuery, keep: Callable[[Record], bool] = lambda record: True) -> Read:
        """The query's records, read on the road (graph/road.py); returns None, or the refusal that ended it. An
        optional stream's refusal ends the stream instead, with its one warning."""
        outcome = yield from read_query(self, query, keep)
        if isinstance(outcome, OptionalStreamRefusal):
            self._skip(refused_by_graph(outcome.said))
            return None
        return outcome

    def _skip(self, why: str) -> None:
        permissions = optional_permissions(self.name)
        if permissions is not None and not self._skipped:
            self._log.warning(optional_stream_skipped(permissions, why))
        self._skipped = True

    @property
    def graph_url(self) -> str:
        return self._config.graph_url

    def send(
        self, query: GraphQuery, url: str, params: Mapping[str, Any], expected: ExpectedRefusal
    ) -> requests.Response:
        """One request of `query`, with its headers and its method and JSON body (a create: one POST, no nextLink), through an HttpClient on the session of the query's limits (the
        stream's connections, its budget and token) whose error handler lets through the answers `expected` claims:
        the refusals the query expects of this page."""
        client = HttpClient(
            name=self.name,
            logger=self.logger,
            error_handler=self._answers(query, expected),
            session=self._session_for(query.limits),
            authenticator=self._graph_auth,
            backoff_strategy=self._backoff or self.get_backoff_strategy(),
            message_repository=InMemoryMessageRepository(),
        )
        _, response = client.send_request(
            query.method,
            url,
            request_kwargs=self.request_kwargs(),
            headers=dict(query.headers),
            params=dict(params),
            json=dict(query.body) if query.body is not None else None,
            dedupe_query_params=True,
        )
        return response

    def _session_for(self, limits: tuple[GraphLimit, ...]) -> requests.Session:
        """The session of the queries counted against `limits`: paced by their pacers in the budget, on the stream's
        connection pool. Built once per set of limits (workers that race here get the same session)."""
        session = self._sessions.get(limits)
        if session is None:
            paced = self._budget.for_limits(limits) if self._budget is not None else APIBudget(policies=[])
            session = self._sessions.setdefault(limits, graph_session(paced, self._pool))
        return session

    def paginator(self) -> Paginator:
        return Paginator(self._graph_netloc, self.name)

    def records(self, response: requests.Response) -> Iterable[Record]:
        return self.parse_response(response)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        records = graph_page(response)["value"]
        yield from self._concealed.keep(records)


def graph_pool() -> requests.adapters.HTTPAdapter:
    """A stream's connection pool, as large as the CDK's, shared by the sessions of its queries."""
    return requests.adapters.HTTPAdapter(
        pool_connections=MAX_CONNECTION_POOL_SIZE, pool_maxsize=MAX_CONNECTION_POOL_SIZE
    )


def graph_session(api_budget: AbstractAPIBudget, pool: requests.adapters.HTTPAdapter) -> requests.Session:
    """A session as the CDK's HttpClient builds one, paced by `api_budget`, on the stream's connection `pool`."""
    session = LimiterSession(api_budget=api_budget)
    session.mount("https://", pool)
    return session
