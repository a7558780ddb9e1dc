"""What `go-vault prefetch go.mod` brings in and `sync --modules go.mod` carries: what the real go
command downloads for the module (replacements applied) and the toolchain it switches to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from vaultlab import running_gateway, vault_config

from proxy.prefetch import switched_toolchain

RunGo = Callable[..., subprocess.CompletedProcess[str]]
TOOLCHAIN = "golang.org/toolchain"


def go_vault(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")}
    return subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def prefetch(vault: Path, upstream: str, file: Path) -> tuple[int, dict[str, object], str]:
    done = go_vault(
        "prefetch", str(file), "--storage", str(vault), "--upstream", upstream,
        "--local-go", "1.27.0", "--platform", "linux-amd64",
        "--audit-log", str(vault.parent / "audit.jsonl"),
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def gomod(path: str, *requires: str) -> str:
    return f"module {path}\n\ngo 1.21\n" + "".join(f"require {r}\n" for r in requires)


def publish(tree: GoProxyTree, path: str, *requires: str) -> None:
    name = path.rsplit("/", 1)[-1]
    tree.add_module(path, "v1.0.0", {"go.mod": gomod(path, *requires), "x.go": f"package {name}\n"})


def stored(vault: Path) -> set[str]:
    """module@version of every version in a filesystem vault (or unpacked bundle)."""
    return {
        f"{info.parent.parent.relative_to(vault).as_posix()}@{info.stem}"
        for info in vault.rglob("@v/*.info")
    }


def fetched_by_go(cache: Path) -> set[str]:
    """module@version of every .mod the go command downloaded into a module cache."""
    root = cache / "cache" / "download"
    return {
        f"{mod.parent.parent.relative_to(root).as_posix()}@{mod.stem}"
        for mod in root.rglob("@v/*.mod")
    }


APP = """\
module example.com/app

go 1.21

require (
\texample.com/r/local v0.0.0
\texample.com/r/gone v1.0.0
\texample.com/r/d v1.0.0
)

replace example.com/r/local => ./local

replace example.com/r/gone v1.0.0 => example.com/r/a v1.0.0
"""
MAIN = """\
package main

import (
\t_ "example.com/r/d"
\t_ "example.com/r/gone"
\t_ "example.com/r/local"
)

