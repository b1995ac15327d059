"""A local Microsoft tenant for tests: Entra ID v2 login plus the Microsoft Graph endpoints a
Dynamics 365 usage connector reads (users, subscribedSkus, auditLogs/signIns).

    from graph_emulator import Emulator, TenantSpec
    with Emulator(TenantSpec(seed=42, sign_ins=5000)) as emu:
        config = emu.config_for("full")
"""

from .apps import App
from .emulator import Emulator
from .faults import FaultRule
from .tenant import Tenant, TenantSpec

__all__ = ["App", "Emulator", "FaultRule", "Tenant", "TenantSpec"]
