"""The license worklist's cases (TenantSpec.worklist_cases): scripted users, the trial and device SKUs, and sign-ins to
a product's own application by its holders only; off, the tenant is the one every other test knows."""

from __future__ import annotations

import datetime as dt

import pytest

from graph_emulator import catalog
from graph_emulator.tenant import Tenant, TenantSpec

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
SPEC = {"seed": 14, "users": 240, "sign_ins": 1500, "days": 25, "now": NOW, "non_interactive_ratio": 2}
TRIAL, DEVICE = "Dynamics_365_Sales_Premium_Viral_Trial", "Dynamics_365_for_Operations_Devices"


@pytest.fixture(scope="module")
def tenant() -> Tenant:
    return Tenant(TenantSpec(worklist_cases=True, **SPEC))


def by_case(tenant: Tenant) -> dict[str, int]:
    return {case.name: index for index, case in tenant.directory.cast.items()}


def sign_ins_of(tenant: Tenant, index: int, event_type: str | None = None) -> list[dict]:
    user_id = tenant.directory.identity(index).id
    return [r for r in tenant.sign_ins_between(0, tenant.now_ticks + 1, None, event_type) if r["userId"] == user_id]


def test_without_the_cases_the_tenant_is_unchanged():
    plain, again = Tenant(TenantSpec(**SPEC)), Tenant(TenantSpec(worklist_cases=False, **SPEC))
    assert list(plain.users()) == list(again.users())
    assert {sku["skuPartNumber"] for sku in plain.subscribed_skus()}.isdisjoint({TRIAL, DEVICE})
    assert not plain.directory.cast


def test_the_trial_and_the_device_licence_join_the_inventory(tenant):
    skus = {sku["skuPartNumber"]: sku for sku in tenant.subscribed_skus()}
    assert skus[TRIAL]["prepaidUnits"]["enabled"] == 10_000 and skus[TRIAL]["consumedUnits"] == 1
    assert skus[DEVICE]["consumedUnits"] == 0
    assert catalog.SKU_BY_PART.keys().isdisjoint({TRIAL, DEVICE}), "never drawn for a random user"


def test_each_case_is_the_last_users_licensed_directly_as_scripted(tenant):
    cases = by_case(tenant)
    assert sorted(cases.values()) == list(range(240 - len(catalog.CASES), 240))
    for name, index in cases.items():
        user = tenant.directory.user(index, ("accountEnabled", "userType", "licenseAssignmentStates"))
        case = tenant.directory.cast[index]
        assert user["accountEnabled"] is case.enabled and (user["userType"] == "Guest") is case.guest, name
        assert all(state["assignedByGroup"] is None for state in user["licenseAssignmentStates"]), name


def test_the_cases_sign_in_as_scripted(tenant):
    cases = by_case(tenant)
    assert not sign_ins_of(tenant, cases["disabled"], None)
    integration = cases["integration"]
    assert not sign_ins_of(tenant, integration, "interactiveUser")
    assert any(r["appId"] == catalog.DATAVERSE for r in sign_ins_of(tenant, integration, "nonInteractiveUser"))
    assert tenant.directory.user(integration, ("signInActivity",))["signInActivity"]["lastSignInDateTime"] is None
    admin = {r["appId"] for r in sign_ins_of(tenant, cases["administrator without use"], None)}
    assert catalog.CRM_ADMIN in admin and not admin & set(catalog.APP_FAMILIES)
    unused = {r["appId"] for r in sign_ins_of(tenant, cases["Business Central unused"], None)}
    assert catalog.DATAVERSE in unused and catalog.BUSINESS_CENTRAL not in unused


def test_a_products_own_application_is_signed_in_to_by_its_holders_only(tenant):
    directory = tenant.directory
    ids = {directory.identity(i).id: i for i in range(directory.count)}
    for app_id, family in catalog.APP_FAMILIES.items():
        for row in tenant.sign_ins_between(0, tenant.now_ticks + 1, [app_id], None):
            if row["appId"] == app_id:
                assert family in tenant.log.families_held(ids[row["userId"]]), (family, row["userId"])


def test_the_leavers_carry_a_leave_date_past_or_near_and_nobody_else_does(tenant):
    dates = {
        index: tenant.directory.user(index, ("employeeLeaveDateTime",))["employeeLeaveDateTime"]
        for index in range(tenant.directory.count)
    }
    cases = by_case(tenant)
    assert {index for index, date in dates.items() if date} == {cases["leaver"], cases["leaving soon"]}
    left, leaving = (dt.datetime.fromisoformat(dates[cases[name]]) for name in ("leaver", "leaving soon"))
    assert NOW - dt.timedelta(days=13) < left < NOW - dt.timedelta(days=11)
    assert NOW + dt.timedelta(days=8) < leaving < NOW + dt.timedelta(days=10)
