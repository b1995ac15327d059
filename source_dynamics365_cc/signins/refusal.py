"""A refused sign-in filter: Graph's 400 to the first request of a sign-in query, which the sign-in streams (and
check's probe) handle themselves instead of failing."""

from typing import Optional

import requests

from ..errors import FilterRefused
from ..graph.answers import graph_clock, graph_error

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
    """A 400 whose error names the filter or an unsupported query. Only a sign-in query's first page is asked
    (`GraphQuery.first_refusals`): Graph judges a filter on a query's first request, and a 400 to a nextLink (an
    invalid or expired page token, say) is another failure, never read as a refused filter."""
    if response.status_code != 400:
        return False
    code, message = graph_error(response)
    text = message.lower()
    return code == UNSUPPORTED_QUERY_CODE or "filter" in text or "not supported" in text or "unsupported" in text
