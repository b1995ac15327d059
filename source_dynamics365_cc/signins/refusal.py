"""A refused sign-in filter: Graph's 400 to the first request of a sign-in query, which the sign-in streams (and
check's probe) handle themselves instead of failing."""

from typing import Optional
from urllib.parse import parse_qs, urlsplit

import requests

from ..errors import FilterRefused
from ..graph.answers import graph_clock, graph_error
from .query import SIGN_IN_PATH

# A 400 to the first request of a sign-in query that names its filter: the stream decides whether Graph refused
# a window start past retention, an `or` (not confirmed on signIns), or something it must report.
FILTER_REFUSED = "Microsoft Graph refused a sign-in $filter (HTTP 400)."
UNSUPPORTED_QUERY_CODE = "Request_UnsupportedQuery"


def filter_refusal(response: requests.Response) -> Optional[FilterRefused]:
    """The refusal to raise for a refused sign-in filter, with Graph's code, message and clock; None otherwise."""
    if not refuses_filter(response):
        return None
    code, message = graph_error(response)
    return FilterRefused(code, message, graph_clock(response))


def refuses_filter(response: requests.Response) -> bool:
    """A 400 to the FIRST request of a sign-in query whose error names the filter or an unsupported query.

    Graph judges a filter on a query's first request; a 400 on a nextLink (an invalid or expired page token, say)
    is another failure and is never read as a refused filter.
    """
    if response.status_code != 400 or response.request is None:
        return False
    parts = urlsplit(response.request.url or "")
    params = parse_qs(parts.query)
    if SIGN_IN_PATH not in parts.path or "$filter" not in params or "$skiptoken" in params:
        return False
    code, message = graph_error(response)
    text = message.lower()
    return code == UNSUPPORTED_QUERY_CODE or "filter" in text or "not supported" in text or "unsupported" in text
