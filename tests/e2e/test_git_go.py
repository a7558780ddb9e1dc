"""Private modules straight from git: go-vault's answers equal the go command's own, fetched direct.

Real git repositories in a temp dir; the go command fetches each module twice: directly from git
(GOPROXY=direct, GOPRIVATE, `url.<base>.insteadOf` in a temp GIT_CONFIG_GLOBAL pointing the
`example.com/…` import paths at file:// repositories), and through go-vault with a `git` route.
Versions, times and h1: hashes must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from goproxytree import go_binary, go_command_env, json_stream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from gitrepo import Git
from vaultlab import running_gateway, vault_config

pytestmark = pytest.mark.gocmd


@dataclass
class Repos:
    root: Path
    gitconfig: Path
    repo: Git
    feature_sha: str

    @property
    def route(self) -> str:
        return f"example.com/*=file://{self.root}/{{repo}}"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Repos:
    base = tmp_path_factory.mktemp("gitrepos")
    root = base / "srv"
    root.mkdir()

    repo = Git(base / "w-repo", root / "repo.git")
    repo.commit(
        {
            "go.mod": "module example.com/repo.git\n\ngo 1.21\n",
            "a.go": "package repo\n\nconst A = 1\n",
            "LICENSE": "MIT License\n",
            ".gitattributes": "docs export-ignore\nversion.txt export-subst\n",
            "version.txt": "$Format:%H$\n",
            "docs/guide.md": "# guide\n",
            "vendor/modules.txt": "# example.org/dep v1.0.0\n## explicit\nexample.org/dep\n",
            "vendor/example.org/dep/dep.go": "package dep\n",
            "internal/vendor/x/y.go": "package x\n",
            "nested/go.mod": "module example.com/repo.git/nested\n\ngo 1.21\n",
            "nested/n.go": "package nested\n",
            "tools/t.go": "package tools\n",
        },
        "first",
        links={"link.go": "a.go", "tools/dir-link": "../docs"},
    )
    repo("tag", "v1.0.0")
    repo("tag", "-a", "-m", "nested", "nested/v0.1.0")
    repo.commit({"go.mod": "module example.com/repo.git\n\ngo 1.24\n"}, "go 1.24 vendor rules")
    repo("tag", "v1.1.0")
    repo("checkout", "-q", "-b", "feature")
    feature_sha = repo.commit({"feature.go": "package repo\n"}, "feature")
    repo("checkout", "-q", "main")
    repo.commit(
        {"a.go": "package repo\n\nconst A = 2\n", "nested/n.go": "package nested // 2\n"},
        "main moves on",
    )
    repo.push()

    lib = Git(base / "w-lib", root / "lib.git")
    lib.commit(
        {"go.mod": "module example.com/lib.git/v2\n\ngo 1.21\n", "l.go": "package lib\n"}, "v2"
    )
    lib("tag", "v2.0.0")
    lib.commit({"l.go": "package lib // more\n"}, "more")
    lib.push()

    old = Git(base / "w-old", root / "old.git")
    old.commit({"o.go": "package old\n"}, "one")
    old("tag", "v1.0.0")
    old.commit({"o.go": "package old // two\n"}, "two")
    old("tag", "v2.0.0")
    old.push()

    # v1.1.0 is retracted by v1.1.1: a commit after v1.1.0 builds its pseudo-version on v1.0.0.
    ret = Git(base / "w-ret", root / "ret.git")
    ret.commit({"go.mod": "module example.com/ret.git\n\ngo 1.21\n", "r.go": "package r\n"}, "1")
    ret("tag", "v1.0.0")
    ret.commit({"r.go": "package r // bad\n"}, "2")
    ret("tag", "v1.1.0")
    ret("checkout", "-q", "-b", "side")
    ret.commit({"side.go": "package r\n"}, "side")
    ret("checkout", "-q", "main")
    retract = "module example.com/ret.git\n\ngo 1.21\n\nretract v1.1.0 // broken\n"
    ret.commit({"go.mod": retract}, "3")
    ret("tag", "v1.1.1")
    ret.push()

    pre = Git(base / "w-pre", root / "pre.git")
    pre.commit({"go.mod": "module example.com/pre.git\n\ngo 1.21\n", "p.go": "package p\n"}, "1")
    pre("tag", "v1.2.0-rc.1")
    pre.commit({"p.go": "package p // 2\n"}, "2")
    pre.push()

    # A /v2 module in a v2/ subdirectory of a repository whose root is the v1 module.
    major = Git(base / "w-major", root / "major.git")
    major.commit(
        {
            "go.mod": "module example.com/major.git\n\ngo 1.21\n",
            "m.go": "package major\n",
            "v2/go.mod": "module example.com/major.git/v2\n\ngo 1.21\n",
            "v2/m.go": "package major // v2\n",
        },
        "both",
    )
    major("tag", "v1.0.0")
    major("tag", "v2.0.0")
    major.commit({"v2/more.go": "package major\n"}, "more")
    major.push()

    gitconfig = base / "gitconfig"
    gitconfig.write_text(f'[url "file://{root}/"]\n\tinsteadOf = https://example.com/\n')
    return Repos(root, gitconfig, repo, feature_sha)


QUERIES = [
    "example.com/repo.git@v1.0.0",
    "example.com/repo.git@v1.1.0",
    "example.com/repo.git@main",
    "example.com/repo.git@latest",
    "example.com/repo.git/nested@v0.1.0",
    "example.com/repo.git/nested@main",
    "example.com/lib.git/v2@v2.0.0",
    "example.com/lib.git/v2@main",
    "example.com/old.git@v2.0.0+incompatible",
    "example.com/old.git@latest",
    "example.com/ret.git@side",
    "example.com/ret.git@latest",
    "example.com/pre.git@main",
    "example.com/major.git@v1.0.0",
    "example.com/major.git/v2@v2.0.0",
    "example.com/major.git/v2@main",
]


def _download(home: Path, env_extra: dict[str, str], *queries: str) -> dict[str, dict[str, object]]:
    main = home / "main"
    main.mkdir(parents=True, exist_ok=True)
    (main / "go.mod").write_text("module example.net/main\n\ngo 1.21\n")
    env = go_command_env(home, "off")
    env.update(GOPRIVATE="example.com", GOSUMDB="off")
    env.update(env_extra)
    proc = subprocess.run(
        [go_binary(), "mod", "download", "-json", *queries],
        cwd=main,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out: dict[str, dict[str, object]] = {}
    for obj, query in zip(json_stream(proc.stdout), queries, strict=True):
        assert "Error" not in obj, f"{query}: {obj['Error']}\n{proc.stderr}"
        info = json.loads(Path(str(obj["Info"])).read_text())
        out[query] = {
            "Version": obj["Version"],
            "Sum": obj["Sum"],
            "GoModSum": obj["GoModSum"],
            "Time": info["Time"],
            # Where it came from (hash, ref, tag checksum) as go records it; URLs differ.
            "Origin": {k: v for k, v in info.get("Origin", {}).items() if k != "URL"},
        }
    return out


def _direct(repos: Repos, home: Path, *queries: str) -> dict[str, dict[str, object]]:
    return _download(
        home, {"GOPROXY": "direct", "GIT_CONFIG_GLOBAL": str(repos.gitconfig)}, *queries
    )


def _via(url: str, home: Path, *queries: str) -> dict[str, dict[str, object]]:
    # No git configuration: through the proxy the go command must not need git at all.
    # GOPRIVATE would also mean GONOPROXY: the private modules come from the proxy here.
    env = {
        "GOPROXY": url,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GOPRIVATE": "",
        "GONOSUMDB": "example.com",
    }
    return _download(home, env, *queries)


@pytest.fixture
def vault(tmp_path: Path, repos: Repos) -> Iterator[str]:
    config = vault_config(
        tmp_path, upstream="off", git=repos.route, git_cache=str(tmp_path / "clones"), list_ttl=3.0
    )
    with running_gateway(config) as gw:
        yield gw.url


def test_go_vault_answers_equal_the_go_commands_own_from_git(
    tmp_path: Path, repos: Repos, vault: str
) -> None:
    queries = [*QUERIES, f"example.com/repo.git@{repos.feature_sha[:12]}"]
    direct = _direct(repos, tmp_path / "direct", *queries)
    proxied = _via(vault, tmp_path / "proxied", *queries)
    for q in queries:
        assert proxied[q] == direct[q], q
    # The versions are the ones the rules call for (not merely equal by accident).
    assert direct["example.com/repo.git@main"]["Version"].startswith("v1.1.1-0.")  # type: ignore[union-attr]
    assert direct["example.com/repo.git/nested@main"]["Version"].startswith("v0.1.1-0.")  # type: ignore[union-attr]
    assert direct["example.com/lib.git/v2@main"]["Version"].startswith("v2.0.1-0.")  # type: ignore[union-attr]
    assert direct["example.com/old.git@latest"]["Version"] == "v2.0.0+incompatible"
    assert direct["example.com/ret.git@side"]["Version"].startswith("v1.0.1-0.")  # type: ignore[union-attr]
    assert direct["example.com/ret.git@latest"]["Version"] == "v1.1.1"
    assert direct["example.com/pre.git@main"]["Version"].startswith("v1.2.0-rc.1.0.")  # type: ignore[union-attr]
    assert direct["example.com/major.git/v2@main"]["Version"].startswith("v2.0.1-0.")  # type: ignore[union-attr]
    feature = direct[f"example.com/repo.git@{repos.feature_sha[:12]}"]["Version"]
    assert str(feature).endswith(repos.feature_sha[:12])


def test_version_lists_and_files_match(tmp_path: Path, repos: Repos, vault: str) -> None:
    lists = {
        "example.com/repo.git": "v1.0.0\nv1.1.0\n",
        "example.com/repo.git/nested": "v0.1.0\n",
        "example.com/lib.git/v2": "v2.0.0\n",
        "example.com/old.git": "v1.0.0\nv2.0.0+incompatible\n",
        "example.com/ret.git": "v1.0.0\nv1.1.0\nv1.1.1\n",  # retracted ones too
        "example.com/pre.git": "v1.2.0-rc.1\n",
        "example.com/major.git": "v1.0.0\n",  # v2.0.0 belongs to /v2, not +incompatible
        "example.com/major.git/v2": "v2.0.0\n",
    }
    for module, expected in lists.items():
        assert httpx.get(f"{vault}/{module}/@v/list").text == expected
    info = httpx.get(f"{vault}/example.com/repo.git/@v/v1.1.0.info").json()
    assert info["Origin"]["VCS"] == "git" and info["Origin"]["Ref"] == "refs/tags/v1.1.0"
    nested = httpx.get(f"{vault}/example.com/repo.git/nested/@v/v0.1.0.info").json()
    assert nested["Origin"]["Subdir"] == "nested"
    assert httpx.get(f"{vault}/example.com/old.git/@v/v2.0.0+incompatible.mod").text == (
        "module example.com/old.git\n"
    )
    zip_files = _zip_names(httpx.get(f"{vault}/example.com/repo.git/@v/v1.0.0.zip").content)
    prefix = "example.com/repo.git@v1.0.0/"
    assert prefix + "docs/guide.md" in zip_files  # export-ignore is not honoured, as in cmd/go
    assert prefix + "link.go" not in zip_files  # symlinks are left out
    assert not any("/nested/" in n for n in zip_files)  # a nested module is its own
    assert prefix + "vendor/modules.txt" in zip_files  # go 1.21: kept
    zip_124 = _zip_names(httpx.get(f"{vault}/example.com/repo.git/@v/v1.1.0.zip").content)
    assert "example.com/repo.git@v1.1.0/vendor/modules.txt" not in zip_124  # go 1.24: left out
    nested_zip = _zip_names(httpx.get(f"{vault}/example.com/repo.git/nested/@v/v0.1.0.zip").content)
    assert "example.com/repo.git/nested@v0.1.0/LICENSE" in nested_zip  # the repository's
    missing = httpx.get(f"{vault}/example.com/repo.git/@v/v9.9.9.info")
    assert missing.status_code == 404 and "v9.9.9" in missing.text


def _zip_names(data: bytes) -> set[str]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return set(z.namelist())


def test_a_new_commit_on_a_branch_is_picked_up_after_the_list_ttl(
    tmp_path: Path, repos: Repos
) -> None:
    config = vault_config(
        tmp_path, upstream="off", git=repos.route, git_cache=str(tmp_path / "clones"), list_ttl=2.0
    )
    with running_gateway(config) as gw:
        first = httpx.get(f"{gw.url}/example.com/repo.git/@v/main.info").json()["Version"]
        head = repos.repo.commit({"ttl.go": "package repo\n"}, "after the first look")
        repos.repo.push()
        within = httpx.get(f"{gw.url}/example.com/repo.git/@v/main.info").json()["Version"]
        assert within == first  # the refs are reused within the TTL
        time.sleep(2.2)
        proxied = _via(gw.url, tmp_path / "proxied", "example.com/repo.git@main")
        version = proxied["example.com/repo.git@main"]["Version"]
        assert version != first and str(version).endswith(head[:12])
        direct = _direct(repos, tmp_path / "direct", "example.com/repo.git@main")
        assert proxied == direct
