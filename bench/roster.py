"""The roster (`users`) at Graph's documented limits and at the size of the largest tenants.

`python -m bench.roster` runs these scenarios only and rewrites the "Roster" section of bench/RESULTS.md;
`make bench` runs them after the sign-in scenarios. Graph's limits are used as they are documented, not scaled:
users pages that select signInActivity 10 per 60 s and 500 users a page, sign-in requests 5 per 10 s, both
enforced by the emulator at once.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph_emulator import Emulator, TenantSpec
from testing.harness import connector_config

from .procs import Measurement, measure, python_module
from .scenarios import connector_command
from .sections import with_section
from .tenant import SCHEMAS, SyncFiles, write_files

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
PACED_USERS = 20_000
LATENCY_SECONDS = 0.5
ACTIVITY_REQUESTS, ACTIVITY_WINDOW_SECONDS, ACTIVITY_PAGE = 10, 60.0, 500
MEMORY_SIZES = (100_000, 1_000_000)
PROJECTED_USERS = 500_000
SECTION = "## 6. Roster"
HOLDERS = "dynamics_365_license_holders"


@dataclass(frozen=True)
class RosterRun:
    """One roster sync and what Graph (the emulator) saw of it."""

    label: str
    run: Measurement
    users_in_scope: int
    requests: int
    activity_pages: int
    throttled: int
    violations: int
    first_to_last_request_seconds: float

    @property
    def ideal_seconds(self) -> float:
        """Graph's own floor for the activity pages: 10 may start in each minute, the last one takes its latency."""
        if not self.activity_pages:
            return 0.0
        return (self.activity_pages - 1) // ACTIVITY_REQUESTS * ACTIVITY_WINDOW_SECONDS + LATENCY_SECONDS

    @property
    def users_per_request(self) -> float:
        return self.run.records / self.requests if self.requests else 0.0

    @property
    def burst(self) -> int:
        """Requests the first moment allows: Graph's 10 activity pages of the first minute, or one."""
        return min(self.requests, ACTIVITY_REQUESTS) if self.activity_pages else 1

    @property
    def requests_per_minute(self) -> float:
        """The sustained rate: requests after the first moment's burst over the time they took."""
        span = self.first_to_last_request_seconds
        return 60.0 * (self.requests - self.burst) / span if span else 0.0

    def as_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "run"}
        return {**self.run.as_dict(), **fields, "ideal_seconds": self.ideal_seconds}


