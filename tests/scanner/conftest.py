"""Fixtures of the scanner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from scanproject import new_scan_cache


@pytest.fixture(scope="session")
def scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One goproxy-scan cache for the session (compiled SPDX templates once per worker)."""
    return new_scan_cache(tmp_path_factory)
