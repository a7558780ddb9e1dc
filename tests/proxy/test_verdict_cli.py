"""`go-vault verdict MODULE@VERSION`: a module or version that does not exist is the user's
input (exit 2); a go-vault that cannot judge is an operational failure (exit 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from goproxytree import GoProxyTree
from serveproc import serve_process
from test_auditor import publish, write_policy


def verdict(url: str, target: str) -> subprocess.CompletedProcess[str]:
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "verdict"]
    return subprocess.run(
        [*cli, target, "--proxy", url],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")},
        check=False,
    )


def test_a_module_or_version_that_does_not_exist_is_an_input_error(tmp_path: Path) -> None:
    """It exited 3 ('no verdict: not found upstream'), as if the proxy had failed."""
    tree = GoProxyTree(tmp_path / "upstream")
    publish(tree, "example.com/mit", "mit")
    policy = write_policy(tmp_path / "policy.yml")
    vault, audit = tmp_path / "vault", tmp_path / "audit.jsonl"
    args = ["--storage", str(vault), "--upstream", tree.url, "--audit-log", str(audit)]
    with serve_process(*args, "--policy", str(policy)) as (_, url):
        assert verdict(url, "example.com/mit@v1.0.0").returncode == 0
        for target in ("example.com/nonexist@v1.0.0", "example.com/mit@v1.9.9"):
            proc = verdict(url, target)
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.startswith(f"error: {target}: no verdict: not found upstream")
            assert "go list -m -versions" in proc.stderr
    with serve_process(*args) as (_, url):  # no --policy: nothing judges
        proc = verdict(url, "example.com/mit@v1.0.0")
        assert proc.returncode == 3, proc.stderr
        assert "no auditor" in proc.stderr
