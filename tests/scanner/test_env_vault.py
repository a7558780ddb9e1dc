"""`goproxy-scan env` against the real `go-vault serve`: force routes go through it, or fails."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from goproxytree import GoProxyTree, write_files
from licensedmodules import publish_modules

pytestmark = [pytest.mark.gocmd, pytest.mark.slow]


@dataclass
class Vault:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    """`go-vault serve` on port 0 over a file:// upstream, allowing MIT only."""
    tree = GoProxyTree(tmp_path / "upstream")
    publish_modules(tree)
    log = (tmp_path / "vault.log").open("w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO_VAULT_", "GOPROXY"))}
    proc = subprocess.Popen(
        [
            "go-vault",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--storage",
            str(tmp_path / "vault"),
            "--upstream",
            tree.url,
            "--license-whitelist",
            "MIT",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        env=env,
    )
    vault = Vault("", proc)
    try:
        deadline = time.monotonic() + 60
        while not vault.url:
            assert proc.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, "go-vault serve did not start in 60 s"
            for line in Path(log.name).read_text().splitlines():
                if line.startswith("{") and '"start"' in line:
                    vault.url = json.loads(line)["listen"]
            time.sleep(0.1)
        while True:  # listening is announced before the workers accept
            try:
                if requests.get(f"{vault.url}/-/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "go-vault serve never became healthy"
            time.sleep(0.1)
        yield vault
    finally:
        vault.stop()
        log.close()


def env_lines(stdout: str) -> dict[str, str]:
    """`export K=V` lines as the shell would set them."""
    out = {}
    for line in stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = " ".join(shlex.split(value))
    return out


def goproxy_scan_env(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["goproxy-scan", "env", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_force_sends_the_go_command_through_the_vault_which_refuses_gpl(
    tmp_path: Path,
    vault: Vault,
    go_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    job = {**go_env, "GOPROXY": "off", "GOFLAGS": ""}
    proc = goproxy_scan_env("--mode", "force", "--proxy", vault.url, env=job)
    assert proc.returncode == 0, proc.stderr
    written = env_lines(proc.stdout)
    assert written["GOPROXY"] == vault.url

    app = write_files(
        tmp_path / "app",
        {"go.mod": "module example.com/app\n\ngo 1.21\n", "main.go": "package main\n"},
    )
    ok = run_go("get", "example.com/mit@v1.0.0", cwd=app, env_extra=written, check=False)
    assert ok.returncode == 0, ok.stderr
    refused = run_go("get", "example.com/gpl@v1.0.0", cwd=app, env_extra=written, check=False)
    assert refused.returncode != 0
    # the vault's 403 text/plain reason reaches the developer through the go command
    assert "403" in refused.stderr and "GPL-3.0-only" in refused.stderr

    vault.stop()
    down = goproxy_scan_env("--mode", "force", "--proxy", vault.url, env=job)
    assert down.returncode == 3
    assert "fails closed" in down.stderr
    fallback = goproxy_scan_env("--mode", "auto", "--proxy", vault.url, env=job)
    assert fallback.returncode == 0
    assert "falling back" in fallback.stderr
