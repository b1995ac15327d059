"""/v1.0/groups: the groups that assign licences, found with Graph's licence filter as an advanced query, and the
group table that users' assignedByGroup points into."""

from __future__ import annotations

from typing import Iterator

import pytest

from graph_emulator import Emulator, catalog
from graph_emulator.groups import DEFAULT_GROUP_SELECT
from graph_emulator.routes import GROUP_READ_ROLES

from .conftest import Client

GROUPS = "/v1.0/groups"
CUSTOMER_SERVICE = catalog.SKU_BY_PART["DYN365_ENTERPRISE_CUSTOMER_SERVICE"].sku_id
SALES = catalog.SKU_BY_PART["DYN365_ENTERPRISE_SALES"].sku_id
TEAM_MEMBERS = catalog.SKU_BY_PART["DYN365_TEAM_MEMBERS"].sku_id
UNLICENSED = {g.id for g in catalog.GROUPS if not g.licences}


def license_filter(sku_id: str) -> str:
    return f"assignedLicenses/any(x:x/skuId eq {sku_id})"


def advanced(sku_id: str, **options: str) -> dict[str, str]:
    """Query options of a licence filter sent as an advanced query."""
    return {
        "$filter": license_filter(sku_id),
        "$count": "true",
        "$select": "id,displayName,assignedLicenses",
        **options,
    }


@pytest.fixture(scope="module")
def eventual(emu: Emulator) -> Client:
    """A client that sends `ConsistencyLevel: eventual` on every request, nextLinks included."""
    client = Client(emu)
    client.http.headers["ConsistencyLevel"] = "eventual"
    return client


def ids(pages: list[list[dict]]) -> list[str]:
    return [group["id"] for page in pages for group in page]


def test_groups_answer_the_list_groups_permissions_and_refuse_others(fresh: Emulator) -> None:
    statuses = {}
    for roles in [(role,) for role in GROUP_READ_ROLES] + [("User.Read.All", "AuditLog.Read.All"), ()]:
        fresh.grant_roles("full", roles)
        statuses[roles] = Client(fresh, "full").get(GROUPS).status_code
    assert statuses == {
        **{(role,): 200 for role in GROUP_READ_ROLES},
        ("User.Read.All", "AuditLog.Read.All"): 403,
        (): 403,
    }
    assert GROUP_READ_ROLES[0] == "GroupMember.Read.All", "the least privileged first"


def test_a_refused_app_gets_graphs_denied_error(emu: Emulator) -> None:
    answer = Client(emu, "no_consent").get(GROUPS)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "Authorization_RequestDenied"


def test_groups_without_select_carry_the_default_properties_without_assigned_licenses(emu: Emulator, client: Client):
    answer = client.get(GROUPS)
    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"] == f"{emu.base_url}/v1.0/$metadata#groups"
    assert "@odata.count" not in body and "@odata.nextLink" not in body
    assert [list(group) for group in body["value"]] == [list(DEFAULT_GROUP_SELECT)] * len(catalog.GROUPS)
    assert "assignedLicenses" not in DEFAULT_GROUP_SELECT
    assert [group["id"] for group in body["value"]] == [g.id for g in catalog.GROUPS]


def test_selected_properties_come_in_the_order_asked_and_match_the_group_table(emu: Emulator, client: Client) -> None:
    body = client.get(GROUPS, {"$select": "displayName,ID,assignedLicenses,groupTypes"}).json()
    assert body["@odata.context"].endswith("#groups(displayName,id,assignedLicenses,groupTypes)")
    for served, truth in zip(body["value"], emu.tenant.groups(), strict=True):
        assert served == {key: truth[key] for key in ("displayName", "id", "assignedLicenses", "groupTypes")}
        table = catalog.GROUP_BY_ID[served["id"]]
        assert served["displayName"] == table.display_name
        assert [lic["skuId"] for lic in served["assignedLicenses"]] == list(table.sku_ids)
        assert all(lic["disabledPlans"] == [] for lic in served["assignedLicenses"])


