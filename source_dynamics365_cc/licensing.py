"""Which of a tenant's SKUs are Dynamics 365, and what Microsoft calls them: one rule, from Microsoft's own table.

The table is Microsoft's "Product names and service plan identifiers for licensing" (`data/`, its README gives the
source and revision), one row per product and service plan. The rule, decided per SKU:

- A SKU the table lists (by skuId) is Dynamics 365 when Microsoft's product name says "Dynamics" ("Dynamics 365
  Guides", "Microsoft Dynamics CRM Online", "Sensor Data Intelligence ... for Dynamics 365 Supply Chain
  Management"), or when the table's own part number or service plans are Dynamics 365's (the evidence below).
  The name is the rule because Microsoft spells part numbers in any case and without a Dynamics prefix
  (`Dynamics_365_Business_Central_Essentials_Attach`, `Dyn365_Operations_Activity`, `PROJECT_MADEIRA_PREVIEW_IW_SKU`,
  `FORMS_PRO`, `GUIDES_USER`, `MICROSOFT_REMOTE_ASSIST`, `AX7_USER_TRIAL`), while its product names say what the
  product is. Over the October 2025 table the name alone names 124 products; the evidence adds two that Microsoft
  names otherwise but that are Dynamics 365: "Microsoft Relationship Sales solution" (DYN365_ENTERPRISE_RELATIONSHIP_
  SALES: Dynamics 365 Sales Enterprise with LinkedIn Sales Navigator) and "Digital Messaging for GCC Test SKU"
  (Dynamics 365 Customer Service chat and messaging plans).
- The evidence: a part number or a service plan name that starts DYN365_, DYNAMICS_365_, D365_ or CRM, in any case,
  except the Dataverse plans (DYN365_CDS_*). Microsoft puts those in about a hundred Microsoft 365, Office 365,
  Power Apps and Project products (Office 365 E3 carries DYN365_CDS_O365_P2) that are no Dynamics 365 seat, so a rule
  on plan names alone would count every Microsoft 365 user as a Dynamics 365 holder.
- A SKU newer than the table (its skuId is not listed) is decided by the same evidence, read from what
  subscribedSkus says of it (skuPartNumber, servicePlans[].servicePlanName); the sync log says so at WARN.

Only a SKU that applies to users (appliesTo "User") is a seat: "Company" SKUs (storage, capacity) are the tenant's.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Iterable, Mapping, Optional

TABLE = "data/product-names-and-service-plan-identifiers.csv"
TABLE_REVISION = "29 October 2025"  # the revision of the shipped table, as the page's own note dates it
DYNAMICS_PREFIXES = ("DYN365_", "DYNAMICS_365_", "D365_", "CRM")
DATAVERSE_PLANS = "DYN365_CDS"  # Dataverse for Microsoft 365 and Power Platform products: no Dynamics 365 seat
NAMES_DYNAMICS = re.compile(r"\bDynamics\b", re.IGNORECASE)


@dataclass(frozen=True)
class Product:
    """A product as Microsoft's table lists it: its display name, part number and service plan names."""

    name: str
    part_number: str
    service_plans: tuple[str, ...]


@dataclass(frozen=True)
class SkuClass:
    """A tenant SKU classified: Microsoft's product name (None when the table does not list the SKU), whether it is
    Dynamics 365, whether it is a seat, and in words how that was decided (for the sync log)."""

    sku_id: str
    part_number: str
    product_name: Optional[str]
    is_dynamics365: bool
    is_seat: bool
    reason: str

    @property
    def label(self) -> str:
        """The part number with Microsoft's product name, as the log names a SKU."""
        return f"{self.part_number} ({self.product_name or 'not in the table'})"


def products_from(text: str) -> dict[str, Product]:
    """The table's products by lower-case skuId (GUID), from the CSV text in Microsoft's column layout."""
    rows: dict[str, tuple[str, str, list[str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        entry = rows.setdefault(row["GUID"].strip().lower(), (row["Product_Display_Name"], row["String_Id"], []))
        entry[2].append(row["Service_Plan_Name"])
    return {sku_id: Product(name, part, tuple(plans)) for sku_id, (name, part, plans) in rows.items()}


@lru_cache(maxsize=1)
def microsoft_products() -> Mapping[str, Product]:
    """The shipped table, read once per process from the package (an installed wheel, an image or a checkout)."""
    return products_from(files(__package__).joinpath(TABLE).read_text(encoding="utf-8"))


def dynamics_evidence(part_number: str, service_plans: Iterable[str]) -> Optional[str]:
    """Where a part number or service plan says Dynamics 365 (any case, Dataverse plans aside), in words; None if
    nowhere."""
    if part_number.upper().startswith(DYNAMICS_PREFIXES):
        return f"its part number starts {part_number[: _prefix_length(part_number)]}"
    for plan in service_plans:
        upper = plan.upper()
        if upper.startswith(DYNAMICS_PREFIXES) and not upper.startswith(DATAVERSE_PLANS):
            return f"its service plan {plan} is a Dynamics 365 plan"
    return None


def _prefix_length(part_number: str) -> int:
    return next(len(prefix) for prefix in DYNAMICS_PREFIXES if part_number.upper().startswith(prefix))


def is_dynamics_product(product: Product) -> bool:
    """The rule for a product the table lists: its name says Dynamics, or its part number or plans do."""
    named = NAMES_DYNAMICS.search(product.name) is not None
    return named or dynamics_evidence(product.part_number, product.service_plans) is not None


def classify(sku: Mapping[str, Any], products: Optional[Mapping[str, Product]] = None) -> SkuClass:
    """A subscribedSkus entry classified by Microsoft's table (`products`, the shipped one unless given), or, for a
    skuId the table does not list, by the fallback evidence from the entry itself."""
    products = microsoft_products() if products is None else products
    sku_id = str(sku.get("skuId") or "").lower()
    part = str(sku.get("skuPartNumber") or "")
    seat = (sku.get("appliesTo") or "User") == "User"
    product = products.get(sku_id)
    if product is not None:
        dynamics = is_dynamics_product(product)
        reason = f"Microsoft's table names it {product.name}" + ("" if dynamics else ", not a Dynamics 365 product")
        return SkuClass(sku_id, part, product.name, dynamics, seat, reason)
    plans = [str(plan.get("servicePlanName") or "") for plan in sku.get("servicePlans") or [] if plan]
    evidence = dynamics_evidence(part, plans)
    unknown = f"not in Microsoft's licence table of {TABLE_REVISION}"
    if evidence is not None:
        return SkuClass(sku_id, part, None, True, seat, f"{unknown}; treated as Dynamics 365 because {evidence}")
    return SkuClass(
        sku_id,
        part,
        None,
        False,
        seat,
        f"{unknown}; not treated as Dynamics 365: neither its part number nor a service plan starts "
        f"{', '.join(DYNAMICS_PREFIXES)} (Dataverse plans {DATAVERSE_PLANS}_* aside)",
    )
