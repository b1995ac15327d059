"""Root conftest: the CDK's standard acceptance-test hooks must be registered here, not in a nested conftest.

The tests talk to fakes and the emulator on hosts of their own, which a deployment must allow explicitly;
tests of the refusal remove the variable themselves.
"""

import os

import pytest

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "testing.graph_requests"]

os.environ["DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS"] = "1"


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` starts two workers per core, at most eight: the tests on the real clock wait (Graph's 10-s throttle
    windows, a fresh interpreter's start), which a second worker per core fills; beyond eight the slowest single
    tests (about a minute) decide, and each worker costs memory."""
    return min(2 * len(os.sched_getaffinity(0)), 8)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that wait on the real clock (named `..._on_the_real_clock`: pacing at Graph's real rate) or take long
    (marked `slow`) start first, with the rest of their modules, so that with workers (`-n`) they overlap the short
    tests instead of ending the run. With `--dist loadfile` (make test) each of those modules goes to the next free
    worker; with xdist's default `load`, consecutive tests go to one worker in chunks, which queued them all on one."""
    long = {getattr(item, "module", None) for item in items if _is_long(item)}
    items.sort(key=lambda item: getattr(item, "module", None) not in long)


def _is_long(item: pytest.Item) -> bool:
    return _name(item).endswith("_on_the_real_clock") or item.get_closest_marker("slow") is not None


def _name(item: pytest.Item) -> str:
    return getattr(item, "originalname", None) or item.name
