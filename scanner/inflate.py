"""zlib and gzip by ISA-L where python-isal is installed (inflate several times zlib's speed),
else the standard library's: module zips and bundles are read through these."""

from __future__ import annotations

import zlib as _zlib
from pathlib import Path
from typing import IO

try:
    from isal import igzip as gzip
    from isal import isal_zlib as zlib
except ImportError:  # pragma: no cover - python-isal is a dependency; these are its stand-ins
    import gzip  # type: ignore[no-redef]
    import zlib  # type: ignore[no-redef]

ERRORS: tuple[type[Exception], ...] = (_zlib.error, getattr(zlib, "error", _zlib.error))
"""What broken deflate data raises, from either implementation."""


def open_gzip(path: Path) -> IO[bytes]:
    """`path`, a .gz file, opened for reading its inflated bytes."""
    f: IO[bytes] = gzip.open(path)  # type: ignore[no-untyped-call,unused-ignore]  # noqa: SIM115
    return f


__all__ = ["ERRORS", "open_gzip", "zlib"]
