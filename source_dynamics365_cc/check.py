"""`check`: prove that a sync will work, or say in an admin's words why it will not.

In order: the configuration, a token (secret, tenant, app, consent), the token's application
permissions, then one cheap call to each Graph resource the streams read: each stream's own first query
(the sign-ins' over the last hour) narrowed to one record. An optional stream (`groups`, `subscriptions`,
`directory_role_assignments`, `dynamics_activity`) never fails check: without its permission, or
when Graph refuses its probe, check passes with a warning, as a sync skips it with one. The opt-in `dynamics_activity`
is checked by the token's roles only (`ACTIVITY_NOT_PROBED` says why), and outside the global cloud is a warning. Each failure raises
`ConfigError`/`TokenError`/`GraphUnavailable` with its message.

The calls take the streams' own road (`GraphStream.probe`): their HttpClient, Retry-After backoff, request
budget and authenticator, with check's error handler and wait limit. A busy tenant (another tool on the same app) is waited
out, each wait logged, since *Set up source* in the Airbyte UI must not fail at random; a host that
cannot be reached or trusted, or a fresh token refused, fails at once. The whole check has one deadline
(the runtime's `deadline_seconds`, 60 s): the token request, the waits and the probes share it, and a host
still silent or trickling when it passes is named in a sentence (auth/deadline.py).
"""

import logging
from typing import Any, Optional, TypeVar, Union
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from .auth.deadline import Deadline, within
from .auth.permissions import (
    LEAVE_DATES,
    NOT_GRANTED,
    PERMISSIONS_HINT,
    StreamPermissions,
    forbidden_message,
    leave_dates_unread,
    missing_permissions_message,
    optional_stream_refused,
    optional_stream_warning,
    optional_streams,
    refused_by_graph,
    stream_permissions,
)
from .auth.tokens import GraphAuthenticator, GraphTokenProvider, token_roles
from .config import ConnectorConfig
from .errors import ConfigError, DeadlinePassed, FilterRefused, GraphUnavailable, TokenError, WaitLimitReached
from .graph.answers import GraphErrorHandler
from .graph.pages import graph_page
from .graph.query import ExpectedRefusal, GraphQuery
from .graph.stream import GraphStream, OptionalStreamRefusal
from .graph.throttle import RetryAfterBackoff, WaitLimit
from .runtime import MACHINE, Runtime
from .signins.refusal import FILTER_REFUSED
from .streams import DirectoryRoleAssignments, DynamicsActivity, Groups, SubscribedSkus, Subscriptions, Users
from .streams.dynamics_activity import NATIONAL_CLOUD
from .streams.licenses import dynamics_skus
from .streams.restarts import RESUME_NOTE
from .streams.sign_ins import SIGN_IN_LOG_LEFT_OUT, sign_in_kinds
from .streams.users import FieldRefusal

# Why check sends no audit log query: a create is one of the tenant's daily submissions (at least 200) and takes
# minutes to run, past check's one-minute deadline. The token's role proves the permission; a sync warns when it
# finds no record in a day or more (streams/dynamics_activity.py `no_activity_warning`).
ACTIVITY_NOT_PROBED = (
    "dynamics_activity: the app holds an audit log query permission; check creates no audit log query (each one "
    "takes minutes and counts against the tenant's daily allowance). A sync warns if Purview holds no Dynamics 365 "
    "record for a day or more: Dataverse activity logging must be on for each production environment."
)
StreamKind = TypeVar("StreamKind", bound=GraphStream)
# The optional streams check probes with their whole first query (`probe_optional`).
OPTIONAL_WHOLE: dict[str, type[GraphStream]] = {
    Subscriptions.name: Subscriptions,
    DirectoryRoleAssignments.name: DirectoryRoleAssignments,
}


def check_roles(roles: list[str], left_out: tuple[str, ...] = ()) -> None:
    """Fail, naming per stream what is missing, unless the token's application permissions (`roles`) cover every
    stream the configuration reads (all but `left_out`)."""
    missing = missing_permissions_message(roles, left_out)
    if missing:
        raise ConfigError(f"{missing} {PERMISSIONS_HINT}")


