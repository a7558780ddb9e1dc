"""Verdicts from a proxy: up or down, under --fail-open and --fail-closed (exit 3)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
from e2e.test_proxy_serve import go_vault_serve  # tests/e2e/: the real `go-vault serve`
from goproxytree import GoProxyTree
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import (
    add_gpl_and_secret,
    make_project,
    publish_dependencies,
    run_scan_cli,
    scan_env,
)
from verdictserver import VerdictServer

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


@pytest.fixture
def project(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    publish_dependencies(goproxy_tree)
    root = make_project(tmp_path / "repo", run_go, goproxy_tree)
    add_gpl_and_secret(root, run_go, goproxy_tree)
    return root


@pytest.fixture
def verdict_server() -> Iterator[VerdictServer]:
    server = VerdictServer()
    yield server
    server.close()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nobody listens once closed


def scan(
    project: Path, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = project.parent / "result.json"
    out.unlink(missing_ok=True)
    env = {**env, "GOPROXY_SCAN_RETRIES": "1"}  # a dead proxy costs one 0.5 s back-off
    proc = run_scan_cli(
        ["scan", ".", "--no-source-rules", "--format", f"json={out}", "--format", "console", *args],
        env,
        project,
    )
    return proc, json.loads(out.read_text()) if out.exists() else {}


@pytest.mark.parametrize("mode", ["--fail-open", "--fail-closed"])
def test_proxy_up_its_verdicts_decide(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    verdict_server: VerdictServer,
    mode: str,
) -> None:
    # The proxy's policy has an exception for the GPL module: its PASS wins over local policy.
    verdict_server.decide = lambda path: "PASS"
    verdict_server.token = "ci-token"
    env = scan_env(go_env, goproxy_tree, scan_cache, GOPROXY_SCAN_TOKEN="ci-token")
    proc, result = scan(project, env, "--proxy", verdict_server.url, mode)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["verdict_source"] == "proxy"
    assert {m["verdict_source"] for m in result["modules"]} == {"proxy"}
    assert len(verdict_server.requests) == 1  # one batch for the whole build list
    asked = {m["module"] for m in verdict_server.requests[0]["body"]["modules"]}
    assert asked == {m["path"] for m in result["modules"]}


POLICY = """version: 1
licenses:
  allow: [MIT, Apache-2.0, BSD-3-Clause]
  deny: [GPL-3.0-only]
  no_license: review
