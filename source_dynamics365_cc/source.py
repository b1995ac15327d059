"""The Airbyte source: spec, check, discover and read for users, the sign-in streams, subscribed_skus, groups,
subscriptions and directory_role_assignments.

`users`, `subscribed_skus`, `groups`, `subscriptions` and `directory_role_assignments` are read one page after another; `sign_ins` is read as time windows
in the CDK's concurrent framework, paced by one shared throttle, with the ConcurrentCursor merging
the finished windows into the state `{"createdDateTime": ...}`.
"""

import logging
from dataclasses import replace
from datetime import datetime
from queue import Queue
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.abstract_source import AbstractSource
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.message.repository import InMemoryMessageRepository
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.concurrent.partitions.types import QueueItem
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .auth.tokens import GraphAuthenticator, GraphTokenProvider
from .check import check_connection
from .config import ConnectorConfig, integer_or_default, parse_config, register_secrets
from .errors import ConfigError, GraphUnavailable, TokenError
from .graph.dropped import DroppedRecords
from .graph.throttle import GraphApiBudget
from .runtime import MACHINE, Runtime
from .signins.cursor import sign_in_cursor
from .streams import DirectoryRoleAssignments, DynamicsActivity, Groups, SubscribedSkus, Subscriptions, Users
from .streams.licenses import LicensedSkus
from .streams.sign_ins import SignIns, sign_in_kinds
from .streams.subscribed_skus import ClassifiedSkus

logger = logging.getLogger("airbyte")
# About two pages of sign-ins. Workers block on a full queue, so memory stays flat however large the tenant;
# the main thread (serialising records) is the bottleneck, so the CDK's deeper 10,000 buys no speed and costs
# peak memory (measured by `make bench`: bench/RESULTS.md).
QUEUE_SIZE = 2_000


