"""A connector config for a running Graph emulator, made from what the emulator prints.

The emulator speaks Entra and Graph, not the connector's settings: its info line (printed at start, written to
`--info-file`, answered by `GET /_emulator/info`) names the tenant, where it is served and its app registrations'
client ids and secrets. This turns that into a config that signs in with one app's client secret:

    python -m graph_emulator --info-file info.json &
    python -m tools.emulator_config info.json > secrets/config.json
    python -m tools.emulator_config info.json --app no_audit --start-date 2026-11-20T00:00:00Z

The connector must then trust the emulator's CA (`REQUESTS_CA_BUNDLE=<ca_path>`) and be allowed an endpoint that
is not Microsoft's (`DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1`). Tests make configs with
`testing.harness.connector_config`, which spells the settings in the same place and can also sign in with an
app's certificate.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Mapping

from testing.harness import config_from_info


def config_for(info: Mapping[str, Any], app: str, start_date: str | None) -> dict[str, Any]:
    """testing.harness.config_from_info, with the start date when one is given."""
    config = config_from_info(info, app)
    if start_date is not None:
        config["start_date"] = start_date
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.emulator_config",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "info", type=argparse.FileType("r", encoding="utf-8"), help="the emulator's info file, - for stdin"
    )
    parser.add_argument("--app", default="full", help="the app registration to sign in as (default: full)")
    parser.add_argument("--start-date", help="the config's start_date, e.g. 2026-11-20T00:00:00Z")
    args = parser.parse_args(argv)
    with args.info:
        info = json.load(args.info)
    print(json.dumps(config_for(info, args.app, args.start_date), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
