"""The per-file result cache: rule hits by content hash, and a stat index so rescans skip reads.

Layout under the cache directory, one tree per rule-set version (any change to the rules, the
engine or the grammar starts a new tree):

    rules-<version>/objects/<2 hex>/<content key>.json   hits of one file content
    rules-<version>/index-<project>.json                  path -> size, mtime, key, hits

The content key is the SHA-256 of the file (plus a `t` for _test.go files, whose rules differ).
The index is what makes a rescan cheap: a file whose size and mtime match its entry is neither
read nor hashed. A file modified within the index's own timestamp granularity is stored as
"racy" and re-hashed next time, as git does with its index. Every write is a temporary file
renamed into place, so concurrent scans and crashes never leave a torn entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .catalog import BY_ID
from .suppression import Hit

# Seconds before the index write within which an mtime is not trusted (coarse file systems).
RACY_WINDOW_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the rules found in one file content: hits and the first syntax error, if any."""

    hits: tuple[Hit, ...]
    error: tuple[int, int, str] | None = None  # line, column, message

    def to_json(self) -> list[Any]:
        return [[hit_row(h) for h in self.hits], list(self.error) if self.error else None]

    @classmethod
    def from_json(cls, value: list[Any]) -> FileRecord:
        hits, error = value
        return cls(
            tuple(Hit(*row) for row in hits),
            (int(error[0]), int(error[1]), str(error[2])) if error else None,
        )


def hit_row(h: Hit) -> list[Any]:
    return [
        h.rule_id,
        h.line,
        h.column,
        h.end_line,
        h.end_column,
        h.message,
        h.anchor,
        h.suppressed,
        h.suppression_reason,
    ]


# One finding as the index stores it: the Hit fields in order, then the fingerprint.
Row = list[Any]
ROW_LENGTH = 10


def rows_of(record: FileRecord, fingerprints: list[str]) -> list[Row]:
    return [[*hit_row(h), fp] for h, fp in zip(record.hits, fingerprints, strict=True)]


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the index knows about one path. Rows stay plain JSON values: a rescan of an
    unchanged tree only reads them, so they are never turned into objects and back."""

    size: int
    mtime_ns: int  # -1: racy, re-hash next time
    key: str
    rows: list[Row]
    error: list[Any] | None  # [line, column, message]


def content_key(data: bytes, is_test: bool) -> str:
    return hashlib.sha256(data).hexdigest() + ("t" if is_test else "")


@cache
def ruleset_version() -> str:
    """A digest of the code that decides the hits: this package, source.py and the grammar."""
    from importlib.util import find_spec

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), here.parent / "source.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    # The compiled grammar and binding: their files change with every release.
    for module in ("tree_sitter", "tree_sitter_go"):
        spec = find_spec(module)
        for location in (spec.submodule_search_locations or []) if spec else []:
            for binary in sorted(Path(location).glob("*.so")) + sorted(
                Path(location).glob("*.pyd")
            ):
                st = binary.stat()
                digest.update(f"{binary.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def default_cache_dir(main_dir: Path, env: dict[str, str] | None = None) -> Path:
    """$XDG_CACHE_HOME/goproxy-scan when that is set, else <main_dir>/.goproxy-scan-cache."""
    env = dict(os.environ) if env is None else env
    xdg = env.get("XDG_CACHE_HOME")
    return Path(xdg) / "goproxy-scan" if xdg else Path(main_dir) / ".goproxy-scan-cache"


class ObjectStore:
    """Records by content key: `objects/<2 hex>/<key>.json`. Safe to share between processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> FileRecord | None:
        try:
            return FileRecord.from_json(json.loads(self._path(key).read_bytes()))
        except (OSError, ValueError, TypeError):
            return None  # absent or damaged: analyse again

    def put(self, key: str, record: FileRecord) -> None:
        # A read-only or full cache directory slows rescans; it never fails the scan.
        with contextlib.suppress(OSError):
            atomic_write(self._path(key), json.dumps(record.to_json()).encode())

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"


class ResultCache:
    """The object store plus one stat index per project directory."""

    def __init__(self, directory: Path, main_dir: Path) -> None:
        self.directory = Path(directory)
        self.root = self.directory / f"rules-{ruleset_version()}"
        self.objects = ObjectStore(self.root / "objects")
        project = hashlib.sha256(str(Path(main_dir).resolve()).encode()).hexdigest()[:16]
        self.index_path = self.root / f"index-{project}.json"

    def load_index(self) -> dict[str, IndexEntry]:
        try:
            raw = json.loads(self.index_path.read_bytes())
            entries = {
                rel: IndexEntry(int(size), int(mtime), str(key), rows, error)
                for rel, (size, mtime, key, rows, error) in raw.items()
            }
            for entry in entries.values():
                for row in entry.rows:
                    if len(row) != ROW_LENGTH or row[0] not in BY_ID:
                        return {}
            return entries
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # no index yet, or a damaged one: rebuild it

    def save_index(self, entries: dict[str, IndexEntry]) -> None:
        limit = time.time_ns() - RACY_WINDOW_NS
        raw = {
            rel: [e.size, e.mtime_ns if e.mtime_ns < limit else -1, e.key, e.rows, e.error]
            for rel, e in sorted(entries.items())
        }
        try:
            atomic_write(self.index_path, json.dumps(raw, separators=(",", ":")).encode())
            ignore = self.directory / ".gitignore"
            if not ignore.exists():  # a cache inside the repository must never be committed
                atomic_write(ignore, b"# created by goproxy-scan\n*\n")
        except OSError:
            pass  # as ObjectStore.put: the next scan is slower, this one is still right


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
