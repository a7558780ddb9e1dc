"""`go-vault prefetch`: a build list through the upstream into the vault, then served offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream, write_files
from vaultlab import LoopbackUpstream, fixture_graph, running_gateway, vault_config

from proxy.storage import Kind
from proxy.storage.fs import FsStorage

RunGo = Callable[..., subprocess.CompletedProcess[str]]
TOOLCHAIN = "v0.0.1-go1.99.0.linux-amd64"


def prefetch(vault: Path, upstream: str, *args: str) -> tuple[int, dict[str, object], str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from proxy.cli import main; main()",
            "prefetch",
            *args,
            "--storage",
            str(vault),
            "--upstream",
            upstream,
            "--local-go",
            "1.27.0",
            "--platform",
            "linux-amd64",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": str(vault.parent / "audit.jsonl")},
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


@pytest.mark.gocmd
def test_prefetch_a_go_mod_then_build_offline(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    files = fixture_graph(goproxy_tree, count=6)
    files["go.mod"] = files["go.mod"].replace("go 1.21\n", "go 1.21\n\ntoolchain go1.99.0\n", 1)
    goproxy_tree.add_module(
        "golang.org/toolchain", TOOLCHAIN, {"go.mod": "module golang.org/toolchain\n"}
    )
    app = write_files(tmp_path / "app", files)
    vault = tmp_path / "vault"

    code, summary, err = prefetch(vault, upstream.url, str(app / "go.mod"))
    assert code == 0, err
    counts = summary["counts"]
    assert isinstance(counts, dict)
    assert counts["fetched"] >= 9 and counts["already there"] == 0, summary
    assert "module versions" in err and "fetched" in err  # the summary line
    assert FsStorage(vault).exists("golang.org/toolchain", TOOLCHAIN, Kind.ZIP)

    code, again, err = prefetch(vault, upstream.url, str(app / "go.mod"))
    assert code == 0, err
    assert again["counts"] == {**counts, "fetched": 0, "already there": counts["fetched"]}  # type: ignore[dict-item]

    # The vault alone (offline, no upstream) now serves everything the build needs.
    config = vault_config(tmp_path, storage=str(vault), offline=True, upstream="")
    with running_gateway(config) as b:
        out = run_go("mod", "download", "-json", "all", cwd=app, env_extra={"GOPROXY": b.url})
        downloaded = list(json_stream(out.stdout))
        assert len(downloaded) >= 9 and all("Error" not in m for m in downloaded)
        run_go("build", "./...", cwd=app, env_extra={"GOPROXY": b.url})


def test_prefetch_a_list_reports_what_is_missing(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    goproxy_tree.add_module("example.com/p/one", "v1.0.0")
    listing = tmp_path / "modules.txt"
    listing.write_text("# wanted\nexample.com/p/one v1.0.0\nexample.com/p/gone@v1.9.9\n")
    code, summary, err = prefetch(tmp_path / "vault", upstream.url, str(listing))
    assert code == 3, err
    assert summary["counts"]["fetched"] == 1  # type: ignore[index]
    (problem,) = summary["problems"]  # type: ignore[misc]
    assert problem["module"] == "example.com/p/gone" and problem["outcome"] == "not found"


def test_an_upstream_that_keeps_failing_is_not_tried_for_every_version(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """After the upstream failed a run of versions (down, unreachable), the rest are reported
    as not tried instead of each waiting out the same failure."""
    listing = tmp_path / "modules.txt"
    listing.write_text("".join(f"example.com/down/m{i:02d} v1.0.0\n" for i in range(60)))
    for i in range(60):
        for kind in ("info", "mod", "zip"):
            upstream.status[f"/example.com/down/m{i:02d}/@v/v1.0.0.{kind}"] = 503
    upstream.delay = 0.05
    code, summary, err = prefetch(tmp_path / "vault", upstream.url, str(listing))
    assert code == 3, err
    assert summary["counts"]["failed"] == 60  # type: ignore[index]
    reasons = [p["reason"] for p in summary["problems"]]  # type: ignore[attr-defined]
    assert all("answered 503" in r for r in reasons)
    assert sum(r.startswith("not tried: the upstream failed") for r in reasons) >= 30
    assert len({path.split("/@v/")[0] for path in upstream.hits}) < 30  # versions tried
