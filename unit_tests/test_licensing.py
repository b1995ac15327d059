"""Which SKUs are Dynamics 365 (licensing.py), held against Microsoft's whole table as the package ships it: the
mixed-case and unprefixed Dynamics 365 part numbers, the Microsoft 365 products that carry Dataverse plans, the
fallback for a SKU newer than the table, and tenant-wide add-ons."""

import json
import re
from importlib.resources import files

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode

from source_dynamics365_cc.licensing import (
    TABLE,
    classify,
    is_dynamics_product,
    microsoft_products,
    products_from,
)
from source_dynamics365_cc.streams.licenses import dynamics_skus
from testing.graph_fakes import GRAPH, config, page, read_streams, register_login

# Microsoft spells these Dynamics 365 part numbers in mixed case or without a Dynamics prefix.
UNUSUAL_DYNAMICS_PARTS = (
    "Dynamics_365_Business_Central_Essentials_Attach",
    "Dyn365_Operations_Activity",
    "Dynamics_365_Multi_app_",
    "PROJECT_MADEIRA_PREVIEW_IW_SKU",
    "FORMS_PRO",
    "GUIDES_USER",
    "MICROSOFT_REMOTE_ASSIST",
    "AX7_USER_TRIAL",
)
OLD_CASE_SENSITIVE_PREFIXES = ("DYN365_", "DYNAMICS_365_", "D365_", "CRM")


def by_part(part: str) -> tuple[str, str]:
    """(skuId, product name) of the product the table lists under this part number."""
    [(sku_id, name)] = [(i, p.name) for i, p in microsoft_products().items() if p.part_number == part]
    return sku_id, name


def test_the_table_ships_in_the_package_whole():
    products = microsoft_products()
    rows = files("source_dynamics365_cc").joinpath(TABLE).read_text(encoding="utf-8").splitlines()
    assert len(products) == 610 and len(rows) == 5820 + 1
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", sku_id) for sku_id in products)


def test_over_the_whole_table_the_rule_takes_every_product_named_dynamics_and_two_bundles_named_otherwise():
    products = microsoft_products()
    dynamics = {sku_id for sku_id, product in products.items() if is_dynamics_product(product)}
    named = {sku_id for sku_id, product in products.items() if re.search(r"\bDynamics\b", product.name)}
    assert len(named) == 124 and named < dynamics
    assert sorted(products[sku_id].name for sku_id in dynamics - named) == [
        "Digital Messaging for GCC Test SKU",
        "Microsoft Relationship Sales solution",
    ]
    assert len(dynamics) == 126


@pytest.mark.parametrize("part", UNUSUAL_DYNAMICS_PARTS)
def test_a_mixed_case_or_unprefixed_dynamics_365_sku_is_dynamics_365_by_its_product_name(part):
    sku_id, name = by_part(part)
    found = classify({"skuId": sku_id.upper(), "skuPartNumber": part, "appliesTo": "User"})
    assert found.is_dynamics365 and found.is_seat and found.product_name == name
    assert found.sku_id == sku_id and "Dynamics" in name
    assert dynamics_skus([{"skuId": sku_id, "skuPartNumber": part, "appliesTo": "User"}]) == [sku_id]
    assert not part.startswith(OLD_CASE_SENSITIVE_PREFIXES), "the part-number rule this replaces missed it"


def test_microsoft_365_and_power_platform_products_carrying_dataverse_plans_are_not_dynamics_365():
    products = microsoft_products()
    with_dataverse = [
        product
        for product in products.values()
        if "Dynamics" not in product.name
        and any(plan.upper().startswith("DYN365_CDS") for plan in product.service_plans)
    ]
    assert len(with_dataverse) > 90
    assert not [product.name for product in with_dataverse if is_dynamics_product(product)]
    for part in ("SPE_E3", "ENTERPRISEPACK"):
        sku_id, name = by_part(part)
        plans = [{"servicePlanName": "DYN365_CDS_O365_P2"}]
        found = classify({"skuId": sku_id, "skuPartNumber": part, "servicePlans": plans})
        assert not found.is_dynamics365 and found.product_name == name


