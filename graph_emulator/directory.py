"""Users and licence inventory, each user a pure function of (seed, index).

Users are few compared with sign-ins (hundreds to tens of thousands), so small per-user identity
tuples are cached; full user objects are rebuilt on demand.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from . import catalog
from .gen import TICKS, format_ticks, guid, mix
from .subscriptions import Subscription, subscriptions_of

DOMAIN = "contoso.onmicrosoft.com"

USER_PROPERTIES = frozenset(
    {
        "id",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "accountEnabled",
        "userType",
        "createdDateTime",
        "department",
        "employeeId",
        "assignedLicenses",
        "assignedPlans",
        "licenseAssignmentStates",
        "usageLocation",
        "companyName",
        "country",
        "employeeType",
        "onPremisesSyncEnabled",
        "signInActivity",
        "employeeLeaveDateTime",
    }
)
DEFAULT_USER_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


@dataclass(frozen=True)
class Identity:
    """What a sign-in record needs to know about its user."""

    id: str
    upn: str
    display_name: str
    kind: str  # member | guest | concealed


class Directory:
    """The tenant's users and subscribed SKUs."""

    def __init__(self, seed: int, count: int, created_ticks: int, now_ticks: int, cases: bool = False) -> None:
        self._salt = mix(seed * 7919 + 17)
        self.count = count
        # The worklist's cases (catalog.CASES) take the directory's last indexes; off, the tenant is as it always was.
        if cases and count < 4 * len(catalog.CASES):
            raise ValueError(f"the worklist cases need a directory of at least {4 * len(catalog.CASES)} users")
        first = count - len(catalog.CASES)
        self.cast: dict[int, catalog.Case] = {first + n: case for n, case in enumerate(catalog.CASES)} if cases else {}
        self.skus = catalog.SKUS + (catalog.CASE_SKUS if cases else ())
        self._created = created_ticks
        self._now = now_ticks
        self.identity = functools.lru_cache(maxsize=200_000)(self._identity)
        # signInActivity comes from the sign-in log (graph_emulator.activity); the tenant wires it in.
        self.activity: Callable[[int], dict[str, Any]] = lambda index: {}
        self._moved: dict[int, tuple[catalog.Sku, ...]] = {}  # user index -> its licences after a move_licence

    def _h(self, index: int, lane: int) -> int:
        return mix(self._salt ^ (index * 0x100000001B3 + lane))

    def _identity(self, index: int) -> Identity:
        h = self._h(index, 0)
        uid = guid(h, self._h(index, 1))
        kind_roll = h % 100
        case = self.cast.get(index)
        if case is not None:  # a case is a person by name: a guest, or a member (never concealed)
            kind_roll = 10 if case.guest else 14 + kind_roll % 86
        if kind_roll < 4:
            hexname = f"{self._h(index, 2):016X}{self._h(index, 3):016X}"
            return Identity(uid, hexname, hexname, "concealed")
        given, surname = self._names(index)
        display = (
            f"{given} {surname}" if kind_roll % 3 else f"{surname} {given}" if kind_roll < 10 else f"{given} {surname}"
        )
        folded = unicodedata.normalize("NFKD", f"{given}.{surname}".lower())
        ascii_local = "".join(c for c in folded if c.isascii() and (c.isalnum() or c == "."))
        local = f"{ascii_local.strip('.') or 'user'}{index}"
        if kind_roll < 14:
            domain = catalog.GUEST_DOMAINS[h % len(catalog.GUEST_DOMAINS)]
            return Identity(uid, f"{local}_{domain}#EXT#@{DOMAIN}", display + " (Guest)", "guest")
        return Identity(uid, f"{local}@{DOMAIN}", display, "member")

    def _names(self, index: int) -> tuple[str, str]:
        h = self._h(index, 4)
        if h % 10 == 0:
            return catalog.CJK_NAMES[(h >> 8) % len(catalog.CJK_NAMES)]
        return (
            catalog.GIVEN_NAMES[(h >> 8) % len(catalog.GIVEN_NAMES)],
            catalog.SURNAMES[(h >> 20) % len(catalog.SURNAMES)],
        )

    def never_signed_in(self, index: int) -> bool:
        """About one user in ten has no sign-in at all (signInActivity fields null); a case only when disabled."""
        if index in self.cast:
            return not self.cast[index].enabled
        return self._h(index, 5) % 10 == 0

    def avoids_dynamics(self, index: int) -> bool:
        """About one user in four never opens Dynamics 365 (whatever licence they hold): Outlook and Teams only. A
        case signs in to Dynamics 365 as its `uses` say (graph_emulator.signins), never at random."""
        if index in self.cast:
            return True
        return self._h(index, 17) % 4 == 0

    def stops_using_dynamics(self, index: int) -> int | None:
        """About one user in five who opens Dynamics 365 stopped doing so 5 to 45 days before the tenant was made (a
        project ended, a role changed): the instant, in ticks, after which they sign in to it no more; else None."""
        h = self._h(index, 18)
        if h % 5 or index in self.cast:
            return None
        return self._now - (5 * 86400 + (h >> 8) % (40 * 86400)) * TICKS

    def licences(self, index: int) -> tuple[catalog.Sku, ...]:
        """The SKUs assigned to a user; about a quarter hold a Dynamics 365 licence, one holder in eight two."""
        if index in self._moved:
            return self._moved[index]
        if index in self.cast:
            case = self.cast[index]
            office = () if case.guest else (catalog.SKUS[0],)  # a member works in Microsoft 365 too; a guest does not
            return office + tuple(catalog.CASE_SKU_BY_PART[part] for part in case.licences)
        if self.identity(index).kind != "member":
            return ()
        h = self._h(index, 6)
        skus = [catalog.SKUS[0]]
        if h % 3:
            skus.append(catalog.SKUS[1])
        if (h >> 8) % 4 == 0:
            dyn = [s for s in catalog.USER_LICENSABLE if s.dynamics]
            first = (h >> 16) % len(dyn)
            skus.append(dyn[first])
            if (h >> 24) % 8 == 0:
                skus.append(dyn[(first + 1) % len(dyn)])
        return tuple(skus)

    def moved_licences(self, user_id: str, from_sku: str, to_sku: str) -> tuple[int, tuple[catalog.Sku, ...]]:
        """(the user's index, their licences once `from_sku` is reassigned to `to_sku`); ValueError, in a sentence,
        when the user does not exist, does not hold `from_sku`, or `to_sku` is no seat they could take."""
        index = next((i for i in range(self.count) if self.identity(i).id == user_id.lower()), None)
        if index is None:
            raise ValueError(f"no user {user_id!r} in the tenant")
        held = self.licences(index)
        seats = {sku.sku_id: sku for sku in catalog.USER_LICENSABLE}
        source, target = from_sku.lower(), to_sku.lower()
        if source not in {sku.sku_id for sku in held}:
            raise ValueError(f"user {user_id!r} does not hold SKU {from_sku!r}")
        if target not in seats or target in {sku.sku_id for sku in held}:
            raise ValueError(f"SKU {to_sku!r} is not a per-user SKU of the tenant that user {user_id!r} lacks")
        return index, tuple(seats[target] if sku.sku_id == source else sku for sku in held)

    def move_licence(self, user_id: str, from_sku: str, to_sku: str) -> None:
        """Reassign a user's licence, as an admin migrating people between products does: assignedLicenses,
        licenseAssignmentStates, assignedPlans, the license filters and consumedUnits follow from now on."""
        index, licences = self.moved_licences(user_id, from_sku, to_sku)
        self._moved[index] = licences

    def holds(self, index: int, sku_id: str) -> bool:
        """Whether a user holds a SKU (in assignedLicenses: directly or through a group)."""
        return any(sku.sku_id == sku_id for sku in self.licences(index))

    def page(self, start: int, size: int, keep: Callable[[int], bool]) -> tuple[list[int], int | None]:
        """Up to `size` user indexes from `start` on that `keep` accepts, and where the next page starts (None:
        nothing left to serve, so no nextLink)."""
        found: list[int] = []
        for index in range(start, self.count):
            if keep(index):
                if len(found) == size:
                    return found, index
                found.append(index)
        return found, None

    def user(self, index: int, select: tuple[str, ...] = DEFAULT_USER_SELECT) -> dict[str, Any]:
        """Build one user object with only the selected properties, in the selected order."""
        ident = self.identity(index)
        h = self._h(index, 7)
        given, surname = (None, None) if ident.kind == "concealed" else self._names(index)
        created = self._created_ticks(index)
        usage_location, country = self._place(index)
        values: dict[str, Any] = {}
        for prop in select:
            if prop == "id":
                values[prop] = ident.id
            elif prop == "displayName":
                values[prop] = ident.display_name
            elif prop == "givenName":
                values[prop] = given
            elif prop == "surname":
                values[prop] = surname
            elif prop == "userPrincipalName":
                values[prop] = ident.upn
            elif prop == "mail":
                values[prop] = self._mail(ident, h)
            elif prop == "businessPhones":
                values[prop] = [f"+1 425 555 {index % 10000:04d}"] if h % 3 == 0 else []
            elif prop == "mobilePhone":
                values[prop] = f"+44 7700 900{index % 1000:03d}" if h % 7 == 0 else None
            elif prop == "jobTitle":
                values[prop] = None if h % 10 < 3 else catalog.JOB_TITLES[(h >> 4) % len(catalog.JOB_TITLES)]
            elif prop == "officeLocation":
                values[prop] = None if h % 5 == 0 else catalog.OFFICES[(h >> 12) % len(catalog.OFFICES)]
            elif prop == "preferredLanguage":
                values[prop] = None if h % 4 == 0 else catalog.LANGUAGES[(h >> 16) % len(catalog.LANGUAGES)]
            elif prop == "accountEnabled":
                values[prop] = self.cast[index].enabled if index in self.cast else (h >> 20) % 100 >= 7
            elif prop == "userType":
                values[prop] = "Guest" if ident.kind == "guest" else "Member"
            elif prop == "createdDateTime":
                values[prop] = format_ticks(created)
            elif prop == "department":
                values[prop] = None if h % 6 == 0 else catalog.DEPARTMENTS[(h >> 24) % len(catalog.DEPARTMENTS)]
            elif prop == "employeeId":
                values[prop] = None if ident.kind != "member" else f"E{100000 + index}"
            elif prop == "assignedLicenses":
                values[prop] = [{"disabledPlans": [], "skuId": s.sku_id} for s in self.licences(index)]
            elif prop == "assignedPlans":
                values[prop] = self._plans(index)
            elif prop == "licenseAssignmentStates":
                values[prop] = self.licence_assignments(index)
            elif prop == "usageLocation":
                values[prop] = usage_location
            elif prop == "country":
                values[prop] = country
            elif prop in ("companyName", "employeeType", "onPremisesSyncEnabled"):
                values[prop] = self._employment(index)[prop]
            elif prop == "signInActivity":
                values[prop] = self.activity(index)
            elif prop == "employeeLeaveDateTime":
                values[prop] = self.leave_date(index)
        return values

    def leave_date(self, index: int) -> str | None:
        """employeeLeaveDateTime: set for the worklist's leavers only (catalog.CASES), at the end of their last day,
        as Microsoft's example sets it (23:59:59Z); None for everyone else, as for a tenant without lifecycle data."""
        case = self.cast.get(index)
        if case is None or case.leaves_in_days is None:
            return None
        moment = self._now + case.leaves_in_days * 86400 * TICKS
        day = moment - moment % (86400 * TICKS)
        return format_ticks(day + 86399 * TICKS)

    def _created_ticks(self, index: int) -> int:
        created = self._created + (mix(self._h(index, 7)) % max(1, self._now - self._created))
        return created - created % TICKS

    def _place(self, index: int) -> tuple[str | None, str | None]:
        """(usageLocation, country): most members have both; country, typed in by HR, is missing more often."""
        if self.identity(index).kind != "member" and index not in self.cast:
            return None, None
        h = self._h(index, 12)
        if h % 16 == 0 and index not in self.cast:  # a case is licensed directly, which needs a usageLocation
            return None, None
        code, country = catalog.USAGE_LOCATIONS[(h >> 8) % len(catalog.USAGE_LOCATIONS)]
        return code, None if (h >> 4) % 5 == 0 else country

    def _employment(self, index: int) -> dict[str, Any]:
        """companyName, employeeType and onPremisesSyncEnabled (True: synced from AD; None: cloud-only)."""
        ident = self.identity(index)
        if ident.kind == "guest":
            company = catalog.GUEST_COMPANIES[self._h(index, 0) % len(catalog.GUEST_DOMAINS)]
            return {"companyName": company, "employeeType": None, "onPremisesSyncEnabled": None}
        if ident.kind == "concealed":
            return {"companyName": None, "employeeType": None, "onPremisesSyncEnabled": None}
        h = self._h(index, 14)
        sync = (h >> 16) % 20
        return {
            "companyName": None if h % 4 == 0 else catalog.COMPANY_NAME,
            "employeeType": None
            if (h >> 4) % 10 < 3
            else catalog.EMPLOYEE_TYPES[(h >> 8) % len(catalog.EMPLOYEE_TYPES)],
            "onPremisesSyncEnabled": True if sync < 11 else False if sync == 11 else None,
        }

    def licence_assignments(self, index: int) -> list[dict[str, Any]]:
        """licenseAssignmentStates: each held SKU assigned directly, through its group, or both; plus, for about one
        member in 25, a group assignment that failed.

        A direct assignment needs a usageLocation, so a user without one is licensed through groups only. A failed
        assignment (state Error) grants nothing: it is absent from assignedLicenses and from consumedUnits.
        """
        h = self._h(index, 13)
        direct_allowed = self._place(index)[0] is not None
        states = []
        for n, sku in enumerate(self.licences(index)):
            licensed_at = self._licensed_at(index, n, sku)
            roll = (h >> (5 * n)) % 20
            by_group = (roll >= 9 if sku.dynamics else roll < 15) and index not in self.cast
            both = sku.dynamics and roll >= 17 and index not in self.cast
            if by_group or not direct_allowed:
                grouped = licensed_at + (h >> (5 * n + 20)) % (90 * 86400) * TICKS
                group = self._licence_group(index, sku)
                states.append(_assignment(sku, group, "Active", None, min(grouped, self._now)))
            if direct_allowed and (both or not by_group):
                states.append(_assignment(sku, None, "Active", None, licensed_at))
        failed = self._failed_licence(index)
        if failed is not None:
            sku, error = failed
            when = self._now - (h >> 40) % (20 * 86400) * TICKS
            states.append(_assignment(sku, self._licence_group(index, sku), "Error", error, when))
        return states

    def _licence_group(self, index: int, sku: catalog.Sku) -> str:
        """The group through which this user gets a SKU: one of the groups assigning it, the same one every time."""
        choices = catalog.LICENCE_GROUPS[sku.part_number]
        return choices[self._h(index, 19) % len(choices)]

    def _licensed_at(self, index: int, n: int, sku: catalog.Sku) -> int:
        """When the user's n-th SKU was first assigned: an hour after the account was created, except for about one
        Dynamics 365 seat in six, assigned in the last ten days (a new hire, a new project)."""
        h = self._h(index, 16)
        case = self.cast.get(index)
        if case is not None and case.licensed_days_ago is not None:
            return self._now - case.licensed_days_ago * 86400 * TICKS
        if sku.dynamics and (h >> (4 * n)) % 6 == 0 and case is None:
            return self._now - (h >> 32) % (10 * 86400) * TICKS
        return self._created_ticks(index) + 3600 * TICKS

    def _failed_licence(self, index: int) -> tuple[catalog.Sku, str] | None:
        """A Dynamics 365 SKU that a group tried and failed to give this member, with Graph's error code."""
        h = self._h(index, 15)
        if self.identity(index).kind != "member" or h % 25 or index in self.cast:
            return None
        held = set(self.licences(index))
        candidates = [s for s in catalog.USER_LICENSABLE if s.dynamics and s not in held]
        error = catalog.ASSIGNMENT_ERRORS[(h >> 8) % len(catalog.ASSIGNMENT_ERRORS)]
        if self._place(index)[0] == "CN":
            error = "ProhibitedInUsageLocationViolation"
        return candidates[(h >> 16) % len(candidates)], error

    def _mail(self, ident: Identity, h: int) -> str | None:
        if ident.kind == "concealed" or (h >> 28) % 100 < 15:
            return None
        if ident.kind == "guest":
            local, _, _ = ident.upn.partition("#EXT#")
            name, _, domain = local.rpartition("_")
            return f"{name}@{domain}"
        return ident.upn

    def _plans(self, index: int) -> list[dict[str, Any]]:
        """assignedPlans: each held SKU's service plans, assigned when the SKU's first active assignment was."""
        active = [state for state in self.licence_assignments(index) if state["state"] == "Active"]
        first = {
            sku.sku_id: min(state["lastUpdatedDateTime"] for state in active if state["skuId"] == sku.sku_id)
            for sku in self.licences(index)
        }
        return [
            {
                "assignedDateTime": first[sku.sku_id],
                "capabilityStatus": "Enabled",
                "service": _service(name),
                "servicePlanId": plan_id,
            }
            for sku in self.licences(index)
            for plan_id, name in sku.plans
        ]

    def users(self, select: tuple[str, ...] = tuple(sorted(USER_PROPERTIES))) -> Iterator[dict[str, Any]]:
        """All users in directory order (the order /users pages them)."""
        for index in range(self.count):
            yield self.user(index, select)

    def _consumed(self) -> dict[str, int]:
        """skuId -> how many users hold it."""
        consumed: dict[str, int] = {}
        for index in range(self.count):
            for sku in self.licences(index):
                consumed[sku.sku_id] = consumed.get(sku.sku_id, 0) + 1
        return consumed

    def _inventory(self, premium: bool) -> Iterator[tuple[catalog.Sku, int]]:
        """Each SKU the tenant has (Entra ID P1 only on a premium tenant) with its units bought: at least as many as
        its holders."""
        consumed = self._consumed()
        for sku in self.skus:
            if sku.part_number != "AAD_PREMIUM" or premium:
                yield sku, max(sku.prepaid, consumed.get(sku.sku_id, 0))

    def subscriptions(self, premium: bool) -> list[Subscription]:
        """The commercial subscriptions behind the inventory (graph_emulator.subscriptions), in inventory order."""
        return [found for sku, units in self._inventory(premium) for found in self._subscriptions_of(sku, units)]

    def _subscriptions_of(self, sku: catalog.Sku, units: int) -> list[Subscription]:
        return subscriptions_of(sku, units, self._salt, self._now)

    def subscribed_skus(self, tenant_id: str, premium: bool) -> list[dict[str, Any]]:
        """The licence inventory; consumedUnits counts the users holding each SKU, subscriptionIds its subscriptions
        in force."""
        consumed = self._consumed()
        out = []
        for sku, prepaid in self._inventory(premium):
            in_force = [found.id for found in self._subscriptions_of(sku, prepaid) if found.status != "Deleted"]
            out.append(
                {
                    "accountId": tenant_id,
                    "accountName": "Contoso",
                    "appliesTo": sku.applies_to,
                    "capabilityStatus": "Enabled",
                    "consumedUnits": consumed.get(sku.sku_id, 0),
                    "id": f"{tenant_id}_{sku.sku_id}",
                    "prepaidUnits": {"enabled": prepaid, "suspended": 0, "warning": 0, "lockedOut": 0},
                    "servicePlans": [
                        {
                            "servicePlanId": pid,
                            "servicePlanName": name,
                            "provisioningStatus": "Success",
                            "appliesTo": sku.applies_to,
                        }
                        for pid, name in sku.plans
                    ],
                    "skuId": sku.sku_id,
                    "skuPartNumber": sku.part_number,
                    "subscriptionIds": in_force,
                }
            )
        return out


def _assignment(sku: catalog.Sku, group: str | None, state: str, error: str | None, ticks: int) -> dict[str, Any]:
    """One licenseAssignmentState, in Graph's property order."""
    return {
        "assignedByGroup": group,
        "disabledPlans": [],
        "error": error,
        "lastUpdatedDateTime": format_ticks(ticks - ticks % TICKS),
        "skuId": sku.sku_id,
        "state": state,
    }


def _service(plan_name: str) -> str:
    if plan_name.startswith(("DYN365", "CRM")):
        return "CRM"
    return {
        "EXCHANGE_S_ENTERPRISE": "exchange",
        "SHAREPOINTENTERPRISE": "SharePoint",
        "TEAMS1": "TeamspaceAPI",
        "AAD_PREMIUM": "AADPremiumService",
    }.get(plan_name, plan_name)
