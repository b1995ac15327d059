"""The CDK internals this connector leans on, pinned: setup.py allows any airbyte-cdk 7.x, and a minor release may
rename a private. Each test names the connector module that uses it, so a failure says where to look.

- cursor.SignInWindowCursor sets ConcurrentCursor._slice_range (the window length, chosen when a read starts)
  and rewrites ConcurrentCursor._concurrent_state["slices"] (the saved range, cut at the sync's first instant).
- source.SourceDynamics365Cc.read calls ConcurrentSourceAdapter._select_abstract_streams and
  ._concurrent_source.read.
- graph.stream.GraphStream.send (every page of a query, and probe: the density probe, check) builds an HttpClient on
  the session of the query's limits (public arguments), and sends through its send_request: its retries and the
  budget.
- graph.answers.GraphErrorHandler answers SUCCESS to a refusal the query expects (an optional stream's 403, a
  refused sign-in filter): HttpClient then hands the response back at once, unretried, for the road to return.
"""

import inspect
from datetime import timedelta

import requests_mock
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.http.http_client import HttpClient

from source_dynamics365_cc import SourceDynamics365Cc
from source_dynamics365_cc.auth.tokens import GraphAuthenticator, GraphTokenProvider
from source_dynamics365_cc.config import parse_config
from source_dynamics365_cc.graph.stream import OptionalStreamRefusal
from source_dynamics365_cc.streams.groups import Groups
from testing.graph_fakes import GRAPH, config, fake_runtime, graph_error, register_login


def sign_in_cursor() -> ConcurrentCursor:
    source = SourceDynamics365Cc(None, config(), None, fake_runtime())
    with requests_mock.Mocker():
        (stream,) = [s for s in source.streams(config()) if s.name == "sign_ins"]
    return stream.cursor


def test_concurrent_cursor_keeps_its_window_length_and_saved_slices_where_windows_py_sets_them():
    cursor = sign_in_cursor()
    assert hasattr(cursor, "_slice_range"), "ConcurrentCursor._slice_range is gone: see cursor.SignInWindowCursor"
    assert isinstance(cursor._concurrent_state.get("slices"), list), "ConcurrentCursor._concurrent_state changed"
    assert "_slice_range" in inspect.getsource(ConcurrentCursor._split_per_slice_range)
    cursor._slice_range = timedelta(hours=6)
    assert list(cursor.stream_slices()), "slices are generated from the attributes cursor.py sets"


def test_the_adapter_still_selects_concurrent_streams_and_reads_them_through_its_concurrent_source():
    signature = inspect.signature(ConcurrentSourceAdapter._select_abstract_streams)
    assert list(signature.parameters)[1:3] == ["config", "configured_catalog"], "see source.SourceDynamics365Cc.read"
    source = SourceDynamics365Cc(None, config(), None, fake_runtime())
    assert isinstance(source._concurrent_source, ConcurrentSource) and callable(source._concurrent_source.read)
    assert "slice_logger" in inspect.signature(ConcurrentSource.create).parameters


def test_an_http_client_still_takes_a_session_and_sends_a_request_as_graph_stream_send_asks():
    built = set(inspect.signature(HttpClient.__init__).parameters)
    assert {"name", "logger", "error_handler", "session", "authenticator", "backoff_strategy"} <= built, (
        "HttpClient's arguments changed: see GraphStream.send"
    )
    sent = set(inspect.signature(HttpClient.send_request).parameters)
    assert {"http_method", "url", "request_kwargs", "headers", "params", "dedupe_query_params"} <= sent


def test_a_refusal_the_query_expects_leaves_send_request_at_once_unretried():
    parsed = parse_config(config())
    stream = Groups(parsed, GraphAuthenticator(GraphTokenProvider(parsed)))
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        refused = mocker.get(
            f"{GRAPH}/v1.0/groups", status_code=403, json=graph_error("Authorization_RequestDenied", "Insufficient")
        )
        _, refusal = stream.probe(stream.any_group_query())
    assert isinstance(refusal, OptionalStreamRefusal)
    assert refused.call_count == 1, "HttpClient now retries or fails an answer judged SUCCESS: see graph.answers"
