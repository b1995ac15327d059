"""Graph's documented throttling limits, and which requests count against each: the one table a sync's and
`check`'s request budget paces by.

Microsoft documents per app and tenant ("Identity and access reports service limits"): sign-in pages 5 per
10 s, users pages that select signInActivity 10 per 60 s. Nothing documents whether such a users page also
counts in the 5 per 10 s, so it is paced under both (`SIGN_IN_ACTIVITY_LIMITS`): either reading stays below Graph's
limit. Each stream's query names the limits it counts against (`GraphQuery.limits`); the budget paces by them.
"""

import time
from typing import Callable

from .graph.throttle import GraphApiBudget, GraphLimit, SlidingWindowPacer

# https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-reports-service-limits
SIGN_IN_LOG_LIMIT = GraphLimit("identity and access reports", 5, 10.0)
SIGN_IN_ACTIVITY_LIMIT = GraphLimit("users with sign-in activity", 10, 60.0)
DOCUMENTED_LIMITS = (SIGN_IN_LOG_LIMIT, SIGN_IN_ACTIVITY_LIMIT)
# What a sign-in page counts against, v1.0 and beta alike; and a users page that selects signInActivity.
SIGN_IN_LOG_LIMITS = (SIGN_IN_LOG_LIMIT,)
SIGN_IN_ACTIVITY_LIMITS = (SIGN_IN_LOG_LIMIT, SIGN_IN_ACTIVITY_LIMIT)


# https://learn.microsoft.com/en-us/graph/throttling-limits#security-audit-log-query-service-limits: per tenant, at
# least 200 audit log query submissions per rolling 24 hours and 50 queued or running queries (a baseline; a tenant
# with more licenses may get more, by a calculation Microsoft does not publish). Allowances, not a rate: no pacer
# spreads them. streams/dynamics_activity.py creates a query per day-long window and keeps at most a fifth of the
# unfinished ones; a create past them is answered 429 with Retry-After, waited out as every request's.
AUDIT_QUERY_SUBMISSIONS_PER_DAY = 200
AUDIT_QUERIES_UNFINISHED = 50


def graph_budget(
    sign_in_requests_per_10_seconds: int,
    pacer: Callable[[int, float], SlidingWindowPacer],
    sleep: Callable[[float], None] = time.sleep,
) -> GraphApiBudget:
    """One budget for a sync (or a `check`): a pacer per documented limit; the sign-in log's at the configured
    rate, which may be lower than Graph's (another tool sharing the app)."""
    rates = {SIGN_IN_LOG_LIMIT: sign_in_requests_per_10_seconds}
    return GraphApiBudget(
        [(limit, pacer(rates.get(limit, limit.requests), limit.seconds)) for limit in DOCUMENTED_LIMITS], sleep
    )