@pytest.mark.parametrize(
    "part, plans, dynamics, because",
    [
        ("Dyn365_Brand_New_App", [], True, "its part number starts Dyn365_"),
        ("NEW_FIELD_APP", ["GUIDES", "d365_new_field_plan"], True, "its service plan d365_new_field_plan"),
        ("M365_NEW_BUNDLE", ["DYN365_CDS_O365_P9", "EXCHANGE_S_ENTERPRISE"], False, "not treated as Dynamics 365"),
        ("POWER_NEW", [], False, "neither its part number nor a service plan starts"),
    ],
)
def test_a_sku_newer_than_the_table_is_decided_by_its_part_number_and_plans_in_any_case(part, plans, dynamics, because):
    sku = {"skuId": "0000aaaa-0000-4000-8000-00000000abcd", "skuPartNumber": part, "appliesTo": "User"}
    found = classify({**sku, "servicePlans": [{"servicePlanName": plan} for plan in plans]})
    assert found.is_dynamics365 is dynamics and found.product_name is None
    assert "not in Microsoft's licence table of 29 October 2025" in found.reason and because in found.reason


def test_a_company_sku_is_dynamics_365_but_nobodys_seat():
    sku_id, _ = by_part("CRMSTORAGE")
    storage = {"skuId": sku_id, "skuPartNumber": "CRMSTORAGE", "appliesTo": "Company"}
    found = classify(storage)
    assert found.is_dynamics365 and not found.is_seat
    assert dynamics_skus([storage]) == []


def test_a_newer_table_in_microsofts_layout_drops_in():
    newer = (
        "Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,Service_Plans_Included_Friendly_Names\n"
        "Dynamics 365 Brand New,brand_new,AAAA0000-0000-4000-8000-000000000001,NEW_PLAN,p1,New plan\n"
        "Dynamics 365 Brand New,brand_new,AAAA0000-0000-4000-8000-000000000001,DYN365_CDS_X,p2,Dataverse\n"
    )
    products = products_from(newer)
    found = classify({"skuId": "aaaa0000-0000-4000-8000-000000000001", "skuPartNumber": "brand_new"}, products)
    assert found.is_dynamics365 and found.product_name == "Dynamics 365 Brand New"
    assert products["aaaa0000-0000-4000-8000-000000000001"].service_plans == ("NEW_PLAN", "DYN365_CDS_X")


def test_subscribed_skus_records_carry_microsofts_name_and_the_classification_the_roster_used():
    attach, _ = by_part("Dynamics_365_Business_Central_Essentials_Attach")
    e3, _ = by_part("SPE_E3")
    newer = "0000aaaa-0000-4000-8000-00000000abcd"
    skus = [
        {"skuId": attach, "skuPartNumber": "Dynamics_365_Business_Central_Essentials_Attach", "appliesTo": "User"},
        {"skuId": e3, "skuPartNumber": "SPE_E3", "appliesTo": "User"},
        {"skuId": newer, "skuPartNumber": "NEW_THING", "appliesTo": "User"},
    ]
    with requests_mock.Mocker() as mocker:
        register_login(mocker)
        mocker.get(f"{GRAPH}/v1.0/subscribedSkus", json=page(skus))
        output = read_streams(config(roster_sku_ids=[newer]), ("subscribed_skus", SyncMode.full_refresh))
    records = {r.record.data["skuPartNumber"]: r.record.data for r in output.records}
    assert {part: (r.get("productDisplayName"), r["isDynamics365"]) for part, r in records.items()} == {
        "Dynamics_365_Business_Central_Essentials_Attach": ("Dynamics 365 Business Central Essentials Attach", True),
        "SPE_E3": ("Microsoft 365 E3", False),
        "NEW_THING": (None, True),  # the configuration names it Dynamics 365 (roster_sku_ids)
    }
    schema = json.loads(files("source_dynamics365_cc").joinpath("schemas/subscribed_skus.json").read_text())
    assert {"productDisplayName", "isDynamics365"} <= set(schema["properties"])
    told = [
        m.log.message for m in output.logs if m.log is not None and "Dynamics 365 SKUs of the tenant" in m.log.message
    ]
    assert len(told) == 1 and "NEW_THING (not in the table)" in told[0]
