"""`python -m bench.run`: every scenario in one invocation, then bench/RESULTS.md and bench/chart.png."""

import json
import time
from pathlib import Path

from .activity import markdown as activity_markdown
from .activity import measure_activity, sign_in_cost
from .report import Results, chart, markdown
from .roster import markdown as roster_markdown
from .roster import measure_roster
from .scenarios import both_sign_in_streams, cpu_bound, memory, throttled
from .sections import with_section

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
SMALL = 100_000
LARGE = 1_000_000
# Both sign-in streams: 10,000 interactive and twice as many non-interactive sign-ins, about 30 requests.
BOTH_INTERACTIVE = 10_000
BOTH_RATIO = 2


def main() -> None:
    OUT.mkdir(exist_ok=True)
    started = time.monotonic()
    print(f"1/6 throttled: connector and peer, {SMALL:,} sign-ins each, at Graph's 5 per 10 s (about 4 minutes)")
    paced = throttled(SMALL, OUT)
    print(f"2/6 CPU-bound: connector, baseline, peer, {LARGE:,} sign-ins each (about 6 minutes)")
    cpu = cpu_bound(LARGE, OUT)
    print(f"3/6 memory: connector, {SMALL:,} sign-ins")
    small = memory(SMALL, OUT)
    print("4/6 both sign-in streams under one budget (about 1 minute)")
    both = both_sign_in_streams(BOTH_INTERACTIVE, BOTH_RATIO, OUT)
    print("5/6 roster (about 12 minutes)")
    roster = measure_roster(OUT)
    print("6/6 Dynamics 365 activity (about 5 minutes)")
    activity = measure_activity(OUT)
    results = Results(paced, cpu, small, SMALL, LARGE, time.monotonic() - started, both)
    raw = {
        "throttled": {label: run.as_dict() for label, run in paced.items()},
        "cpu": {label: run.as_dict() for label, run in cpu.items()},
        "memory_small": small.as_dict(),
        "both_sign_in_streams": both.as_dict(),
        "total_seconds": results.total_seconds,
    }
    (OUT / "results.json").write_text(json.dumps(raw, indent=2))
    chart(results, BENCH / "chart.png")
    text = with_section(markdown(results), roster_markdown(roster))
    text = with_section(text, activity_markdown(activity, sign_in_cost(text)))
    (BENCH / "RESULTS.md").write_text(text)
    print((BENCH / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
