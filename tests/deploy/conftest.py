"""Fixtures for deploy/ tests: a moto S3 server (the manifests run on S3).

Its variables are set for each test only: tests/proxy's session fixture sets them for the
whole session, and under xdist one worker runs both directories, so a session-wide change here
would point tests/proxy's processes at this server, where their buckets do not exist.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from s3server import MotoServer


@pytest.fixture(scope="session")
def deploy_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def moto_server(deploy_moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    for key, value in deploy_moto.env.items():
        monkeypatch.setenv(key, value)
    return deploy_moto
