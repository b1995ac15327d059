"""Root conftest: the CDK's standard acceptance-test hooks must be registered here, not in a nested conftest.

The tests talk to fakes and the emulator on hosts of their own, which a deployment must allow explicitly;
tests of the refusal remove the variable themselves.
"""

import os

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

os.environ["DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS"] = "1"


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` starts two workers per core, at most eight: most of the suite's time is spent waiting (Graph's 10-s
    throttle windows, Retry-After pauses, retries of the emulated faults), which a second worker per core fills;
    beyond eight the slowest single tests (about 25 s) decide, and each worker costs memory."""
    return min(2 * len(os.sched_getaffinity(0)), 8)
