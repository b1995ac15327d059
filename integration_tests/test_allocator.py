"""The malloc settings that keep memory flat are applied on glibc, and never over the user's own.

Each case runs in a child process: the settings last for the life of a process, and this one runs the tests. The
child runs allocator.py from its file, not through the package, whose import would load the CDK (3 s of CPU a case)
for a module that imports only ctypes and os.
"""

import os
import platform
import subprocess
import sys

import pytest

from source_dynamics365_cc import allocator

APPLY = "import runpy, sys; print(runpy.run_path(sys.argv[1])['keep_memory_flat']())"


def applied(**settings: str) -> str:
    env = {name: value for name, value in os.environ.items() if name not in allocator.USER_SETTINGS} | settings
    return subprocess.run(
        [sys.executable, "-c", APPLY, allocator.__file__], env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt exists only in glibc")
def test_glibc_malloc_is_set_to_one_arena_and_a_fixed_mmap_threshold():
    assert applied().strip() == "True"


@pytest.mark.parametrize("name", allocator.USER_SETTINGS)
def test_a_user_who_tuned_malloc_keeps_their_settings(name):
    assert applied(**{name: "4"}).strip() == "False"
