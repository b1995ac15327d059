"""PyAirbyte, Airbyte's own Python client, reads the console script into its DuckDB cache like a user would.

PyAirbyte configures every stream as incremental (the full-refresh-only ones included) and keeps the
state in its cache, so a second `read()` is incremental for sign_ins. The emulator's tenant is the truth.
"""

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from source_dynamics365_cc.config import DYNAMICS_365_APP_IDS
from source_dynamics365_cc.graph.concealed import is_concealed
from testing.harness import connector_config, running_emulator, truth_sign_in_ids

# Read by PyAirbyte when it is imported: no connector registry to fetch (CI reaches only package indexes), no telemetry.
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"

CONSOLE_SCRIPT = Path(sys.executable).with_name("source-dynamics365-cc")
TENANT_LAG = dt.timedelta(minutes=90)  # the tenant clock behind the wall clock, so advance() stays in the past


@pytest.fixture
def emulator(monkeypatch):
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    with running_emulator(seed=11, users=30, sign_ins=8000, days=2, now=now) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.ca_path)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        monkeypatch.setenv("DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS", "1")
        yield emu


def cached_ids(cache, stream: str) -> list[str]:
    return [record["id"] for record in cache[stream]]


@pytest.mark.slow
def test_pyairbyte_reads_every_stream_into_duckdb_then_sign_ins_incrementally(emulator, tmp_path):
    # Imported here, after the two settings above, not when the module is collected: the import costs about 5 s of
    # CPU, which every test worker would pay to collect this one test.
    import airbyte as ab

    start = emulator.tenant.now - dt.timedelta(hours=2)
    config = {**connector_config(emulator, "full"), "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    source = ab.get_source("source-dynamics365-cc", config=config, local_executable=CONSOLE_SCRIPT)
    source.select_all_streams()
    cache = ab.new_local_cache("pyairbyte_test", cache_dir=tmp_path / "cache")

    source.read(cache=cache)

    users = list(emulator.tenant.users())
    assert sorted(cached_ids(cache, "users")) == sorted(u["id"] for u in users if not is_concealed(u))
    assert sorted(cached_ids(cache, "subscribed_skus")) == sorted(s["id"] for s in emulator.tenant.subscribed_skus())
    first_end = emulator.tenant.now
    first = cached_ids(cache, "sign_ins")
    assert sorted(first) == sorted(truth_sign_in_ids(emulator, start, first_end, DYNAMICS_365_APP_IDS))
    assert "createddatetime" in next(iter(cache["sign_ins"])), "PyAirbyte lowercases column names"

    emulator.tenant.advance(minutes=30, late=40)
    requests_before = len(emulator.request_log("signIns"))
    source.read(cache=cache)

    second = cached_ids(cache, "sign_ins")
    assert len(second) == len(set(second)), "the second read merged, it did not duplicate"
    assert set(second) == truth_sign_in_ids(emulator, start, emulator.tenant.now, DYNAMICS_365_APP_IDS)
    incremental = emulator.request_log("signIns")[requests_before:]
    assert incremental and all(
        f"ge {start.strftime('%Y-%m-%dT%H:%M')}" not in e["query"]["$filter"] for e in incremental
    )
