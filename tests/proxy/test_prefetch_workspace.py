"""`go-vault prefetch go.work`: the whole workspace's build list, and clear errors for a go.work
the go command would refuse too."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from vaultlab import LoopbackUpstream, running_gateway, vault_config

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def prefetch(vault: Path, upstream: str, file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from proxy.cli import main; main()",
            "prefetch",
            str(file),
            "--storage",
            str(vault),
            "--upstream",
            upstream,
            "--local-go",
            "1.27.0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": str(vault.parent / "audit.jsonl")},
        timeout=300,
        check=False,
    )


def gomod(path: str, *requires: str) -> str:
    lines = [f"module {path}", "", "go 1.21", ""] + [f"require {r} v1.0.0" for r in requires]
    return "\n".join(lines) + "\n"


@pytest.mark.gocmd
def test_a_workspace_whose_first_module_lies_outside_it_is_prefetched_whole(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """The build list was read from the first `use` directory upwards: with `use ../lib` first
    it was lib's alone, and app's dependency never reached the vault."""
    for name in ("fromlib", "fromapp"):
        path = f"example.com/ws/{name}"
        goproxy_tree.add_module(path, "v1.0.0", {"go.mod": gomod(path), "x.go": "package x\n"})
    files = {
        "lib/go.mod": gomod("example.com/lib", "example.com/ws/fromlib"),
        "lib/lib.go": 'package lib\n\nimport _ "example.com/ws/fromlib"\n',
        "ws/app/go.mod": gomod("example.com/app", "example.com/ws/fromapp"),
        "ws/app/main.go": 'package main\n\nimport _ "example.com/ws/fromapp"\n\nfunc main() {}\n',
        "ws/go.work": "go 1.21\n\nuse (\n\t../lib\n\t./app\n)\n",
    }
    root = write_files(tmp_path / "src", files)
    vault = tmp_path / "vault"
    done = prefetch(vault, upstream.url, root / "ws" / "go.work")
    assert done.returncode == 0, done.stderr

    # The vault alone serves the workspace's build (workspace mode refuses -mod=mod).
    config = vault_config(tmp_path, storage=str(vault), offline=True, upstream="")
    with running_gateway(config) as offline:
        env = {"GOPROXY": offline.url, "GOFLAGS": ""}
        listed = run_go("list", "-m", "all", cwd=root / "ws", env_extra=env).stdout
        assert "example.com/ws/fromapp v1.0.0" in listed and "example.com/ws/fromlib" in listed
        run_go("build", "./...", cwd=root / "ws" / "app", env_extra=env)


@pytest.mark.parametrize(
    ("work", "message"),
    [
        ("go 1.21\n", "go.work: no use directives: the workspace has no modules"),
        (
            "go 1.21\n\nuse (\n\t./app\n\t./gone\n)\n",
            "go.work:5: use ./gone: no go.mod in",
        ),
    ],
    ids=["no-use", "use-without-go.mod"],
)
def test_a_go_work_the_go_command_refuses_is_an_input_error(
    upstream: LoopbackUpstream, tmp_path: Path, work: str, message: str
) -> None:
    """An empty workspace or a `use` of a directory without go.mod: exit 2 and the line, as
    the go command says it (both were tracebacks)."""
    root = write_files(tmp_path / "ws", {"go.work": work, "app/go.mod": gomod("example.com/app")})
    done = prefetch(tmp_path / "vault", upstream.url, root / "go.work")
    assert done.returncode == 2, done.stderr
    assert f"error: {root / message}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_prefetch_reads_the_go_mod_it_is_given_not_a_workspace_around_it(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """`prefetch app/go.mod` inside a go.work that does not use app brought the workspace's
    modules instead of app's."""
    for name in ("mine", "theirs"):
        path = f"example.com/ws/{name}"
        goproxy_tree.add_module(path, "v1.0.0", {"go.mod": gomod(path)})
    root = write_files(
        tmp_path / "src",
        {
            "go.work": "go 1.21\n\nuse ./other\n",
            "other/go.mod": gomod("example.com/other", "example.com/ws/theirs"),
            "app/go.mod": gomod("example.com/app", "example.com/ws/mine"),
        },
    )
    vault = tmp_path / "vault"
    done = prefetch(vault, upstream.url, root / "app" / "go.mod")
    assert done.returncode == 0, done.stderr
    assert (vault / "example.com/ws/mine/@v/v1.0.0.zip").is_file(), done.stdout
    assert not (vault / "example.com/ws/theirs").exists()


def test_a_mod_file_not_named_go_mod_is_refused_not_swapped_for_the_go_mod_beside_it(
    upstream: LoopbackUpstream, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """The build list comes from the directory: `prefetch tools.mod` read go.mod instead."""
    goproxy_tree.add_module(
        "example.com/ws/mine", "v1.0.0", {"go.mod": gomod("example.com/ws/mine")}
    )
    root = write_files(
        tmp_path / "app",
        {
            "go.mod": gomod("example.com/app", "example.com/ws/mine"),
            "tools.mod": gomod("example.com/app", "example.com/ws/tool"),
        },
    )
    done = prefetch(tmp_path / "vault", upstream.url, root / "tools.mod")
    assert done.returncode == 2, done.stderr
    assert f"error: {root / 'tools.mod'}: only a file named go.mod is read" in done.stderr
    assert not (tmp_path / "vault" / "example.com").exists()


@pytest.mark.parametrize("count", ["0", "-1"])
def test_a_concurrency_below_one_is_refused(tmp_path: Path, count: str) -> None:
    """--concurrency 0 waited for ever (a semaphore nobody could take); -1 was a traceback."""
    listing = tmp_path / "modules.txt"
    listing.write_text("example.com/ws/mine v1.0.0\n")
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "prefetch", str(listing)]
    vault = ["--storage", str(tmp_path / "vault"), "--upstream", "off"]
    done = subprocess.run(
        [*cli, *vault, "--concurrency", count],
        capture_output=True,
        text=True,
        timeout=120,  # only so that the hang it was fails instead of stalling the suite
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--concurrency'" in done.stderr and "x>=1" in done.stderr
