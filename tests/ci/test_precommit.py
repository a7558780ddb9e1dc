"""The pre-commit hooks from this repository: a GPL-3.0 commit is blocked, a clean one passes."""

from __future__ import annotations

import json
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
    """A Go project with an MIT dependency, staged but not committed, both hooks installed."""
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
                f"repos:\n  - repo: {clone}\n    rev: {rev}\n    hooks:\n"
                "      - id: goproxy-scan\n      - id: goproxy-scan-sbom\n"
            )
        },
    )
    env = {
        **{k: v for k, v in go_env.items() if not k.startswith(("GOPROXY_SCAN_", "CI_"))},
        "GOPROXY": tree.url,  # the scan judges modules from here
        "PRE_COMMIT_HOME": str(home),
        "XDG_CACHE_HOME": str(xdg_cache),
        # pip in the hook's environment: the user's download cache, not the test's empty HOME
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR")
        or str(Path(os.path.expanduser("~")) / ".cache" / "pip"),
        "PATH": os.environ["PATH"],
    }
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    install = subprocess.run(
        [*PRE_COMMIT, "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    assert git(repo, "add", "-A").returncode == 0
    return repo, env, tree


def hook_line(hook_name: str, outcome: str, output: str) -> bool:
    return re.search(rf"{re.escape(hook_name)}\.+{outcome}", output) is not None


SCAN_HOOK = "goproxy-scan (Go dependency licenses and source rules)"
SBOM_HOOK = "goproxy-scan SBOM (CycloneDX)"


def first_commit(repo: Path, env: dict[str, str]) -> None:
    """The first commit through the hooks, then the SBOM the SBOM hook wrote, committed too."""
    first = git(repo, "commit", "-m", "init", env=env)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert hook_line(SCAN_HOOK, "Passed", output), output  # no HEAD yet: everything is new
    assert hook_line(SBOM_HOOK, "Passed", output), output
    git(repo, "add", "sbom.cdx.json")
    second = git(repo, "commit", "-m", "sbom", env=env)
    assert second.returncode == 0, second.stdout + second.stderr


def test_first_commit_and_the_sbom_hook(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    repo, env, tree = go_repo
    first_commit(repo, env)
    sbom = json.loads((repo / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert "example.com/mit" in {c["name"] for c in sbom["components"]}
    assert git(repo, "status", "--porcelain").stdout == ""

    # go.mod edited, build list the same: the reproducible SBOM comes out byte-identical
    (repo / "go.mod").write_text((repo / "go.mod").read_text() + "\n// same build list\n")
    git(repo, "add", "go.mod")
    same = git(repo, "commit", "-m", "comment", env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    assert hook_line(SBOM_HOOK, "Passed", same.stdout + same.stderr)

    # a new dependency changes the SBOM: the hook rewrites it and asks for it to be staged
    stage_a_gpl_dependency(repo, tree, run_go)
    changed = git(repo, "commit", "-m", "gpl", env=env)
    output = changed.stdout + changed.stderr
    assert changed.returncode != 0
    assert hook_line(SBOM_HOOK, "Failed", output) and "files were modified by this hook" in output
    assert "example.com/gpl" in (repo / "sbom.cdx.json").read_text()


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
    assert hook_line(SCAN_HOOK, "Failed", output), output
    assert "example.com/gpl" in output and "GPL-3.0-only" in output
    assert "strong-copyleft" in output  # the reason: the category the policy denies


def test_commit_adding_a_gpl_dependency_is_blocked_with_the_reason(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    repo, env, tree = go_repo
    first_commit(repo, env)
    stage_a_gpl_dependency(repo, tree, run_go)
    head = git(repo, "rev-parse", "HEAD").stdout
    commit = git(repo, "commit", "-m", "add gpl", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode != 0, output
    assert git(repo, "rev-parse", "HEAD").stdout == head  # nothing was committed
    assert_blocked_for_gpl(output)


def test_clean_commits_pass(go_repo: tuple[Path, dict[str, str], GoProxyTree]) -> None:
    repo, env, _ = go_repo
    first_commit(repo, env)
    write_files(repo, {"notes.txt": "not Go\n"})
    git(repo, "add", "-A")
    commit = git(repo, "commit", "-m", "notes", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode == 0, output
    assert hook_line(SCAN_HOOK, r"\(no files to check\)Skipped", output), output

    write_files(repo, {"doc.go": "// Package main prints a name.\npackage main\n"})
    git(repo, "add", "-A")
    commit = git(repo, "commit", "-m", "docs", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode == 0, output
    assert hook_line(SCAN_HOOK, "Passed", output), output
    assert hook_line(SBOM_HOOK, r"\(no files to check\)Skipped", output), output  # go.mod as is


def test_try_repo_blocks_a_staged_gpl_dependency(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
    hooks_repo: tuple[Path, str, Path],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # try-repo installs the hook into a store of its own each time: one run only.
    repo, env, tree = go_repo
    clone, _, _ = hooks_repo
    first_commit(repo, env)
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


def test_only_the_commits_own_findings_block_it(
    go_repo: tuple[Path, dict[str, str], GoProxyTree],
) -> None:
    repo, env, _ = go_repo
    first_commit(repo, env)
    # legacy code with a hard-coded token, committed before the hook existed
    token = "ghp_" + "0123456789abcdefghijklmnopqrstuvwxyz"
    write_files(repo, {"legacy.go": f'package main\n\nvar legacyToken = "{token}A"\n'})
    git(repo, "add", "-A")
    assert git(repo, "commit", "--no-verify", "-m", "legacy", env=env).returncode == 0

    # an unrelated Go change passes: the legacy finding is not this commit's
    write_files(repo, {"doc.go": "// Package main prints a name.\npackage main\n"})
    git(repo, "add", "-A")
    unrelated = git(repo, "commit", "-m", "docs", env=env)
    assert unrelated.returncode == 0, unrelated.stdout + unrelated.stderr

    # a token in the staged file is blocked, with the rule and the place
    write_files(repo, {"client.go": f'package main\n\nvar clientToken = "{token}B"\n'})
    git(repo, "add", "-A")
    blocked = git(repo, "commit", "-m", "client", env=env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert hook_line(SCAN_HOOK, "Failed", output), output
    assert "GPS101" in output and "client.go:3" in output
    assert "1 failing findings are new" in output, output


def test_the_hooks_leave_git_status_clean_without_xdg_cache_home(
    go_repo: tuple[Path, dict[str, str], GoProxyTree], xdg_cache: Path
) -> None:
    # Without XDG_CACHE_HOME the source-rule cache goes into the project; it must never show up
    # in `git status` or be staged by `git add -A`.
    repo, env, _ = go_repo
    env = {k: v for k, v in env.items() if k != "XDG_CACHE_HOME"}
    # The compiled license index goes to ~/.cache then: linked from the session's, built once.
    from scanner.licenses import load_index

    shared = xdg_cache / "goproxy-scan"
    load_index(cache_dir=shared)
    home_cache = Path(env["HOME"]) / ".cache" / "goproxy-scan"
    home_cache.mkdir(parents=True)
    for index in shared.glob("spdx-templates-*"):
        (home_cache / index.name).symlink_to(index)
    first_commit(repo, env)
    write_files(repo, {"doc.go": "// Package main prints a name.\npackage main\n"})
    git(repo, "add", "-A")
    commit = git(repo, "commit", "-m", "docs", env=env)
    output = commit.stdout + commit.stderr
    assert commit.returncode == 0, output
    assert hook_line(SCAN_HOOK, "Passed", output), output
    cache = repo / ".goproxy-scan-cache"
    assert any(cache.rglob("index-*.json")), "the scan cached its results in the project"
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "status", "--porcelain", "--untracked-files=all").stdout == ""
    tracked = git(repo, "ls-files").stdout.split()
    assert not [f for f in tracked if f.startswith(".goproxy-scan-cache")], tracked
