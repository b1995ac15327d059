"""`make demo`: a real sync against the bundled Graph emulator, run the way Airbyte runs a source.

Starts an emulated tenant, then runs `main.py` as separate processes: spec, check, discover, a first
read of all streams, 45 minutes of tenant activity (including late sign-ins), and an incremental
read from the saved state. It signs in as the emulator's app `activity` (the `full` app's permissions and
AuditLogsQuery-CRM.Read.All) with `include_dynamics_activity`, so `dynamics_activity` brings Dataverse's operations
from Purview's audit log: the answer tells who worked from who only signed in. Purview's audit log queries take
minutes; the emulator answers them after `AUDIT_LATENCY_SECONDS`, which keeps the demo short, and says so. Everything lands in demo-output/: config.json, catalog.json, one
<stream>.jsonl per stream (the second read is appended, as an append-mode destination would),
state.json (the final state), read-1.stderr / read-2.stderr, and each run's input files in <step>/.
Last, the records are loaded into DuckDB and examples/license_usage.sql answers who holds a Dynamics 365 product
without using it and what to do with each seat (tools/license_usage.py), with Microsoft's product names (the connector
adds them to subscribed_skus), unassigned seats and money a month and a year from example prices: printed, drawn in
license-usage.png, the worklist (ids, action, reason) written to reclaim.csv, and kept as a dated snapshot in
history.duckdb, which survives the next run, whose trend is drawn in license-trend.png. The emulated tenant carries
the worklist's cases (TenantSpec.worklist_cases): disabled accounts, an administrator, an integration, two bases, a
viral trial, a device licence.
The runs get DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1 from the harness: the emulator is no Microsoft host.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from airbyte_cdk.models import AirbyteStateMessageSerializer

from testing.harness import (
    Result,
    configured_catalog,
    connector_config,
    run_connector,
    running_emulator,
    start_connector,
    write_inputs,
)
from tools.license_usage import EXAMPLE_EXCLUSIONS, EXAMPLE_PRICES, EXAMPLE_THRESHOLDS, report

OUT = Path("demo-output")
CHART = OUT / "license-usage.png"
RECLAIM = OUT / "reclaim.csv"
HISTORY = OUT / "history.duckdb"  # each run's worklist, kept across runs
TREND = OUT / "license-trend.png"
STREAMS = {
    "users": "full_refresh",
    "sign_ins": "incremental",
    "non_interactive_sign_ins": "incremental",
    "subscribed_skus": "full_refresh",
    "groups": "full_refresh",
    "subscriptions": "full_refresh",
    "directory_role_assignments": "full_refresh",
    "dynamics_activity": "incremental",
}
# The app registration the demo signs in as: `full` plus AuditLogsQuery-CRM.Read.All (graph_emulator/apps.py).
APP = "activity"
# Seconds from an audit log query's create to `succeeded` in the emulator (Purview: minutes). The connector polls
# at once and then every 10 s or more, so a query must finish before its first poll to cost no wait: the demo's ~35
# queries (30 days of day-long windows, and the lookback of the second read) are created ten at a time and polled
# after the rest of their batch, some tens of milliseconds later.
AUDIT_LATENCY_SECONDS = 0.05
# Two non-interactive sign-ins per interactive one (real tenants see about ten): both sign-in streams share Graph's
# 5 requests per 10 s, and the demo reads every application's. 2,000 sign-ins (999 a page) keep both reads to about a
# dozen sign-in requests, paced at that real limit: `make demo`, install included, stays under a minute.
TENANT = {"seed": 2026, "users": 300, "sign_ins": 2000, "days": 30, "non_interactive_ratio": 2, "worklist_cases": True}
# The license-usage answer counts Dynamics 365 sign-ins over 30 days, Entra's whole retention: read all of it.
START_DAYS_BACK = 30
PLAIN_PROGRESS_SECONDS = 5.0


class DemoFailed(Exception):
    """A step failed; the message is what the connector said."""


def step(number: int, name: str, text: str) -> None:
    print(f"{number}/6 {name:<9} {text}", flush=True)


def failure(result: Result, what: str) -> DemoFailed:
    said = "; ".join(result.error_messages) or (result.connection_status or {}).get("message") or result.stderr[-500:]
    return DemoFailed(f"{what} failed (exit {result.returncode}): {said}")


class Progress:
    """Records so far per stream on one line: rewritten in place on a terminal, a plain line now and then otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.out = stream
        self.tty = stream.isatty()
        self.counts: Counter[str] = Counter()
        self.last = 0.0

    def record(self, stream: str) -> None:
        self.counts[stream] += 1
        now = time.monotonic()
        if now - self.last >= (0.2 if self.tty else PLAIN_PROGRESS_SECONDS):
            self.last = now
            self.show()

    def show(self) -> None:
        line = "   reading: " + ", ".join(f"{name} {self.counts[name]}" for name in STREAMS)
        self.out.write(f"\r{line}" if self.tty else f"{line}\n")
        self.out.flush()

    def done(self) -> None:
        self.show()
        if self.tty:
            self.out.write("\n")


def read(label: str, emu, config: dict, catalog: dict, state: list | None) -> Result:
    """Run `read`, append its records to demo-output/<stream>.jsonl and show progress while it runs."""
    files = {name: (OUT / f"{name}.jsonl").open("a", encoding="utf-8") for name in STREAMS}
    progress, lines = Progress(sys.stdout), []
    with (OUT / f"{label}.stderr").open("w", encoding="utf-8") as stderr:
        process = start_connector("read", OUT / label, config, catalog, state, emulator=emu, stderr=stderr)
        for line in process.stdout:
            lines.append(line)
            if line.startswith('{"type":"RECORD"'):
                record = json.loads(line)["record"]
                files[record["stream"]].write(json.dumps(record["data"]) + "\n")
                progress.record(record["stream"])
        process.wait()
    progress.done()
    for handle in files.values():
        handle.close()
    stdout = "".join(lines)
    result = Result(process.returncode, stdout, (OUT / f"{label}.stderr").read_text(encoding="utf-8"), process.args)
    if result.returncode != 0 or result.error_messages:
        raise failure(result, label)
    return result


