"""Dynamics 365 activity (`dynamics_activity`): Purview's audit log queries, read through Graph from the emulator.

`python -m bench.activity` runs these scenarios only and rewrites the "Dynamics 365 activity" section of
bench/RESULTS.md; `make bench` runs them after the roster. Two kinds of run:

- Read rate and memory: queries succeed at once (latency 0 s: the first poll finds each one done), so the sync is
  bound by CPU, the connector's and the emulator's on the same cores; tenants of about `READ_SIZES` CRM records.
  The shipped connector (`main.py`); audit log queries count against no pacer (limits.py), so nothing is opened wide.
- A 30-day backfill at Purview-like query latencies (`BACKFILL_LATENCIES`). Waiting minutes per query in real time
  would take half an hour a run, so the connector runs on the emulator's clock, as the process-level tests do
  (testing/clock.py `SkippedSeconds`): each wait between polls returns at once and moves the emulator's clock on by
  its length, so queries finish when they would have; the wall time is the real time plus the waits skipped. The
  same schedule is also computed (`projected_seconds`) as a check.
"""

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph_emulator import Emulator, EmulatorClock, TenantSpec
from source_dynamics365_cc.streams.audit_queries import POLL_FIRST_SECONDS, POLL_MOST_SECONDS
from source_dynamics365_cc.streams.dynamics_activity import BATCH
from testing.clock import SkippedSeconds
from testing.forked import run_forked
from testing.harness import REPO_ROOT, configured_catalog, connector_config

from .procs import RECORD_MARK, Measurement, measure
from .scenarios import connector_command
from .sections import with_section
from .tenant import SyncFiles, write_files

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
SECTION = "## 7. Dynamics 365 activity"
STREAM = "dynamics_activity"
DAYS = 30
# The emulator derives about 0.3 CRM records from each interactive sign-in (measured: 98,388 from 333,000 in 30 days;
# crm_activity.py: only Dataverse sign-ins of users who work, 1 to 6 operations each); 50 sign-ins a user a month.
SIGN_INS_PER_RECORD = 10 / 3
SIGN_INS_PER_USER = 50
READ_SIZES = (100_000, 1_000_000)
BACKFILL_RECORDS = 100_000
# Microsoft documents no duration for an audit log query; a day of CRM records takes minutes (docs/dynamics365-cc.md).
BACKFILL_LATENCIES = (120.0, 600.0)
BACKFILL_TIMEOUT_SECONDS = 900.0
ID_BYTES = 16  # what EmittedIds keeps of each record emitted
ROUTES = {"creates": "auditQueries", "polls": "auditQuery", "pages": "auditRecords"}


