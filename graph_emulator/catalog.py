"""Static reference data a real tenant would show: applications, names, places, licences.

Kept apart from generation so realism can be edited without touching the algorithms.
"""

from __future__ import annotations

from dataclasses import dataclass

DATAVERSE = "00000007-0000-0000-c000-000000000000"
BUSINESS_CENTRAL = "996def3d-b36c-4153-8607-a6fd3c01b89f"
DYNAMICS_ERP = "00000015-0000-0000-c000-000000000000"
CRM_ADMIN = "637fcc9f-4a9b-4aaa-8713-a2a3cfda1505"
DYNAMICS_APP_IDS = frozenset({DATAVERSE, BUSINESS_CENTRAL, DYNAMICS_ERP, CRM_ADMIN})
# The product families and their own applications: a holder of a family's licence works in it through this app.
DATAVERSE_FAMILY = "Dataverse"
BUSINESS_CENTRAL_FAMILY = "Business Central"
FINANCE_AND_OPERATIONS_FAMILY = "Finance and Operations"
APP_FAMILIES = {
    DATAVERSE: DATAVERSE_FAMILY,
    BUSINESS_CENTRAL: BUSINESS_CENTRAL_FAMILY,
    DYNAMICS_ERP: FINANCE_AND_OPERATIONS_FAMILY,
}

EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
SHAREPOINT = "00000003-0000-0ff1-ce00-000000000000"
GRAPH = "00000003-0000-0000-c000-000000000000"
TEAMS_SERVICE = "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe"


@dataclass(frozen=True)
class SignInApp:
    """A client application and the resource it signs in to, with a relative frequency."""

    app_id: str
    app_name: str
    resource_id: str
    resource_name: str
    weight: int

    @property
    def is_dynamics(self) -> bool:
        """What the connector's application filter matches: appId OR resourceId names Dynamics 365."""
        return self.app_id in DYNAMICS_APP_IDS or self.resource_id in DYNAMICS_APP_IDS


SIGN_IN_APPS: tuple[SignInApp, ...] = (
    SignInApp("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office", EXCHANGE, "Office 365 Exchange Online", 18),
    SignInApp("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", TEAMS_SERVICE, "Microsoft Teams Services", 16),
    SignInApp(SHAREPOINT, "Office 365 SharePoint Online", SHAREPOINT, "Office 365 SharePoint Online", 10),
    SignInApp(EXCHANGE, "Office 365 Exchange Online", EXCHANGE, "Office 365 Exchange Online", 10),
    SignInApp(
        "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7",
        "Office365 Shell WCSS-Client",
        "5f09333a-842c-47da-a157-57da27fcbca5",
        "Office365 Shell WCSS-Server",
        8,
    ),
    SignInApp("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile", EXCHANGE, "Office 365 Exchange Online", 6),
    SignInApp(
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "Azure Portal",
        "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        "Windows Azure Service Management API",
        4,
    ),
    SignInApp("2793995e-0a7d-40d7-bd35-6968ba142197", "My Apps", GRAPH, "Microsoft Graph", 3),
    # Dynamics 365 first-party applications (appId is itself the Dynamics app)
    SignInApp(DATAVERSE, "Dynamics CRM Online", DATAVERSE, "Dynamics CRM Online", 8),
    SignInApp(BUSINESS_CENTRAL, "Dynamics 365 Business Central", BUSINESS_CENTRAL, "Dynamics 365 Business Central", 3),
    SignInApp(DYNAMICS_ERP, "Microsoft Dynamics ERP", DYNAMICS_ERP, "Microsoft Dynamics ERP", 2),
    SignInApp(CRM_ADMIN, "Dynamics CRM Online Administration", CRM_ADMIN, "Dynamics CRM Online Administration", 1),
    # Other clients reaching Dataverse: only resourceId names Dynamics
    SignInApp("4e291c71-d680-4d0e-9640-0a3358e31177", "PowerApps", DATAVERSE, "Dynamics CRM Online", 3),
    SignInApp(
        "5b1c3a7e-2f44-4d1b-9a61-0c7e3d9f8a21", "Contoso Sales Outlook Add-in", DATAVERSE, "Dynamics CRM Online", 3
    ),
)

