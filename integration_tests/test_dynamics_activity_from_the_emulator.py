"""`dynamics_activity` through `python main.py read` against the emulator: Purview's CRM audit records since the start
date, exactly (none lost, none twice), through a throttled create and a failed query; a second sync re-reads only the
lookback; a sync stopped while waiting polls the same queries next time; an app without the permission passes `check`
with a warning and syncs green.

The tenant clock runs behind the wall clock (`TENANT_LAG`): the connector ends its range at the wall-clock now, and
Purview's queries answer with what the tenant holds at its own time. Polls wait on the emulator's clock (the test
owns it), so a query's latency costs no wall time.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from pathlib import Path
from typing import Any

from graph_emulator import Emulator
from source_dynamics365_cc.graph.concealed import is_concealed
from testing.harness import (
    Result,
    config_since,
    configured_catalog,
    iso,
    read_successfully,
    run_connector,
    running_emulator,
    start_connector,
    stream_state_message,
)

TENANT_LAG = dt.timedelta(minutes=30)
ACTIVITY = {"dynamics_activity": "incremental"}
DEFAULT_CATALOG = json.loads((Path(__file__).parent / "configured_catalog.json").read_text())
LOOKBACK = dt.timedelta(days=2)


def lagging_tenant(**overrides: Any):
    """A small tenant whose clock is TENANT_LAG behind the wall clock, with Dataverse activity."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - TENANT_LAG
    return running_emulator(**{"seed": 81, "users": 40, "sign_ins": 400, "days": 4, "now": now, **overrides})


def activity_config(emu: Emulator, start: dt.datetime, app: str = "activity") -> dict[str, Any]:
    return config_since(emu, start, include_dynamics_activity=True) | _app(emu, app)


def _app(emu: Emulator, app: str) -> dict[str, Any]:
    registration = emu.info()["apps"][app]
    return {
        "client_id": registration["client_id"],
        "credentials": {"auth_type": "client_secret", "client_secret": registration["client_secret"]},
    }


