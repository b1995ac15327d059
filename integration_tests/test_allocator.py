"""The malloc settings that keep memory flat are applied on glibc, and never over the user's own.

Each case runs in a child process: the settings last for the life of a process, and this one runs the tests.
"""

import os
import platform
import subprocess
import sys

import pytest

from source_dynamics365_cc.allocator import USER_SETTINGS

APPLY = "from source_dynamics365_cc.allocator import keep_memory_flat; print(keep_memory_flat())"


def applied(**settings: str) -> str:
    env = {name: value for name, value in os.environ.items() if name not in USER_SETTINGS} | settings
    return subprocess.run([sys.executable, "-c", APPLY], env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt exists only in glibc")
def test_glibc_malloc_is_set_to_one_arena_and_a_fixed_mmap_threshold():
    assert applied().strip() == "True"


@pytest.mark.parametrize("name", USER_SETTINGS)
def test_a_user_who_tuned_malloc_keeps_their_settings(name):
    assert applied(**{name: "4"}).strip() == "False"