class CheckErrorHandler(ErrorHandler):
    """The streams' `GraphErrorHandler` on check's probes, but what check cannot fix by waiting fails at once in check's words:
    an unreachable or untrusted host, and a 401 to a token issued a moment ago (a cloud mismatch). A 429 is
    retried like a 503, without the CDK's rate-limit status message, which belongs to a sync."""

    def __init__(
        self,
        config: ConnectorConfig,
        logger: logging.Logger,
        seconds: float,
        query: GraphQuery,
        expected: ExpectedRefusal,
    ) -> None:
        """`seconds` is the time check has left: it decides when check stops waiting, never the retry count (each
        wait is at least a second). `expected` are the refusals the probe's `query` handles itself (graph/query.py)."""
        self._graph = GraphErrorHandler(
            logger,
            RESUME_NOTE,
            max_retries=int(seconds) + 1,
            expected=expected,
            permission=query.permission,
            entity=query.entity,
        )
        self._graph_url = config.graph_url

    @property
    def max_retries(self) -> Optional[int]:
        return self._graph.max_retries

    @property
    def max_time(self) -> Optional[int]:
        return self._graph.max_time

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]] = None
    ) -> ErrorResolution:
        if isinstance(response_or_exception, requests.exceptions.SSLError):
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                f"The TLS certificate of {self._graph_url} is not trusted: check 'graph_endpoint'.",
            )
        if isinstance(response_or_exception, requests.RequestException) and not isinstance(
            response_or_exception,
            requests.exceptions.ContentDecodingError,  # a corrupted answer: retried as in a sync
        ):
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.transient_error,
                f"Cannot reach Microsoft Graph at {self._graph_url}: check the network, 'cloud' and 'graph_endpoint'.",
            )
        resolution = self._graph.interpret_response(response_or_exception)
        if resolution.response_action == ResponseAction.REFRESH_TOKEN_THEN_RETRY:
            return ErrorResolution(
                ResponseAction.FAIL,
                FailureType.config_error,
                f"Microsoft Graph at {self._graph_url} rejected a token just issued for it (HTTP 401): check that "
                "'cloud', 'login_endpoint' and 'graph_endpoint' name the same Microsoft cloud; if they do, a new app's "
                "permissions can take a few minutes to apply, so check again later.",
            )
        if resolution.response_action == ResponseAction.RATE_LIMITED:
            return ErrorResolution(ResponseAction.RETRY, resolution.failure_type, resolution.error_message)
        return resolution


def send_probe(stream: GraphStream, query: GraphQuery) -> tuple[requests.Response, Optional[object]]:
    """The query's first page on the stream's road (`GraphStream.probe`), and the refusal it expects that Graph
    answered (None: a page); anything else but success becomes a clear failure in check's words."""
    try:
        return stream.probe(query)
    except WaitLimitReached as spent:
        raise GraphUnavailable(
            f"Microsoft Graph is busy or unavailable (HTTP {spent.status}) and stayed so through "
            f"{spent.waited:.0f} s of waiting; try again in a few minutes."
        ) from None
    except (ConfigError, TokenError, GraphUnavailable):
        raise
    except AirbyteTracedException as error:
        raise _plain(error) from None


def _plain(error: AirbyteTracedException) -> AirbyteTracedException:
    """The HttpClient's failure, with its own message, as check's kind: the CDK reports only config errors as
    a FAILED status, and anything else would end `check` with a traceback."""
    message = error.message or "The connection check failed."
    if error.failure_type == FailureType.config_error:
        return ConfigError(message)
    return GraphUnavailable(message)


def check_connection(
    config: ConnectorConfig,
    provider: GraphTokenProvider,
    logger: Optional[logging.Logger] = None,
    runtime: Runtime = MACHINE,
) -> None:
    """Raise on the first problem found; return quietly when every stream can be read, all within the runtime's
    deadline. `runtime` gives the clock, the request pacers and the deadline (tests pass their own)."""
    logger = logger or logging.getLogger("airbyte")
    deadline = Deadline(runtime.deadline_seconds)
    roles = token_roles(provider.token(deadline.remaining()))
    check_roles(roles, () if config.include_sign_in_log else ("sign_ins",))
    try:
        within(
            deadline.remaining(), lambda: _probe_streams(config, provider, logger, runtime, roles, deadline), "check"
        )
    except DeadlinePassed:
        raise GraphUnavailable(
            f"{urlsplit(config.graph_url).netloc} did not answer within {deadline.seconds:.0f} s (Microsoft Graph at "
            f"{config.graph_url} kept the connection open without a complete answer). Check the network and any proxy "
            "between this machine and Microsoft Graph, and 'cloud' and 'graph_endpoint'; then try again."
        ) from None


class CheckStreams:
    """The streams check probes, built as a sync builds them but sending on check's terms: one `CheckErrorHandler`
    and `WaitLimit` per probe (the time check has left, `seconds`, bounds every wait of all of them), and the one
    request budget (every documented Graph limit) from the runtime, as a sync's."""

    def __init__(
        self,
        config: ConnectorConfig,
        provider: GraphTokenProvider,
        logger: logging.Logger,
        runtime: Runtime,
        seconds: float,
    ) -> None:
        backoff = WaitLimit(RetryAfterBackoff(RESUME_NOTE), seconds, logger)
        self._terms: dict[str, Any] = {
            "authenticator": GraphAuthenticator(provider),
            "api_budget": runtime.budget(config.sign_in_requests_per_10_seconds),
            "logger": logger,
            "answers": lambda query, expected: CheckErrorHandler(config, logger, seconds, query, expected),
            "backoff": backoff,
        }
        self._config = config

    def build(self, kind: type[StreamKind]) -> StreamKind:
        """A stream of `kind` on check's terms."""
        return kind(self._config, **self._terms)


