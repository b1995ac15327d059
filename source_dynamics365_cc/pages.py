"""One Graph page's JSON, decoded once: the error handler, the records and the next link all read it."""

from typing import Any, Mapping

import requests


def graph_page(response: requests.Response) -> Mapping[str, Any]:
    """The JSON object of a Graph page; raises ValueError on a malformed or truncated page."""
    cached = response.__dict__.get("_graph_page")
    if cached is None:
        cached = response.json()
        if not isinstance(cached, dict):
            raise ValueError("a Graph page must be a JSON object")
        response.__dict__["_graph_page"] = cached
    return cached
