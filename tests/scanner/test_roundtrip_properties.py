"""Round-trip properties (hypothesis): go.mod/go.sum written from generated values parse back to
exactly those values, in any layout; escaping and pseudo-versions round-trip; h1 is stable."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.gomod import parse_gomod
from scanner.gosum import parse_gosum
from scanner.module import (
    escape_path,
    escape_version,
    is_valid_path,
    unescape_path,
    unescape_version,
)
from scanner.pseudo import (
    is_pseudo_version,
    pseudo_version,
    pseudo_version_base,
    pseudo_version_rev,
    pseudo_version_time,
)

_ELEM = st.text("abcdefxyzXYZ0129-_", min_size=1, max_size=8)
PATHS = st.builds(
    lambda host, elems: "/".join([host, *elems]),
    st.from_regex(r"[a-z][a-z0-9]{0,6}\.(com|org|io)", fullmatch=True),
    st.lists(_ELEM, min_size=1, max_size=3),
).filter(is_valid_path)
VERSIONS = st.builds(
    lambda a, b, c, pre: f"v{a}.{b}.{c}{pre}",
    st.integers(0, 1),  # the generated paths have no /vN suffix
    st.integers(0, 30),
    st.integers(0, 30),
    st.sampled_from(["", "-rc.1", "-beta", "-0.20240101000000-abcdefabcdef"]),
)
HASHES = st.binary(min_size=32, max_size=32).map(lambda b: "h1:" + base64.b64encode(b).decode())


@given(
    st.dictionaries(PATHS, st.tuples(VERSIONS, st.booleans()), max_size=12),
    st.booleans(),
    st.sampled_from(["\n", "\r\n"]),
)
@settings(max_examples=150, deadline=None)
def test_gomod_requires_round_trip(
    requires: dict[str, tuple[str, bool]], block: bool, newline: str
) -> None:
    lines = ["module example.com/main", "", "go 1.22", ""]

    def req(path: str, version: str, indirect: bool) -> str:
        return f"{path} {version}" + (" // indirect" if indirect else "")

    items = sorted(requires.items())
    if block and items:
        lines += ["require (", *(f"\t{req(p, v, i)}" for p, (v, i) in items), ")"]
    else:
        lines += [f"require {req(p, v, i)}" for p, (v, i) in items]
    gomod = parse_gomod(newline.join(lines) + newline)
    assert gomod.module == "example.com/main" and gomod.go == "1.22"
    got = {r.path: (r.version, r.indirect) for r in gomod.requires}
    assert got == requires
    assert [r.path for r in gomod.requires] == [p for p, _ in items]  # file order kept
    assert gomod.to_edit_json()["Module"]["Path"] == "example.com/main"


@given(st.lists(st.tuples(PATHS, VERSIONS, HASHES, HASHES), max_size=20, unique_by=lambda t: t[:2]))
@settings(max_examples=150, deadline=None)
def test_gosum_round_trip(entries: list[tuple[str, str, str, str]]) -> None:
    text = "".join(f"{p} {v} {zh}\n{p} {v}/go.mod {mh}\n" for p, v, zh, mh in entries)
    gosum = parse_gosum(text.encode())
    assert len(gosum.lines) == 2 * len(entries)
    for p, v, zh, mh in entries:
        assert gosum.h1(p, v) == zh
        assert gosum.gomod_h1(p, v) == mh
    assert {tuple(m) for m in gosum.modules()} == {(p, v) for p, v, _, _ in entries}


@given(PATHS, VERSIONS)
def test_escaping_round_trips_together(path: str, version: str) -> None:
    escaped = f"{escape_path(path)}/@v/{escape_version(version)}.zip"
    assert escaped == escaped.lower()  # safe on case-insensitive file systems
    module_part, _, file_part = escaped.rpartition("/@v/")
    assert unescape_path(module_part) == path
    assert unescape_version(file_part.removesuffix(".zip")) == version


@given(
    st.integers(0, 5),
    st.sampled_from(["", "v1.2.3", "v0.1.0-pre", "v2.0.0"]),
    st.datetimes(min_value=__import__("datetime").datetime(2000, 1, 1)),
    st.binary(min_size=6, max_size=6).map(bytes.hex),
)
def test_pseudo_version_round_trip(major: int, older: str, when: object, rev: str) -> None:
    import datetime

    assert isinstance(when, datetime.datetime)
    if older and int(older[1]) != major and not (major in (0, 1) and older[1] in "01"):
        older = ""
    stamp = when.replace(microsecond=0, tzinfo=datetime.UTC)
    v = pseudo_version(f"v{major}" if major > 1 else "", older, stamp, rev)
    assert is_pseudo_version(v)
    assert pseudo_version_time(v) == stamp
    assert pseudo_version_rev(v) == rev
    base = pseudo_version_base(v)
    assert base == "" or base.startswith("v")


@given(st.binary(max_size=2048))
@settings(max_examples=50, deadline=None)
def test_hash_gomod_is_h1_of_one_file(data: bytes) -> None:
    from scanner.dirhash import hash_gomod

    summary = f"{hashlib.sha256(data).hexdigest()}  go.mod\n".encode()
    expected = "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()
    assert hash_gomod(data) == expected
