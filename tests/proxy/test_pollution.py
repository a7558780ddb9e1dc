"""Version pollution: an upstream re-tagging a stored version is refused and alerted, bytes kept."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
from goproxytree import GoProxyTree, build_zip, write_files
from vaultlab import GatewayFactory

from proxy.storage import Kind, open_storage
from scanner.dirhash import hash_zip

RunGo = Callable[..., subprocess.CompletedProcess[str]]
M = "example.com/polluted"
V = "v1.0.0"
GOMOD = f"module {M}\n"


def download(
    run_go: RunGo, url: str, cwd: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run_go(
        "mod", "download", "-json", f"{M}@{V}", cwd=cwd, env_extra={"GOPROXY": url}, check=check
    )


def test_retagged_version_is_refused_alerted_and_the_original_sums_stay(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    art = goproxy_tree.add_module(M, V, {"go.mod": GOMOD, "a.go": "package a\n"})
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    vault = tmp_path / "vault"
    with gateway() as gw:
        first = json.loads(download(run_go, gw.url, app).stdout)
        original = (first["Sum"], first["GoModSum"])
        stored_zip = open_storage(str(vault)).get(M, V, Kind.ZIP)
        # The upstream re-tags v1.0.0 with other bytes.
        art.zip.write_bytes(build_zip(f"{M}@{V}/", {"go.mod": GOMOD, "a.go": "package evil\n"}))
        polluted_h1 = hash_zip(art.zip)
        assert polluted_h1 != original[0]
        # A stored version is served from the vault: a fresh module cache gets the first sums.
        run_go("clean", "-modcache", cwd=app)
        again = json.loads(download(run_go, gw.url, app).stdout)
        assert (again["Sum"], again["GoModSum"]) == original
    # A crash before .info left the version half-stored, so after the restart the next request
    # re-ingests and meets the re-tagged upstream: refused (the go command says why), and alerted.
    (info,) = vault.rglob(f"{V}.info")
    info.unlink()
    run_go("clean", "-modcache", cwd=app)
    with gateway() as gw:
        refused = download(run_go, gw.url, app, check=False)
        assert refused.returncode != 0
        assert "version pollution" in refused.stdout + refused.stderr
        metrics = httpx.get(f"{gw.url}/-/metrics").text
        assert "go_vault_version_pollution_total 1.0" in metrics
    assert open_storage(str(vault)).get(M, V, Kind.ZIP) == stored_zip
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    alerts = [e for e in events if e.get("kind") == "version-pollution"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["event"] == "security" and alert["module"] == M and alert["version"] == V
    assert alert["stored_h1"] == original[0] and alert["upstream_h1"] == polluted_h1


def test_retagged_go_mod_reports_the_go_mod_sums(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """Only .mod stored (a crash after it): the alert names the go.mod h1: values."""
    from scanner.dirhash import hash_gomod

    storage = open_storage(str(tmp_path / "vault"))
    storage.put(M, V, Kind.MOD, b"module example.com/polluted\n\nrequire x.y/z v1.0.0\n")
    goproxy_tree.add_module(M, V, {"go.mod": GOMOD})
    with gateway(storage=storage) as gw:
        r = httpx.get(f"{gw.url}/{M}/@v/{V}.zip")
        assert r.status_code == 502 and "version pollution" in r.text
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    (alert,) = [e for e in events if e.get("kind") == "version-pollution"]
    assert alert["stored_h1"] == hash_gomod(storage.get(M, V, Kind.MOD))
    assert alert["upstream_h1"] == hash_gomod(GOMOD.encode())
