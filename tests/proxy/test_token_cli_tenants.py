"""`go-vault token add --tenant NAME`: NAME must be a tenant of the tenants file (the config's or
--tenants), else no server serves /t/NAME/ and the token works nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from proxy.cli import main; main()", "token"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=clean, timeout=120, check=False
    )


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    tenants = tmp_path / "tenants.yml"
    tenants.write_text("acme:\n  quota_modules: 3\nbeta: {}\n")
    tokens = tmp_path / "tokens.json"
    config = tmp_path / "go-vault.yml"
    config.write_text(f"storage: {tmp_path / 'vault'}\nauth_tokens: {tokens}\ntenants: {tenants}\n")
    return config, tenants, tokens


def test_a_tenant_the_tenants_file_does_not_name_is_refused(tmp_path: Path) -> None:
    config, tenants, tokens = _setup(tmp_path)
    done = run("add", "ghost-ci", "--tenant", "ghost", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert f"error: {tenants}: --tenant ghost: no such tenant in the tenants file" in done.stderr
    assert "known tenants: acme, beta" in done.stderr, done.stderr
    assert not done.stdout and not tokens.exists()  # no secret printed, nothing stored

    # --tenants names the file when the config does not (here: --auth-tokens alone).
    done = run("add", "ghost-ci", "--tenant", "ghost", "--tenants", str(tenants))
    assert done.returncode == 2 and "known tenants: acme, beta" in done.stderr, done.stderr
    assert not tokens.exists()


def test_a_tenant_of_the_tenants_file_gets_its_token(tmp_path: Path) -> None:
    config, _, tokens = _setup(tmp_path)
    done = run("add", "acme-ci", "--tenant", "acme", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gvt_")
    (entry,) = json.loads(tokens.read_text())["tokens"]
    assert (entry["name"], entry["tenant"]) == ("acme-ci", "acme")


def test_without_a_tenants_file_the_tenant_is_not_checked_and_says_so(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    done = run("add", "acme-ci", "--tenant", "acme", "--auth-tokens", str(tokens))
    assert done.returncode == 0, done.stderr
    assert "warning: no tenants file" in done.stderr and "not checked" in done.stderr
    assert tokens.exists()
