"""The scanner reads Go settings as the go command does: `go env -w`'s file, and GONOPROXY /
GOPRIVATE module paths from the module cache, never from a proxy (real go command)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from scanproject import make_project, publish_dependencies, run_scan_cli, scan_env

from scanner.goenv import GoEnviron, env_file, match_prefix_patterns

RunGo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize(
    ("globs", "path", "matches"),
    [
        # `go help private`'s own example.
        ("*.corp.example.com,rsc.io/private", "git.corp.example.com/xyzzy", True),
        ("*.corp.example.com,rsc.io/private", "rsc.io/private", True),
        ("*.corp.example.com,rsc.io/private", "rsc.io/private/quux", True),
        ("*.corp.example.com,rsc.io/private", "rsc.io/privatex", False),
        ("*.corp.example.com,rsc.io/private", "corp.example.com/x", False),
        ("example.com", "example.com/mit", True),
        ("example.com/", "example.com/mit", True),  # a trailing slash is dropped
        ("example.com/m?t", "example.com/mit/v2", True),
        ("example.com/*", "example.com", False),  # more elements than the path has
        ("*", "github.com/a/b", True),  # one element: the host
        ("exa[a-m]ple.com", "example.com/x", True),
        ("exa[^a-m]ple.com", "example.com/x", False),
        ("example.com[", "example.com/x", False),  # a bad pattern matches nothing
        (" , ,", "example.com/x", False),
    ],
)
def test_prefix_patterns_match_as_the_go_command_matches_them(
    globs: str, path: str, matches: bool
) -> None:
    assert match_prefix_patterns(globs, path) is matches


def test_settings_written_by_go_env_w_fill_in_what_the_environment_leaves_empty(
    tmp_path: Path, run_go: RunGo, go_env: dict[str, str]
) -> None:
    config = tmp_path / "config"
    env = {**go_env, "XDG_CONFIG_HOME": str(config), "GOPROXY": "", "GOPRIVATE": ""}
    subprocess.run(
        ["go", "env", "-w", "GOPROXY=file:///srv/proxy", "GOPRIVATE=corp.example.com"],
        env={k: v for k, v in env.items() if k not in ("GOPROXY", "GOPRIVATE")},
        check=True,
        capture_output=True,
    )
    assert env_file(env) == config / "go" / "env"
    seen = GoEnviron(env)
    assert seen["GOPROXY"] == "file:///srv/proxy"  # empty in the environment: the file's
    assert seen["GOPRIVATE"] == "corp.example.com"
    assert GoEnviron({**env, "GOPROXY": "off"})["GOPROXY"] == "off"  # set: the environment's
    assert "GOPROXY" not in GoEnviron({**env, "GOENV": "off"}).keys() - env.keys()
    assert GoEnviron({**env, "GOENV": "off"})["GOPROXY"] == ""


def _dead_url() -> str:
    """An http:// URL on which nothing listens: any request to it fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def project(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    publish_dependencies(goproxy_tree)
    return make_project(tmp_path / "repo", run_go, goproxy_tree)  # fills the module cache


@pytest.mark.gocmd
def test_private_modules_come_from_the_module_cache_never_a_proxy(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    # Every dependency is private and the proxy cannot be reached: the go command would not
    # ask it (it fetches private paths from version control), so neither does the scanner.
    env = {**scan_env(go_env, goproxy_tree, scan_cache), "GOPROXY": _dead_url()}
    env["GOPRIVATE"] = "example.com"
    out = tmp_path / "result.json"
    proc = run_scan_cli(["scan", ".", "--format", f"json={out}"], env, project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    decisions = {m["path"]: m["decision"] for m in json.loads(out.read_text())["modules"]}
    assert decisions == dict.fromkeys(
        ["example.com/mit", "example.com/util", "example.com/testonly"], "PASS"
    )
    # The same from `go env -w` (GOPRIVATE empty in the environment, as go_env has it).
    subprocess.run(
        ["go", "env", "-w", "GOPRIVATE=example.com"],
        env={k: v for k, v in env.items() if k != "GOPRIVATE"},
        check=True,
        capture_output=True,
    )
    env["GOPRIVATE"] = ""
    proc = run_scan_cli(["scan", ".", "--format", f"json={out}"], env, project)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.gocmd
def test_a_private_module_missing_from_the_cache_says_how_to_get_it(
    project: Path, go_env: dict[str, str], scan_cache: Path, goproxy_tree: GoProxyTree
) -> None:
    empty = project.parent / "emptycache"
    env = {
        **scan_env(go_env, goproxy_tree, scan_cache),
        "GOPROXY": _dead_url(),
        "GONOPROXY": "example.com/mit",
        "GOMODCACHE": str(empty),
    }
    proc = run_scan_cli(["scan", "."], env, project)
    assert proc.returncode != 0
    assert "example.com/mit@v1.0.0: a private module (GONOPROXY/GOPRIVATE=example.com/mit)" in (
        proc.stderr
    )
    assert "go mod download" in proc.stderr