func main() {}
"""


def replacing_app(tree: GoProxyTree, root: Path) -> Path:
    """A module with a directory replacement (whose go.mod requires example.com/r/c) and a
    module swap; example.com/r/d requires gone v0.9.0, which no proxy has: the go command
    never reads it (d's go 1.21 go.mod prunes its requirements), and gone@v1.0.0 and
    local@v0.0.0 it never downloads either."""
    publish(tree, "example.com/r/b")
    publish(tree, "example.com/r/c")
    publish(tree, "example.com/r/a", "example.com/r/b v1.0.0")
    publish(tree, "example.com/r/d", "example.com/r/gone v0.9.0")
    files = {
        "go.mod": APP,
        "main.go": MAIN,
        "local/go.mod": gomod("example.com/r/local", "example.com/r/c v1.0.0"),
        "local/x.go": "package local\n",
    }
    return write_files(root, files)


@pytest.mark.gocmd
def test_prefetch_brings_what_the_go_command_downloads_for_replaced_modules(
    goproxy_tree: GoProxyTree, run_go: RunGo, go_env: dict[str, str], tmp_path: Path
) -> None:
    """The original of every replacement was fetched too (example.com/r/local@v0.0.0: not
    found, exit 3); a directory replacement's own requirements are part of the build."""
    app = replacing_app(goproxy_tree, tmp_path / "app")
    run_go("mod", "download", "all", cwd=app, env_extra={"GOPROXY": goproxy_tree.url})
    by_go = fetched_by_go(Path(go_env["GOMODCACHE"]))
    assert by_go == {f"example.com/r/{m}@v1.0.0" for m in "abcd"}  # the fixture's premise

    vault = tmp_path / "vault"
    code, summary, err = prefetch(vault, goproxy_tree.url, app / "go.mod")
    assert code == 0, err
    assert summary["problems"] == [], summary
    assert stored(vault) == by_go

    # The vault alone builds it.
    run_go("clean", "-modcache", cwd=app)
    config = vault_config(tmp_path, storage=str(vault), offline=True, upstream="")
    with running_gateway(config) as offline:
        run_go("build", "./...", cwd=app, env_extra={"GOPROXY": offline.url})


@pytest.mark.gocmd
def test_sync_modules_of_a_go_mod_carries_what_prefetch_brought_and_builds_it(
    goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """`sync --modules go.mod` took the require lines alone: replaced modules were `not in the
    vault` (exit 2), replacements and the toolchain were left out. It carries the set prefetch
    brings in now, with the toolchain the vault holds, and the bundle builds the module."""
    app = replacing_app(goproxy_tree, tmp_path / "app")
    gomod_file = app / "go.mod"
    gomod_file.write_text(APP.replace("go 1.21\n", "go 1.21\n\ntoolchain go1.99.0\n"))
    toolchain = "v0.0.1-go1.99.0.linux-amd64"
    goproxy_tree.add_module(TOOLCHAIN, toolchain, {"go.mod": f"module {TOOLCHAIN}\n"})
    publish(goproxy_tree, "example.com/r/other")
    vault = tmp_path / "vault"
    code, _summary, err = prefetch(vault, goproxy_tree.url, gomod_file)
    assert code == 0, err
    others = tmp_path / "others.txt"
    others.write_text("example.com/r/other v1.0.0\n")
    assert prefetch(vault, goproxy_tree.url, others)[0] == 0

    bundle = tmp_path / "app.tar.gz"
    done = go_vault(
        "sync", "--offline", "--bundle", str(bundle), "--modules", str(gomod_file),
        "--storage", str(vault),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        tar.extractall(tmp_path / "tree", filter="data")
    carried = stored(tmp_path / "tree")
    assert carried == {f"example.com/r/{m}@v1.0.0" for m in "abcd"} | {f"{TOOLCHAIN}@{toolchain}"}

    # The unpacked bundle is a GOPROXY that builds the module (checklist item 25).
    run_go("build", "./...", cwd=app, env_extra={"GOPROXY": (tmp_path / "tree").as_uri()})


def test_sync_modules_of_a_go_mod_whose_build_list_is_not_in_the_vault_names_what_is_missing(
    goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    app = replacing_app(goproxy_tree, tmp_path / "app")
    listing = tmp_path / "some.txt"
    listing.write_text("example.com/r/b v1.0.0\n")
    vault = tmp_path / "vault"
    assert prefetch(vault, goproxy_tree.url, listing)[0] == 0
    done = go_vault(
        "sync", "--offline", "--bundle", str(tmp_path / "b.tar.gz"),
        "--modules", str(app / "go.mod"), "--storage", str(vault),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"error: {app / 'go.mod'}: its build list needs a module version" in done.stderr
    assert "not in the vault" in done.stderr and "go-vault prefetch" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "b.tar.gz").exists()


# go and toolchain lines, as the go.mod writes them; the real go command is asked which
# toolchain it switches to.
SWITCHES = [
    ("go 1.99", None),
    ("go 1.99rc1", None),
    ("go 1.99.2", None),
    ("go 1.21", None),
    ("go 1.21", "toolchain go1.99rc2"),
    ("go 1.99", "toolchain go1.98.1"),
    ("go 1.98", "toolchain go1.99.1"),
    ("go 1.99", "toolchain default"),
    ("go 1.21", "toolchain go1.21.3"),
]


@pytest.mark.gocmd
@pytest.mark.parametrize(("go", "toolchain"), SWITCHES)
def test_the_toolchain_is_the_one_the_go_command_switches_to(
    run_go: RunGo, tmp_path: Path, go: str, toolchain: str | None
) -> None:
    """`go 1.30` (no patch) was taken for a language version and no toolchain was fetched,
    but with GOTOOLCHAIN=auto the go command runs go1.30.0."""
    local = run_go("env", "GOVERSION", cwd=tmp_path).stdout.strip().removeprefix("go")
    lines = [go] + ([toolchain] if toolchain else [])
    write_files(tmp_path / "m", {"go.mod": "module example.com/m\n\n" + "\n".join(lines) + "\n"})
    empty = GoProxyTree(tmp_path / "empty")
    done = run_go(
        "list", "-m", cwd=tmp_path / "m",
        env_extra={"GOTOOLCHAIN": "auto", "GOPROXY": empty.url}, check=False,
    )  # fmt: skip
    said = [
        w for line in done.stderr.splitlines() if "downloading go" in line for w in line.split()
    ]
    by_go = said[said.index("downloading") + 1] if said else None
    ours = switched_toolchain(go.split()[1], toolchain.split()[1] if toolchain else "", local)
    assert ours == by_go, done.stderr


def test_prefetch_fetches_the_toolchain_a_newer_go_line_switches_to(
    goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """`go 1.99` with Go 1.27 on the clients: golang.org/toolchain go1.99.0 is fetched (it was
    skipped); a toolchain the upstream lacks is reported not found, exit 3."""
    version = "v0.0.1-go1.99.0.linux-amd64"
    goproxy_tree.add_module(TOOLCHAIN, version, {"go.mod": f"module {TOOLCHAIN}\n"})
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.99\n"})
    vault = tmp_path / "vault"
    code, summary, err = prefetch(vault, goproxy_tree.url, app / "go.mod")
    assert code == 0, err
    assert summary["counts"]["fetched"] == 1, summary  # type: ignore[index]
    assert stored(vault) == {f"{TOOLCHAIN}@{version}"}

    (app / "go.mod").write_text("module example.com/app\n\ngo 1.98rc1\n")
    code, summary, err = prefetch(vault, goproxy_tree.url, app / "go.mod")
    assert code == 3, err
    assert f"{TOOLCHAIN}@v0.0.1-go1.98rc1.linux-amd64: not found" in err
