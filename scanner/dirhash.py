"""The `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1) of a module zip, a go.mod, or a tree."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import mmap
import os
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from .errors import InputError
from .inflate import ERRORS as _INFLATE_ERRORS
from .inflate import zlib as inflate

_CHUNK = 1 << 20


def hash1(names: Iterable[str], open_file: Callable[[str], IO[bytes]]) -> str:
    """dirhash.Hash1: sha256 over the sorted lines "<sha256 hex>  <name>\\n", base64, "h1:".

    `open_file(name)` opens `name` for reading; files are hashed in chunks, so a large module
    does not have to fit in memory. A name holding a newline cannot be expressed in the
    summary, so Go refuses it and so do we.
    """

    def digest(name: str) -> str:
        h = hashlib.sha256()
        with open_file(name) as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    return _summary(names, digest)


def _summary(names: Iterable[str], digest: Callable[[str], str]) -> str:
    summary = hashlib.sha256()
    for name in sorted(names):
        if "\n" in name:
            raise InputError(f"file name {name!r} contains a newline; it has no h1: hash")
        summary.update(f"{digest(name)}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def hash_gomod(data: bytes) -> str:
    """The `/go.mod h1:` value go.sum records for a module's .mod file."""
    return hash1(["go.mod"], lambda _name: io.BytesIO(data))


def hash_zip(zip_data: bytes | Path, infos: Sequence[zipfile.ZipInfo] | None = None) -> str:
    """The `h1:` value go.sum records for a module zip (every entry, names as stored).

    Each entry is inflated straight from the zip's bytes (a file is mapped, not read whole),
    with ISA-L's inflate when python-isal is installed (several times zlib's speed), and its
    CRC-32 and size are checked as zipfile checks them, without a file object per entry.
    `infos`: the zip's central directory when the caller has read it (modzip.check_zip's
    ZipInfo.entries), so it is not parsed again.
    """
    where = "module zip" if isinstance(zip_data, bytes) else str(zip_data)
    try:
        with _mapped(zip_data) as (data, listed):
            infos = infos if infos is not None else listed()
            entries = {info.filename: info for info in infos}
            if len(entries) != len(infos):
                # Go's dirhash would read the first entry twice; such a zip is invalid anyway.
                raise InputError(f"{where}: duplicate entries; the zip is not a valid module zip")
            return _summary(entries, lambda name: _entry_sha256(data, entries[name]))
    except _READ_ERRORS as e:
        raise InputError(f"{where}: cannot read the zip: {e}") from e


def read_zip_entry(zip_data: bytes | Path, info: zipfile.ZipInfo) -> bytes:
    """One entry's contents (`info` from the zip's central directory), size and CRC checked."""
    where = "module zip" if isinstance(zip_data, bytes) else str(zip_data)
    try:
        with _mapped(zip_data) as (data, _):
            chunks = [bytes(chunk) for chunk in _entry_chunks(data, info)]
            _checked_sha256(info, chunks)
            return b"".join(chunks)
    except _READ_ERRORS as e:
        raise InputError(f"{where}: cannot read {info.filename}: {e}") from e


@contextlib.contextmanager
def _mapped(
    zip_data: bytes | Path,
) -> Iterator[tuple[memoryview | mmap.mmap, Callable[[], list[zipfile.ZipInfo]]]]:
    """The zip's bytes (a file mapped, not read) and a function reading its central directory
    (names as UTF-8, as Go's archive/zip takes them: not cp437)."""
    if isinstance(zip_data, bytes):
        yield memoryview(zip_data), lambda: _infolist(io.BytesIO(zip_data))
        return
    with zip_data.open("rb") as f:
        listed = _infolist(f)  # before the map: an empty file is "not a zip", not "cannot map"
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data, lambda: listed


def _infolist(f: IO[bytes]) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(f, metadata_encoding="utf-8").infolist()


_LOCAL_HEADER = struct.Struct("<4s22xHH")
_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    struct.error,  # a local header offset past the end
    NotImplementedError,  # a "zip version" zipfile does not know
    *_INFLATE_ERRORS,
)


