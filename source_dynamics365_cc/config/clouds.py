"""The Microsoft national clouds: which login host and which Graph host each one uses.

These are the only hosts a stored secret or token is sent to, unless whoever runs the connector
sets `DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1` in its environment. That is a deployment decision
(a test emulator, a proxy of one's own): in the Airbyte UI, someone who may edit a connection but
cannot read its secret could otherwise point `login_endpoint` at their own server and press *Test*.
"""

import os
from dataclasses import dataclass
from typing import Mapping

ALLOW_CUSTOM_ENDPOINTS = "DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS"


@dataclass(frozen=True)
class Cloud:
    """The two base URLs a tenant in one cloud talks to."""

    login_url: str
    graph_url: str


CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "us_government_l4": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "us_government_l5_dod": Cloud("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}


def custom_endpoints_allowed(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the machine that runs the connector lets `login_endpoint`/`graph_endpoint` name other hosts."""
    return environ.get(ALLOW_CUSTOM_ENDPOINTS, "").strip() == "1"