"""


def test_this_scans_policy_file_holds_proxy_verdicts_to_it_too(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    verdict_server: VerdictServer,
) -> None:
    """The proxy's verdicts replaced the repository's policy file: a proxy that allows GPL
    passed a module the repository denies (and the action's deny-licenses did nothing)."""
    verdict_server.decide = lambda path: "PASS"  # the proxy allows every license
    (project / ".goproxy-scan.yml").write_text(POLICY)
    env = scan_env(go_env, goproxy_tree, scan_cache)
    proc, result = scan(project, env, "--proxy", verdict_server.url)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    gpl = next(m for m in result["modules"] if m["path"] == "example.com/gpl")
    assert (gpl["decision"], gpl["verdict_source"]) == ("REJECT", "local")
    assert gpl["expression"] == "GPL-3.0-only"  # the license the proxy found
    others = [m for m in result["modules"] if m["path"] != "example.com/gpl"]
    assert {(m["decision"], m["verdict_source"]) for m in others} == {("PASS", "proxy")}
    assert any("the stricter verdict stands" in n for n in result["notes"])
    assert any("stricter for example.com/gpl@" in n for n in result["notes"])

    # An approval granted on the proxy is the organisation's word: it passes.
    verdict_server.excepted = {"example.com/gpl"}
    proc, result = scan(project, env, "--proxy", verdict_server.url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any("exception granted on the proxy: example.com/gpl@" in n for n in result["notes"])

    # A REJECT of the proxy's stands whatever this policy allows: go cannot download it.
    verdict_server.excepted = set()
    verdict_server.decide = lambda path: "REJECT" if "mit" in path else "PASS"
    proc, result = scan(project, env, "--proxy", verdict_server.url)
    rejected = {m["path"] for m in result["modules"] if m["decision"] == "REJECT"}
    assert any("mit" in p for p in rejected) and "example.com/gpl" in rejected
    assert any("go-vault approve" in n for n in result["notes"])


def test_proxy_up_a_reject_fails(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    verdict_server: VerdictServer,
) -> None:
    proc, result = scan(
        project, scan_env(go_env, goproxy_tree, scan_cache), "--proxy", verdict_server.url
    )
    assert proc.returncode == 1
    gpl = next(m for m in result["modules"] if m["path"] == "example.com/gpl")
    assert (gpl["decision"], gpl["verdict_source"]) == ("REJECT", "proxy")


def test_proxy_down_fail_closed_exits_3(
    project: Path, go_env: dict[str, str], scan_cache: Path, goproxy_tree: GoProxyTree
) -> None:
    env = scan_env(go_env, goproxy_tree, scan_cache, GOPROXY_SCAN_FAIL_MODE="open")
    proc, result = scan(project, env, "--proxy", dead_url(), "--fail-closed")  # flag beats env
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "cannot be reached" in proc.stderr and "--fail-open" in proc.stderr
    assert result == {}  # no report claims a verdict


def test_proxy_down_fail_open_judges_locally_and_says_so(
    project: Path, go_env: dict[str, str], scan_cache: Path, goproxy_tree: GoProxyTree
) -> None:
    proc, result = scan(
        project, scan_env(go_env, goproxy_tree, scan_cache), "--proxy", dead_url(), "--fail-open"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the local policy rejects GPL-3.0
    assert result["verdict_source"] == "local-fallback"
    assert any("--fail-open: judged locally" in n for n in result["notes"])
    assert "judged locally" in proc.stdout
    gpl = next(m for m in result["modules"] if m["path"] == "example.com/gpl")
    assert (gpl["decision"], gpl["verdict_source"]) == ("REJECT", "local")


def test_a_proxy_verdict_for_other_bytes_is_not_trusted(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    verdict_server: VerdictServer,
) -> None:
    # The proxy passes a GPL module whose bytes differ from what go.sum pins: judged here.
    verdict_server.decide = lambda path: "PASS"
    verdict_server.h1 = lambda path, version: "h1:" + "A" * 43 + "=" if "gpl" in path else ""
    env = scan_env(go_env, goproxy_tree, scan_cache)
    proc, result = scan(project, env, "--proxy", verdict_server.url)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    gpl = next(m for m in result["modules"] if m["path"] == "example.com/gpl")
    assert (gpl["decision"], gpl["verdict_source"]) == ("REJECT", "local")
    assert any("go.sum has h1:" in n for n in result["notes"])
    mit = next(m for m in result["modules"] if m["path"] == "example.com/mit")
    assert mit["verdict_source"] == "proxy"


def test_proxy_down_as_goproxy_too_fail_open_reads_the_module_cache(
    project: Path, go_env: dict[str, str], scan_cache: Path, goproxy_tree: GoProxyTree
) -> None:
    # As in CI: GOPROXY and --proxy are the same private proxy, and it is down. The module
    # cache (filled when the project was tidied) still has every go.mod and zip.
    dead = dead_url()
    env = {**scan_env(go_env, goproxy_tree, scan_cache), "GOPROXY": dead}
    proc, result = scan(project, env, "--proxy", dead, "--fail-open")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any("--fail-open: modules read from the module cache" in n for n in result["notes"])
    assert result["verdict_source"] == "local-fallback"
    proc, result = scan(project, env, "--proxy", dead)  # fail-closed by default
    assert proc.returncode == 3, proc.stdout + proc.stderr


def test_real_go_vault_serve_up_and_down(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    env = scan_env(go_env, goproxy_tree, scan_cache)
    policy = tmp_path / "policy.yml"  # the same default policy both halves ship
    policy.write_text(resources.files("scanner.policy").joinpath("default.yml").read_text())
    serve_args = ("--storage", str(tmp_path / "vault"), "--upstream", goproxy_tree.url)
    with go_vault_serve(*serve_args, "--policy", str(policy)) as (url, _start):
        # Every module goes through the proxy once, so its auditor judges (and refuses) them.
        run_go(
            "mod",
            "download",
            "all",
            cwd=project,
            check=False,
            env_extra={"GOPROXY": url, "GOMODCACHE": str(tmp_path / "through-proxy")},
        )
        proc, result = scan(project, env, "--proxy", url)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        by_path = {m["path"]: m for m in result["modules"]}
        assert (
            by_path["example.com/gpl"]["decision"],
            by_path["example.com/gpl"]["verdict_source"],
        ) == ("REJECT", "proxy")
        assert by_path["example.com/mit"]["verdict_source"] == "proxy"
    # The same proxy, stopped.
    proc, _ = scan(project, {**env, "GOPROXY_SCAN_RETRIES": "1"}, "--proxy", url, "--fail-closed")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    proc, result = scan(project, env, "--proxy", url, "--fail-open")
    assert proc.returncode == 1 and result["verdict_source"] == "local-fallback"


def test_a_replaced_module_gets_the_proxy_verdict_of_its_replacement(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
) -> None:
    """The proxy was asked about the module go.mod replaces (MIT, PASS), not the GPL fork
    the build compiles: a replace directive walked a GPL module through the gate."""
    publish_dependencies(goproxy_tree)
    goproxy_tree.add_module(
        "example.com/fork",
        "v1.5.0",
        {
            "go.mod": "module example.com/fork\n\ngo 1.21\n",
            "COPYING": license_text("GPL-3.0-only"),
            "mit.go": 'package mit\n\n// Hello greets.\nfunc Hello() string { return "fork" }\n',
        },
    )
    replace = "\nreplace example.com/mit v1.0.0 => example.com/fork v1.5.0\n"
    gomod = "module example.com/app\n\ngo 1.22\n\nrequire example.com/mit v1.0.0\n" + replace
    project = make_project(tmp_path / "repo", run_go, goproxy_tree, {"go.mod": gomod})
    run_go("build", "./...", cwd=project, env_extra={"GOPROXY": goproxy_tree.url})
    env = scan_env(go_env, goproxy_tree, scan_cache)
    policy = tmp_path / "policy.yml"
    policy.write_text(resources.files("scanner.policy").joinpath("default.yml").read_text())
    serve_args = ("--storage", str(tmp_path / "vault"), "--upstream", goproxy_tree.url)
    with go_vault_serve(*serve_args, "--policy", str(policy)) as (url, _start):
        proc, result = scan(project, env, "--proxy", url)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mit = next(m for m in result["modules"] if m["path"] == "example.com/mit")
    assert (mit["decision"], mit["verdict_source"], mit["expression"]) == (
        "REJECT",
        "proxy",
        "GPL-3.0-only",
    )
    assert mit["reasons"][0]["message"].startswith("example.com/fork@v1.5.0: GPL-3.0-only")
    # go.sum's hashes are the fork's: the ones the build checks.
    sums = (project / "go.sum").read_text()
    assert f"example.com/fork v1.5.0 {mit['h1']}" in sums
    assert f"example.com/fork v1.5.0/go.mod {mit['gomod_h1']}" in sums
