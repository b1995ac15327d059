"""glibc malloc settings that keep a long `read` flat in memory, in the image and in a venv run alike.

Python's own allocations stay flat over a long sync (tracemalloc), yet the process grew with tenant
size: every worker thread gets its own malloc arena, and once the first ~1.6 MB page buffer is freed
glibc raises its mmap threshold, so later page buffers are carved from those arenas and fragment them.
One arena and a fixed mmap threshold (page buffers are mapped and unmapped whole) keep the peak flat;
the GIL already serialises most allocation, so one arena costs no measurable speed. `make bench`
measures both (bench/RESULTS.md). Only `read` needs it: run.py applies it to that command alone, and
never over a user's own MALLOC_ settings. The image and PyAirbyte both run the console script, so
both get it.
"""

import ctypes
import os

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers from glibc's malloc.h
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's default start value, kept fixed instead of growing
ARENAS = 1
USER_SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")


def keep_memory_flat() -> bool:
    """Apply the settings before any worker thread starts; True when applied. No-op off glibc (musl, macOS)
    and when the user tuned malloc through its environment variables."""
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, ARENAS)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