def test_an_unknown_selected_property_is_400(client: Client) -> None:
    answer = client.get(GROUPS, {"$select": "id,shoeSize"})
    assert answer.status_code == 400
    assert (
        answer.json()["error"]["message"]
        == "Could not find a property named 'shoeSize' on type 'microsoft.graph.group'."
    )


@pytest.mark.parametrize("option", ["$orderby", "$search", "$expand", "$skip"])
def test_an_option_the_emulator_does_not_serve_is_400(client: Client, option: str) -> None:
    answer = client.get(GROUPS, {option: "displayName"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "Request_UnsupportedQuery"


@pytest.mark.parametrize(("top", "status"), [("1", 200), ("999", 200), ("0", 400), ("1000", 400), ("ten", 400)])
def test_groups_top_bounds(client: Client, top: str, status: int) -> None:
    answer = client.get(GROUPS, {"$top": top})
    assert answer.status_code == status
    if status == 400:
        assert answer.json()["error"] == answer.json()["error"] | {
            "code": "Request_UnsupportedQuery",
            "message": f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
        }


def test_a_small_top_pages_through_every_group_once(client: Client) -> None:
    pages = client.pages(GROUPS, {"$top": "4", "$select": "id"})
    assert [len(page) for page in pages] == [4, 4, 1]
    assert ids(pages) == [g.id for g in catalog.GROUPS]


@pytest.mark.parametrize("part", sorted(catalog.SKU_BY_PART))
def test_the_license_filter_returns_exactly_the_groups_assigning_that_sku(eventual: Client, part: str) -> None:
    sku_id = catalog.SKU_BY_PART[part].sku_id
    pages = eventual.pages(GROUPS, advanced(sku_id, **{"$top": "1"}))
    assert ids(pages) == [g.id for g in catalog.GROUPS if part in g.licences]
    assert all(sku_id in {lic["skuId"] for lic in group["assignedLicenses"]} for page in pages for group in page)


def test_a_group_assigning_two_skus_is_found_by_either_and_licence_filters_never_find_unlicensed_groups(
    emu: Emulator, eventual: Client
) -> None:
    found = {sku["skuId"]: ids(eventual.pages(GROUPS, advanced(sku["skuId"]))) for sku in emu.tenant.subscribed_skus()}
    sales_group = catalog.LICENCE_GROUPS["DYN365_ENTERPRISE_SALES"]
    assert found[SALES] == found[TEAM_MEMBERS] == list(sales_group)
    assert len(found[CUSTOMER_SERVICE]) == 2
    assert UNLICENSED and not UNLICENSED & {group for groups in found.values() for group in groups}


def test_the_filter_counts_the_matching_groups(eventual: Client) -> None:
    first = eventual.get(GROUPS, advanced(CUSTOMER_SERVICE, **{"$top": "1"})).json()
    assert first["@odata.count"] == 2 and len(first["value"]) == 1
    assert "$count=true" in first["@odata.nextLink"]
    assert eventual.get(first["@odata.nextLink"]).json()["@odata.count"] == 2


def test_count_without_the_consistency_level_header_is_ignored(eventual: Client, client: Client) -> None:
    assert "@odata.count" not in client.get(GROUPS, {"$count": "true"}).json()
    assert eventual.get(GROUPS, {"$count": "true"}).json()["@odata.count"] == len(catalog.GROUPS)
    assert "@odata.count" not in eventual.get(GROUPS, {"$count": "false"}).json()


def test_a_count_other_than_true_or_false_is_400(client: Client) -> None:
    assert client.get(GROUPS, {"$count": "yes"}).status_code == 400


@pytest.mark.parametrize(
    ("header", "count"),
    [(False, "true"), (True, None), (True, "false"), (False, None)],
    ids=["no header", "no $count", "$count=false", "neither"],
)
def test_the_license_filter_needs_the_advanced_query_parameters(
    eventual: Client, client: Client, header: bool, count: str | None
) -> None:
    options = {"$filter": license_filter(SALES)} | ({"$count": count} if count else {})
    answer = (eventual if header else client).get(GROUPS, options)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "Request_UnsupportedQuery"
    assert error["message"].startswith("Operator 'any' is not supported because the required parameters might be")
    assert "$count=true" in error["message"] and "ConsistencyLevel:eventual" in error["message"]


def test_every_next_link_page_of_the_license_filter_needs_the_header_again(eventual: Client, client: Client) -> None:
    first = eventual.get(GROUPS, advanced(CUSTOMER_SERVICE, **{"$top": "1"}))
    assert first.status_code == 200
    link = first.json()["@odata.nextLink"]
    without_header = client.get(link)
    assert without_header.status_code == 400 and without_header.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert eventual.get(link).status_code == 200


@pytest.mark.parametrize(
    "clause",
    [
        "assignedLicenses/any(x:x/skuId ne 6fd2c87f-b296-42f0-b197-1e91e994b900)",
        "displayName eq 'All staff'",
        "hasMembersWithLicenseErrors eq true",
    ],
)
def test_any_other_groups_filter_is_refused(eventual: Client, clause: str) -> None:
    answer = eventual.get(GROUPS, {"$filter": clause, "$count": "true"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].endswith("of resource 'Group'.")


def test_every_group_a_user_is_licensed_through_assigns_that_sku(emu: Emulator) -> None:
    through = {
        (state["assignedByGroup"], state["skuId"])
        for user in emu.tenant.users()
        for state in user["licenseAssignmentStates"]
        if state["assignedByGroup"]
    }
    assert through and all(sku_id in catalog.GROUP_BY_ID[group].sku_ids for group, sku_id in through)
    assert {group for group, _ in through} <= {g.id for g in catalog.GROUPS if g.licences}


def test_every_seat_sku_is_assigned_by_some_group_and_names_are_unique() -> None:
    assert {sku.part_number for sku in catalog.USER_LICENSABLE} <= set(catalog.LICENCE_GROUPS)
    assert len({g.id for g in catalog.GROUPS}) == len({g.display_name for g in catalog.GROUPS}) == len(catalog.GROUPS)
    assert any("," in g.display_name and not g.display_name.isascii() for g in catalog.GROUPS if g.licences)


@pytest.fixture
def faulty(fresh: Emulator) -> Iterator[tuple[Emulator, Client]]:
    client = Client(fresh)
    client.http.headers["ConsistencyLevel"] = "eventual"
    yield fresh, client


def test_an_expired_page_token_fault_hits_a_groups_next_link(faulty: tuple[Emulator, Client]) -> None:
    emu, client = faulty
    emu.add_fault({"route": "groups", "kind": "expired_skiptoken"})
    first = client.get(GROUPS, advanced(CUSTOMER_SERVICE, **{"$top": "1"}))
    assert first.status_code == 200, "a first page carries no skiptoken"
    answer = client.get(first.json()["@odata.nextLink"])
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_a_throttling_fault_on_groups_answers_429_then_recovers(faulty: tuple[Emulator, Client]) -> None:
    emu, client = faulty
    emu.add_fault({"route": "groups", "kind": "status", "status": 429, "retry_after": 3})
    throttled = client.get(GROUPS)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert client.get(GROUPS).status_code == 200
    assert [entry.get("fault") for entry in emu.request_log("groups")] == ["status", None]


@pytest.mark.parametrize(("kind", "body"), [("value_missing", {}), ("value_null", {"value": None})])
def test_page_faults_reach_a_groups_page(faulty: tuple[Emulator, Client], kind: str, body: dict) -> None:
    emu, client = faulty
    emu.add_fault({"route": "groups", "kind": kind})
    answer = client.get(GROUPS, advanced(SALES))
    assert answer.status_code == 200
    assert {k: v for k, v in answer.json().items() if not k.startswith("@odata")} == body


def test_a_fault_on_another_route_leaves_groups_alone(faulty: tuple[Emulator, Client]) -> None:
    emu, client = faulty
    emu.add_fault({"route": "users", "kind": "status", "status": 503, "times": None})
    assert client.get(GROUPS).status_code == 200
