"""The pre-commit hooks, installed by the real pre-commit from this repository into a fixture Go
repository: a commit adding a GPL-3.0 dependency is blocked with the reason; a clean one passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from actionrunner import REPO
from filelock import FileLock
from goproxytree import GoProxyTree, write_files
from licensedmodules import publish_modules

pytestmark = [
    pytest.mark.gocmd,
    pytest.mark.slow,
]

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="session")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(a clone of this repository at HEAD, its commit, PRE_COMMIT_HOME), shared by workers.

    pre-commit installs the hook's environment (pip install of the clone) once; its store is
    locked by pre-commit itself, the clone by us.
    """
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp sits in the run's own directory: share that one.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    clone, home = shared / "ci-hooks-repo", shared / "ci-pre-commit-home"
    with FileLock(str(shared / "ci-hooks-repo.lock")):
        if not clone.exists():
            subprocess.run(
                ["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)],
                check=True,
                capture_output=True,
                timeout=120,
            )
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout.strip()
    return clone, rev, home


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def go_repo(
    tmp_path: Path,
    go_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    hooks_repo: tuple[Path, str, Path],
    xdg_cache: Path,
) -> tuple[Path, dict[str, str], GoProxyTree]:
    """A Go project committed with an MIT dependency, the hooks installed as a git hook."""
    tree = GoProxyTree(tmp_path / "goproxy")
    publish_modules(tree)
    repo = tmp_path / "app"
    write_files(
        repo,
        {
            "go.mod": "module example.com/app\n\ngo 1.21\n\nrequire example.com/mit v1.0.0\n",
            "main.go": 'package main\n\nimport "example.com/mit"\n\n'
            "func main() { println(mit.Name()) }\n",
        },
    )
    run_go("mod", "tidy", cwd=repo, env_extra={"GOPROXY": tree.url, "GOFLAGS": "-mod=mod"})
    clone, rev, home = hooks_repo
    write_files(
        repo,
        {
            ".pre-commit-config.yaml": (
                f"repos:\n  - repo: {clone}\n    rev: {rev}\n    hooks:\n      - id: goproxy-scan\n"
            )
        },
    )
    env = {
        **{k: v for k, v in go_env.items() if not k.startswith(("GOPROXY_SCAN_", "CI_"))},
        "GOPROXY": tree.url,  # the scan judges modules from here
        "PRE_COMMIT_HOME": str(home),
        "XDG_CACHE_HOME": str(xdg_cache),
        "PATH": os.environ["PATH"],
    }
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-q", "-m", "init", env=env).returncode == 0
    install = subprocess.run(
        [*PRE_COMMIT, "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    return repo, env, tree


def stage_a_gpl_dependency(
    repo: Path, tree: GoProxyTree, run_go: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    write_files(
        repo,
        {
            "go.mod": "module example.com/app\n\ngo 1.21\n\nrequire (\n"
            "\texample.com/gpl v1.0.0\n\texample.com/mit v1.0.0\n)\n",
            "main.go": 'package main\n\nimport (\n\t"example.com/gpl"\n\t"example.com/mit"\n)\n\n'
            "func main() { println(mit.Name(), gpl.Name()) }\n",
        },
    )
    run_go("mod", "tidy", cwd=repo, env_extra={"GOPROXY": tree.url, "GOFLAGS": "-mod=mod"})
    git(repo, "add", "-A")


def assert_blocked_for_gpl(output: str) -> None:
    assert re.search(r"goproxy-scan \(Go dependency licenses and source rules\)\.+Failed", output)
    assert "example.com/gpl" in output and "GPL-3.0-only" in output
    assert "strong-copyleft" in output  # the reason: the category the policy denies


def test_commit_adding_a_gpl_dependency_is_blocked_with_the_reason(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    repo, env, tree = go_repo
    stage_a_gpl_dependency(repo, tree, run_go)
    head = git(repo, "rev-parse", "HEAD").stdout
    commit = git(repo, "commit", "-m", "add gpl", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode != 0, output
    assert git(repo, "rev-parse", "HEAD").stdout == head  # nothing was committed
    assert_blocked_for_gpl(output)


def test_clean_commits_pass(go_repo: tuple[Path, dict[str, str], GoProxyTree]) -> None:
    repo, env, _ = go_repo
    write_files(repo, {"notes.txt": "not Go\n"})
    git(repo, "add", "-A")
    commit = git(repo, "commit", "-m", "notes", env=env)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert "(no files to check)Skipped" in commit.stdout + commit.stderr

    write_files(repo, {"doc.go": "// Package main prints a name.\npackage main\n"})
    git(repo, "add", "-A")
    commit = git(repo, "commit", "-m", "docs", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode == 0, output
    assert re.search(r"goproxy-scan \(Go dependency licenses and source rules\)\.+Passed", output)


def test_try_repo_blocks_a_staged_gpl_dependency(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
    hooks_repo: tuple[Path, str, Path],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # try-repo installs the hook into a store of its own each time: one run only.
    repo, env, tree = go_repo
    clone, _, _ = hooks_repo
    stage_a_gpl_dependency(repo, tree, run_go)
    proc = subprocess.run(
        [*PRE_COMMIT, "try-repo", str(clone), "goproxy-scan"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_blocked_for_gpl(proc.stdout + proc.stderr)