def _probe_streams(
    config: ConnectorConfig,
    provider: GraphTokenProvider,
    logger: logging.Logger,
    runtime: Runtime,
    roles: list[str],
    deadline: Deadline,
) -> None:
    """One probe per stream the configuration reads, each the first page of the stream's own first query narrowed to
    one record, in the time `deadline` leaves."""
    streams = CheckStreams(config, provider, logger, runtime, deadline.remaining())
    sku_stream = streams.build(SubscribedSkus)
    response, _ = send_probe(sku_stream, sku_stream.query_of({}))
    skus = graph_page(response).get("value") or []
    probe_users(streams.build(Users), roles, logger)
    if config.include_sign_in_log:
        probe_sign_ins(config, streams, runtime)
    else:
        logger.warning(SIGN_IN_LOG_LEFT_OUT)
    readable, unreadable = optional_streams(roles)
    if not config.include_dynamics_activity:
        readable, unreadable = _offered(readable), _offered(unreadable)
    elif config.cloud != "global":
        logger.warning(NATIONAL_CLOUD.format(cloud=config.cloud))
        readable, unreadable = _offered(readable), _offered(unreadable)
    for stream in unreadable:
        logger.warning(optional_stream_warning(stream))
    sku_ids = [*dynamics_skus(skus), *config.roster_sku_ids]
    if any(stream.stream == DynamicsActivity.name for stream in readable):
        logger.info(ACTIVITY_NOT_PROBED)
    for stream in readable:
        try:
            refusal = probe_optional(streams, stream.stream, sku_ids)
        except (ConfigError, GraphUnavailable) as failed:
            refusal = failed.message or "no answer"
        if refusal is not None:
            logger.warning(optional_stream_refused(stream, refusal))


def probe_users(users: Users, roles: list[str], logger: logging.Logger) -> None:
    """The roster's own first query for one user. A refused field is no failure: a sync goes on without it. Leave
    dates, which the query selects only with their permission, are said missing (an info line) or, where Graph
    refuses them, refused (a warning)."""
    roster = users.roster_query({"sku_id": None})
    _, refusal = send_probe(users, users.graph_query(roster).narrowed())
    if not LEAVE_DATES.covered_by(roles):
        logger.info(leave_dates_unread(NOT_GRANTED))
    elif isinstance(refusal, FieldRefusal) and not roster.activity:  # with signInActivity, a sync blames that first
        logger.warning(leave_dates_unread(refused_by_graph(refusal.said)))


def probe_optional(streams: CheckStreams, name: str, sku_ids: list[str]) -> Optional[str]:
    """The optional stream `name`'s first query, as a sync sends it; `groups` narrowed to one group (`probe_groups`),
    `subscriptions` and `directory_role_assignments` whole (their lists document no `$top`, and are short); another
    optional stream is judged by its permission alone. Returns why Graph refused it (a 403, which a sync skips the
    stream for), or None."""
    if name == Groups.name:
        return probe_groups(streams.build(Groups), sku_ids)
    kind = OPTIONAL_WHOLE.get(name)
    if kind is None:
        return None
    stream = streams.build(kind)
    return refused(stream, stream.query_of({}))


def _offered(streams: list[StreamPermissions]) -> list[StreamPermissions]:
    """The optional streams but dynamics_activity, which the configuration does not offer (or cannot, outside the
    global cloud)."""
    return [stream for stream in streams if stream.stream != DynamicsActivity.name]


def probe_groups(groups: Groups, sku_ids: list[str]) -> Optional[str]:
    """One group assigning the first Dynamics 365 SKU, asked as a sync asks (an advanced query); a tenant without such
    a SKU has no group to name, and is asked for any one group."""
    query = groups.query_of({"sku_id": sku_ids[0]}) if sku_ids else groups.any_group_query()
    return refused(groups, query.narrowed())


def refused(stream: GraphStream, query: GraphQuery) -> Optional[str]:
    """Check's sentence for Graph's 403 to an optional stream's probe, naming the stream's permission; None when
    Graph answered."""
    _, refusal = send_probe(stream, query)
    if isinstance(refusal, OptionalStreamRefusal):
        return forbidden_message(stream_permissions(stream.name), refusal.said)
    return None


def probe_sign_ins(config: ConnectorConfig, streams: CheckStreams, runtime: Runtime) -> None:
    """The last hour of each sign-in stream the config offers, with the sync's own query (`SignIns.recent_query`);
    where Graph refuses its `or`, with one term, as a sync would then read it. Beta's non-interactive sign-ins only
    when opted in."""
    now = runtime.now()
    for kind in sign_in_kinds(config):
        stream = streams.build(kind)
        for first_term_only in (False, True):
            _, refusal = send_probe(stream, stream.recent_query(now, first_term_only))
            if not isinstance(refusal, FilterRefused):
                break
            if first_term_only or not stream.combines_applications():
                raise ConfigError(refusal.explained().message or FILTER_REFUSED)
