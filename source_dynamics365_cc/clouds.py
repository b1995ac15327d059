"""The Microsoft national clouds: which login host and which Graph host each one uses."""

from dataclasses import dataclass


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
