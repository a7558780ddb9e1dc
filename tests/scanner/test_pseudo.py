"""Pseudo-versions in all three forms, equal to the ones the go command makes for git commits."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from goproxytree import json_stream

from scanner.errors import InvalidModuleError
from scanner.pseudo import (
    is_pseudo_version,
    is_zero_pseudo_version,
    pseudo_version,
    pseudo_version_base,
    pseudo_version_rev,
    pseudo_version_time,
    zero_pseudo_version,
)

RunGo = Callable[..., subprocess.CompletedProcess[str]]


class GitRepo:
    """A git repository whose commits have chosen times (for the go command's direct mode)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: str = "2020-01-01T00:00:00Z") -> str:
        env = dict(
            os.environ,
            GIT_AUTHOR_DATE=when,
            GIT_COMMITTER_DATE=when,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@example.com",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@example.com",
        )
        out = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def commit(self, name: str, content: str, when: str, tag: str = "") -> str:
        (self.root / name).write_text(content)
        self.git("add", name)
        self.git("commit", "-q", "-m", name, when=when)
        if tag:
            self.git("tag", tag)
        return self.git("rev-parse", "HEAD")


def _when(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.gocmd
def test_pseudo_versions_equal_the_go_commands(
    run_go: RunGo, go_env: dict[str, str], tmp_path: Path
) -> None:
    repos = tmp_path / "repos"
    repo = GitRepo(repos / "repo")
    c0 = repo.commit("go.mod", "module example.com/repo.git\n", "2019-11-09T02:19:31Z")
    repo.commit("a.go", "package a\n", "2020-01-02T03:04:05Z", tag="v1.2.3")
    c2 = repo.commit("b.go", "package a\n", "2020-02-03T04:05:06Z")
    repo.commit("c.go", "package a\n", "2020-03-04T05:06:07Z", tag="v1.3.0-rc.1")
    c4 = repo.commit("d.go", "package a\n", "2021-04-05T06:07:08Z")
    # A module without go.mod tagged v2: its pseudo-versions are +incompatible.
    old = GitRepo(repos / "old")
    old.commit("a.go", "package old\n", "2018-01-01T00:00:00Z", tag="v2.0.0")
    o1 = old.commit("b.go", "package old\n", "2018-02-01T00:00:00Z")

    # The go command resolves example.com/x.git with git; point that URL at the local repos.
    Path(go_env["HOME"], ".gitconfig").write_text(
        f'[url "file://{repos}/"]\n\tinsteadOf = https://example.com/\n'
    )
    queries = [
        ("example.com/repo.git", c0),
        ("example.com/repo.git", c2),
        ("example.com/repo.git", c4),
        ("example.com/old.git", o1),
    ]
    out = run_go(
        "list",
        "-m",
        "-json",
        *(f"{path}@{rev}" for path, rev in queries),
        cwd=tmp_path,
        env_extra={"GOPROXY": "direct", "GOFLAGS": ""},
    ).stdout
    versions = [obj["Version"] for obj in json_stream(out)]

    expected = [
        # (major, older tag, time, form)
        ("v0", "", "2019-11-09T02:19:31Z", "v0.0.0-20191109021931-" + c0[:12]),
        ("v1", "v1.2.3", "2020-02-03T04:05:06Z", "v1.2.4-0.20200203040506-" + c2[:12]),
        ("v1", "v1.3.0-rc.1", "2021-04-05T06:07:08Z", "v1.3.0-rc.1.0.20210405060708-" + c4[:12]),
        (
            "v2",
            "v2.0.0+incompatible",
            "2018-02-01T00:00:00Z",
            "v2.0.1-0.20180201000000-" + o1[:12] + "+incompatible",
        ),
    ]
    assert versions == [form for *_, form in expected]
    for (major, older, when, _), (_, rev), got in zip(expected, queries, versions, strict=True):
        assert pseudo_version(major, older, _when(when), rev[:12]) == got
        assert is_pseudo_version(got)
        assert pseudo_version_time(got) == _when(when)
        assert pseudo_version_rev(got) == rev[:12]
        assert pseudo_version_base(got) == older


@pytest.mark.parametrize(
    ("v", "base", "rev"),
    [
        ("v0.0.0-20191109021931-daa7c04131f5", "", "daa7c04131f5"),
        ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3", "daa7c04131f5"),
        ("v1.2.10-0.20191109021931-daa7c04131f5", "v1.2.9", "daa7c04131f5"),
        ("v1.2.3-pre.0.20191109021931-daa7c04131f5", "v1.2.3-pre", "daa7c04131f5"),
        ("v1.2.3-pre.x.0.20191109021931-daa7c04131f5", "v1.2.3-pre.x", "daa7c04131f5"),
        (
            "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
            "v2.0.0+incompatible",
            "daa7c04131f5",
        ),
    ],
)
def test_base_and_rev(v: str, base: str, rev: str) -> None:
    assert pseudo_version_base(v) == base
    assert pseudo_version_rev(v) == rev
    assert pseudo_version_time(v) == datetime(2019, 11, 9, 2, 19, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "v",
    [
        "v1.2.3",
        "v1.2.3-pre",
        "v0.0.0-2019110902193-daa7c04131f5",  # 13 digits
        "v0.0.0-20191109021931-",  # no revision
        "v1.2.3-20191109021931-daa7c04131f5",  # release base needs "-0."
        "v1.2.3-0.20191109021931-daa7c04131f5+",  # empty build
        "0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0-20191109021931-daa7c041_1f5",
    ],
)
def test_not_pseudo_versions(v: str) -> None:
    assert not is_pseudo_version(v)
    with pytest.raises(InvalidModuleError, match="syntax error"):
        pseudo_version_rev(v)


def test_bad_times_build_without_base_and_negative_patch() -> None:
    # v1.1.0-0.… would follow v1.0.-1: no tag can come before it.
    with pytest.raises(InvalidModuleError, match="negative patch number"):
        pseudo_version_base("v1.1.0-0.20191109021931-abc")
    with pytest.raises(InvalidModuleError, match="malformed time"):
        pseudo_version_time("v0.0.0-20191309021931-daa7c04131f5")  # month 13
    with pytest.raises(InvalidModuleError, match="lacks base version"):
        pseudo_version_base("v0.0.0-20191109021931-daa7c04131f5+incompatible")


def test_zero_pseudo_version_and_time_zones() -> None:
    assert zero_pseudo_version("v0") == "v0.0.0-00010101000000-000000000000"
    assert zero_pseudo_version("v3") == "v3.0.0-00010101000000-000000000000"
    assert is_zero_pseudo_version("v0.0.0-00010101000000-000000000000")
    assert not is_zero_pseudo_version("v0.0.0-00010101000001-000000000000")
    # Times are written in UTC; a naive time is taken as UTC.
    cet = datetime.fromisoformat("2020-01-02T04:04:05+01:00")
    assert pseudo_version("", "", cet, "abc") == "v0.0.0-20200102030405-abc"
    assert pseudo_version("", "", datetime(2020, 1, 2, 3, 4, 5), "abc") == pseudo_version(
        "", "", cet, "abc"
    )
    # A patch number longer than int() reads: the digit arithmetic still carries.
    long_patch = "9" * 5000
    v = pseudo_version("v1", f"v1.0.{long_patch}", datetime(2020, 1, 1, tzinfo=UTC), "abc")
    assert v.startswith("v1.0.1" + "0" * 5000 + "-0.")
    assert pseudo_version_base(v) == f"v1.0.{long_patch}"