def final_states(result: Result) -> list[dict[str, Any]]:
    """The last state message per stream: what Airbyte would pass back with --state."""
    latest = {}
    for message in result.state_messages:
        latest[message.state.stream.stream_descriptor.name] = AirbyteStateMessageSerializer.dump(message.state)
    return list(latest.values())


def summary(first: Result, second: Result) -> None:
    print(f"\n{'stream':<26}{'1st read':>9}{'2nd read':>9}  covered / what the 2nd read added")
    for name in STREAMS:
        print(
            f"{name:<26}{len(first.records_of(name)):>9}{len(second.records_of(name)):>9}  {describe(name, first, second)}"
        )
    print(f"\nOutput: {OUT}/ (<stream>.jsonl holds both reads, appended; state.json is the final state)")


def describe(stream: str, first: Result, second: Result) -> str:
    if STREAMS[stream] != "incremental":
        return "full refresh: the whole list again"
    seen = {r["id"] for r in first.records_of(stream)}
    cursor = first.final_state(stream)["createdDateTime"]
    added = [r for r in second.records_of(stream) if r["id"] not in seen]
    late = sum(1 for r in added if r["createdDateTime"] < cursor)
    times = sorted(r["createdDateTime"] for r in first.records_of(stream) + second.records_of(stream))
    span = f"{times[0][:19]}Z .. {times[-1][:19]}Z" if times else "no records"
    reread = len(second.records_of(stream)) - len(added)
    return f"{span}; +{len(added)} new ({late} of them late, behind the saved cursor), {reread} re-read in the lookback"


def clear_output() -> None:
    """A fresh demo-output/, but for the history of worklists, which the trend is drawn from."""
    OUT.mkdir(exist_ok=True)
    for entry in OUT.iterdir():
        if entry.name == HISTORY.name:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_demo() -> None:
    clear_output()
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    with running_emulator(now=now, **TENANT) as emu:
        start = (emu.tenant.now - dt.timedelta(days=START_DAYS_BACK)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = {
            **connector_config(emu, APP),
            "start_date": start,
            "sign_in_app_ids": [],
            "include_non_interactive_sign_ins": True,
            "include_dynamics_activity": True,
        }
        emu.set_audit_latency(AUDIT_LATENCY_SECONDS)
        write_inputs(OUT, config)
        print(f"Graph emulator at {emu.base_url}: {TENANT['users']} users, {TENANT['sign_ins']} sign-ins over 30 days")
        print(
            f"Config: {OUT}/config.json (start_date {start}; sign_in_app_ids [] = every app, so the demo has traffic;"
            f" app '{APP}' with AuditLogsQuery-CRM.Read.All and include_dynamics_activity, for who worked)"
        )
        print(
            f"Purview's audit log queries take minutes; the emulator's finish in {AUDIT_LATENCY_SECONDS} s "
            "(set_audit_latency), so the demo stays short.\n"
        )

        spec = run_connector("spec", OUT / "spec", emulator=emu, fresh_interpreter=True)
        if spec.returncode != 0 or not spec.spec_messages:
            raise failure(spec, "spec")
        fields = spec.spec_messages[0].spec.connectionSpecification["properties"]
        step(1, "spec", f"ok, {len(fields)} settings")

        check = run_connector("check", OUT / "check", config, emulator=emu, fresh_interpreter=True)
        if (check.connection_status or {}).get("status") != "SUCCEEDED":
            raise failure(check, "check")
        step(2, "check", "SUCCEEDED")

        discover = run_connector("discover", OUT / "discover", config, emulator=emu, fresh_interpreter=True)
        discovered = [message["catalog"] for message in discover.messages if message.get("type") == "CATALOG"]
        if discover.returncode != 0 or not discovered:
            raise failure(discover, "discover")
        catalog = configured_catalog(STREAMS, discovered[0])
        (OUT / "catalog.json").write_text(json.dumps(catalog, indent=2), encoding="utf-8")
        step(3, "discover", f"{', '.join(STREAMS)} -> {OUT}/catalog.json")

        step(
            4,
            "read",
            "all streams, 30 days of sign-ins and of Dataverse activity (one audit log query a day); Graph allows 5 "
            "sign-in requests per 10 s, so the connector paces itself (~20 s)",
        )
        first = read("read-1", emu, config, catalog, None)
        state = final_states(first)
        (OUT / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")

        moved = emu.advance(minutes=45, late=5)
        step(5, "advance", f"45 minutes pass in the tenant: {moved['new']} new sign-ins, {moved['late']} arrive late")

        step(
            6, "read", f"incremental, from the saved state (cursor {first.final_state('sign_ins')['createdDateTime']})"
        )
        second = read("read-2", emu, config, catalog, state)
        (OUT / "state.json").write_text(json.dumps(final_states(second), indent=2), encoding="utf-8")
        as_of = emu.tenant.now
    summary(first, second)
    evidence_start = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    report(
        OUT,
        catalog,
        as_of,
        CHART,
        RECLAIM,
        evidence_start=evidence_start,
        prices=EXAMPLE_PRICES,
        thresholds=EXAMPLE_THRESHOLDS,
        exclusions=EXAMPLE_EXCLUSIONS,
        history=HISTORY,
        trend_chart=TREND,
    )


def main() -> None:
    try:
        run_demo()
    except DemoFailed as error:
        print(f"\nDemo failed: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
