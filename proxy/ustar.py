"""A fast reader for the plain POSIX tar that bundles are: regular files and directories in
ustar headers, long names in pax headers.

tarfile builds a TarInfo per member through a dozen small Python calls; for a bundle of a few
hundred small modules that was a tenth of an import. `read` takes the same headers apart with
a few slices each, from the inflated bytes as they come. It understands only what `go-vault
sync` writes (tarfile's PAX format) and raises Unsupported on anything else: GNU or v7
headers, base-256 sizes, global or unfamiliar pax records, a bad header checksum, a truncated
archive. The caller then reads the archive with tarfile, which accepts or refuses it as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

_BLOCK = 512
_MAGIC = b"ustar\x0000"
_FILE, _DIR, _PAX = (b"0", b"\x00"), b"5", b"x"
# Pax records that say nothing about a member's name or bytes (tarfile writes mtime for
# fractional times; others write these too).
_HARMLESS = frozenset({"mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "mode"})


class Unsupported(Exception):
    """Not the plain tar `read` knows: read it with tarfile."""


class Member(NamedTuple):
    name: str  # as stored: the caller checks it
    kind: str  # "file", "dir" or "other" (links, devices: the caller refuses them)
    size: int


def read(pieces: Iterable[bytes]) -> Iterator[tuple[Member, bytes]]:
    """Each member of the tar whose bytes arrive in `pieces` (of any sizes), with its data
    (b"" but for files), as soon as it is complete."""
    source = iter(pieces)
    buf, at = b"", 0  # the bytes at hand, and how far they are read

    def have(n: int) -> bool:
        """At least `n` unread bytes at hand (False: the input ends first)."""
        nonlocal buf, at
        count = len(buf) - at
        if count >= n:
            return True
        parts = [buf[at:]]
        while count < n and (piece := next(source, None)) is not None:
            parts.append(piece)
            count += len(piece)
        buf, at = b"".join(parts), 0
        return count >= n

    pax: dict[str, str] | None = None  # the pax header before this one
    while True:
        if not have(_BLOCK):
            raise Unsupported("no end-of-archive marker")
        header = buf[at : at + _BLOCK]
        if header[0] == 0:  # the end-of-archive marker: zeros to the end, as tarfile expects
            if pax is not None or buf[at:].strip(b"\x00") or any(p.strip(b"\x00") for p in source):
                raise Unsupported("data after the end-of-archive marker")
            return
        if header[257:265] != _MAGIC or not _checksum_ok(header):
            raise Unsupported("not a POSIX ustar header")
        size = _octal(header[124:136])
        flag = header[156:157]
        raw = header[0:100].split(b"\x00", 1)[0]
        if prefix := header[345:500].split(b"\x00", 1)[0]:
            raw = prefix + b"/" + raw
        if size is None or not raw.isascii():
            raise Unsupported("a size or name tarfile must read")
        if flag == _PAX:
            if pax is not None:
                raise Unsupported("two pax headers in a row")
            if not have(_BLOCK + _padded(size)):
                raise Unsupported("truncated")
            pax = _pax(buf[at + _BLOCK : at + _BLOCK + size])
            at += _BLOCK + _padded(size)
            continue
        name = raw.decode("ascii")
        if pax is not None:
            name = pax.get("path", name)
            size = int(pax.get("size", size))
            pax = None
        kind = "file" if flag in _FILE else "dir" if flag == _DIR else "other"
        if (flag == b"\x00" and name.endswith("/")) or kind == "dir":  # as tarfile has them
            kind, name = "dir", name.rstrip("/")
        if not have(_BLOCK + _padded(size)):
            raise Unsupported("truncated")
        # Only a file's data is read: the caller refuses links and devices.
        data = buf[at + _BLOCK : at + _BLOCK + size] if kind == "file" else b""
        at += _BLOCK + _padded(size)
        yield Member(name, kind, size), data


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _checksum_ok(header: bytes) -> bool:
    # The checksum field counts as eight spaces. (Old tars summed signed bytes; tarfile
    # judges those.)
    return _octal(header[148:156]) == sum(header) - sum(header[148:156]) + 8 * 32


def _octal(field: bytes) -> int | None:
    digits = field.split(b"\x00", 1)[0].strip(b" ")
    if not digits:
        return 0
    try:
        return int(digits, 8) if digits.isdigit() else None
    except ValueError:  # an 8 or 9
        return None


def _pax(records: bytes) -> dict[str, str]:
    """The path and size a pax extended header gives; Unsupported when it says more."""
    out: dict[str, str] = {}
    at = 0
    while at < len(records):
        length_field, space, _ = records[at : at + 20].partition(b" ")
        if not space or not length_field.isdigit():
            raise Unsupported("a pax record tarfile must read")
        length = int(length_field)
        record = records[at : at + length]
        at += length
        if length <= len(length_field) + 1 or len(record) != length or record[-1:] != b"\n":
            raise Unsupported("a pax record tarfile must read")
        key, eq, value = record[len(length_field) + 1 : -1].partition(b"=")
        if not eq or not value.isascii() or not key.isascii():
            raise Unsupported("a pax record tarfile must read")
        name = key.decode("ascii")
        if name in ("path", "size") and (name == "path" or value.isdigit()):
            out[name] = value.decode("ascii")
        elif name not in _HARMLESS:
            raise Unsupported(f"pax record {name}")
    return out
