"""Go semantic versions: validity, canonical form and order exactly as the go command has them."""

from __future__ import annotations

import itertools
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from hypothesis import given
from hypothesis import strategies as st

from scanner import semver
from scanner.pseudo import is_pseudo_version

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def _random_version(rng: random.Random) -> str:
    def num() -> str:
        return rng.choice(["0", "1", "2", "9", "10", "11", "00", "01", "123456789012345678901"])

    def ident() -> str:
        return rng.choice(["", "0", "1", "01", "10", "a", "A", "rc", "RC1", "x-y", "-", "beta2"])

    v = "v" + num()
    shape = rng.random()
    if shape > 0.15:
        v += "." + num()
    if shape > 0.3:
        v += "." + num()
    if rng.random() < 0.5:
        v += "-" + ".".join(ident() for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.25:
        v += "+" + ".".join(ident() for _ in range(rng.randint(1, 2)))
    if rng.random() < 0.05:
        v = v.replace("v", rng.choice(["", "V", "vv"]), 1)
    if rng.random() < 0.05:
        v += rng.choice([".", "-", "+", "..1", "_"])
    return v


@pytest.mark.gocmd
def test_validity_and_order_equal_the_go_command(
    run_go: RunGo, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    # The go command lists a module's versions as x/mod does: the valid, non-pseudo lines of
    # @v/list, in semver.Sort order. One call checks is_valid, is_pseudo_version and the order.
    rng = random.Random(2024)
    versions = list(dict.fromkeys(_random_version(rng) for _ in range(3000)))
    versions += [
        "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.2.4-0.20191109021931-daa7c04131f5",
        "v0.0.0-20191109021931-daa7c04131f5",
        "v2.0.0-20191109021931-daa7c04131f5+incompatible",
        "v1.0.0-0.2019110902193-daa7c04131f5",  # 13 digits: not a pseudo-version
    ]
    goproxy_tree.add_module("example.com/a", "v1.0.0")
    listing = Path(goproxy_tree.url.removeprefix("file://")) / "example.com/a/@v/list"
    listing.write_text("".join(v + "\n" for v in versions))
    out = run_go(
        "list",
        "-m",
        "-versions",
        "-retracted",
        "example.com/a",
        cwd=tmp_path,
        env_extra={"GOPROXY": goproxy_tree.url, "GOFLAGS": ""},
    ).stdout.split()
    assert out[0] == "example.com/a"
    ours = semver.sort_versions(
        v for v in versions if semver.is_valid(v) and not is_pseudo_version(v)
    )
    assert ours == out[1:]
    assert len(ours) > 500
    assert len(ours) < len(versions) - 200  # plenty of invalid ones too


# x/mod/semver's own table, reproduced from its documented behaviour.
@pytest.mark.parametrize(
    ("v", "canonical"),
    [
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
        ("v2.0.0+incompatible", "v2.0.0"),
        ("v1.2.3-01", ""),
        ("v1.2.3-a..b", ""),
        ("v1.2.3+", ""),
        ("v01.2.3", ""),
        ("v1.2.3.4", ""),
        ("1.2.3", ""),
        ("v1.2.3-ü", ""),
    ],
)
def test_canonical_table(v: str, canonical: str) -> None:
    assert semver.canonical(v) == canonical
    assert semver.is_valid(v) == (canonical != "")


def test_parts_and_max() -> None:
    assert semver.major("v2.1.0") == "v2" and semver.major("bad") == ""
    assert semver.major_minor("v2") == "v2.0" and semver.major_minor("v2.1.3") == "v2.1"
    assert semver.prerelease("v1.2.3-pre+build") == "-pre"
    assert semver.build("v1.2.3-pre+build") == "+build"
    assert semver.build("v1.2+build") == ""
    assert semver.max_version("v1.2", "v1.1.9") == "v1.2.0"
    assert semver.max_version("v1.2.3+a", "v1.2.3+b") == "v1.2.3"
    assert semver.max_version("bad", "v1") == "v1.0.0"
    assert semver.max_version("v1", "bad") == "v1.0.0"
    assert semver.max_version("bad", "worse") == ""


# An independent model of the order: semver 2.0 precedence, with Go's shorthands.
def _key(v: str) -> tuple[object, ...]:
    core = v[1:].split("+", 1)[0]
    main, _, pre = core.partition("-")
    nums = [int(x) for x in main.split(".")] + [0, 0]
    ids: tuple[tuple[int, int, str], ...] = tuple(
        (0, int(i), "") if i.isdigit() else (1, 0, i) for i in pre.split(".") if pre
    )
    return (nums[0], nums[1], nums[2], 0 if pre else 1, ids)


_IDENT = st.sampled_from(["0", "1", "2", "10", "a", "b", "rc", "RC", "x-1", "-"])
_VALID = st.builds(
    lambda nums, pre, build: (
        "v"
        + ".".join(nums)
        + ("-" + ".".join(pre) if pre and len(nums) == 3 else "")
        + ("+" + ".".join(build) if build and len(nums) == 3 else "")
    ),
    st.lists(st.sampled_from(["0", "1", "2", "10", "99"]), min_size=1, max_size=3),
    st.lists(_IDENT, max_size=3),
    st.lists(st.sampled_from(["meta", "01", "incompatible"]), max_size=2),
)
_ANY = st.one_of(_VALID, st.text("v0123.-+a", max_size=10))


@given(_VALID, _VALID)
def test_compare_matches_semver_precedence(v: str, w: str) -> None:
    assert semver.is_valid(v) and semver.is_valid(w)
    kv, kw = _key(v), _key(w)
    assert semver.compare(v, w) == (kv > kw) - (kv < kw)


@given(_ANY, _ANY, _ANY)
def test_compare_is_a_total_preorder(a: str, b: str, c: str) -> None:
    assert semver.compare(a, b) == -semver.compare(b, a)
    assert semver.compare(a, a) == 0
    if semver.compare(a, b) <= 0 and semver.compare(b, c) <= 0:
        assert semver.compare(a, c) <= 0
    ordered = semver.sort_versions([c, b, a])
    assert all(semver.compare(x, y) <= 0 for x, y in itertools.pairwise(ordered))


@given(_ANY)
def test_canonical_round_trip(v: str) -> None:
    c = semver.canonical(v)
    assert semver.is_valid(v) == (c != "")
    if c:
        assert semver.canonical(c) == c
        assert semver.compare(v, c) == 0
        assert semver.build(c) == ""
        assert c.startswith(semver.major_minor(v) + ".")
