"""Bundle round trip: proxy A -> bundle -> proxy B started --offline, with the real go command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream, write_files
from vaultlab import GatewayFactory, fixture_graph, running_gateway, vault_config

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def go_vault(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def download_all(run_go: RunGo, url: str, app: Path) -> dict[str, str]:
    out = run_go("mod", "download", "-json", "all", cwd=app, env_extra={"GOPROXY": url})
    sums = {f"{m['Path']}@{m['Version']}": str(m["Sum"]) for m in json_stream(out.stdout)}
    assert sums and all(s.startswith("h1:") for s in sums.values())
    return sums


@pytest.mark.gocmd
def test_export_from_a_import_into_offline_b_same_sums(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    app = write_files(tmp_path / "app", fixture_graph(goproxy_tree, count=8))
    with gateway() as a:
        through_a = download_all(run_go, a.url, app)
    bundle = tmp_path / "go-modules-2024Q2.tar.gz"
    exported = json.loads(
        go_vault("sync", "--offline", f"--bundle={bundle}", "--storage", str(tmp_path / "vault"))
    )
    assert exported["modules"] >= len(through_a)
    vault_b = tmp_path / "vaultB"
    imported = json.loads(go_vault("import", str(bundle), "--storage", str(vault_b)))
    assert imported["new"] == exported["modules"]

    run_go("clean", "-modcache", cwd=app)
    config = vault_config(tmp_path, storage=str(vault_b), offline=True, upstream="")
    with running_gateway(config) as b:
        through_b = download_all(run_go, b.url, app)
    assert through_b == through_a