# (errorCode, failureReason, additionalDetails); index 0 is success
STATUSES: tuple[tuple[int, str | None, str | None], ...] = (
    (0, None, None),
    (0, None, "MFA requirement satisfied by claim in the token"),
    (0, None, "MFA completed in Azure AD"),
    (
        50126,
        "Error validating credentials due to invalid username or password.",
        "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes.",
    ),
    (50074, "Strong Authentication is required.", "The user is required to complete multi-factor authentication."),
    (50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", None),
    (530003, "Your device is required to be managed to access this resource.", None),
    (
        50053,
        "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
        None,
    ),
)
STATUS_WEIGHTS = (70, 10, 6, 5, 4, 2, 2, 1)

DEVICES: tuple[tuple[str, str | None], ...] = (  # (operatingSystem, browser)
    ("Windows10", "Edge 131.0.0"),
    ("Windows10", "Chrome 131.0.0"),
    ("Windows", "Rich Client 16.0.18129"),
    ("MacOs", "Safari 18.1"),
    ("Ios", "Mobile Safari 18.1"),
    ("Android", "Chrome Mobile 130.0.6723"),
    ("Windows10", "IE 7.0"),
    ("Linux", "Firefox 132.0"),
)
CLIENT_APPS = ("Browser", "Mobile Apps and Desktop clients", "Browser", "Mobile Apps and Desktop clients", None)

LOCATIONS: tuple[tuple[str | None, str | None, str | None, float | None, float | None], ...] = (
    ("Redmond", "Washington", "US", 47.6740, -122.1215),
    ("Seattle", "Washington", "US", 47.6062, -122.3321),
    ("London", "London", "GB", 51.5072, -0.1276),
    ("Paris", "Paris", "FR", 48.8566, 2.3522),
    ("München", "Bayern", "DE", 48.1351, 11.5820),
    ("São Paulo", "São Paulo", "BR", -23.5505, -46.6333),
    ("Beijing", "Beijing", "CN", 39.9042, 116.4074),
    ("Reykjavík", "Höfuðborgarsvæðið", "IS", 64.1466, -21.9426),
    (None, None, None, None, None),
)

GIVEN_NAMES = (
    "Adele",
    "Alex",
    "Diego",
    "Grady",
    "Isaiah",
    "Johanna",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Zoë",
    "Björn",
    "José",
    "Ægir",
    "Søren",
    "Chloé",
)
SURNAMES = (
    "Vance",
    "Wilber",
    "Siciliani",
    "Archie",
    "Langer",
    "Lauer",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilson",
    "Patel",
    "Gupta",
    "Ångström",
    "Müller",
    "Núñez",
    "O'Brien",
    "Łukasz",
    "Dvořák",
)
CJK_NAMES = (("雷", "李"), ("梅", "韩"), ("太郎", "山田"), ("민준", "김"))
JOB_TITLES = (
    "Sales Manager",
    "Account Executive",
    "Customer Service Agent",
    "Developer",
    "Accountant",
    "Field Technician",
    "Marketing Specialist",
    "CFO",
    "IT Administrator",
)
DEPARTMENTS = ("Sales", "Customer Service", "Finance", "Engineering", "Marketing", "Operations", "IT")
OFFICES = ("18/2111", "131/1104", "20/1101", "Remote", "Building 4")
LANGUAGES = ("en-US", "de-DE", "fr-FR", "zh-CN", "pt-BR", "is-IS")
GUEST_DOMAINS = ("fabrikam.com", "northwindtraders.com", "gmail.com", "outlook.com")
GUEST_COMPANIES = ("Fabrikam, Inc.", "Northwind Traders", None, None)  # per GUEST_DOMAINS; mailbox guests have none
COMPANY_NAME = "Contoso Ltd."
# (usageLocation: ISO 3166 alpha-2, country: the free text an HR feed writes)
USAGE_LOCATIONS = (
    ("US", "United States"),
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("BR", "Brazil"),
    ("CN", "China"),
    ("IS", "Iceland"),
)
EMPLOYEE_TYPES = ("Employee", "Employee", "Employee", "Employee", "Contractor", "Consultant", "Vendor")
# Errors a licenseAssignmentState can carry (Graph's list), most frequent first.
ASSIGNMENT_ERRORS = ("CountViolation", "CountViolation", "DependencyViolation", "ProhibitedInUsageLocationViolation")


@dataclass(frozen=True)
class Sku:
    """A licence product in the tenant's inventory, with its real skuId, part number and service plans from
    Microsoft's licence table (source_dynamics365_cc/data/). `dynamics` is the emulator's own truth, written here by
    hand from Microsoft's product name (what a license manager would call a Dynamics 365 licence), never computed
    by the connector's rule: tests compare the connector against it."""

    sku_id: str
    part_number: str
    prepaid: int
    plans: tuple[tuple[str, str], ...]  # (servicePlanId, servicePlanName)
    dynamics: bool
    applies_to: str = "User"  # "Company": a tenant-wide add-on (storage, capacity), nobody's seat
    # The product families its holder works in, by hand from Microsoft's product (the emulator's truth; the answer
    # derives its own from the service plans in examples/sku_families.csv).
    families: tuple[str, ...] = ()
    trial: bool = False  # bought as a free trial (/directory/subscriptions: isTrial), whatever its part number says


SKUS: tuple[Sku, ...] = (
    Sku(
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "ENTERPRISEPACK",
        250,
        (
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
            # Dataverse for Office 365 apps: a DYN365_ plan in a product that is no Dynamics 365 seat.
            ("4ff01e01-1ba7-4d71-8cf8-ce96c3bbcf14", "DYN365_CDS_O365_P2"),
        ),
        False,
    ),
    Sku(
        "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
        "AAD_PREMIUM",
        250,
        (("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM"),),
        False,
    ),
    Sku(
        "749742bf-0d37-4158-a120-33567104deeb",
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
        40,
        (
            ("99340b49-fb81-4b1e-976b-8f2ae8e9394f", "DYN365_ENTERPRISE_CUSTOMER_SERVICE"),
            ("17ab22cd-a0b3-4536-910a-cb6eb12696c0", "DYN365_CDS_DYN_APPS"),
        ),
        True,
        families=(DATAVERSE_FAMILY,),
    ),
    Sku(
        "1e1a282c-9c54-43a2-9310-98ef728faace",
        "DYN365_ENTERPRISE_SALES",
        60,
        (
            ("2da8e897-7791-486b-b08f-cc63c8129df7", "DYN365_ENTERPRISE_SALES"),
            ("17ab22cd-a0b3-4536-910a-cb6eb12696c0", "DYN365_CDS_DYN_APPS"),
        ),
        True,
        families=(DATAVERSE_FAMILY,),
    ),
    Sku(
        "2880026b-2b0c-4251-8656-5d41ff11e3aa",
        "DYN365_BUSCENTRAL_ESSENTIAL",
        25,
        (("920656a2-7dd8-4c83-97b6-a356414dbd36", "DYN365_FINANCIALS_BUSINESS"),),
        True,
        families=(BUSINESS_CENTRAL_FAMILY,),
    ),
    Sku(
        "328dc228-00bc-48c6-8b09-1fbc8bc3435d",
        "CRMSTORAGE",
        10,
        (("77866113-0f3e-4e6e-9666-b1e25c6f99b0", "CRMSTORAGE"),),
        True,
        "Company",
    ),
    Sku(
        "7ac9fe77-66b7-4e5e-9e46-10eed1cff547",
        "DYN365_TEAM_MEMBERS",
        30,
        (("4092fdb5-8d81-41d3-be76-aaba4074530b", "DYN365_TEAM_MEMBERS"),),
        True,
        families=(DATAVERSE_FAMILY, FINANCE_AND_OPERATIONS_FAMILY),
    ),
    # Microsoft spells this Dynamics 365 part number in mixed case ("Dynamics 365 Business Central Essentials Attach").
    Sku(
        "1d506c23-1702-46f1-b940-160c55f98d05",
        "Dynamics_365_Business_Central_Essentials_Attach",
        15,
        (("17ca446c-d7a4-4d29-8dec-8e241592164b", "DYN365_BUSCENTRAL_ESSENTIALS_ATTACH"),),
        True,
        families=(BUSINESS_CENTRAL_FAMILY,),
    ),
    # A Dynamics 365 product whose part number has no Dynamics prefix at all ("Dynamics 365 Guides"), on a trial.
    Sku(
        "0a389a77-9850-4dc4-b600-bc66fdfefc60",
        "GUIDES_USER",
        12,
        (
            ("0b2c029c-dca0-454a-a336-887285d6ef07", "GUIDES"),
            ("1315ade1-0410-450d-b8e3-8050e6da320f", "DYN365_CDS_GUIDES"),
        ),
        True,
        families=(DATAVERSE_FAMILY,),
        trial=True,  # a trial by its subscription only: its part number and licence table say a paid product
    ),
)
USER_LICENSABLE = tuple(s for s in SKUS if s.applies_to == "User")
# SKUs only a tenant with the worklist cases (TenantSpec.worklist_cases) holds, never drawn for a random user: a
# self-service viral trial of 10,000 free units (Microsoft's table: "Dynamics 365 Sales Premium Viral Trial") and a
# device licence bought for shared devices, held by no person ("Dynamics 365 Operations - Device").
CASE_SKUS: tuple[Sku, ...] = (
    Sku(
        "6ec92958-3cc1-49db-95bd-bc6b3798df71",
        "Dynamics_365_Sales_Premium_Viral_Trial",
        10_000,
        (
            ("7f636c80-0961-41b2-94da-9642ccf02de0", "DYN365_SALES_ENTERPRISE_VIRAL_TRIAL"),
            ("456747c0-cf1e-4b0d-940f-703a01b964cc", "DYN365_SALES_INSIGHTS_VIRAL_TRIAL"),
            ("54b37829-818e-4e3c-a08a-3ea66ab9b45d", "POWER_APPS_DYN365_VIRAL_TRIAL"),
        ),
        True,
        families=(DATAVERSE_FAMILY,),
        trial=True,
    ),
    Sku(
        "3bbd44ed-8a70-4c07-9088-6232ddbd5ddd",
        "Dynamics_365_for_Operations_Devices",
        5,
        (
            ("ceb28005-d758-4df7-bb97-87a617b93d6c", "DYN365_RETAIL_DEVICE"),
            ("2c9fb43e-915a-4d61-b6ca-058ece89fd66", "Dynamics_365_for_OperationsDevices"),
        ),
        True,
        families=(FINANCE_AND_OPERATIONS_FAMILY,),
    ),
)


@dataclass(frozen=True)
class Case:
    """A user the worklist must get right, placed at the end of the directory when TenantSpec.worklist_cases is on.
    `uses`: the product families the tenant makes them sign in to (through the family's own application);
    `interactive`: False for an integration, seen only in non-interactive sign-ins; `admin_centre`: signs in to the
    Dynamics 365 admin centre and nothing else of Dynamics 365; `licensed_days_ago`: None for long ago;
    `leaves_in_days`: the user's employeeLeaveDateTime, days from now (negative: left), None for no leave date."""

    name: str
    licences: tuple[str, ...]  # part numbers, beside Microsoft 365 E3
    uses: tuple[str, ...] = ()
    enabled: bool = True
    guest: bool = False
    interactive: bool = True
    admin_centre: bool = False
    licensed_days_ago: int | None = None
    leaves_in_days: int | None = None


CASES: tuple[Case, ...] = (
    Case("disabled, licensed days ago", ("DYN365_ENTERPRISE_SALES",), enabled=False, licensed_days_ago=3),
    Case("disabled", ("DYN365_ENTERPRISE_CUSTOMER_SERVICE",), enabled=False),
    Case("administrator without use", ("DYN365_ENTERPRISE_SALES",), admin_centre=True),
    Case("integration", ("DYN365_ENTERPRISE_SALES",), (DATAVERSE_FAMILY,), interactive=False),
    Case("two full bases", ("DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_CUSTOMER_SERVICE"), (DATAVERSE_FAMILY,)),
    Case("Business Central unused", ("DYN365_BUSCENTRAL_ESSENTIAL", "DYN365_ENTERPRISE_SALES"), (DATAVERSE_FAMILY,)),
    Case("Business Central only", ("DYN365_BUSCENTRAL_ESSENTIAL",), (BUSINESS_CENTRAL_FAMILY,)),
    Case("Team Members beside a full licence", ("DYN365_ENTERPRISE_SALES", "DYN365_TEAM_MEMBERS"), (DATAVERSE_FAMILY,)),
    Case("attach without a base", ("Dynamics_365_Business_Central_Essentials_Attach",), (BUSINESS_CENTRAL_FAMILY,)),
    Case("viral trial", ("Dynamics_365_Sales_Premium_Viral_Trial",), (DATAVERSE_FAMILY,)),
    Case("guest with a seat", ("DYN365_TEAM_MEMBERS",), (DATAVERSE_FAMILY,), guest=True),
    Case("leaver", ("DYN365_ENTERPRISE_SALES",), (DATAVERSE_FAMILY,), leaves_in_days=-12),
    Case("leaving soon", ("DYN365_ENTERPRISE_CUSTOMER_SERVICE",), (DATAVERSE_FAMILY,), leaves_in_days=9),
)


@dataclass(frozen=True)
class Group:
    """A directory group as /groups serves it; `licences` are the skuPartNumbers it assigns to its members
    (group-based licensing), empty for a group that assigns none."""

    id: str
    display_name: str
    description: str | None
    created: str  # createdDateTime
    security_enabled: bool
    mail_enabled: bool
    mail_nickname: str
    group_types: tuple[str, ...] = ()  # "Unified": a Microsoft 365 group; () a security or distribution group
    licences: tuple[str, ...] = ()

    @property
    def sku_ids(self) -> tuple[str, ...]:
        """The skuIds of the licences it assigns, in its assignedLicenses order."""
        return tuple(SKU_BY_PART[part].sku_id for part in self.licences)


SKU_BY_PART = {s.part_number: s for s in SKUS}
CASE_SKU_BY_PART = {s.part_number: s for s in SKUS + CASE_SKUS}
ALL_STAFF_GROUP = "0a5d3f6e-2c41-4b8e-9f17-6d2e8c4b1a90"
# The tenant's groups in /groups order. The licensing ones feed users' licenseAssignmentStates.assignedByGroup; the
# Customer Service groups share a SKU (a licence filter on it pages with $top=1), the European one's name carries a
# comma and an en dash (CSV quoting, UTF-8 downstream); the Sales group assigns two SKUs, so a reader asking per SKU
# meets it twice; the last three assign nothing and no licence filter returns them.
GROUPS: tuple[Group, ...] = (
    Group(
        ALL_STAFF_GROUP,
        "All staff",
        "Every employee: Microsoft 365 E3 and Entra ID P1.",
        "2024-01-15T08:02:11Z",
        True,
        False,
        "allstaff",
        licences=("ENTERPRISEPACK", "AAD_PREMIUM"),
    ),
    Group(
        "3c9e7b21-5f08-4d6a-8e43-b1f2a7c95d36",
        "Customer Service, Europe – Dynamics 365",
        "Agents in the European service centres.",
        "2024-03-04T10:41:57Z",
        True,
        False,
        "cs-europe-d365",
        licences=("DYN365_ENTERPRISE_CUSTOMER_SERVICE",),
    ),
    Group(
        "c61d0b5e-83a4-4f27-b9e2-0a7f5c3d18b4",
        "Customer Service (Americas)",
        "Agents in Seattle and São Paulo.",
        "2024-09-12T14:27:06Z",
        True,
        False,
        "cs-americas-d365",
        licences=("DYN365_ENTERPRISE_CUSTOMER_SERVICE",),
    ),
    Group(
        "7e21c4a8-9b3d-4f55-a0c6-2d8f1e6b4c73",
        "Sales – Dynamics 365",
        "Sellers (Sales Enterprise) and the colleagues who support them (Team Members).",
        "2024-03-04T10:44:03Z",
        True,
        False,
        "sales-d365",
        licences=("DYN365_ENTERPRISE_SALES", "DYN365_TEAM_MEMBERS"),
    ),
    Group(
        "b4f08d19-6a2e-4c7b-95d1-e3a7c2f6b085",
        "Finance – Business Central",
        None,
        "2024-06-20T13:05:38Z",
        True,
        False,
        "finance-bc",
        licences=("DYN365_BUSCENTRAL_ESSENTIAL", "Dynamics_365_Business_Central_Essentials_Attach"),
    ),
    Group(
        "5d8e2a47-c3f1-4b96-8a0d-e7b4f19c6a52",
        "Field technicians – Dynamics 365 Guides",
        "HoloLens guides for the service crews.",
        "2025-02-11T09:30:14Z",
        True,
        False,
        "field-guides",
        licences=("GUIDES_USER",),
    ),
    Group(
        "e8a1d6c3-47b2-4f09-8d5e-1c6b9a3f2e70",
        "Contoso Marketing",
        "Campaigns, events and the marketing calendar.",
        "2024-02-08T16:20:45Z",
        False,
        True,
        "marketing",
        ("Unified",),
    ),
    Group(
        "2f7c9e14-b8d3-4a61-9e05-7d4a2c8b6f13",
        "VPN users",
        "Members may connect through the corporate VPN.",
        "2024-01-22T09:13:30Z",
        True,
        False,
        "vpn-users",
    ),
    Group(
        "9b3e5a72-1d6f-4c88-a2b4-5e0f7d1c9a46",
        "Managers",
        "Everyone who leads a team.",
        "2024-05-02T11:58:09Z",
        False,
        True,
        "managers",
    ),
)
GROUP_BY_ID = {g.id: g for g in GROUPS}
# Group-based licensing as users see it: skuPartNumber -> the groups assigning it, in GROUPS order.
LICENCE_GROUPS = {
    sku.part_number: ids for sku in SKUS if (ids := tuple(g.id for g in GROUPS if sku.part_number in g.licences))
}
