"""users.signInActivity derived from the sign-in log the emulator serves, so the two never tell different stories.

Graph fills signInActivity from the same sign-ins `/auditLogs/signIns` lists, up to 24 hours late (Entra's
inactive-accounts guidance). The emulator does the same: a user's last interactive, last non-interactive and last
successful sign-in are the newest records of the log at least ACTIVITY_LAG older than the tenant clock, in whole
seconds as Graph shows them. A user who signs in but has no record in the log (the log covers `days`, the directory
is older) last signed in before the log begins; a user who never signs in has nulls, and an integration account
(a worklist case seen only in non-interactive sign-ins) has no interactive sign-in at all.
"""

from __future__ import annotations

from typing import Any, Callable

from .gen import TICKS, format_ticks, guid, mix
from .signins import INTERACTIVE, SignInLog

ACTIVITY_LAG = 24 * 3600 * TICKS
_BEFORE_THE_LOG = 60 * 86400  # seconds: how far before the log's start an unlogged user last signed in, at most
_FIELDS = ("lastSignIn", "lastNonInteractiveSignIn", "lastSuccessfulSignIn")
Seen = dict[str, dict[int, tuple[int, str]]]  # field -> user index -> (ticks, request id)


class SignInActivity:
    """Every user's signInActivity at the tenant clock, computed once per clock and log."""

    def __init__(self, log: SignInLog, clock: Callable[[], int]) -> None:
        self._log = log
        self._clock = clock
        self._active = frozenset(log.active_users)
        self._cache: tuple[tuple[int, int], Seen] | None = None

    def of(self, index: int) -> dict[str, Any]:
        """signInActivity of user `index`, in Graph's property order."""
        if index not in self._active:
            return {f"{field}{suffix}": None for field in _FIELDS for suffix in ("DateTime", "RequestId")}
        seen = self._seen()
        prior = self._before_the_log(index)
        case = self._log.directory.cast.get(index)
        out: dict[str, Any] = {}
        for field in _FIELDS:
            if field == "lastSignIn" and case is not None and not case.interactive:
                out.update(lastSignInDateTime=None, lastSignInRequestId=None)  # an integration: never at a keyboard
                continue
            ticks, request_id = seen[field].get(index, prior)
            out[f"{field}DateTime"] = format_ticks(ticks - ticks % TICKS)
            out[f"{field}RequestId"] = request_id
        return out

    def _seen(self) -> Seen:
        key = (self._clock(), len(self._log.segments))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._scan(key[0] - ACTIVITY_LAG))
        return self._cache[1]

    def _scan(self, horizon: int) -> Seen:
        """Newest first from the horizon until every active user has all three fields (or the log ends)."""
        seen: Seen = {field: {} for field in _FIELDS}
        wanted = len(self._active) * len(_FIELDS)
        found = 0
        for row in self._log.scan(0, horizon + 1, event_types=None):
            kind = "lastSignIn" if row.seg.event_type == INTERACTIVE else "lastNonInteractiveSignIn"
            fields = (kind, "lastSuccessfulSignIn") if row.status[0] == 0 else (kind,)
            for field in fields:
                if row.user not in seen[field]:
                    seen[field][row.user] = (row.ticks, row.get("id"))
                    found += 1
            if found == wanted:
                break
        return seen

    def _before_the_log(self, index: int) -> tuple[int, str]:
        """A sign-in before the log's first record, for a user the log does not show."""
        start = min((s.start for s in self._log.segments if s.count), default=self._clock())
        h = mix(index * 0x2545F4914F6CDD1D + 3)
        return start - (1 + h % _BEFORE_THE_LOG) * TICKS, guid(h, mix(h))