def _files(emu: Emulator, out: Path, name: str, **settings: Any) -> SyncFiles:
    config = {**connector_config(emu), **settings}
    schema = json.loads((SCHEMAS / "users.json").read_text())
    stream = {"name": "users", "json_schema": schema, "supported_sync_modes": ["full_refresh"]}
    catalog = {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
    return write_files(emu, out, name, config, catalog)


def _in_scope(emu: Emulator, holders: bool) -> int:
    skus = set(emu.tenant.dynamics_seat_skus())
    return sum(
        1
        for user in emu.tenant.users()
        if not holders or skus & {license["skuId"] for license in user["assignedLicenses"]}
    )


def paced(label: str, users: int, out: Path, **settings: Any) -> RosterRun:
    """One roster sync against a tenant enforcing both limits, with Graph-like latency on every users page."""
    with Emulator(TenantSpec(seed=9, users=users, sign_ins=10, days=29)) as emu:
        emu.set_throttle(5, 10.0)
        emu.set_activity_throttle(ACTIVITY_REQUESTS, ACTIVITY_WINDOW_SECONDS)
        emu.set_latency("users", LATENCY_SECONDS)
        files = _files(emu, out, f"roster-{label}", **settings)
        run = measure(f"roster {label}", connector_command(files), files.env, out / f"roster-{label}.stderr")
        log = emu.request_log("users")
        times = [entry["time"] for entry in log]
        activity = [e for e in log if "signinactivity" in str(e["query"].get("$select", "")).lower()]
        stats = emu.stats()
        return RosterRun(
            label=label,
            run=run,
            users_in_scope=_in_scope(emu, settings["roster_scope"] == HOLDERS),
            requests=len(log),
            activity_pages=len(activity),
            throttled=stats["throttled"],
            violations=sum(app["violations"] for app in stats["activity"].values()) + stats["violations"],
            first_to_last_request_seconds=max(times) - min(times) if times else 0.0,
        )


def memory(users: int, out: Path) -> Measurement:
    """The whole roster of `users`, unpaced (bench/unpaced.py), for the connector's peak RSS."""
    with Emulator(TenantSpec(seed=9, users=users, sign_ins=10, days=29)) as emu:
        files = _files(emu, out, f"roster-memory-{users}", roster_scope="all_users", include_sign_in_activity=False)
        command = python_module("bench.unpaced", *files.read_args())
        return measure(f"roster memory {users}", command, files.env, out / f"roster-memory-{users}.stderr")


@dataclass(frozen=True)
class RosterResults:
    runs: dict[str, RosterRun]
    memory: dict[int, Measurement]


def measure_roster(out: Path = OUT) -> RosterResults:
    print(f"roster: {PACED_USERS:,} users at both limits (about 4 minutes), then memory at {MEMORY_SIZES}")
    runs = {
        "all users, with signInActivity": paced("all", PACED_USERS, out, roster_scope="all_users"),
        "Dynamics 365 holders, with signInActivity": paced("holders", PACED_USERS, out, roster_scope=HOLDERS),
        "all users, without signInActivity": paced(
            "plain", PACED_USERS, out, roster_scope="all_users", include_sign_in_activity=False
        ),
    }
    sizes = {users: memory(users, out) for users in MEMORY_SIZES}
    results = RosterResults(runs, sizes)
    raw = {"runs": {k: v.as_dict() for k, v in runs.items()}, "memory": {k: v.as_dict() for k, v in sizes.items()}}
    (out / "roster.json").write_text(json.dumps(raw, indent=2))
    return results


def _projection(run: RosterRun, users: int) -> str:
    """Minutes for `users`: the measured users per request, the first moment's burst, then the measured sustained
    requests per minute."""
    if not run.users_per_request or not run.requests_per_minute:
        return "n/a"
    requests = math.ceil(users / run.users_per_request)
    minutes = max(0, requests - run.burst) / run.requests_per_minute
    return f"{requests:,} requests, {run.burst} first, then {run.requests_per_minute:.1f}/min: {minutes:.0f} min"


def markdown(results: RosterResults) -> str:
    lines = [
        SECTION,
        "",
        f"`users` alone, {PACED_USERS:,} users, {LATENCY_SECONDS} s per page, the emulator enforcing both documented"
        f" limits at once: users pages with signInActivity {ACTIVITY_REQUESTS} per {ACTIVITY_WINDOW_SECONDS:.0f} s"
        f" ({ACTIVITY_PAGE} users a page), sign-in requests 5 per 10 s. Reproduce only this section:"
        " `.venv/bin/python -m bench.roster`.",
        "",
        "| roster | users in scope | records | wall s | requests | activity pages | ideal s | of ideal"
        " | users/request | sustained requests/min | 429s | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, run in results.runs.items():
        ratio = f"{run.ideal_seconds / run.run.wall_seconds:.0%}" if run.ideal_seconds else "n/a"
        lines.append(
            f"| {label} | {run.users_in_scope:,} | {run.run.records:,} | {run.run.wall_seconds:.1f} | {run.requests}"
            f" | {run.activity_pages} | {run.ideal_seconds:.1f} | {ratio} | {run.users_per_request:.0f} |"
            f" {run.requests_per_minute:.1f} | {run.throttled} | {run.violations} |"
        )
    every, plain = results.runs["all users, with signInActivity"], results.runs["all users, without signInActivity"]
    lines += [
        "",
        "Records leave out concealed names. Ideal: the floor Graph's limit sets for the activity pages (10 may start"
        " in each minute), plus the last page's latency; wall time includes process start-up.",
        "",
        f"Projection to {PROJECTED_USERS:,} users, from the measured users per request and requests per minute:",
        "",
        f"- all users with signInActivity: {_projection(every, PROJECTED_USERS)};",
        f"- all users without signInActivity (999 a page, directory budget, latency-bound): {_projection(plain, PROJECTED_USERS)}.",
        "- Dynamics 365 holders with signInActivity: holders / 500 pages plus one partial page per SKU at the"
        " same 10 a minute; 50,000 holders would be about 100 pages, 10 minutes.",
        "",
        "`/users/delta` was not measured: the emulator does not serve it. It cannot select signInActivity, its token"
        " lasts 7 days, and the stream is full refresh (overwrite), so a delta roster would need a cursor and a merge"
        " the destination does not do; the holders' scope cuts the paced pages instead.",
        "",
        "Memory, the whole roster unpaced (bench/unpaced.py), without signInActivity (999 a page):",
        "",
        "| users | records | wall s | peak RSS MiB |",
        "|---|---|---|---|",
    ]
    for users, run in results.memory.items():
        lines.append(f"| {users:,} | {run.records:,} | {run.wall_seconds:.1f} | {run.peak_rss_mib:.0f} |")
    small, large = (results.memory[size].peak_rss_mib for size in MEMORY_SIZES)
    lines += [
        "",
        f"Growth from {MEMORY_SIZES[0]:,} to {MEMORY_SIZES[1]:,} users: {large / small - 1:+.1%}, next to the"
        " sign-ins' in section 3. The ids of the users emitted are 16 bytes a user, kept for the stream's read and"
        " looked up as they are added (16 MiB at 1,000,000; a restart adds nothing, where sorting them for one cost"
        " 145 MiB more before issue 26); before issue 18, every id was kept as a string in a set for the whole sync,"
        " about 127 bytes a user (121 MiB at 1,000,000).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    results = measure_roster(OUT)
    path = BENCH / "RESULTS.md"
    path.write_text(with_section(path.read_text(), markdown(results)))
    print(markdown(results))


if __name__ == "__main__":
    main()
