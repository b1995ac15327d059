"""Progress while a read runs, through `python main.py read` against the emulator at Graph's pace: a row
estimate per stream within 10% of what the read then emits, and progress lines per sign-in window.

The tenant is sized so that the two sign-in streams need about 20 requests between them: at 5 per 10 s the read
lasts over 30 s, long enough for the progress lines, which come at most once every 30 s. Those seconds pass on the
test's clock: the connector's pacers wait on it at Graph's rates, and its progress is timed on it (Runtime.monotonic).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from airbyte_cdk.models import AirbyteEstimateTraceMessage, EstimateType, TraceType

from testing.harness import config_since, read_successfully, running_emulator

STREAMS = {"users": "full_refresh", "sign_ins": "incremental", "non_interactive_sign_ins": "incremental"}
PROGRESS_LINE = re.compile(
    r"^(\w+): window (\d+) of (\d+) done, ([\d,]+) records so far, about (\d+ (?:h|min|s)(?: \d+ (?:min|s))?) left "
    r"at the current rate\.$"
)


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    tenant = {"seed": 22, "users": 240, "sign_ins": 20000, "days": 30, "now": now, "non_interactive_ratio": 1}
    with running_emulator(**tenant, paced=True) as emu:
        config = config_since(emu, now - dt.timedelta(days=29), include_non_interactive_sign_ins=True)
        yield read_successfully(emu, tmp_path_factory.mktemp("progress"), config, STREAMS, timeout=300)


def estimates(result) -> list[AirbyteEstimateTraceMessage]:
    traces = (message.trace for message in result.trace_messages)
    return [trace.estimate for trace in traces if trace.type == TraceType.ESTIMATE]


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_each_stream_gets_one_row_estimate_within_ten_percent_of_what_it_emits(read, stream):
    [estimate] = [estimate for estimate in estimates(read) if estimate.name == stream]
    emitted = len(read.records_of(stream))
    assert estimate.type == EstimateType.STREAM and emitted > 0
    assert abs(estimate.row_estimate - emitted) <= 0.10 * emitted, (estimate.row_estimate, emitted)


def test_the_sign_in_streams_log_progress_per_window_and_stop_at_the_last_paced_on_the_tests_clock(read):
    lines = [PROGRESS_LINE.match(line) for line in read.log_lines("INFO")]
    progress = [match.groups() for match in lines if match]
    assert {stream for stream, *_ in progress} <= {"sign_ins", "non_interactive_sign_ins"}
    assert progress, "a read of over 30 s logs progress"
    for stream, done, total, records, _ in progress:
        assert 1 <= int(done) <= int(total), (stream, done, total)
        assert int(records.replace(",", "")) <= len(read.records_of(stream))
    for stream in {stream for stream, *_ in progress}:
        windows = [int(done) for name, done, *_ in progress if name == stream]
        assert windows == sorted(set(windows)), "one line per finished window at most, in order"