def _entry_sha256(data: memoryview | mmap.mmap, info: zipfile.ZipInfo) -> str:
    """The sha256 of one entry's contents, found through its local header."""
    return _checked_sha256(info, _entry_chunks(data, info))


def _entry_chunks(
    data: memoryview | mmap.mmap, info: zipfile.ZipInfo
) -> Iterable[bytes | memoryview]:
    """One entry's contents in pieces, found through its local header (not yet checked)."""
    signature, name_len, extra_len = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}: bad local file header")
    if info.flag_bits & 0x61:  # bits 0 and 6: encrypted; bit 5: patch data
        raise zipfile.BadZipFile(f"{info.filename}: encrypted or patch data")
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    if start + info.compress_size > len(data):
        raise zipfile.BadZipFile(f"{info.filename}: truncated")
    if info.file_size < _CHUNK and info.compress_size < _CHUNK:
        # Most source files: inflated in one call, hashed and checked in one each (a hasher
        # thread beside busy ones waits for the GIL after every call).
        whole = data[start : start + info.compress_size]
        if info.compress_type == zipfile.ZIP_DEFLATED:
            d = inflate.decompressobj(-15)
            whole = d.decompress(whole, info.file_size + 1)
            if not d.eof and len(whole) <= info.file_size:
                raise zipfile.BadZipFile(f"{info.filename}: deflate data ends early")
        elif info.compress_type != zipfile.ZIP_STORED:
            raise zipfile.BadZipFile(f"{info.filename}: compression method {info.compress_type}")
        return [whole]
    # Pieces of at most _CHUNK bytes (slices of a memoryview are not copies; of a map, small).
    raw = (
        data[at : min(at + _CHUNK, start + info.compress_size)]
        for at in range(start, start + info.compress_size, _CHUNK)
    )
    if info.compress_type == zipfile.ZIP_STORED:
        return raw
    if info.compress_type == zipfile.ZIP_DEFLATED:
        return _inflate(raw, info)
    raise zipfile.BadZipFile(f"{info.filename}: compression method {info.compress_type}")


def _checked_sha256(info: zipfile.ZipInfo, chunks: Iterable[bytes | memoryview]) -> str:
    """The sha256 of an entry's inflated `chunks`, their size and CRC-32 checked."""
    h, crc, size = hashlib.sha256(), 0, 0
    for chunk in chunks:
        h.update(chunk)
        crc = inflate.crc32(chunk, crc)
        size += len(chunk)
        if size > info.file_size:  # a bomb, or a lie: stop inflating
            raise zipfile.BadZipFile(
                f"{info.filename}: uncompressed size is larger than declared "
                f"({info.file_size} bytes)"
            )
    if size != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename}: {size} bytes, the zip says {info.file_size}")
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")  # zipfile's words
    return h.hexdigest()


def _inflate(raw: Iterable[bytes | memoryview], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Raw deflate data inflated in pieces of at most about _CHUNK bytes (never more than one
    byte past the declared size), so a big entry is never whole in memory; most source files
    come out in one piece."""
    d = inflate.decompressobj(-15)
    room = min(_CHUNK, info.file_size + 1)
    for piece in raw:
        pending: bytes | memoryview = piece
        while pending:
            out = d.decompress(pending, room)
            pending = d.unconsumed_tail
            if out:
                yield out
    if rest := d.flush(room):
        yield rest
    if not d.eof:
        raise zipfile.BadZipFile(f"{info.filename}: deflate data ends early")


def hash_dir(directory: Path | str, prefix: str) -> str:
    """dirhash.HashDir: every regular file under `directory`, named `prefix/rel/path`."""
    root = Path(directory)
    names: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in filenames:
            full = Path(dirpath) / filename
            rel = full.relative_to(root).as_posix()
            names[f"{prefix}/{rel}"] = full
    return hash1(names, lambda name: names[name].open("rb"))