class SourceDynamics365Cc(ConcurrentSourceAdapter):
    """Dynamics 365 license usage from Microsoft Graph, with an app registration's client credentials."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        runtime: Runtime = MACHINE,
    ) -> None:
        """`runtime` gives the clock, the sleep and the sign-in pacer (tests and the benchmark pass their own)."""
        # A worker closes a window (and its cursor emits state) right after putting the window's last record
        # on the queue; state must travel on that same queue, or the main thread may print it first.
        queue: Queue[QueueItem] = Queue(maxsize=QUEUE_SIZE)
        self._messages = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        concurrent_source = ConcurrentSource.create(
            _workers(config), 1, logger, DebugSliceLogger(), self._messages, queue=queue
        )
        super().__init__(concurrent_source)
        self._catalog = catalog
        self._state = state
        self._runtime = runtime
        self._sync_end = runtime.now()
        self._dropped = DroppedRecords()
        self._built: Optional[tuple[Mapping[str, Any], List[Stream]]] = None

    @property
    def message_repository(self) -> MessageRepository:
        return self._messages

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        """A FAILED status with the admin's sentence for every problem, transient ones (unreachable hosts) too:
        the CDK turns only config errors into a status; anything else would end `check` with exit code 1."""
        parsed = _parsed(config, logger)
        try:
            provider = GraphTokenProvider(parsed, logger, self._runtime.sleep, self._runtime.deadline_seconds)
            check_connection(parsed, provider, logger, self._runtime)
        except (TokenError, GraphUnavailable) as error:
            raise ConfigError(error.message or "The connection check failed.") from None
        return True, None

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        """Every selected stream gets its turn even when another fails; the first failure ends the sync after.

        The CDK's adapter reads the concurrent streams first and stops at their failure, so a sign-in
        outage would also cost the roster and the SKUs. The records Graph should not have sent are reported
        once, at the end, however the sync ends.
        """
        try:
            yield from self._read_every_stream(logger, config, catalog, state)
        finally:
            self._dropped.report(logger)

    def _read_every_stream(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]],
    ) -> Iterator[AirbyteMessage]:
        concurrent_streams = self._select_abstract_streams(config, catalog)
        names = {stream.name for stream in concurrent_streams}
        incremental = {stream.name for stream in self.streams(config) if stream.supports_incremental}
        regular = _full_refresh_copy(
            [s for s in catalog.streams if s.stream.name not in names], logger, keep_incremental=incremental
        )
        failure: Optional[AirbyteTracedException] = None
        if regular.streams:
            try:
                yield from AbstractSource.read(self, logger, config, regular, state)
            except AirbyteTracedException as error:
                failure = error
        if concurrent_streams:
            yield from map(_masked, self._concurrent_source.read(concurrent_streams))
        if failure is not None:
            raise failure

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        """Built once per config: `read` asks twice (the CDK's adapter for the concurrent streams, then for the
        others), and one set of streams means one token provider and one request budget per sync."""
        if self._built is None or self._built[0] != config:
            self._built = (config, self.streams_for(_parsed(config, logger, now=self._sync_end)))
        return self._built[1]

    def streams_for(self, parsed: ConnectorConfig) -> List[Stream]:
        """The streams a parsed config offers, built (nothing is sent): `streams` and run.py's catalog check, which
        has parsed the config already."""
        authenticator = GraphAuthenticator(
            GraphTokenProvider(parsed, logger, self._runtime.sleep, self._runtime.deadline_seconds)
        )
        # Graph counts every sign-in request, v1.0 and beta alike, against one limit, and users pages that select
        # signInActivity against another: one budget for the sync, so each sum stays under its limit and a
        # Retry-After pauses every request under it.
        budget = self._runtime.budget(parsed.sign_in_requests_per_10_seconds)
        classified = ClassifiedSkus(logger, parsed.roster_sku_ids)  # the SKUs' classification, logged once a sync
        licensed = LicensedSkus(parsed.roster_sku_ids, classified)
        return [
            Users(
                parsed,
                authenticator,
                api_budget=budget,
                logger=logger,
                dropped=self._dropped,
                sleep=self._runtime.sleep,
                licensed=licensed,
            ),
            *(self._sign_ins(kind, parsed, authenticator, budget) for kind in sign_in_kinds(parsed)),
            SubscribedSkus(parsed, authenticator, logger=logger, dropped=self._dropped, classified=classified),
            Groups(parsed, authenticator, logger=logger, dropped=self._dropped, licensed=licensed),
            Subscriptions(parsed, authenticator, logger=logger, dropped=self._dropped),
            DirectoryRoleAssignments(parsed, authenticator, logger=logger, dropped=self._dropped),
            *self._dynamics_activity(parsed, authenticator),
        ]

    def _dynamics_activity(self, config: ConnectorConfig, authenticator: GraphAuthenticator) -> List[Stream]:
        """The opt-in stream, when the config asks for it."""
        if not config.include_dynamics_activity:
            return []
        return [
            DynamicsActivity(
                config,
                authenticator,
                logger=logger,
                dropped=self._dropped,
                sync_end=self._sync_end,
                sleep=self._runtime.sleep,
            )
        ]

    def _sign_ins(
        self, kind: type[SignIns], config: ConnectorConfig, authenticator: GraphAuthenticator, budget: GraphApiBudget
    ) -> Stream:
        stream = kind(config, authenticator, api_budget=budget, logger=logger, dropped=self._dropped)
        state_manager = ConnectorStateManager(state=self._state)
        cursor = sign_in_cursor(
            stream,
            config,
            state_manager,
            self.message_repository,
            sync_end=self._sync_end,
            logger=logger,
            in_full=read_in_full(self._catalog, stream.name),
            monotonic=self._runtime.monotonic,
        )
        return self.convert_to_concurrent_stream(logger, stream, state_manager, cursor)


def read_in_full(catalog: Optional[ConfiguredAirbyteCatalog], name: str) -> bool:
    """Whether the catalog configures the stream as full refresh. The sign-in streams always carry their window
    cursor, so the CDK would read them from the saved state in either mode; a full refresh must not."""
    return any(
        configured.stream.name == name and configured.sync_mode == SyncMode.full_refresh
        for configured in (catalog.streams if catalog else [])
    )


def _full_refresh_copy(
    streams: List[ConfiguredAirbyteStream], logger: logging.Logger, keep_incremental: Iterable[str] = ()
) -> ConfiguredAirbyteCatalog:
    """A catalog of copies of `streams`, each configured as full refresh but those named in `keep_incremental` (read
    one page after another with a cursor of their own: dynamics_activity); the caller's catalog is left as it is.
    The others have no cursor: one configured incremental is read in full, as the CDK reads any such stream.
    PyAirbyte, for one, configures every stream as incremental."""
    kept = set(keep_incremental)
    copies = []
    for configured in streams:
        if configured.sync_mode == SyncMode.incremental and configured.stream.name not in kept:
            logger.info(f"The stream {configured.stream.name} supports only full refresh; reading it in full.")
            configured = replace(configured, sync_mode=SyncMode.full_refresh)
        copies.append(configured)
    return ConfiguredAirbyteCatalog(streams=copies)


def _parsed(config: Mapping[str, Any], logger: logging.Logger, now: Optional[datetime] = None) -> ConnectorConfig:
    """The config's secrets registered with the log formatter, then the config checked: where the CDK's entrypoint
    registers the spec's secrets, once per command (`check`, or the streams `discover` and `read` build once)."""
    register_secrets(config)
    return parse_config(config, now=now, logger=logger)


def _workers(config: Optional[Mapping[str, Any]]) -> int:
    """Concurrency from the config when it is valid; any problem is reported later by parse_config."""
    return integer_or_default(config, "max_concurrency")


def _masked(message: AirbyteMessage) -> AirbyteMessage:
    """An error TRACE with every registered secret masked in its message, internal message and stack trace.

    The CDK sends a concurrent stream's failure as raised (`as_airbyte_message`, not the sanitized form it uses for
    the other streams), and Graph's or Entra's words quoted in it may echo what they were sent: the bearer token, the
    secret, a line of the key."""
    error = message.trace.error if message.type == Type.TRACE and message.trace is not None else None
    if error is not None:
        error.message = filter_secrets(error.message) if error.message else error.message
        error.internal_message = filter_secrets(error.internal_message) if error.internal_message else None
        error.stack_trace = filter_secrets(error.stack_trace) if error.stack_trace else None
    return message
