"""CLI: `python -m graph_emulator --port 0 ...` prints one JSON line, then serves until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading

from .emulator import Emulator
from .gen import parse_ticks, ticks_to_datetime
from .tenant import TenantSpec


def _throttle(text: str) -> tuple[int, float]:
    requests, _, seconds = text.partition("/")
    return int(requests), float(seconds or 10)


def _when(text: str) -> dt.datetime:
    ticks = parse_ticks(text)
    if ticks is None:
        raise argparse.ArgumentTypeError(f"expected a UTC timestamp like 2026-11-26T12:00:00Z, got {text!r}")
    return ticks_to_datetime(ticks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="graph_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--sign-ins", type=int, default=5000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--no-premium", action="store_true")
    p.add_argument("--no-or-filter", action="store_true", help="answer 400 to a signIns $filter using `or`")
    p.add_argument("--throttle", type=_throttle, help="REQUESTS/SECONDS per app on signIns, e.g. 5/10")
    p.add_argument("--integer-retry-after", action="store_true")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each Graph page")
    p.add_argument("--token-lifetime", type=int, default=3600)
    p.add_argument("--skiptoken-ttl", type=float, default=600.0)
    p.add_argument("--info-file")
    p.add_argument("--now", type=_when, help="tenant clock at start, e.g. 2026-11-26T12:00:00Z")
    p.add_argument("--burst-size", type=int, default=0, help="Dynamics 365 sign-ins sharing one microsecond")
    p.add_argument("--burst-at", help="a Graph instant inside the burst's microsecond; default: 1 hour before now")
    p.add_argument(
        "--non-interactive-ratio", type=int, default=10, help="non-interactive sign-ins (beta) per interactive one"
    )
    p.add_argument(
        "--worklist-cases", action="store_true", help="the license worklist's cases: disabled, administrator, ..."
    )
    args = p.parse_args(argv)

    spec = TenantSpec(
        seed=args.seed,
        users=args.users,
        sign_ins=args.sign_ins,
        days=args.days,
        premium=not args.no_premium,
        or_filter=not args.no_or_filter,
        now=args.now,
        burst_size=args.burst_size,
        burst_at=args.burst_at,
        non_interactive_ratio=args.non_interactive_ratio,
        worklist_cases=args.worklist_cases,
    )
    emu = Emulator(
        spec, port=args.port, host=args.host, token_lifetime=args.token_lifetime, skiptoken_ttl=args.skiptoken_ttl
    ).start()
    if args.throttle:
        emu.set_throttle(*args.throttle, integer_retry_after=args.integer_retry_after)
    if args.latency:
        for route in ("users", "signIns", "subscribedSkus"):
            emu.set_latency(route, args.latency)
    stop = threading.Event()  # armed before the line is printed: a caller may signal as soon as it reads it
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    line = json.dumps(emu.info())
    if args.info_file:
        with open(args.info_file, "w") as f:
            f.write(line + "\n")
    print(line, flush=True)
    stop.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
