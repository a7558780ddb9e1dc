"""Hostile zips at ingest (beyond test_gateway_ingest.py): zip-slip names, duplicates, lying
declared sizes, a compression bomb, non-UTF-8 names -> refused (502), nothing stored."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from vaultlab import LoopbackUpstream, RunningGateway, running_gateway, vault_config

LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def _mod(case: str) -> str:
    return f"example.com/hostile/{case}"


def _prefix(case: str) -> str:
    return f"{_mod(case)}@v1.0.0/"


def raw_zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip with exactly these entries (duplicates and odd names allowed)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w", method) as z:
            for name, data in entries:
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def hand_zip(entries: list[tuple[bytes, bytes, int, int]]) -> bytes:
    """A zip written byte by byte: (name, deflated data, crc32, declared size) per entry, so
    names need not be UTF-8 and declared sizes may lie."""
    body, central = b"", b""
    for name, data, crc, declared in entries:
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                CENTRAL,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                declared,
                len(name),
                0,
                0,
                0,
                0,
                0,
                len(body),
            )
            + name
        )
        local = struct.pack(
            "<4sHHHHHIIIHH", LOCAL, 20, 0, 8, 0, 0x21, crc, len(data), declared, len(name), 0
        )
        body += local + name + data
    count = len(entries)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    return body + central + eocd


def deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def _entry(name: bytes, data: bytes, declared: int | None = None) -> tuple[bytes, bytes, int, int]:
    return (name, deflate(data), zlib.crc32(data), len(data) if declared is None else declared)


def bomb(case: str) -> bytes:
    """200 MiB of zeros deflated to ~200 KB, declared as 1 KiB: the reader must not trust it."""
    p = _prefix(case).encode()
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    stream = b"".join(comp.compress(chunk) for _ in range(200)) + comp.flush()
    return hand_zip(
        [_entry(p + b"go.mod", _gomod(case)), (p + b"z.bin", stream, zlib.crc32(bytes(1024)), 1024)]
    )


def non_utf8(case: str) -> bytes:
    p = _prefix(case).encode()
    # Latin-1 e-acute: not UTF-8, and the UTF-8 flag (bit 11) is off, so a reader may decode
    # it as cp437 (a Greek capital theta), a letter Go would accept in a file name.
    return hand_zip(
        [_entry(p + b"go.mod", _gomod(case)), _entry(p + b"caf\xe9.go", b"package m\n")]
    )


def lying_size(case: str) -> bytes:
    p = _prefix(case).encode()
    return hand_zip(
        [_entry(p + b"go.mod", _gomod(case)), _entry(p + b"big.bin", b"x" * 10, 600 << 20)]
    )


def encrypted(case: str) -> bytes:
    """A zip whose second entry says it is encrypted (flag bit 0), in both headers."""
    p = _prefix(case).encode()
    data = bytearray(
        hand_zip([_entry(p + b"go.mod", _gomod(case)), _entry(p + b"x.go", b"package x\n")])
    )
    for sig, flag_at, name_at in ((LOCAL, 6, 30), (CENTRAL, 8, 46)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at :].startswith(p + b"x.go"):
                data[at + flag_at] |= 1
            at = data.find(sig, at + 4)
    return bytes(data)


def _gomod(case: str) -> bytes:
    return f"module {_mod(case)}\n".encode()


HOSTILE_ZIPS: dict[str, Callable[[str], bytes]] = {
    "zip-slip-dotdot": lambda c: raw_zip(
        [(_prefix(c) + "go.mod", _gomod(c)), (_prefix(c) + "../../../evil.go", b"package x\n")]
    ),
    "zip-slip-inner": lambda c: raw_zip(
        [(_prefix(c) + "go.mod", _gomod(c)), (_prefix(c) + "a/../../escape.go", b"package x\n")]
    ),
    "zip-slip-absolute": lambda c: raw_zip(
        [(_prefix(c) + "go.mod", _gomod(c)), ("/etc/cron.d/evil", b"* * * * * root sh\n")]
    ),
    "zip-slip-backslash": lambda c: raw_zip(
        [(_prefix(c) + "go.mod", _gomod(c)), (_prefix(c) + "..\\..\\evil.go", b"package x\n")]
    ),
    "duplicate-name": lambda c: raw_zip(
        [(_prefix(c) + "go.mod", _gomod(c)), (_prefix(c) + "go.mod", b"module evil.example\n")]
    ),
    "case-collision-dirs": lambda c: raw_zip(
        [
            (_prefix(c) + "go.mod", _gomod(c)),
            (_prefix(c) + "a/x.go", b"package a\n"),
            (_prefix(c) + "A/x.go", b"package a\n"),
        ]
    ),
    "declared-over-500mib": lying_size,
    "compression-bomb": bomb,
    "non-utf8-name": non_utf8,
    "encrypted-entry": encrypted,
    "gomod-above-root": lambda c: raw_zip(
        [("example.com/hostile/go.mod", _gomod(c)), (_prefix(c) + "x.go", b"package x\n")]
    ),
}


@pytest.fixture(scope="module")
def zip_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    root = tmp_path_factory.mktemp("hostile-zips")
    tree = GoProxyTree(root / "upstream")
    for case, make in HOSTILE_ZIPS.items():
        tree.add_module(_mod(case), "v1.0.0", {"go.mod": _gomod(case).decode()})
        tree.add_raw(_mod(case), "v1.0.0", zip=make(case))
    upstream = LoopbackUpstream(tree.root)
    try:
        with running_gateway(vault_config(root, upstream=upstream.url)) as gw:
            gw.root = root  # type: ignore[attr-defined]
            yield gw
    finally:
        upstream.stop()


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_is_refused_and_nothing_stored(zip_gateway: RunningGateway, case: str) -> None:
    start = time.monotonic()
    r = httpx.get(f"{zip_gateway.url}/{_mod(case)}/@v/v1.0.0.zip", timeout=60)
    elapsed = time.monotonic() - start
    assert r.status_code == 502, r.text
    assert "refused by go-vault ingest" in r.text
    assert elapsed < 20  # a bomb is refused without inflating 200 MiB
    root: Path = zip_gateway.root  # type: ignore[attr-defined]
    stored = list((root / "vault").rglob("*hostile*")) if (root / "vault").exists() else []
    assert [p for p in stored if case in str(p) and p.is_file()] == []
    assert not (root / "evil.go").exists() and not (root / "vault" / "evil.go").exists()


def test_fuzz_seed_corpus_raises_only_documented_errors() -> None:
    """The atheris harness's seeds (crashes it found included) through every parser."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "fuzz"))
    import fuzz_parsers

    assert fuzz_parsers.replay() == 0


