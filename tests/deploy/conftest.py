"""Fixtures for deploy/ tests: the moto S3 server of tests/proxy (the manifests run on S3)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from s3server import moto_server  # noqa: F401
