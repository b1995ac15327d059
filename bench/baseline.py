"""The plain baseline: requests + json, printing the same Airbyte RECORD lines, one window, no framework.

`python -m bench.baseline CONFIG`: one token, then `@odata.nextLink` from the first page to the last,
dropping concealed names as the connector does. Anything the connector spends beyond this is overhead.
"""

import json
import re
import sys
import time
from typing import Any, Iterator, Mapping

import requests

CONCEALED = re.compile(r"^[0-9A-Fa-f]{32}$")


def token(session: requests.Session, config: Mapping[str, Any]) -> str:
    url = f"{config['login_endpoint']}/{config['tenant_id']}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": config["client_id"],
        "client_secret": config["credentials"]["client_secret"],
        "scope": f"{config['graph_endpoint']}/.default",
    }
    answer = session.post(url, data=form, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def sign_ins(session: requests.Session, config: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    link = (
        f"{config['graph_endpoint']}/v1.0/auditLogs/signIns?$top=999&$filter=createdDateTime ge {config['start_date']}"
    )
    while link:
        answer = session.get(link, timeout=120)
        answer.raise_for_status()
        page = answer.json()
        yield from page["value"]
        link = page.get("@odata.nextLink")


def main() -> None:
    with open(sys.argv[1]) as file:
        config = json.load(file)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(session, config)}"
    out = sys.stdout
    for record in sign_ins(session, config):
        if CONCEALED.match(record.get("userPrincipalName") or ""):
            continue
        message = {
            "type": "RECORD",
            "record": {"stream": "sign_ins", "data": record, "emitted_at": int(time.time() * 1000)},
        }
        out.write(json.dumps(message, separators=(",", ":")) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