def test_zip_with_a_header_offset_outside_the_file_is_a_violation() -> None:
    """Found by the fuzzer: zipfile raised ValueError (negative seek), a 500 at ingest."""
    from scanner.modzip import ZipViolation, check_zip

    data = (Path(__file__).parents[1] / "fuzz/corpus/check_zip/bad-offset.zip").read_bytes()
    for read_contents in (False, True):
        with pytest.raises(ZipViolation, match="cannot read"):
            check_zip(data, "example.com/m", "v1.0.0", read_contents=read_contents)


def test_damaged_zips_are_refused_with_an_ingest_error() -> None:
    """Random byte changes and cuts of a module zip through every ingest check: each one passes
    or is refused (IngestRefusedError, a 502 with its reason), never another exception (found:
    zipfile's own errors when go.mod was read before the entries were checked, and entries
    flagged as strongly encrypted)."""
    import random

    from goproxytree import build_zip, damaged

    from proxy.errors import IngestRefusedError
    from proxy.ingest import check_artifacts

    rng = random.Random(3)
    mod = b"module example.com/m\n"
    files = {"a.go": b"package m\n" * 50, "go.mod": mod, "b/c.txt": rng.randbytes(3000)}
    base = build_zip("example.com/m@v1.0.0/", files)
    info = b'{"Version":"v1.0.0"}'
    for _ in range(1000):
        data = damaged(base, rng)
        with contextlib.suppress(IngestRefusedError):
            check_artifacts("example.com/m", "v1.0.0", info, mod, Path("m.zip"), data)
