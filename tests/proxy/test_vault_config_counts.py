"""Settings that count threads or operations at once: zero can never work, so it stops the
start with exit 2 instead of a server that never answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import load_config
from scanner.errors import InputError


@pytest.mark.parametrize("setting", ["pool_size", "audit_concurrency", "git_concurrency"])
def test_a_count_of_zero_is_refused_at_start(tmp_path: Path, setting: str) -> None:
    """pool_size 0: granian's worker never came up and serve printed no start line, for ever;
    audit_concurrency 0: every POST /-/verdicts waited for ever (git_concurrency likewise for
    git-served modules)."""
    config = tmp_path / "vault.yaml"
    config.write_text(f"storage: {tmp_path / 'vault'}\n{setting}: 0\n")
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "serve"]
    proc = subprocess.Popen(
        [*cli, "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
        start_new_session=True,  # a server that did start goes with its workers
    )
    try:
        _, err = proc.communicate(timeout=120)  # only so that a hang fails, not stalls
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 2, err
    assert f"error: {config}:2: {setting}: 0 must be at least 1" in err, err


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("read_timeout", "0", "read_timeout: 0.0 must be more than 0 seconds"),
        ("send_timeout", "-1", "send_timeout: -1.0 must be more than 0 seconds"),
        ("list_ttl", "-1", "list_ttl: -1.0 must be 0 or more"),
        ("memory_cache_mb", "-64", "memory_cache_mb: -64 must be 0 or more"),
        ("max_body", "-1", "max_body: -1 must be 0 or more"),
        ("rate_limit", "nan", "rate_limit: nan must be 0 or more"),
    ],
)
def test_a_negative_size_or_a_timeout_of_zero_is_refused(
    setting: str, value: str, message: str
) -> None:
    """They were taken as given: a cache of -64 MiB, a body limit that refused every POST."""
    with pytest.raises(InputError) as refused:
        load_config(None, env={f"GO_VAULT_{setting.upper()}": value})
    assert refused.value.message == message
