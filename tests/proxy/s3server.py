"""A real S3-compatible server for tests: moto's standalone server process on 127.0.0.1:0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


class MotoServer:
    """`python -m moto.server -p0` in a child process; `env` points boto3 at it."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p0"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            text = log.read_text(errors="replace")
            found = re.search(r"Running on http://127\.0\.0\.1:(\d+)", text)
            if found:
                self.url = f"http://127.0.0.1:{found.group(1)}"
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start:\n{text}")
            time.sleep(0.05)
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "GO_VAULT_S3_ENDPOINT": self.url,
        }

    def new_bucket(self) -> str:
        """A fresh, empty bucket (one per test keeps tests independent under xdist)."""
        import boto3

        name = "vault-" + uuid.uuid4().hex[:16]
        boto3.client("s3", endpoint_url=self.url, **self._creds()).create_bucket(Bucket=name)
        return name

    def _creds(self) -> dict[str, str]:
        return {
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server per test session (per xdist worker); its variables set for boto3."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
