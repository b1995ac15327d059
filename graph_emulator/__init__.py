"""A local Microsoft tenant for tests: Entra ID v2 login plus the Microsoft Graph endpoints a
Dynamics 365 usage connector reads (users, subscribedSkus, auditLogs/signIns).

    from graph_emulator import Emulator, TenantSpec
    with Emulator(TenantSpec(seed=42, sign_ins=5000)) as emu:
        app = emu.apps["full"]  # sign in at emu.base_url to tenant emu.tenant_id with app.client_id, app.client_secret
"""

from .apps import App
from .emulator import Emulator
from .faults import FaultRule
from .tenant import Tenant, TenantSpec
from .throttle import EmulatorClock

__all__ = ["App", "Emulator", "EmulatorClock", "FaultRule", "Tenant", "TenantSpec"]
