"""`GraphStream`: what every Graph collection shares (base URL, `@odata.nextLink` paging, errors, retries, and the
skip of an optional stream the app may not read)."""

import logging
import threading
from abc import ABC
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import ConfiguredAirbyteStream, FailureType, SyncMode
from airbyte_cdk.sources.streams.call_rate import AbstractAPIBudget
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.utils import requote_uri

from ..auth.deadline import within
from ..auth.permissions import NOT_GRANTED, optional_permissions, optional_stream_skipped, refused_by_graph
from ..auth.tokens import GraphAuthenticator
from ..config import ConnectorConfig
from ..errors import OptionalStreamRefused
from .answers import GraphErrorHandler, graph_error
from .concealed import ConcealedUserFilter
from .dropped import DroppedRecords
from .pages import graph_page
from .throttle import RetryAfterBackoff

NEXT_LINK = "@odata.nextLink"
# The header of Graph's advanced queries on directory objects (https://learn.microsoft.com/graph/aad-advanced-queries):
# `$count` needs it, and every default query also works with it.
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
CONNECT_TIMEOUT_SECONDS = 15
READ_TIMEOUT_SECONDS = 120
# The one try an estimate gets (`count`), connection, token and answer included.
COUNT_SECONDS = 10.0


class GraphStream(HttpStream, ABC):
    """A Graph collection (v1.0 unless a stream says otherwise) read page by page through `@odata.nextLink`, followed exactly as given."""

    primary_key = "id"
    raise_on_http_errors = True
    api_version = "v1.0"
    # The collection's path under the API version, such as "users": each stream names its own, and check probes it.
    collection = ""
    # What a failed read's message says the next sync does; the streams word it (streams/restarts.py).
    resume_note: str

    def __init__(
        self,
        config: ConnectorConfig,
        authenticator: GraphAuthenticator,
        api_budget: Optional[AbstractAPIBudget] = None,
        logger: Optional[logging.Logger] = None,
        dropped: Optional[DroppedRecords] = None,
    ) -> None:
        """`dropped` counts the records Graph should not have sent; the source reports them when the sync ends."""
        self._config = config
        self._graph_auth = authenticator
        self._dropped = dropped or DroppedRecords()
        self._log = logger or logging.getLogger("airbyte")
        self._graph_netloc = urlsplit(config.graph_url).netloc
        self._concealed = ConcealedUserFilter(config.exclude_concealed_users)
        self._query_links = threading.local()  # `.seen`: the page URLs of the query this thread is reading
        super().__init__(authenticator=authenticator, api_budget=api_budget)  # type: ignore[arg-type]
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
        return GraphErrorHandler(self._log, self.resume_note, refusal=self._refused)

    def refusal(self, response: requests.Response) -> Optional[Exception]:
        """The exception for an answer this stream handles itself, which its read catches; None leaves the answer
        to graph/answers.py. The one way a stream refuses an answer: the error handler asks here first."""
        return None

    def _refused(self, response: requests.Response) -> Optional[Exception]:
        """The stream's own refusal first; then a 403 to an optional stream, which `read` skips."""
        refused = self.refusal(response)
        permissions = optional_permissions(self.name)
        if refused is None and permissions is not None and response.status_code == 403:
            return OptionalStreamRefused(
                optional_stream_skipped(permissions, refused_by_graph(graph_error(response)[1]))
            )
        return refused

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
        goes on green: before any request when the token lacks its permission, or at Graph's 403. Streams read one
        page after another only: the concurrent sign-in streams are required (`check` fails without them)."""
        permissions = optional_permissions(self.name)
        if permissions is not None and not permissions.covered_by(self._graph_auth.roles()):
            self._log.warning(optional_stream_skipped(permissions, NOT_GRANTED))
            return
        try:
            yield from super().read(
                configured_stream, logger, slice_logger, stream_state, state_manager, internal_config
            )
        except OptionalStreamRefused as refused:
            self._log.warning(str(refused))

    def get_backoff_strategy(self) -> Optional[BackoffStrategy]:
        return RetryAfterBackoff(self.resume_note)

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"timeout": (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)}

    def path(self, *, next_page_token: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> str:
        if next_page_token:
            return str(next_page_token["next_link"])
        return self.collection

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        """Only the first page takes parameters: a nextLink already carries them, and repeating one is a 400."""
        if next_page_token:
            return {}
        return self.first_page_params(stream_slice or {})

    def first_page_params(self, stream_slice: Mapping[str, Any]) -> MutableMapping[str, Any]:
        return {}

    def first_page(
        self, params: Mapping[str, Any], collection: Optional[str] = None, headers: Optional[Mapping[str, str]] = None
    ) -> requests.Response:
        """The first page of the collection (this stream's, or `collection`) with `params`, sent as the stream sends
        its pages: through the stream's HttpClient, with its error handler, Retry-After backoff, budget and token.
        For a request outside a read (the density probe, the SKU list of the license queries). The CDK keeps
        that client in HttpStream._http_client, used here only (pinned by unit_tests/test_cdk_contract.py)."""
        _, response = self._http_client.send_request(
            "GET",
            f"{self.url_base}{collection or self.collection}",
            request_kwargs=self.request_kwargs(),
            params=dict(params),
            headers=dict(headers or {}),
        )
        return response

    def count(self) -> requests.Response:
        """`<collection>/$count` (an advanced query, the only kind in which Graph counts directory objects) in one
        short try: one request, no retry, `COUNT_SECONDS` in all. An estimate is worth seconds, never a read's retry
        budget (a count endpoint answering 503 once cost a read over four minutes); progress.py goes on without it."""
        url = f"{self.url_base}{self.collection}/$count"
        return within(
            COUNT_SECONDS,
            lambda: requests.get(
                url, headers=ADVANCED_QUERY, auth=self._graph_auth, timeout=(CONNECT_TIMEOUT_SECONDS, COUNT_SECONDS)
            ),
            f"{self.name}-count",
        )

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        link = graph_page(response).get(NEXT_LINK)
        if not link:
            return None
        self._refuse_foreign_link(str(link))
        self._refuse_repeated_link(response.request.url, requote_uri(str(link)))
        return {"next_link": link}

    def _refuse_repeated_link(self, page_url: Optional[str], link: str) -> None:
        """A query whose next link names a page it already read would go round forever, emitting the same records
        each time: a cycle of any length (A, B, A) ends the query."""
        seen = self._query_links.seen
        seen.add(str(page_url))
        if link in seen:
            raise AirbyteTracedException(
                message=(
                    f"Microsoft Graph repeated a page link while reading the {self.name} stream (the same page link "
                    "twice in one query); stopping to avoid an endless loop. Run the sync again later."
                ),
                failure_type=FailureType.system_error,
            )

    def _refuse_foreign_link(self, link: str) -> None:
        """Never follow a link to another host: the request would carry our token there."""
        parts = urlsplit(link)
        if parts.scheme != "https" or parts.netloc != self._graph_netloc:
            raise AirbyteTracedException(
                message=(
                    f"Microsoft Graph returned a next-page link to another host ({parts.scheme}://{parts.hostname}); "
                    "refusing to send the access token there."
                ),
                failure_type=FailureType.system_error,
            )

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        """One query, first page to last. The links it has read are kept per thread: the sign-in windows of one
        stream are read by several workers at once, each its own query."""
        self._query_links.seen = set()
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        records = graph_page(response)["value"]
        yield from self._concealed.keep(records)
