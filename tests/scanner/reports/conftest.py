"""Fixtures for the renderer tests: the hand-built sample results."""

from __future__ import annotations

import pytest
from reportsample import make_result

from scanner.result import ScanResult


@pytest.fixture
def sample_result() -> ScanResult:
    return make_result()


@pytest.fixture
def full_result() -> ScanResult:
    """The same project scanned without --base: everything counts."""
    return make_result(base_ref="")
