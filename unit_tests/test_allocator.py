"""The malloc settings that keep memory flat are applied on glibc, and never over the user's own."""

import platform

import pytest

from source_dynamics365_cc.allocator import USER_SETTINGS, keep_memory_flat


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt exists only in glibc")
def test_glibc_malloc_is_set_to_one_arena_and_a_fixed_mmap_threshold(monkeypatch):
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert keep_memory_flat() is True


@pytest.mark.parametrize("name", USER_SETTINGS)
def test_a_user_who_tuned_malloc_keeps_their_settings(monkeypatch, name):
    monkeypatch.setenv(name, "4")
    assert keep_memory_flat() is False
