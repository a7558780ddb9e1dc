"""The `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1) of a module zip, a go.mod, or a tree."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from .errors import InputError

_CHUNK = 1 << 20


def hash1(names: Iterable[str], open_file: Callable[[str], IO[bytes]]) -> str:
    """dirhash.Hash1: sha256 over the sorted lines "<sha256 hex>  <name>\\n", base64, "h1:".

    `open_file(name)` opens `name` for reading; files are hashed in chunks, so a large module
    does not have to fit in memory. A name holding a newline cannot be expressed in the
    summary, so Go refuses it and so do we.
    """
    summary = hashlib.sha256()
    for name in sorted(names):
        if "\n" in name:
            raise InputError(f"file name {name!r} contains a newline; it has no h1: hash")
        digest = hashlib.sha256()
        with open_file(name) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        summary.update(f"{digest.hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def hash_gomod(data: bytes) -> str:
    """The `/go.mod h1:` value go.sum records for a module's .mod file."""
    return hash1(["go.mod"], lambda _name: io.BytesIO(data))


def hash_zip(zip_data: bytes | Path) -> str:
    """The `h1:` value go.sum records for a module zip (every entry, names as stored)."""
    source: io.BytesIO | Path = io.BytesIO(zip_data) if isinstance(zip_data, bytes) else zip_data
    where = "module zip" if isinstance(zip_data, bytes) else str(zip_data)
    try:
        with zipfile.ZipFile(source) as z:
            names = [info.filename for info in z.infolist()]
            if len(set(names)) != len(names):
                # Go's dirhash would read the first entry twice; such a zip is invalid anyway.
                raise InputError(f"{where}: duplicate entries; the zip is not a valid module zip")
            return hash1(names, z.open)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{where}: cannot read the zip: {e}") from e


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
