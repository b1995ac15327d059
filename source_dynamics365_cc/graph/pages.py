"""One Graph page's JSON, decoded once: the error handler, the records and the next link all read it.

Decoded with orjson (already a CDK dependency): a 999-record page is about 1.6 MB, and the standard
library's decoder was the largest single cost per record.

A page without a `value` list (`{}`, `"value": null`) is as malformed as one cut in half: read as an empty
page it would end the query and let the cursor pass records Graph never sent. So is a list holding something
other than records (`"value": [null]`): every reader of a record takes it for an object. Both are refused here,
so the error handler fetches the page again like any malformed page. An answer that is one entity (`graph_entity`: a
created audit log query) must be an object with its id.
"""

from typing import Any, Mapping

import orjson
import requests


def graph_page(response: requests.Response) -> Mapping[str, Any]:
    """The JSON object of a Graph page; raises ValueError on a malformed or truncated page, or one without records."""
    cached = response.__dict__.get("_graph_page")
    if cached is None:
        cached = orjson.loads(response.content)
        if not isinstance(cached, dict):
            raise ValueError("a Graph page must be a JSON object")
        records = cached.get("value")
        if not isinstance(records, list):
            raise ValueError("a Graph page must carry a 'value' list")
        if not all(isinstance(record, dict) for record in records):
            raise ValueError("a Graph page's 'value' list must hold records (JSON objects)")
        response.__dict__["_graph_page"] = cached
    return cached


def graph_entity(response: requests.Response) -> Mapping[str, Any]:
    """The JSON object of an answer that is one entity, not a page (a created audit log query, its status): an object
    with its `id`; raises ValueError on a malformed or truncated answer, as `graph_page` does for a page."""
    cached = response.__dict__.get("_graph_entity")
    if cached is None:
        cached = orjson.loads(response.content)
        if not isinstance(cached, dict) or not isinstance(cached.get("id"), str) or not cached["id"]:
            raise ValueError("a Graph entity must be a JSON object with its id")
        response.__dict__["_graph_entity"] = cached
    return cached
