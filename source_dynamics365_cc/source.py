"""The Airbyte source: spec, check, discover and read for users, sign_ins and subscribed_skus.

`users` and `subscribed_skus` are read one page after another; `sign_ins` is read as time windows
in the CDK's concurrent framework, paced by one shared throttle, with the ConcurrentCursor merging
the finished windows into the state `{"createdDateTime": ...}`.
"""

import logging
from datetime import datetime, timezone
from typing import Any, List, Mapping, Optional, Tuple

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message.repository import InMemoryMessageRepository
from airbyte_cdk.sources.streams import Stream

from .auth import GraphAuthenticator, GraphTokenProvider
from .check import check_connection
from .config import ConnectorConfig, parse_config
from .streams import SignIns, SubscribedSkus, Users
from .throttle import GraphApiBudget, SlidingWindowPacer, is_sign_in_request
from .windows import sign_in_cursor

logger = logging.getLogger("airbyte")


class SourceDynamics365Cc(ConcurrentSourceAdapter):
    """Dynamics 365 license usage from Microsoft Graph, with an app registration's client credentials."""

    message_repository = InMemoryMessageRepository()

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        workers = _workers(config)
        concurrent_source = ConcurrentSource.create(workers, 1, logger, self._slice_logger, self.message_repository)
        super().__init__(concurrent_source)
        self._catalog = catalog
        self._state = state
        self._sync_end = datetime.now(timezone.utc)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        parsed = parse_config(config, logger=logger)
        check_connection(parsed, GraphTokenProvider(parsed, logger))
        return True, None

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        parsed = parse_config(config, now=self._sync_end, logger=logger)
        provider = GraphTokenProvider(parsed, logger)
        authenticator = GraphAuthenticator(provider)
        return [
            Users(parsed, authenticator, logger=logger),
            self._sign_ins(parsed, authenticator),
            SubscribedSkus(parsed, authenticator, logger=logger),
        ]

    def _sign_ins(self, config: ConnectorConfig, authenticator: GraphAuthenticator) -> Stream:
        pacer = SlidingWindowPacer(config.sign_in_requests_per_10_seconds)
        stream = SignIns(config, authenticator, api_budget=GraphApiBudget(pacer, is_sign_in_request), logger=logger)
        state_manager = ConnectorStateManager(state=self._state)
        cursor = sign_in_cursor(
            stream, config, state_manager, self.message_repository, sync_end=self._sync_end, logger=logger
        )
        return self.convert_to_concurrent_stream(logger, stream, state_manager, cursor)


def _workers(config: Optional[Mapping[str, Any]]) -> int:
    """Concurrency from the config when it is valid; any problem is reported later by parse_config."""
    value = (config or {}).get("max_concurrency", 3)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        return 3
    return value
