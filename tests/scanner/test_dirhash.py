"""Our h1: hashes equal the go command's Sum/GoModSum (`go mod download -json`) on every fixture."""

from __future__ import annotations

import contextlib
import io
import json
import random
import struct
import subprocess
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from goproxytree import (
    GoProxyTree,
    build_zip,
    damaged,
    go_binary,
    go_command_env,
    json_stream,
)

from scanner.dirhash import hash1, hash_dir, hash_gomod, hash_zip
from scanner.errors import InputError

RunGo = Callable[..., CompletedProcess[str]]

# Shapes that change what is hashed: case-encoded paths and versions, no go.mod (synthesized
# .mod), +incompatible, pseudo-versions, nested dirs, binary and empty files, non-ASCII names.
FIXTURES: list[tuple[str, str, dict[str, str | bytes] | None]] = [
    ("example.com/plain", "v1.0.0", None),
    (
        "example.com/lib",
        "v1.2.3",
        {
            "go.mod": "module example.com/lib\n\ngo 1.21\n",
            "lib.go": "package lib\n\nfunc F() int { return 1 }\n",
            "LICENSE": "MIT License\n",
            "internal/deep/a/b/c.go": "package c\n",
            "data/blob.bin": bytes(range(256)) * 64,
            "data/empty.txt": b"",
            "docs/résumé.md": "# ü\n",
        },
    ),
    ("github.com/Azure/Go-Thing", "v0.3.0-RC1", {"go.mod": "module github.com/Azure/Go-Thing\n"}),
    ("example.com/old", "v2.1.0+incompatible", {"old.go": "package old\n"}),
    (
        "example.com/pseudo",
        "v0.0.0-20240102030405-abcdefabcdef",
        {"go.mod": "module example.com/pseudo\n", "p.go": "package pseudo\n"},
    ),
    ("example.com/mod/v2", "v2.0.1", {"go.mod": "module example.com/mod/v2\n\ngo 1.22\n"}),
    (
        "gopkg.in/yaml.v3",
        "v3.0.1",
        {"go.mod": "module gopkg.in/yaml.v3\n", "y.go": "package yaml\n"},
    ),
    (
        "example.com/crlf",
        "v1.0.0",
        {"go.mod": "module example.com/crlf\r\n", "a.go": "package crlf\r\n\r\n// x\r\n"},
    ),
]


