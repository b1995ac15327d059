"""The sign-in log: lazily generated, time-ordered segments of records.

Why segments: the initial history is one segment; every `advance()` appends one for the new
interval and, for late arrivals, one whose timestamps lie *before* the previous clock. Inside a
segment, createdDateTime is a non-decreasing function of the index, so a time range maps to an
index range by binary search, and a page is built in O(page). Segments are merged newest first on
the key (ticks, segment, index), which is also what a skiptoken stores.

Every segment holds one sign-in event type: interactive sign-ins (all that v1.0 lists) and
non-interactive ones (token refreshes, apps acting for a user; beta only) live in segments of their
own, so a v1.0 scan never walks the ten-times-larger non-interactive log.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from . import catalog
from .directory import Directory
from .gen import TICKS, format_ticks, guid, mix

Key = tuple[int, int, int]  # (ticks, segment id, index): the total order of the log
INTERACTIVE = "interactiveUser"
NON_INTERACTIVE = "nonInteractiveUser"
_EVENT_LANES = {INTERACTIVE: 0, NON_INTERACTIVE: 1 << 40}  # salt lanes: interactive data predates event types

_BURST_LANE = 1 << 62
_MICROSECOND_LANE = 1 << 61
_MICROSECOND_BLOCK = 8  # records sharing one microsecond, 7th digits drawn from 0-9 (some repeat)
_MIN_SLOT_FOR_MICROSECONDS = 100  # ticks per record needed to keep a shared microsecond in order
_PRECISION = (0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7)  # fractional digits, weighted
_APP_TABLE = tuple(i for i, a in enumerate(catalog.SIGN_IN_APPS) for _ in range(a.weight))
DYNAMICS_APP_TABLE = tuple(i for i in _APP_TABLE if catalog.SIGN_IN_APPS[i].is_dynamics)
# Token refreshes follow long-running clients: Dynamics 365 apps (and Outlook add-ins reaching Dataverse)
# weigh three times as much as among interactive sign-ins, nearly half of all non-interactive ones.
NON_INTERACTIVE_APP_TABLE = _APP_TABLE + DYNAMICS_APP_TABLE * 2
_STATUS_TABLE = tuple(i for i, w in enumerate(catalog.STATUS_WEIGHTS) for _ in range(w))
_POLICIES = (
    ("8b5f1c2e-6a3d-4e1f-9c7b-2d4a6e8f0a11", "Require MFA for all users", ["Mfa"]),
    ("3c9d7e1a-2b4f-4a6c-8e0d-1f3a5b7c9e22", "Block legacy authentication", ["Block"]),
)


@dataclass(frozen=True)
class Segment:
    """`count` sign-ins spread over [start, end) ticks; record i is derived from (salt, i)."""

    seg_id: int
    count: int
    start: int
    end: int
    salt: int
    apps: tuple[int, ...] = _APP_TABLE  # weighted indexes into catalog.SIGN_IN_APPS
    event_type: str = INTERACTIVE  # beta's signInEventTypes of every record in the segment

    def _base(self, j: int) -> int:
        """A random point inside slot j: slots are disjoint and ordered, so this is monotone."""
        span = self.end - self.start
        lo = j * span // self.count
        width = (j + 1) * span // self.count - lo
        return self.start + lo + (mix(self.salt ^ (j << 1)) % width if width > 1 else 0)

    def _value(self, j: int) -> int:
        """Base time of j, truncated to 0-7 fractional digits without breaking monotonicity."""
        b = self._base(j)
        floor = self._base(j - 1) if j else self.start
        p = _PRECISION[mix(self.salt + j) & 15]
        while p < 7:
            q = 10 ** (7 - p)
            t = b - b % q
            if t >= floor:
                return t
            p += 1
        return b

    def ticks(self, i: int) -> int:
        """createdDateTime of record i.

        A few blocks of 8 share one microsecond and differ in the 7th digit (some in none), and a
        few blocks of 4 share one exact timestamp: the two ways a connector that compares at
        microseconds loses or repeats sign-ins.
        """
        block = i // _MICROSECOND_BLOCK
        if self._shares_a_microsecond(block):
            return self._microsecond_of(block) + self._seventh_digit(block, i % _MICROSECOND_BLOCK)
        block = i >> 2
        if mix(self.salt ^ _BURST_LANE ^ block) % 100 < 5:
            return self._value(block << 2)
        return self._value(i)

    def _shares_a_microsecond(self, block: int) -> bool:
        """Only where records are at least 100 ticks apart: then the block stays inside its own slots."""
        if (self.end - self.start) // max(1, self.count) < _MIN_SLOT_FOR_MICROSECONDS:
            return False
        if (block + 2) * _MICROSECOND_BLOCK > self.count:  # a record after the block keeps it below `end`
            return False
        return mix(self.salt ^ _MICROSECOND_LANE ^ block) % 100 < 4

    def _microsecond_of(self, block: int) -> int:
        """The block's first instant rounded up to a whole microsecond (never before the record ahead)."""
        first = self._value(block * _MICROSECOND_BLOCK)
        return first + (-first) % 10

    def _seventh_digit(self, block: int, k: int) -> int:
        """Non-decreasing 0-9 digits: offset k of the block's sorted draws."""
        draws = sorted(
            mix(self.salt ^ _MICROSECOND_LANE ^ (block * _MICROSECOND_BLOCK + j + 1)) % 10
            for j in range(_MICROSECOND_BLOCK)
        )
        return draws[k]

    def first_at_or_after(self, when: int) -> int:
        """Smallest index whose timestamp is >= when (count if none)."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.ticks(mid) < when:
                lo = mid + 1
            else:
                hi = mid
        return lo


@dataclass(frozen=True)
class BurstSegment(Segment):
    """`count` Dynamics 365 sign-ins inside one microsecond: spread in order over its 10 ticks.

    A login burst as a connector meets it: thousands of records Graph tells apart only by the 7th
    fractional digit, more than one page of them, several on each exact instant.
    """

    apps: tuple[int, ...] = DYNAMICS_APP_TABLE

    def ticks(self, i: int) -> int:
        return self.start + i * 10 // self.count


class Row:
    """The few fields a $filter can test, computed without building the whole record."""

    __slots__ = ("ticks", "seg", "index", "h1", "h2", "app", "app_index", "user", "directory")

    def __init__(self, log: SignInLog, seg: Segment, index: int, ticks: int) -> None:
        self.ticks = ticks
        self.seg = seg
        self.index = index
        self.h1 = h1 = mix(seg.salt ^ (index * 0x9E3779B1 + 1))
        self.h2 = mix(h1 ^ 0x5851F42D4C957F2D)
        self.app_index = seg.apps[h1 % len(seg.apps)]
        self.app = catalog.SIGN_IN_APPS[self.app_index]
        users, steady = log.candidates(self.app_index, seg.event_type)
        user = users[(h1 >> 8) % len(users)]
        if self.app.is_dynamics and ticks > log.stopped.get(user, ticks):
            user = steady[(h1 >> 8) % len(steady)]
        self.user = user
        self.directory = log.directory

    @property
    def status(self) -> tuple[int, str | None, str | None]:
        return catalog.STATUSES[_STATUS_TABLE[(self.h1 >> 24) % len(_STATUS_TABLE)]]

    @property
    def ip(self) -> str:
        h = self.h2
        if h % 9 == 0:
            return f"2001:db8:{(h >> 8) & 0xFFFF:x}:{(h >> 24) & 0xFFFF:x}::{(h >> 40) & 0xFFFF:x}"
        return f"{(203, 198, 192, 100)[h % 4]}.{(h >> 8) & 255}.{(h >> 16) & 255}.{(h >> 24) % 254 + 1}"

    def get(self, name: str) -> Any:
        """Value of a filterable property (as Graph names it)."""
        if name == "createdDateTime":
            return self.ticks
        if name == "appId":
            return self.app.app_id
        if name == "resourceId":
            return self.app.resource_id
        if name == "appDisplayName":
            return self.app.app_name
        if name == "resourceDisplayName":
            return self.app.resource_name
        if name in ("userId", "userPrincipalName", "userDisplayName"):
            ident = self._ident()
            return {"userId": ident.id, "userPrincipalName": ident.upn, "userDisplayName": ident.display_name}[name]
        if name == "ipAddress":
            return self.ip
        if name == "status/errorCode":
            return self.status[0]
        if name == "clientAppUsed":
            return catalog.CLIENT_APPS[(self.h1 >> 48) % len(catalog.CLIENT_APPS)]
        if name == "conditionalAccessStatus":
            return self._ca_status()
        if name == "id":
            return guid(self.h1, self.h2)
        if name == "signInEventTypes":
            return [self.seg.event_type]
        raise KeyError(name)

    def _ident(self):
        return self.directory.identity(self.user)

    def _ca_status(self) -> str:
        code = self.status[0]
        if code == 530003:
            return "failure"
        return "success" if (self.h1 >> 36) % 3 else "notApplied"

    def to_json(self, beta: bool = False) -> str:
        """The full v1.0 signIn resource as JSON text (beta's when `beta`), assembled from pre-escaped fragments.

        Why not json.dumps(dict): a page of 999 records is served ~5x faster this way, and the
        emulator must not be the bottleneck of a 1,000,000-record benchmark.
        """
        h1, h2 = self.h1, self.h2
        code = _STATUS_TABLE[(h1 >> 24) % len(_STATUS_TABLE)]
        ca = self._ca_status()
        managed = (h2 >> 12) % 4 == 0
        if managed:
            compliant = "true" if (h2 >> 16) % 5 else "false"
            device_head = (
                f'"deviceDetail":{{"deviceId":"{guid(h2 >> 3, h1 >> 5)}",'
                f'"displayName":"CONTOSO-{(h2 >> 20) % 9000 + 1000}",'
            )
            device_tail = f'"isCompliant":{compliant},"isManaged":true,"trustType":"Azure AD joined"}}'
        else:
            device_head = '"deviceDetail":{"deviceId":"","displayName":null,'
            device_tail = '"isCompliant":false,"isManaged":false,"trustType":null}'
        return (
            f'{{"id":"{guid(h1, h2)}","createdDateTime":"{format_ticks(self.ticks)}",'
            f"{_user_fragment(self.directory, self.user)},{_APP_HEAD[self.app_index]},"
            f'"ipAddress":"{self.ip}","clientAppUsed":{_CLIENT_APP_JSON[(h1 >> 48) % len(_CLIENT_APP_JSON)]},'
            f'"correlationId":"{guid(h2 ^ 0xC0FFEE, h1)}","conditionalAccessStatus":"{ca}",'
            f'"isInteractive":{"true" if self.seg.event_type == INTERACTIVE else "false"},'
            f"{_RISK[(h2 >> 50) % 40 == 0]},{_APP_TAIL[self.app_index]},{_STATUS_JSON[code]},"
            f"{device_head}{_DEVICE_JSON[(h1 >> 32) % len(_DEVICE_JSON)]},{device_tail},"
            f"{_LOCATION_JSON[(h1 >> 40) % len(_LOCATION_JSON)]},{_POLICIES_JSON[ca]}"
            f"{self._beta_fragment() if beta else ''}}}"
        )

    def _beta_fragment(self) -> str:
        """What beta's signIn adds to v1.0's: the event types, the token presented, the user type, what was required."""
        event_type = self.seg.event_type
        token = "none" if event_type == INTERACTIVE or (self.h2 >> 28) % 3 else "primaryRefreshToken"
        user_type = "guest" if self._ident().kind == "guest" else "member"
        factors = "multiFactorAuthentication" if (self.h2 >> 32) % 3 == 0 else "singleFactorAuthentication"
        return (
            f',"signInEventTypes":["{event_type}"],"incomingTokenType":"{token}",'
            f'"userType":"{user_type}","authenticationRequirement":"{factors}"'
        )

    def to_dict(self, beta: bool = False) -> dict[str, Any]:
        """The same record as a dict (for truth checks in tests)."""
        return json.loads(self.to_json(beta))


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _user_fragment(directory: Directory, user: int) -> str:
    frag = _USER_FRAGMENTS.get((id(directory), user))
    if frag is None:
        ident = directory.identity(user)
        frag = f'"userDisplayName":{_j(ident.display_name)},"userPrincipalName":{_j(ident.upn)},"userId":"{ident.id}"'
        if len(_USER_FRAGMENTS) > 500_000:
            _USER_FRAGMENTS.clear()
        _USER_FRAGMENTS[(id(directory), user)] = frag
    return frag


_USER_FRAGMENTS: dict[tuple[int, int], str] = {}
_APP_HEAD = tuple(f'"appId":"{a.app_id}","appDisplayName":{_j(a.app_name)}' for a in catalog.SIGN_IN_APPS)
_APP_TAIL = tuple(
    f'"resourceDisplayName":{_j(a.resource_name)},"resourceId":"{a.resource_id}"' for a in catalog.SIGN_IN_APPS
)
_CLIENT_APP_JSON = tuple(_j(c) for c in catalog.CLIENT_APPS)
_STATUS_JSON = tuple(
    '"status":' + _j({"errorCode": c, "failureReason": r if c else "Other.", "additionalDetails": d})
    for c, r, d in catalog.STATUSES
)
_DEVICE_JSON = tuple(f'"operatingSystem":{_j(o)},"browser":{_j(b)}' for o, b in catalog.DEVICES)
_LOCATION_JSON = tuple(
    '"location":'
    + _j(
        {
            "city": city,
            "state": state,
            "countryOrRegion": country,
            "geoCoordinates": None if lat is None else {"altitude": None, "latitude": lat, "longitude": lon},
        }
    )
    for city, state, country, lat, lon in catalog.LOCATIONS
)
_RISK = {
    False: '"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none",'
    '"riskEventTypes":[],"riskEventTypes_v2":[]',
    True: '"riskDetail":"none","riskLevelAggregated":"low","riskLevelDuringSignIn":"low","riskState":"atRisk",'
    '"riskEventTypes":["unfamiliarFeatures"],"riskEventTypes_v2":["unfamiliarFeatures"]',
}
_POLICIES_JSON = {
    ca: '"appliedConditionalAccessPolicies":'
    + _j(
        [
            {
                "id": pid,
                "displayName": name,
                "enforcedGrantControls": grants,
                "enforcedSessionControls": [],
                "result": ("failure" if ca == "failure" else "success")
                if k == 0 and ca != "notApplied"
                else "notApplied",
            }
            for k, (pid, name, grants) in enumerate(_POLICIES)
        ]
    )
    for ca in ("success", "failure", "notApplied")
}


class SignInLog:
    """All segments of the tenant's sign-in log, and newest-first scans over them."""

    def __init__(self, seed: int, directory: Directory) -> None:
        self._seed = seed
        self.directory = directory
        self.segments: list[Segment] = []
        self._ordinals: dict[str, int] = {}
        active = [u for u in range(directory.count) if not directory.never_signed_in(u)]
        self.active_users = active or list(range(max(1, directory.count)))
        # Who signs in to Dynamics 365: not those who avoid it, so a licence can sit unused while its holder works.
        self.dynamics_users = [u for u in self.active_users if not directory.avoids_dynamics(u)] or self.active_users
        # ... and who stopped: their Dynamics 365 sign-ins after that instant go to someone who never stops.
        self.stopped = {u: t for u in self.dynamics_users if (t := directory.stops_using_dynamics(u)) is not None}
        self.steady_dynamics_users = [u for u in self.dynamics_users if u not in self.stopped] or self.dynamics_users
        self._candidates: dict[tuple[int, str], tuple[list[int], list[int]]] = {}

    def candidates(self, app_index: int, event_type: str) -> tuple[list[int], list[int]]:
        """Who a sign-in to an application may belong to, and who of them never stops using Dynamics 365.

        Without the worklist cases, anyone who opens Dynamics 365 signs in to any of its applications. With them
        (Directory.cast), a product's own application (catalog.APP_FAMILIES) is signed in to by the holders of that
        product family only, and the cases follow their script: each signs in to the families of its `uses`, with
        four times a random user's share so that a window of days is sure to hold some, interactively or (an
        integration) not at all; the admin centre is the administrator's alone."""
        key = (app_index, event_type)
        if key not in self._candidates:
            self._candidates[key] = self._choose(catalog.SIGN_IN_APPS[app_index], event_type)
        return self._candidates[key]

    def _choose(self, app: catalog.SignInApp, event_type: str) -> tuple[list[int], list[int]]:
        directory = self.directory
        if not directory.cast:
            return (self.dynamics_users, self.steady_dynamics_users) if app.is_dynamics else (self.active_users,) * 2
        cast = directory.cast
        quiet = {u for u, case in cast.items() if not case.interactive} if event_type == INTERACTIVE else set()
        if not app.is_dynamics:
            users = [u for u in self.active_users if u not in quiet]
            return users, users
        family = catalog.APP_FAMILIES.get(app.app_id)
        if app.app_id == catalog.CRM_ADMIN:
            users = [u for u, case in cast.items() if case.admin_centre] * 4
            return users, users
        if family is None:  # another client reaching Dataverse (Power Apps, the Outlook add-in): any user of it
            return self.dynamics_users, self.steady_dynamics_users
        holders = [u for u in self.dynamics_users if family in self.families_held(u)]
        scripted = [u for u, case in cast.items() if family in case.uses and u not in quiet] * 4
        users = holders + scripted or self.dynamics_users
        steady = [u for u in users if u not in self.stopped] or users
        return users, steady

    def families_held(self, user: int) -> set[str]:
        """The product families of the licences a user holds (catalog.Sku.families)."""
        return {family for sku in self.directory.licences(user) for family in sku.families}

    def families_used(self, user: int) -> set[str]:
        """Truth for tests: the product families whose own applications this user's sign-ins may name (with the
        worklist cases on); empty for one who never signs in to Dynamics 365 itself."""
        return {
            family
            for index, app in enumerate(catalog.SIGN_IN_APPS)
            if (family := catalog.APP_FAMILIES.get(app.app_id)) is not None
            for event_type in (INTERACTIVE, NON_INTERACTIVE)
            if user in self.candidates(index, event_type)[0]
        }

    def add_segment(self, count: int, start: int, end: int, event_type: str = INTERACTIVE) -> Segment:
        """Append `count` records of one event type spread over [start, end); they are visible from now on."""
        apps = NON_INTERACTIVE_APP_TABLE if event_type == NON_INTERACTIVE else _APP_TABLE
        seg = Segment(len(self.segments), count, start, max(end, start + 1), self._salt(event_type), apps, event_type)
        self.segments.append(seg)
        return seg

    def add_burst(self, count: int, microsecond: int) -> BurstSegment:
        """Append `count` interactive Dynamics 365 sign-ins inside the microsecond starting at tick `microsecond`."""
        seg = BurstSegment(len(self.segments), count, microsecond, microsecond + 10, self._salt(INTERACTIVE))
        self.segments.append(seg)
        return seg

    def _salt(self, event_type: str) -> int:
        """From the seed and the segment's position among its event type's: the same spec builds the same log,
        and the interactive log stays what it was before non-interactive sign-ins existed."""
        ordinal = self._ordinals.get(event_type, 0)
        self._ordinals[event_type] = ordinal + 1
        return mix(self._seed * 1_000_003 + ordinal + _EVENT_LANES[event_type])

    def row(self, seg: Segment, index: int) -> Row:
        return Row(self, seg, index, seg.ticks(index))

    def _descending(self, seg: Segment, lo: int, hi: int, after: Key | None) -> Iterator[Key]:
        """Keys of seg with lo <= ticks < hi and key < after, newest first."""
        top = seg.first_at_or_after(hi)
        if after is not None:
            a_ticks, a_seg, a_index = after
            if seg.seg_id == a_seg:
                top = min(top, a_index)
            elif seg.seg_id < a_seg:
                top = min(top, seg.first_at_or_after(a_ticks + 1))
            else:
                top = min(top, seg.first_at_or_after(a_ticks))
        bottom = seg.first_at_or_after(lo)
        sid, ticks = seg.seg_id, seg.ticks
        for i in range(top - 1, bottom - 1, -1):
            yield (ticks(i), sid, i)

    def scan(
        self, lo: int, hi: int, after: Key | None = None, event_types: Iterable[str] | None = (INTERACTIVE,)
    ) -> Iterator[Row]:
        """Rows of `event_types` (None: all) with lo <= createdDateTime < hi (ticks), newest first, after cursor."""
        types = None if event_types is None else frozenset(event_types)
        streams = [
            self._descending(s, lo, hi, after)
            for s in self.segments
            if s.count and s.start < hi and s.end + TICKS > lo and (types is None or s.event_type in types)
        ]
        if not streams:
            return
        merged: Iterable[Key] = streams[0] if len(streams) == 1 else heapq.merge(*streams, reverse=True)
        segs = self.segments
        for ticks, sid, index in merged:
            yield Row(self, segs[sid], index, ticks)

    def page(
        self,
        lo: int,
        hi: int,
        keep: Callable[[Row], bool],
        size: int,
        after: Key | None = None,
        event_types: Iterable[str] | None = (INTERACTIVE,),
    ) -> tuple[list[Row], Key | None]:
        """Up to `size` matching rows, and the cursor to resume from if the range is not exhausted."""
        out: list[Row] = []
        for row in self.scan(lo, hi, after, event_types):
            if len(out) == size:
                last = out[-1]
                return out, (last.ticks, last.seg.seg_id, last.index)
            if keep(row):
                out.append(row)
        return out, None
