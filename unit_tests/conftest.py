"""Fixtures the license-usage unit modules share (test_license_usage.py, test_license_worklist.py)."""

from pathlib import Path

import pytest

from unit_tests.license_records import standard_records


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A directory of the standard tenant's synced records (unit_tests/license_records.py), one per test."""
    return standard_records(tmp_path)
