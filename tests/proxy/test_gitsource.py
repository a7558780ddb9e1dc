"""The git upstream on its own: routes, the clone cache, failures the go command must read."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from gitrepo import make_repo
from goproxytree import GoProxyTree
from vaultlab import running_gateway, vault_config

from proxy.errors import UpstreamError
from proxy.gitclone import GitRepos
from proxy.gitsource import (
    GitRoute,
    GitSource,
    GoproxyPath,
    match_patterns,
    parse_git_routes,
)


def test_patterns_match_leading_elements_as_goprivate_does() -> None:
    assert match_patterns("example.com/*", "example.com/repo/sub/v2") == "example.com/repo"
    assert match_patterns("other.org,example.com", "example.com/repo") == "example.com"
    assert match_patterns("example.com/*", "example.com") is None
    assert match_patterns("example.com/x*", "example.com/y") is None
    route = GitRoute("git.corp/team/*", "https://git.corp/{repo}.git")
    assert route.repo_url("git.corp/team/svc") == "https://git.corp/svc.git"
    assert GitRoute("a.io/*", "ssh://git@a.io/{root}").repo_url("a.io/b") == "ssh://git@a.io/a.io/b"


def test_routes_refuse_what_git_would_misread() -> None:
    with pytest.raises(UpstreamError, match="PATTERN=URL"):
        parse_git_routes("example.com/*")
    with pytest.raises(UpstreamError, match="URL syntax"):
        parse_git_routes("example.com/*=git@example.com:repo.git")
    assert len(parse_git_routes(" a.io/*=file:///srv/{repo} , b.io=https://b.io/x.git ")) == 2


def test_the_clone_is_fetched_not_recloned_and_new_tags_appear_after_the_ttl(
    tmp_path: Path,
) -> None:
    src = make_repo(tmp_path / "src" / "m", "example.com/m", ["v1.0.0"])
    source = GitSource(
        parse_git_routes(f"example.com/*=file://{tmp_path}/src/{{repo}}"),
        tmp_path / "clones",
        ttl=0.5,
    )
    q = GoproxyPath("example.com/m", "list")
    assert source.answer(q) == b"v1.0.0\n"
    (clone,) = [p for p in (tmp_path / "clones").iterdir() if p.is_dir()]
    marker = clone / "objects" / "kept"
    marker.write_text("a re-clone would lose this")
    src.commit({"q.go": "package p\n"}, "two")
    src("tag", "v1.1.0")
    src.push()
    assert source.answer(q) == b"v1.0.0\n"  # within the TTL: the refs seen last time
    time.sleep(0.6)
    assert source.answer(q) == b"v1.0.0\nv1.1.0\n"
    assert marker.read_text() == "a re-clone would lose this"


class CountingRepos(GitRepos):
    """The real clone cache, counting how many git processes run at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running = 0
        self.most = 0
        self._count = threading.Lock()

    def run(self, clone: Any, *args: str, check: bool = True) -> Any:
        with self._count:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.02)  # long enough for the others to overlap if they may
            return super().run(clone, *args, check=check)
        finally:
            with self._count:
                self.running -= 1


def test_git_work_runs_concurrently_but_never_beyond_the_bound(tmp_path: Path) -> None:
    for i in range(6):
        make_repo(tmp_path / "src" / f"m{i}", f"example.com/m{i}", [f"v1.0.{i}"])
    source = GitSource(
        parse_git_routes(f"example.com/*=file://{tmp_path}/src/{{repo}}"),
        tmp_path / "clones",
        ttl=60,
        concurrency=2,
    )
    counting = source.repos = CountingRepos(tmp_path / "clones", 60)

    async def all_lists() -> list[bytes]:
        return await asyncio.gather(
            *(source.fetch(f"example.com/m{i % 6}/@v/list") for i in range(18))
        )

    answers = asyncio.run(all_lists())
    assert answers == [f"v1.0.{i % 6}\n".encode() for i in range(18)]
    assert counting.most == 2
    clones = [p for p in (tmp_path / "clones").iterdir() if p.is_dir()]
    assert len(clones) == 6  # one clone per repository


REFRESH = """
import sys
from pathlib import Path
from proxy.gitclone import GitRepos
cache, url, start = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
repos = GitRepos(cache, ttl=0)
clone = repos.clone(url)
while not start.exists():
    pass
repos.refresh(clone)
print(sorted(clone.refs))
"""


def test_server_processes_sharing_a_clone_cache_refresh_one_at_a_time(tmp_path: Path) -> None:
    """granian workers (or several servers) on one git_cache: each made the same new clone at
    once, and all but one failed on the others' half-made directory."""
    make_repo(tmp_path / "src" / "m", "example.com/m", ["v1.0.0", "v1.1.0"])
    for round in range(3):
        start = tmp_path / f"start{round}"
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    REFRESH,
                    str(tmp_path / f"clones{round}"),
                    f"file://{tmp_path}/src/m",
                    str(start),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        start.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out == "['HEAD', 'refs/heads/main', 'refs/tags/v1.0.0', 'refs/tags/v1.1.0']\n"


