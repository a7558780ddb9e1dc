"""Checksum-database proxying with the real go command and a loopback stand-in database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gitrepo import make_repo
from goproxytree import GoProxyTree, go_binary, go_command_env
from sumdbstandin import SumdbStandin, build_standin
from vaultlab import running_gateway, vault_config

from scanner.dirhash import hash_gomod, hash_zip

pytestmark = pytest.mark.gocmd

NAME = "sum.standin.test"


@pytest.fixture(scope="session")
def standin_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sumdb-build")
    return build_standin(work, go_command_env(work / "home", "off"))


@pytest.fixture
def standin(standin_binary: Path, tmp_path: Path) -> Iterator[SumdbStandin]:
    work = tmp_path / "standin"
    work.mkdir()
    db = SumdbStandin(standin_binary, work, NAME)
    yield db
    db.stop()


def _publish(tree: GoProxyTree, db: SumdbStandin, path: str, *, lie: bool = False) -> None:
    files = {"go.mod": f"module {path}\n\ngo 1.21\n", "p.go": "package p\n"}
    art = tree.add_module(path, "v1.0.0", files)
    h1 = hash_zip(art.zip)
    if lie:  # the database knows other bytes than the proxy serves
        h1 = "h1:" + "A" * 43 + "="
    db.add(f"{path} v1.0.0 {h1}\n{path} v1.0.0/go.mod {hash_gomod(art.mod.read_bytes())}\n")


def _go(tmp_path: Path, proxy: str, vkey: str, *args: str) -> tuple[int, str]:
    import subprocess

    main = tmp_path / "main"
    main.mkdir(parents=True, exist_ok=True)
    (main / "go.mod").write_text("module example.net/main\n\ngo 1.21\n")
    env = go_command_env(tmp_path / "home", proxy)
    env.update(GOSUMDB=vkey, GONOSUMDB="", GOPRIVATE="", GONOSUMCHECK="", GOINSECURE="")
    proc = subprocess.run(
        [go_binary(), *args], cwd=main, env=env, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stderr


def test_go_verifies_through_the_proxy_and_private_paths_never_reach_the_database(
    tmp_path: Path, goproxy_tree: GoProxyTree, standin: SumdbStandin
) -> None:
    _publish(goproxy_tree, standin, "example.org/pub")
    _publish(goproxy_tree, standin, "example.org/tampered", lie=True)
    _publish(goproxy_tree, standin, "corp.example/private/lib")
    config = vault_config(
        tmp_path,
        upstream=goproxy_tree.url,
        sumdb=f"{NAME} {standin.url}",
        sumdb_cache=str(tmp_path / "sumdb-cache"),
        private="corp.example/private",
    )
    with running_gateway(config) as gw:
        assert httpx.get(f"{gw.url}/sumdb/{NAME}/supported").status_code == 200
        assert httpx.get(f"{gw.url}/sumdb/other.db/supported").status_code == 404

        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "example.org/pub@v1.0.0")
        assert code == 0, err
        asked = standin.requests()
        assert "/lookup/example.org/pub@v1.0.0" in asked
        assert any(p.startswith("/tile/") for p in asked)
        go_sum = (tmp_path / "main" / "go.sum").read_text()
        assert "example.org/pub v1.0.0 h1:" in go_sum

        # The database disagrees with the bytes: the go command must refuse them.
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "example.org/tampered@v1.0.0")
        assert code != 0
        assert "SECURITY ERROR" in err, err

        before = len(standin.requests())
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "corp.example/private/lib@v1.0.0")
        assert code != 0
        assert "403" in err and "GONOSUMDB=corp.example/private" in err, err
        lookup = httpx.get(f"{gw.url}/sumdb/{NAME}/lookup/corp.example/private/lib@v1.0.0")
        assert lookup.status_code == 403
        assert lookup.headers["content-type"].startswith("text/plain")
        assert "GONOSUMDB" in lookup.text
        assert all("corp.example" not in p for p in standin.requests()[before:])
        assert all("corp.example" not in p for p in standin.requests())

        # With GONOSUMDB covering it, the go command does not ask and the download works.
        code, err = _go(
            tmp_path,
            gw.url,
            standin.vkey,
            "env",
            "-w",
            "GONOSUMDB=corp.example/private",
        )
        assert code == 0, err
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "corp.example/private/lib@v1.0.0")
        assert code == 0, err


def test_seen_answers_are_served_when_the_database_is_gone(
    tmp_path: Path, goproxy_tree: GoProxyTree, standin: SumdbStandin
) -> None:
    _publish(goproxy_tree, standin, "example.org/pub")
    config = vault_config(
        tmp_path,
        upstream=goproxy_tree.url,
        sumdb=f"{NAME} {standin.url}",
        sumdb_cache=str(tmp_path / "sumdb-cache"),
    )
    with running_gateway(config) as gw:
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "example.org/pub@v1.0.0")
        assert code == 0, err
        tiles = [p for p in standin.requests() if p.startswith("/tile/")]
        latest = httpx.get(f"{gw.url}/sumdb/{NAME}/latest")
        assert latest.status_code == 200 and b"go.sum database tree" in latest.content
        standin.stop()
        # Tiles and lookups from the cache; latest falls back to the last one seen.
        for tile in tiles:
            assert httpx.get(f"{gw.url}/sumdb/{NAME}{tile}").status_code == 200
        again = httpx.get(f"{gw.url}/sumdb/{NAME}/lookup/example.org/pub@v1.0.0")
        assert again.status_code == 200 and b"example.org/pub v1.0.0 h1:" in again.content
        assert httpx.get(f"{gw.url}/sumdb/{NAME}/latest").content == latest.content
        # A fresh client (empty module cache) still verifies through the proxy alone.
        code, err = _go(
            tmp_path / "fresh", gw.url, standin.vkey, "mod", "download", "example.org/pub@v1.0.0"
        )
        assert code == 0, err
        assert httpx.get(f"{gw.url}/sumdb/{NAME}/lookup/example.org/nope@v1.0.0").status_code == 502
        assert httpx.get(f"{gw.url}/sumdb/{NAME}/tile/../../etc").status_code in (400, 404)


def test_git_routed_modules_are_private_to_the_checksum_database(
    tmp_path: Path, goproxy_tree: GoProxyTree, standin: SumdbStandin
) -> None:
    """A module served from git is never named to the database: go is told to use GONOSUMDB,
    and with it set the download (through the same proxy) works."""
    make_repo(tmp_path / "git" / "svc", "git.corp.example/svc", ["v1.0.0"])
    _publish(goproxy_tree, standin, "example.org/Upper")  # case-encoded as !upper
    config = vault_config(
        tmp_path,
        upstream=goproxy_tree.url,
        git=f"git.corp.example/*=file://{tmp_path}/git/{{repo}}",
        git_cache=str(tmp_path / "clones"),
        sumdb=f"{NAME} {standin.url}",
        sumdb_cache=str(tmp_path / "sumdb-cache"),
    )
    with running_gateway(config) as gw:
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "example.org/Upper@v1.0.0")
        assert code == 0, err
        assert "/lookup/example.org/!upper@v1.0.0" in standin.requests()
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "git.corp.example/svc@v1.0.0")
        assert code != 0 and "GONOSUMDB=git.corp.example/svc" in err, err
        assert all("git.corp" not in p for p in standin.requests())
        code, err = _go(tmp_path, gw.url, standin.vkey, "env", "-w", "GONOSUMDB=git.corp.example")
        assert code == 0, err
        code, err = _go(tmp_path, gw.url, standin.vkey, "get", "git.corp.example/svc@v1.0.0")
        assert code == 0, err
        assert "git.corp.example/svc v1.0.0 h1:" in (tmp_path / "main" / "go.sum").read_text()