@pytest.fixture(scope="module")
def downloaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[GoProxyTree, dict[str, dict[str, Any]]]:
    """Publish every fixture and let the real go command download (and hash) all of them once."""
    root = tmp_path_factory.mktemp("dirhash")
    tree = GoProxyTree(root / "proxy")
    for path, version, files in FIXTURES:
        tree.add_module(path, version, files)
    env = go_command_env(root / "home", tree.url, goflags="-modcacherw")
    args = [f"{p}@{v}" for p, v, _ in FIXTURES]
    proc = subprocess.run(
        [go_binary(), "mod", "download", "-json", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {f"{o['Path']}@{o['Version']}": o for o in json_stream(proc.stdout)}
    return tree, results


@pytest.mark.gocmd
@pytest.mark.parametrize(("path", "version"), [(p, v) for p, v, _ in FIXTURES])
def test_h1_equals_go_mod_download(
    downloaded: tuple[GoProxyTree, dict[str, dict[str, Any]]], path: str, version: str
) -> None:
    tree, results = downloaded
    got = results[f"{path}@{version}"]
    assert "Error" not in got, got
    art = tree.artifacts(path, version)
    assert hash_zip(art.zip) == got["Sum"]
    assert hash_zip(art.zip.read_bytes()) == got["Sum"]
    assert hash_gomod(art.mod.read_bytes()) == got["GoModSum"]
    # The extracted tree in the module cache hashes the same (go verifies it this way too).
    assert hash_dir(Path(got["Dir"]), f"{path}@{version}") == got["Sum"]


def test_hash_changes_with_one_byte() -> None:
    a = build_zip("example.com/m@v1.0.0/", {"a.go": "package a\n"})
    b = build_zip("example.com/m@v1.0.0/", {"a.go": "package b\n"})
    assert hash_zip(a) != hash_zip(b)
    assert hash_gomod(b"module a\n") != hash_gomod(b"module a\n\n")


def test_hash_ignores_entry_order() -> None:
    def make(order: list[str]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name in order:
                z.writestr(f"example.com/m@v1.0.0/{name}", name)
        return buf.getvalue()

    assert hash_zip(make(["a", "b/c", "d"])) == hash_zip(make(["d", "b/c", "a"]))


def test_newline_in_name_is_refused() -> None:
    with pytest.raises(InputError, match="newline"):
        hash1(["a\nb"], lambda _n: io.BytesIO())


def test_not_a_zip_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the zip"):
        hash_zip(b"PK\x03\x04 truncated")
    missing = tmp_path / "missing.zip"
    with pytest.raises(InputError, match=r"missing\.zip"):
        hash_zip(missing)


def test_duplicate_entries_are_refused() -> None:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("example.com/m@v1.0.0/a", "1")
            z.writestr("example.com/m@v1.0.0/a", "2")
    with pytest.raises(InputError, match="duplicate"):
        hash_zip(buf.getvalue())


def _reference_h1(data: bytes) -> str:
    """hash1 over zipfile's own reading of every entry (zipfile checks CRC and size)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return hash1(z.namelist(), z.open)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_read_in_place_equals_zipfile(tmp_path: Path, compression: int) -> None:
    """Entries read from their local headers (memory or a mapped file) hash as zipfile reads
    them: empty, small, and larger than one 1 MiB piece, compressible or not."""
    rng = random.Random(7)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr("example.com/m@v1.0.0/empty", b"")
        z.writestr("example.com/m@v1.0.0/a.go", b"package m\n" * 50)
        z.writestr("example.com/m@v1.0.0/big.txt", b"0123456789abcdef" * 300_000)
        z.writestr("example.com/m@v1.0.0/noise.bin", rng.randbytes(3 << 20))
    data = buf.getvalue()
    (tmp_path / "m.zip").write_bytes(data)
    assert hash_zip(data) == hash_zip(tmp_path / "m.zip") == _reference_h1(data)


def test_damaged_entry_is_refused(tmp_path: Path) -> None:
    """A flipped byte in compressed or stored data fails the CRC (or the inflate) check."""
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression) as z:
            z.writestr("example.com/m@v1.0.0/a.go", b"package m\n" * 100)
        data = bytearray(buf.getvalue())
        data[len("PK\x03\x04") + 26 + len("example.com/m@v1.0.0/a.go") + 4] ^= 0xFF
        with pytest.raises(InputError, match="cannot read the zip"):
            hash_zip(bytes(data))
        (tmp_path / "bad.zip").write_bytes(bytes(data))
        with pytest.raises(InputError, match=r"bad\.zip: cannot read the zip"):
            hash_zip(tmp_path / "bad.zip")
    (tmp_path / "empty.zip").touch()
    with pytest.raises(InputError, match=r"empty\.zip: cannot read the zip"):
        hash_zip(tmp_path / "empty.zip")


def test_an_entry_inflating_past_its_declared_size_is_refused() -> None:
    """A zip bomb's trick (a small declared size): hashing stops one byte past it."""
    data = bytearray(build_zip("example.com/m@v1.0.0/", {"a.go": b"package m\n" * 100}))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(InputError, match=r"a\.go: uncompressed size is larger than declared"):
        hash_zip(bytes(data))


def test_an_entry_offset_past_the_end_is_refused() -> None:
    data = bytearray(build_zip("example.com/m@v1.0.0/", {"a.go": b"package m\n"}))
    central = data.index(b"PK\x01\x02")
    data[central + 42 : central + 46] = (10**6).to_bytes(4, "little")
    with pytest.raises(InputError, match="cannot read the zip"):
        hash_zip(bytes(data))


def test_damaged_zips_raise_only_input_errors(tmp_path: Path) -> None:
    """Random byte changes and cuts of a module zip, read from memory and from a file: each
    one hashes or is an InputError, never another exception (found: a bad local header offset,
    an unknown zip version)."""
    rng = random.Random(2)
    files = {"a.go": b"package m\n" * 50, "go.mod": b"module example.com/m\n"}
    base = build_zip("example.com/m@v1.0.0/", {**files, "b/c.txt": rng.randbytes(3000)})
    for _ in range(400):
        data = damaged(base, rng)
        (tmp_path / "z.zip").write_bytes(data)
        for source in (data, tmp_path / "z.zip"):
            with contextlib.suppress(InputError):
                hash_zip(source)


def _without_utf8_flags(data: bytes) -> bytes:
    """The zip with general-purpose bit 11 (names are UTF-8) cleared in every header, as some
    zip tools write non-ASCII names: the name bytes stay UTF-8, only the flag is missing."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        at = z.start_dir
        for info in z.infolist():
            for flags in (info.header_offset + 6, at + 8):
                out[flags + 1] &= ~0x08  # 0x800, little-endian
            name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
            at += 46 + name_len + extra_len + comment_len
    return bytes(out)


@pytest.mark.gocmd
def test_names_without_the_utf8_flag_hash_as_go_hashes_them(tmp_path: Path) -> None:
    # zipfile reads such names as cp437 ("rÃ©sumÃ©"); Go takes their bytes, which are UTF-8.
    tree = GoProxyTree(tmp_path / "proxy")
    path, version = "example.com/unflagged", "v1.0.0"
    tree.add_module(path, version, {"go.mod": f"module {path}\n", "docs/résumé.md": "# ü\n"})
    zip_file = tree.artifacts(path, version).zip
    flagged = zip_file.read_bytes()
    zip_file.write_bytes(_without_utf8_flags(flagged))
    assert zip_file.read_bytes() != flagged
    proc = subprocess.run(
        [go_binary(), "mod", "download", "-json", f"{path}@{version}"],
        cwd=tmp_path,
        env=go_command_env(tmp_path / "home", tree.url, goflags="-modcacherw"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    go_sum = json.loads(proc.stdout)["Sum"]
    assert hash_zip(zip_file) == hash_zip(zip_file.read_bytes()) == go_sum == hash_zip(flagged)
