"""examples/sku_families.csv from Microsoft's licence table: which product family's sign-ins are evidence of use for
each Dynamics 365 SKU. Run `python -m tools.sku_families > examples/sku_families.csv` after replacing the shipped
table; unit_tests/test_license_worklist.py re-derives it so the shipped file cannot drift from the table.

A family is where a licence is used, named by the application a sign-in names: Dataverse (Sales, Customer Service,
Field Service, Marketing, Project Operations, Team Members, Guides: Dynamics CRM Online), Business Central, and
Finance and Operations (Microsoft Dynamics ERP). Graph's sign-ins do not say which licence they used, so a SKU's
family comes from its service plans' names, Microsoft's own, in the first of these rules that matches (a SKU whose
plans span families, Team Members, gets a row for each):
"""

from __future__ import annotations

import re
import sys
from typing import Iterable, Mapping, TextIO

from source_dynamics365_cc.licensing import TABLE_REVISION, Product, is_dynamics_product, microsoft_products

BUSINESS_CENTRAL = "Business Central"
FINANCE_AND_OPERATIONS = "Finance and Operations"
DATAVERSE = "Dataverse"
# (family, pattern over an upper-cased service plan name), first match wins: Business Central before Finance and
# Operations ("DYN365_FINANCIALS_BUSINESS" is Business Central's plan, "D365_FINANCE" Finance's), both before the
# Dataverse catch-all of Dynamics 365 plan prefixes. Power Apps, Power Automate, Exchange, SharePoint and Forms plans
# inside a Dynamics 365 SKU name no family: they are not where its holder works in Dynamics 365.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (BUSINESS_CENTRAL, re.compile(r"BUSCENTRAL|BUSINESS_CENTRAL|FINANCIALS|MADEIRA")),
    (
        FINANCE_AND_OPERATIONS,
        re.compile(
            r"^(DYNAMICS_365_FOR_(OPERATIONS|RETAIL|TALENT|HCM)|D365_(SCM|FINANCE|HR|ASSETFORSCM|IOTFORSCM|DEMANDPLANNING)"
            r"|DYN365_(CDS_)?(FINANCE|SUPPLYCHAINMANAGEMENT|RETAIL|SCM)|DYN365_(ENTERPRISE_)?TALENT"
            r"|DYN365_REGULATORY_SERVICE|AX7|ERP_)"
        ),
    ),
    (DATAVERSE, re.compile(r"^(DYN365_|DYNB365_|DDYN365_|D365|DYNAMICS_365_|CRM|CDS_|GUIDES$)")),
)
HEADER = f"""\
# Each Dynamics 365 SKU's product family: the sign-ins that are evidence a holder uses it (examples/license_usage.sql).
# DERIVED, do not edit: `python -m tools.sku_families > examples/sku_families.csv` from Microsoft's licence table
# ("Product names and service plan identifiers for licensing", revision {TABLE_REVISION}, shipped in
# source_dynamics365_cc/data/), for every product the connector classifies as Dynamics 365, by the names of its
# service plans (rules in tools/sku_families.py: BUSCENTRAL/BUSINESS_CENTRAL/FINANCIALS/MADEIRA -> Business Central;
# Operations, Retail, Talent, SCM, Finance, HR, AX7, ERP -> Finance and Operations; other Dynamics 365 plans,
# CRM and CDS -> Dataverse). A SKU not listed here (newer than the table) counts a sign-in to any family.
sku_id,sku_part_number,family
"""


def plan_family(plan: str) -> str | None:
    """The family a service plan's name places it in, or None (a Power Platform or Office plan)."""
    upper = plan.upper()
    return next((family for family, pattern in RULES if pattern.search(upper)), None)


def families(products: Mapping[str, Product]) -> list[tuple[str, str, str]]:
    """(sku_id, part number, family) for every Dynamics 365 product and each family its plans name, sorted."""
    rows = {
        (sku_id, product.part_number.strip(), family)
        for sku_id, product in products.items()
        if is_dynamics_product(product)
        for family in filter(None, map(plan_family, product.service_plans))
    }
    return sorted(rows, key=lambda row: (row[1].lower(), row[0], row[2]))


def write(rows: Iterable[tuple[str, str, str]], out: TextIO) -> None:
    """The CSV as shipped: the header comment, then one line per SKU and family."""
    out.write(HEADER)
    out.writelines(f"{sku_id},{part},{family}\n" for sku_id, part, family in rows)


if __name__ == "__main__":
    write(families(microsoft_products()), sys.stdout)