def truth_ids(emu: Emulator, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The tenant's CRM records in [start, end) but those of concealed users (`exclude_concealed_users`)."""
    return [record["id"] for record in emu.tenant.crm_records_between(start, end) if not is_concealed(record)]


def emitted(result: Result) -> list[str]:
    ids = [record["id"] for record in result.records_of("dynamics_activity")]
    assert len(ids) == len(set(ids)), "a record was emitted twice in one sync"
    return ids


def test_every_record_since_the_start_date_once_through_a_throttled_create_and_a_failed_query(tmp_path: Path):
    with lagging_tenant() as emu:
        start = emu.tenant.now.replace(hour=0, minute=0) - dt.timedelta(days=3)
        emu.add_fault({"route": "auditQueries", "kind": "status", "status": 429, "retry_after": 30, "nth": 1})
        emu.add_fault({"route": "auditQueries", "kind": "query_failed", "nth": 3, "times": 1})
        result = read_successfully(emu, tmp_path, activity_config(emu, start), ACTIVITY)
        truth = truth_ids(emu, start, emu.tenant.now + TENANT_LAG)
        queries = emu.audit_queries()
        fired = [rule["fired"] for rule in emu.faults.list()]
    assert len(truth) > 50
    assert sorted(emitted(result)) == sorted(truth)
    assert fired == [1, 1]
    windows = 4  # three days and the part of a fourth up to now
    assert len(queries) == windows + 1, "the failed query is created again, nothing else twice"
    final = result.states("dynamics_activity")[-1]
    assert "queries" not in final and final["createdDateTime"] >= iso(emu.tenant.now)
    assert any(state.get("queries") for state in result.states("dynamics_activity")), "running queries are saved"


def test_a_second_sync_from_the_state_reads_only_the_lookback(tmp_path: Path):
    with lagging_tenant() as emu:
        start = emu.tenant.now - dt.timedelta(days=4)
        config = activity_config(emu, start)
        first = read_successfully(emu, tmp_path / "first", config, ACTIVITY)
        cursor = first.states("dynamics_activity")[-1]
        emu.tenant.advance(60)
        created_before = len(emu.audit_queries())
        second = read_successfully(
            emu, tmp_path / "second", config, ACTIVITY, [stream_state_message("dynamics_activity", cursor)]
        )
        second_queries = emu.audit_queries()[created_before:]
        saved = dt.datetime.strptime(cursor["createdDateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        truth = set(truth_ids(emu, saved - LOOKBACK, emu.tenant.now + TENANT_LAG))
    assert emitted(first) and set(emitted(second)) == truth
    assert min(query["filterStartDateTime"] for query in second_queries).startswith(iso(saved - LOOKBACK)[:19])
    assert len(second_queries) == 3, "two days of lookback and the hour since, in day-long windows"


def test_a_sync_stopped_while_waiting_polls_the_same_queries_next_time(tmp_path: Path):
    with lagging_tenant() as emu:
        start = emu.tenant.now - dt.timedelta(days=1, hours=12)
        config = activity_config(emu, start)
        emu.set_audit_latency(3 * 3600)  # longer than a sync waits for one window (two hours)
        catalog = configured_catalog(ACTIVITY)
        stopped = run_connector("read", tmp_path / "stopped", config, catalog, emulator=emu, timeout=240)
        created = emu.audit_queries()
        saved = stopped.states("dynamics_activity")[-1]
        resumed = read_successfully(
            emu, tmp_path / "resumed", config, ACTIVITY, [stream_state_message("dynamics_activity", saved)]
        )
        after = emu.audit_queries()
        truth = truth_ids(emu, start, emu.tenant.now + TENANT_LAG)
    assert stopped.returncode != 0
    (error,) = stopped.error_messages
    assert "was still running after 120 minutes" in error and "polling this same query" in error
    assert [query["id"] for query in saved["queries"]] == [query["id"] for query in created]
    assert len(created) == 2 and all(query["status"] == "succeeded" for query in after)
    assert [query["id"] for query in after[:2]] == [query["id"] for query in created], "the saved queries were polled"
    (tail,) = after[2:]  # only the seconds between the two syncs' ends are asked anew
    assert tail["filterStartDateTime"] == saved["queries"][-1]["end"]
    assert sorted(emitted(resumed)) == sorted(truth) and not stopped.records_of("dynamics_activity")


def test_without_the_permission_check_warns_and_the_default_catalog_with_the_stream_syncs_green(tmp_path: Path):
    with lagging_tenant() as emu:
        config = activity_config(emu, emu.tenant.now - dt.timedelta(days=1), app="full")
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        catalog = {"streams": [*DEFAULT_CATALOG["streams"], *configured_catalog(ACTIVITY)["streams"]]}
        read = run_connector("read", tmp_path, config, catalog, emulator=emu, timeout=240)
        asked = emu.request_log("auditQueries")
    assert check.connection_status == {"status": "SUCCEEDED"}
    assert any("cannot read the optional dynamics_activity stream" in line for line in check.log_lines("WARN"))
    assert read.returncode == 0 and read.error_messages == [] and read.log_lines("ERROR") == []
    assert read.records_of("users") and not read.records_of("dynamics_activity") and asked == []
    (skipped,) = [line for line in read.log_lines("WARN") if "Skipping the optional dynamics_activity" in line]
    assert "AuditLogsQuery-CRM.Read.All (or one of AuditLogsQuery.Read.All)" in skipped


def test_a_tenant_without_dataverse_activity_logging_gets_a_warning_naming_the_setting(tmp_path: Path):
    with lagging_tenant() as emu:
        emu.set_crm_auditing(False)
        result = read_successfully(emu, tmp_path, activity_config(emu, emu.tenant.now - dt.timedelta(days=2)), ACTIVITY)
    assert not result.records_of("dynamics_activity")
    (warning,) = [line for line in result.log_lines("WARN") if "no Dynamics 365 (crm) record" in line]
    assert "Audit settings: Start Auditing" in warning


def test_beta_serves_the_queries_when_v1_does_not_know_them(tmp_path: Path):
    with lagging_tenant() as emu:
        emu.set_audit_query_v1(False)
        start = emu.tenant.now - dt.timedelta(days=1)
        result = read_successfully(emu, tmp_path, activity_config(emu, start), ACTIVITY)
        truth = truth_ids(emu, start, emu.tenant.now + TENANT_LAG)
        beta = [entry for entry in emu.request_log("auditQueries") if "/beta/" in entry["path"]]
    assert sorted(emitted(result)) == sorted(truth) and len(beta) == 2


def test_with_the_permission_check_passes_without_creating_a_query(tmp_path: Path):
    with lagging_tenant() as emu:
        check = run_connector("check", tmp_path, activity_config(emu, emu.tenant.now), emulator=emu, timeout=90)
        created = emu.audit_queries()
    assert check.connection_status == {"status": "SUCCEEDED"} and created == []
    assert any("check creates no audit log query" in line for line in check.log_lines("INFO"))
    assert not any("dynamics_activity" in line for line in check.log_lines("WARN"))


def test_in_a_national_cloud_the_stream_is_a_warning_in_check_and_a_skip_in_a_sync(tmp_path: Path):
    with lagging_tenant() as emu:
        config = activity_config(emu, emu.tenant.now - dt.timedelta(days=1)) | {"cloud": "china"}
        check = run_connector("check", tmp_path, config, emulator=emu, timeout=90)
        read = read_successfully(emu, tmp_path, config, ACTIVITY)
        created = emu.audit_queries()
    assert check.connection_status == {"status": "SUCCEEDED"} and created == []
    for result in (check, read):
        (warning,) = [line for line in result.log_lines("WARN") if "global cloud only" in line]
        assert "uses the china cloud" in warning
    assert not read.records_of("dynamics_activity")


def first_state_with_queries(process) -> dict[str, Any]:
    """Read the connector's stdout up to its first dynamics_activity STATE that holds running queries."""
    for line in process.stdout:
        message = json.loads(line) if line.startswith("{") else {}
        stream = message.get("state", {}).get("stream", {}) if message.get("type") == "STATE" else {}
        if (
            stream.get("stream_descriptor", {}).get("name") == "dynamics_activity"
            and "queries" in stream["stream_state"]
        ):
            return stream["stream_state"]
    raise AssertionError("the connector ended without saving a running query")


def test_a_sync_killed_while_waiting_resumes_the_same_queries(tmp_path: Path):
    with lagging_tenant() as emu:
        start = emu.tenant.now - dt.timedelta(days=1, hours=12)
        config = activity_config(emu, start)
        emu.set_audit_latency(600)
        process = start_connector("read", tmp_path / "killed", config, configured_catalog(ACTIVITY), emulator=emu)
        give_up = threading.Timer(120, process.kill)  # the state leaves with the first wait's log line, seconds in
        give_up.start()
        try:
            saved = first_state_with_queries(process)
        finally:
            give_up.cancel()
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
        created = emu.audit_queries()
        resumed = read_successfully(
            emu, tmp_path / "resumed", config, ACTIVITY, [stream_state_message("dynamics_activity", saved)]
        )
        after = emu.audit_queries()
        truth = truth_ids(emu, start, emu.tenant.now + TENANT_LAG)
    assert [query["id"] for query in saved["queries"]] == [query["id"] for query in created]
    assert [query["id"] for query in after[: len(created)]] == [query["id"] for query in created]
    assert all(query["filterStartDateTime"] >= saved["queries"][-1]["end"] for query in after[len(created) :])
    assert sorted(emitted(resumed)) == sorted(truth)