def tenant_spec(records: int) -> TenantSpec:
    """A 30-day tenant whose Dataverse sign-ins make about `records` CRM records."""
    sign_ins = round(records * SIGN_INS_PER_RECORD)
    return TenantSpec(seed=11, users=max(200, sign_ins // SIGN_INS_PER_USER), sign_ins=sign_ins, days=DAYS)


@dataclass(frozen=True)
class Requests:
    """What Graph (the emulator) saw of one sync's audit log queries."""

    creates: int
    polls: int
    pages: int

    @classmethod
    def seen_by(cls, emu: Emulator) -> "Requests":
        return cls(**{name: len(emu.request_log(route)) for name, route in ROUTES.items()})

    def per_window(self) -> str:
        """Requests per window (a window is one query: `creates`, when none failed)."""
        if not self.creates:
            return "n/a"
        total = self.creates + self.polls + self.pages
        return (
            f"{total / self.creates:.1f} ({self.polls / self.creates:.1f} polls, {self.pages / self.creates:.1f} pages)"
        )


@dataclass(frozen=True)
class ReadRun:
    """A sync whose queries succeed at once: the connector's CPU, memory and read rate."""

    users: int
    sign_ins: int
    run: Measurement
    requests: Requests


@dataclass(frozen=True)
class Backfill:
    """A 30-day first sync with queries of `latency` seconds, on the emulator's clock."""

    latency: float
    records: int
    exit_code: int
    real_seconds: float
    skipped_seconds: float
    requests: Requests

    @property
    def wall_seconds(self) -> float:
        return self.real_seconds + self.skipped_seconds

    @property
    def scheduled_wait_seconds(self) -> float:
        """The waits the schedule predicts: batches of `BATCH` queries one after another, each batch waited for until
        the poll that finds its first query done (the others, created with it, are done by then)."""
        return waits(self.requests.creates, self.latency)

    def as_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "requests"}
        return {**fields, **self.requests.__dict__, "wall_seconds": self.wall_seconds}


def waits(windows: int, latency: float) -> float:
    """Seconds a first sync of `windows` windows spends waiting for queries of `latency` seconds."""
    return math.ceil(windows / BATCH) * first_poll_after(latency)


def first_poll_after(latency: float) -> float:
    """Seconds from a create to the poll that finds the query done: polls at 0 s, then every 10 s doubling to 60 s
    (audit_queries.py)."""
    at, interval = 0.0, POLL_FIRST_SECONDS
    while at < latency:
        at += interval
        interval = min(interval * 2, POLL_MOST_SECONDS)
    return at


def _files(emu: Emulator, out: Path, name: str) -> SyncFiles:
    """The stream alone, incremental, from the default start date (30 days back, less 10 minutes)."""
    config = {**connector_config(emu, "activity"), "include_dynamics_activity": True}
    return write_files(emu, out, name, config, configured_catalog({STREAM: "incremental"}))


def read_run(records: int, out: Path) -> ReadRun:
    """The whole tenant with queries that succeed at once, in a child process on the machine's clock."""
    spec = tenant_spec(records)
    with Emulator(spec) as emu:
        emu.set_audit_latency(0.0)
        files = _files(emu, out, f"activity-read-{records}")
        run = measure(
            f"activity read {records}", connector_command(files), files.env, out / f"activity-read-{records}.stderr"
        )
        return ReadRun(spec.users, spec.sign_ins, run, Requests.seen_by(emu))


def backfill(latency: float, out: Path) -> Backfill:
    """The 30-day first sync with `latency`-second queries, forked on the emulator's clock (see the module's note)."""
    skipped = SkippedSeconds()
    with Emulator(tenant_spec(BACKFILL_RECORDS), clock=EmulatorClock(skipped)) as emu:
        emu.set_audit_latency(latency)
        files = _files(emu, out, f"activity-backfill-{latency:.0f}")
        started = time.monotonic()
        done = run_forked(files.read_args(), REPO_ROOT, files.env, BACKFILL_TIMEOUT_SECONDS, skipped)
        real = time.monotonic() - started
        (out / f"activity-backfill-{latency:.0f}.stderr").write_text(done.stderr)
        return Backfill(
            latency=latency,
            records=done.stdout.count(RECORD_MARK),
            exit_code=done.returncode,
            real_seconds=real,
            skipped_seconds=skipped(),
            requests=Requests.seen_by(emu),
        )


@dataclass(frozen=True)
class ActivityResults:
    reads: dict[int, ReadRun]
    backfills: list[Backfill]


def measure_activity(out: Path = OUT) -> ActivityResults:
    print(f"activity: reads of {READ_SIZES} records (about 5 minutes), then 30-day backfills at {BACKFILL_LATENCIES} s")
    reads = {size: read_run(size, out) for size in READ_SIZES}
    backfills = [backfill(latency, out) for latency in BACKFILL_LATENCIES]
    raw = {
        "reads": {size: {**r.run.as_dict(), **r.requests.__dict__} for size, r in reads.items()},
        "backfills": [b.as_dict() for b in backfills],
    }
    (out / "activity.json").write_text(json.dumps(raw, indent=2))
    return ActivityResults(reads, backfills)


@dataclass(frozen=True)
class SignInCost:
    """The connector's row in section 2 (CPU-bound sign-ins) of RESULTS.md, for comparison; "n/a" when missing."""

    records_per_second: str = "n/a"
    cpu_microseconds_per_record: str = "n/a"


def sign_in_cost(results_md: str) -> SignInCost:
    """Records/s and CPU us/record of the connector's row in section 2 of RESULTS.md as written."""
    found = re.search(
        r"^## 2\. CPU-bound\n.*?^\| connector \| [\d,]+ \| [\d.]+ \| ([\d,]+) \| [\d.]+ \| ([\d.]+) \|",
        results_md,
        re.S | re.M,
    )
    return SignInCost(*found.groups()) if found else SignInCost()


def markdown(results: ActivityResults, sign_ins: SignInCost) -> str:
    """Section 7, set beside the sign-in stream's CPU-bound cost (`sign_in_cost`)."""
    sizes = sorted(results.reads)
    small, large = results.reads[sizes[0]].run, results.reads[sizes[-1]].run
    lines = [
        SECTION,
        "",
        "`dynamics_activity` alone (include_dynamics_activity on, the emulator's `activity` app with"
        f" AuditLogsQuery-CRM.Read.All), a first sync from the default start date ({DAYS} days back, less 10 minutes):"
        f" one audit log query per day-long window, {BATCH} created at a time, each polled until it succeeded, its"
        " records read 1,000 a page. The emulator derives the CRM records from the tenant's Dataverse sign-ins"
        f" (graph_emulator/crm_activity.py; {SIGN_INS_PER_USER} interactive sign-ins a user in the month). Reproduce"
        " only this section: `.venv/bin/python -m bench.activity` (about 5 minutes). Machine: 2 cores shared with"
        " other sessions, the emulator serving (and generating the records) on the same cores: the numbers are noisy.",
        "",
        "Read rate and memory: queries succeed at once (latency 0 s), so each window is one create, one poll and its"
        " pages, and the sync is bound by CPU. The shipped connector (`main.py`): audit log queries count against no"
        " pacer, so nothing is opened wide.",
        "",
        "| records | users | interactive sign-ins | wall s | records/s | CPU s | CPU us/record | peak RSS MiB"
        " | requests per window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for read in results.reads.values():
        run = read.run
        lines.append(
            f"| {run.records:,} | {read.users:,} | {read.sign_ins:,} | {run.wall_seconds:.1f} |"
            f" {run.records_per_second:,.0f} | {run.cpu_seconds:.1f} | {run.cpu_microseconds_per_record:.1f} |"
            f" {run.peak_rss_mib:.0f} | {read.requests.per_window()} |"
        )
    lines += [
        "",
        f"Peak RSS from {sizes[0]:,} to {sizes[-1]:,} records: {large.peak_rss_mib / small.peak_rss_mib - 1:+.1%}"
        f" ({large.peak_rss_mib - small.peak_rss_mib:+.0f} MiB; target: flat). The ids emitted are kept for the sync,"
        " 16 bytes a record (streams/restarts.py EmittedIds: each record once per sync), so"
        f" {(large.records - small.records) * ID_BYTES / 2**20:.0f} MiB of growth is expected.",
        "",
        f"Beside the sign-ins (section 2, connector row): {sign_ins.records_per_second} records/s and"
        f" {sign_ins.cpu_microseconds_per_record} us of the connector's CPU a record. Here the connector spends"
        f" {large.cpu_microseconds_per_record:.0f} us a record ({large.cpu_seconds:.0f} CPU s of"
        f" {large.wall_seconds:.0f} s wall at {sizes[-1]:,}): the lower records/s is the emulator's, which derives each"
        " record from the sign-ins, copies it and serves Purview's whole `auditData` (29 fields, about 1.7 KB of JSON"
        " a record) on the same 2 cores. On Graph the queries' latency, not either CPU, bounds the sync (below).",
        "",
        f"30-day backfill at Purview-like query latencies, a tenant of about {BACKFILL_RECORDS:,} records. Microsoft"
        " documents no duration for an audit log query (docs/purview-audit-facts.md) and the connector's docs expect"
        " minutes for a day of CRM records, so two latencies: 2 minutes a query (the figure the docs' own measurement"
        " used) and 10 minutes (a slow Purview, the case to plan for). Waiting them in real time would take up to"
        " half an hour a run, so the connector runs forked on the emulator's clock, as the process-level tests do"
        " (testing/clock.py"
        " `SkippedSeconds`): each wait between polls returns at once and moves the emulator's clock on by its length,"
        " so a query finishes exactly when it would have. Wall = real seconds (creating, polling, reading) + waits"
        " skipped.",
        "",
        "| query latency | records | windows (creates) | polls | record pages | requests per window | real s"
        " | waits skipped s | wall s (min) | schedule's waits s | exit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in results.backfills:
        r = b.requests
        lines.append(
            f"| {b.latency / 60:.0f} min | {b.records:,} | {r.creates} | {r.polls} | {r.pages} | {r.per_window()} |"
            f" {b.real_seconds:.1f} | {b.skipped_seconds:.0f} | {b.wall_seconds:.0f} ({b.wall_seconds / 60:.1f}) |"
            f" {b.scheduled_wait_seconds:.0f} | {b.exit_code} |"
        )
    lines += [
        "",
        f"The schedule's waits: ceil(windows / {BATCH}) batches one after another, each waited for until the poll that"
        " finds its first query done, p(L) for a latency L on the poll schedule 0, 10, 30, 70 s, then every 60 s"
        f" (p(2 min) = {first_poll_after(120):.0f} s, p(10 min) = {first_poll_after(600):.0f} s); the other queries"
        " of the batch, created with it, are done by then and take one poll each. A first sync of W windows at"
        " latency L with R records therefore takes about ceil(W / 10) x p(L) + R / (read rate above). Projection (not"
        f" measured): at 30 minutes a query, 3 x {first_poll_after(1800):.0f} s ="
        f" {waits(30, 1800) / 60:.0f} minutes of waiting for 30 days; a later sync (two days of lookback and the"
        " time since: 3 windows, one batch) waits p(L) once. A query still running after 2 hours of polling ends the"
        " sync in a sentence, and the next sync polls the same query.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    path = BENCH / "RESULTS.md"
    results = measure_activity(OUT)
    text = path.read_text()
    section = markdown(results, sign_in_cost(text))
    path.write_text(with_section(text, section))
    print(section)


if __name__ == "__main__":
    main()