def test_git_failures_answer_502_without_credentials_and_unknown_revisions_404(
    tmp_path: Path, goproxy_tree: GoProxyTree
) -> None:
    goproxy_tree.add_module("example.com/absent", "v1.0.0")
    make_repo(tmp_path / "src" / "m", "example.com/m", ["v1.0.0"])
    routes = (
        f"example.com/*=file://{tmp_path}/src/{{repo}},"
        "secret.example/*=http://user:hunter2@127.0.0.1:9/{repo}.git"
    )
    config = vault_config(
        tmp_path, upstream=goproxy_tree.url, git=routes, git_cache=str(tmp_path / "c")
    )
    with running_gateway(config) as gw:
        broken = httpx.get(f"{gw.url}/secret.example/x/@v/list")
        assert broken.status_code == 502
        assert broken.headers["content-type"].startswith("text/plain")
        assert "hunter2" not in broken.text and "127.0.0.1:9" in broken.text
        unknown = httpx.get(f"{gw.url}/example.com/m/@v/nosuchbranch.info")
        assert unknown.status_code == 404 and "nosuchbranch" in unknown.text
        info = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.info").json()
        assert info["Version"] == "v1.0.0" and info["Origin"]["Ref"] == "refs/tags/v1.0.0"
        mod = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.mod")
        assert mod.text == "module example.com/m\n\ngo 1.21\n"
        # A git-routed module never goes to the GOPROXY upstreams, even when they have it.
        absent = httpx.get(f"{gw.url}/example.com/absent/@v/list")
        assert absent.status_code == 404 and "no git repository" in absent.text
        assert httpx.get(f"{gw.url}/example.com/absent/@v/v1.0.0.info").status_code == 404


def test_https_style_credentials_come_from_netrc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository behind HTTP Basic auth (git's dumb HTTP protocol on 127.0.0.1): git, run by
    the proxy, reads the credentials from $HOME/.netrc; they never show in `.info`."""
    served = tmp_path / "served"
    repo = make_repo(served / "auth.git", "example.com/auth", ["v1.0.0"])
    repo("--git-dir", str(repo.bare), "update-server-info")  # what dumb HTTP serves
    seen: list[str | None] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            seen.append(auth)
            expected = "Basic " + base64.b64encode(b"deploy:s3cret").decode()
            if auth != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        home = tmp_path / "home"
        home.mkdir()
        (home / ".netrc").write_text("machine 127.0.0.1 login deploy password s3cret\n")
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
        port = server.server_address[1]
        source = GitSource(
            parse_git_routes(f"example.com/*=http://127.0.0.1:{port}/{{repo}}.git"),
            tmp_path / "clones",
            ttl=60,
        )
        info = json.loads(source.answer(GoproxyPath("example.com/auth", "info", "v1.0.0")))
        assert info["Version"] == "v1.0.0"
        assert info["Origin"]["URL"] == f"http://127.0.0.1:{port}/auth.git"
        assert any(a is not None for a in seen)  # it did authenticate
        (home / ".netrc").write_text("machine 127.0.0.1 login deploy password wrong\n")
        fresh = GitSource(source.routes, tmp_path / "clones2", ttl=60)
        with pytest.raises(UpstreamError):
            fresh.answer(GoproxyPath("example.com/auth", "list"))
    finally:
        server.shutdown()
        server.server_close()


def test_refs_seen_before_serve_while_the_remote_is_gone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src" / "m", "example.com/m", ["v1.0.0"])
    repo.commit({"b.go": "package p\n"}, "two")
    repo.push()
    source = GitSource(
        parse_git_routes(f"example.com/*=file://{tmp_path}/src/{{repo}}"),
        tmp_path / "clones",
        ttl=0.2,
    )
    before = source.answer(GoproxyPath("example.com/m", "info", "main"))
    shutil.rmtree(repo.bare)
    time.sleep(0.3)
    assert source.answer(GoproxyPath("example.com/m", "info", "main")) == before
    pseudo = json.loads(before)["Version"]
    assert source.answer(GoproxyPath("example.com/m", "mod", pseudo)).startswith(b"module ")


def test_a_tree_the_go_command_cannot_zip_is_refused_with_the_file_named(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src" / "m", "example.com/m", [])
    repo.commit(
        {"bad:name.go": "package p\n", "Doc.go": "package p\n", "doc.go": "package p\n"}, "x"
    )
    repo("tag", "v1.0.0")
    repo.push()
    config = vault_config(
        tmp_path,
        upstream="off",
        git=f"example.com/*=file://{tmp_path}/src/{{repo}}",
        git_cache=str(tmp_path / "clones"),
    )
    with running_gateway(config) as gw:
        answer = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.zip")
        assert answer.status_code == 404
        assert "bad:name.go" in answer.text and "collision" in answer.text
        assert httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.info").status_code == 404
