"""A Go project for scan tests: deps in a file:// GOPROXY tree, git history, real go.sum."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text  # tests/scanner/licenses/

RunGo = Callable[..., subprocess.CompletedProcess[str]]

MIT_GO = 'package mit\n\n// Hello greets.\nfunc Hello() string { return "hi " + util.Name() }\n'


def publish_dependencies(tree: GoProxyTree) -> None:
    """MIT (requires Apache util), GPL-3.0, a BSD module used only by tests."""
    tree.add_module(
        "example.com/util",
        "v0.2.0",
        {
            "go.mod": "module example.com/util\n\ngo 1.21\n",
            "LICENSE": license_text("Apache-2.0"),
            "util.go": 'package util\n\nfunc Name() string { return "util" }\n',
        },
    )
    for version in ("v1.0.0", "v1.1.0"):
        tree.add_module(
            "example.com/mit",
            version,
            {
                "go.mod": "module example.com/mit\n\ngo 1.21\n\nrequire example.com/util v0.2.0\n",
                "LICENSE": license_text("MIT"),
                "mit.go": MIT_GO.replace(
                    "package mit\n", 'package mit\n\nimport "example.com/util"\n'
                ),
            },
        )
    tree.add_module(
        "example.com/gpl",
        "v1.0.0",
        {
            "go.mod": "module example.com/gpl\n\ngo 1.21\n",
            "COPYING": license_text("GPL-3.0-only"),
            "gpl.go": "package gpl\n\nfunc Add(a, b int) int { return a + b }\n",
        },
    )
    tree.add_module(
        "example.com/testonly",
        "v1.0.0",
        {
            "go.mod": "module example.com/testonly\n\ngo 1.21\n",
            "LICENSE": license_text("BSD-3-Clause"),
            "t.go": "package testonly\n\nfunc Check() bool { return true }\n",
        },
    )


MAIN_GO = """package main

import (
\t"fmt"

\t"example.com/mit"
)

func main() {
\tfmt.Println(mit.Hello())
}
"""

MAIN_TEST_GO = """package main

import (
\t"testing"

\t"example.com/testonly"
)

func TestCheck(t *testing.T) {
\tif !testonly.Check() {
\t\tt.Fatal("no")
\t}
}
"""

GPL_GO = """package main

import "example.com/gpl"

var dbPassword = "Zq8-vT2n-41Lp-u7"

func sum() int { return gpl.Add(1, 2) + len(dbPassword) }
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def make_project(
    repo: Path,
    run_go: RunGo,
    tree: GoProxyTree,
    files: Mapping[str, str] | None = None,
    *,
    subdir: str = "",
) -> Path:
    """A git repository at repo with the module in repo/subdir (go.mod tidied), committed.

    Returns the module's directory.
    """
    root = repo / subdir if subdir else repo
    root.mkdir(parents=True, exist_ok=True)
    write_files(
        root,
        {
            # mit pinned at v1.0.0, so a test can upgrade it to v1.1.0
            "go.mod": "module example.com/app\n\ngo 1.22\n\nrequire example.com/mit v1.0.0\n",
            "main.go": MAIN_GO,
            "main_test.go": MAIN_TEST_GO,
            **(files or {}),
        },
    )
    tidy(root, run_go, tree)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return root


def tidy(root: Path, run_go: RunGo, tree: GoProxyTree) -> None:
    run_go("mod", "tidy", cwd=root, env_extra={"GOPROXY": tree.url})


def add_gpl_and_secret(root: Path, run_go: RunGo, tree: GoProxyTree) -> None:
    """The change the pre-merge check must stop: a GPL-3.0 dependency and a hard-coded secret."""
    (root / "gpl.go").write_text(GPL_GO)
    tidy(root, run_go, tree)
    commit_all(root, "add a GPL dependency and a secret")


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def new_scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A goproxy-scan cache (compiled SPDX templates, source-rule results) for a session."""
    return tmp_path_factory.mktemp("scan-cache")


def scan_env(
    go_env: Mapping[str, str], tree: GoProxyTree, cache: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in go_env.items() if not k.startswith("GOPROXY_SCAN_")}
    env.update(GOPROXY=tree.url, NO_COLOR="1", XDG_CACHE_HOME=str(cache), **extra)
    return env


def run_scan_cli(args: list[str], env: Mapping[str, str], cwd: Path) -> Any:
    return subprocess.run(
        ["goproxy-scan", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
