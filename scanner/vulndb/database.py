"""Access to a Go vulnerability database over http(s) or file://, with a local cache.

The database is read in the layout vuln.go.dev serves (`index/db.json`, `index/modules.json`,
`ID/<id>.json`). The cache keeps, per database URL, the `modified` time of `index/db.json`, the
modules index and every entry fetched so far; while the database's `modified` is unchanged
only missing entries are fetched, and an offline run uses the cache as it is (a local
directory is read directly: it needs no network).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import requests

from ..errors import InputError, NotFoundError, OperationalError
from .index import VulnIndex
from .osv import parse_entry

DEFAULT_URL = "https://vuln.go.dev"
_GZIP_MAGIC = b"\x1f\x8b"


class DatabaseUnreachable(OperationalError):
    """The database could not be asked at all (connection refused, DNS, timeout, 5xx)."""


class LocalDatabaseMissing(InputError):
    """A database path that is not a directory: exit 2, unless a cached copy of it answers."""


class DatabaseSource(Protocol):
    """Where a database is read from.

    `get("index/db")` returns the uncompressed bytes of that endpoint (no extension), raising
    NotFoundError when it does not exist and DatabaseUnreachable when the source cannot answer.
    """

    url: str

    def get(self, endpoint: str) -> bytes: ...


def _gunzip(data: bytes, where: str) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        return data  # a server that set Content-Encoding: gzip was already decoded by requests
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise OperationalError(f"corrupt gzip data: {e}", path=where) from e


class HTTPSource:
    """An http(s) database; asks for `.json.gz` as govulncheck does, then for `.json`."""

    def __init__(self, url: str, *, timeout: float = 30, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def get(self, endpoint: str) -> bytes:
        for suffix in (".json.gz", ".json"):
            where = f"{self.url}/{endpoint}{suffix}"
            try:
                resp = self.session.get(where, timeout=self.timeout)
            except requests.RequestException as e:
                raise DatabaseUnreachable(
                    f"cannot reach the vulnerability database: {e}",
                    path=where,
                    hint="check the URL or run with --offline to use the cache",
                ) from e
            if resp.status_code in (404, 410):
                continue
            if resp.status_code >= 500:
                raise DatabaseUnreachable(f"the database answered {resp.status_code}", path=where)
            if resp.status_code != 200:
                raise OperationalError(f"the database answered {resp.status_code}", path=where)
            return _gunzip(resp.content, where)
        raise NotFoundError(
            f"no such database endpoint {endpoint!r}", path=f"{self.url}/{endpoint}"
        )


class FileSource:
    """A database directory on disk (`file://` URL or a plain path)."""

    def __init__(self, root: Path):
        self.root = root
        self.url = root.absolute().as_uri()

    def get(self, endpoint: str) -> bytes:
        path = self.root / f"{endpoint}.json"
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            raise OperationalError(f"cannot read: {e}", path=str(path)) from e
        gz = path.with_name(path.name + ".gz")
        try:
            return _gunzip(gz.read_bytes(), str(gz))
        except (FileNotFoundError, NotADirectoryError):
            # A local path is the user's to fix (exit 2), not an unreachable database.
            if not self.root.is_dir():
                raise LocalDatabaseMissing(
                    "a file, not a vulnerability database directory"
                    if self.root.exists()
                    else "the vulnerability database directory does not exist",
                    path=str(self.root),
                    hint=_LAYOUT_HINT,
                ) from None
            if endpoint == "index/db":
                raise InputError(
                    "not a Go vulnerability database in vuln.go.dev's layout: no "
                    "index/db.json (or .json.gz)",
                    path=str(self.root),
                    hint=_raw_osv_hint(self.root) or _LAYOUT_HINT,
                ) from None
            raise NotFoundError(f"no such database endpoint {endpoint!r}", path=str(path)) from None
        except OSError as e:
            raise OperationalError(f"cannot read: {e}", path=str(gz)) from e


_LAYOUT_HINT = (
    "give the OUT directory of `goproxy-scan vulndb build OSV_DIR OUT`, a file:// URL of one, "
    "or an https:// database such as https://vuln.go.dev"
)


def _raw_osv_hint(root: Path) -> str:
    """The hint for a directory of OSV entries (`GO-….json`), as the database repository
    keeps them: they must be built into the served layout first. Empty when it is not one."""
    entries = sorted(root.glob("*.json"))
    for candidate in entries[:3]:
        try:
            entry = json.loads(candidate.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and "id" in entry and "affected" in entry:
            return (
                f"it holds {len(entries)} OSV entr{'y' if len(entries) == 1 else 'ies'}: build "
                f"the database from them with `goproxy-scan vulndb build {root} OUT`, then "
                "give OUT"
            )
    return ""


def open_source(url: str) -> DatabaseSource:
    """A source for `https://…`, `http://…`, `file:///…` or a plain directory path."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return HTTPSource(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InputError(f"file:// URL with a host is not supported: {url}")
        return FileSource(Path(unquote(parsed.path)))
    if parsed.scheme == "":
        return FileSource(Path(url))
    raise InputError(
        f"unsupported vulnerability database URL {url!r}", hint="use https:// or file://"
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    modified: str
    modules: dict[str, list[str]]  # module path -> entry ids
    entries: dict[str, Any]  # id -> decoded OSV document


def _cache_dir(cache_root: Path, url: str) -> Path:
    return cache_root / hashlib.sha256(url.encode()).hexdigest()[:16]


def _read_cache(cache_root: Path | None, url: str) -> _Cached | None:
    if cache_root is None:
        return None
    path = _cache_dir(cache_root, url) / "cache.json"
    try:
        data = json.loads(path.read_bytes())
        if data.get("url") != url:
            return None
        return _Cached(data["modified"], data["modules"], data["entries"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a missing or damaged cache is only a slower run


def _write_cache(cache_root: Path, url: str, cached: _Cached) -> None:
    directory = _cache_dir(cache_root, url)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        body = {
            "url": url,
            "modified": cached.modified,
            "modules": cached.modules,
            "entries": cached.entries,
        }
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cache.")
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(body, separators=(",", ":")).encode())
        os.replace(tmp, directory / "cache.json")
    except OSError as e:
        raise OperationalError(
            f"cannot write the vulnerability cache: {e}", path=str(directory)
        ) from e


def _decode(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise OperationalError(f"the database sent invalid JSON: {e}", path=where) from e


def _modules_index(raw: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(raw, list):
        raise OperationalError("index/modules.json is not a list", path=where)
    out: dict[str, list[str]] = {}
    for item in raw:
        try:
            out[item["path"]] = [v["id"] for v in item.get("vulns") or ()]
        except (TypeError, KeyError) as e:
            raise OperationalError(f"malformed index/modules.json item {item!r}", path=where) from e
    return out


def _wanted(cached: _Cached, modules: Iterable[str] | None) -> set[str]:
    paths = cached.modules.keys() if modules is None else set(modules)
    return {i for p in paths for i in cached.modules.get(p, ())}


def _index(url: str, cached: _Cached, wanted: set[str], *, from_cache: bool) -> VulnIndex:
    return VulnIndex.from_entries(
        (parse_entry(cached.entries[i], f"{url}/ID/{i}.json") for i in sorted(wanted)),
        url=url,
        modified=cached.modified,
        from_cache=from_cache,
    )


def load_index(
    url: str,
    *,
    cache_dir: Path | None = None,
    modules: Iterable[str] | None = None,
    offline: bool = False,
    workers: int = 8,
) -> VulnIndex:
    """The entries that name any of `modules` (all entries when None), as a VulnIndex.

    Include "stdlib" and "toolchain" in `modules` to match the Go version. With `offline`, or
    when the database cannot be reached, the cache is used as it is (`from_cache=True`);
    without a usable cache that is an OperationalError. A local directory (a path or
    file:// URL) is read directly, `offline` or not.
    """
    source = open_source(url)
    url = source.url
    wanted_modules = None if modules is None else set(modules)
    cached = _read_cache(cache_dir, url)
    # A directory on disk needs no network: --offline reads it as it is now, not the cache.
    if not offline or isinstance(source, FileSource):
        try:
            fresh = _refresh(source, cached, wanted_modules, workers)
        except (DatabaseUnreachable, LocalDatabaseMissing):
            if cached is None or offline:  # offline here: a local directory that is not there
                raise
        else:
            if fresh is not cached and cache_dir is not None:
                _write_cache(cache_dir, url, fresh)
            return _index(url, fresh, _wanted(fresh, wanted_modules), from_cache=False)
    if cached is None:
        raise OperationalError(
            "no cached copy of the vulnerability database",
            path=url,
            hint="run once with the database reachable to fill the cache",
        )
    wanted = _wanted(cached, wanted_modules)
    missing = sorted(wanted - cached.entries.keys())
    if missing:
        raise OperationalError(
            f"the cached vulnerability database lacks {len(missing)} entries "
            f"({', '.join(missing[:5])}{'…' if len(missing) > 5 else ''})",
            path=url,
            hint="run once with the database reachable to complete the cache",
        )
    return _index(url, cached, wanted, from_cache=True)


def _refresh(
    source: DatabaseSource, cached: _Cached | None, modules: set[str] | None, workers: int
) -> _Cached:
    """The cache brought up to date for `modules`; the same object when it already was."""
    url = source.url
    db = _decode(source.get("index/db"), f"{url}/index/db.json")
    modified = db.get("modified") if isinstance(db, dict) else None
    if not isinstance(modified, str) or not modified:
        raise OperationalError("index/db.json has no 'modified' time", path=f"{url}/index/db.json")
    if cached is None or cached.modified != modified:
        where = f"{url}/index/modules.json"
        index = _modules_index(_decode(source.get("index/modules"), where), where)
        cached = _Cached(modified, index, {})
    missing = sorted(_wanted(cached, modules) - cached.entries.keys())
    if not missing:
        return cached

    def fetch(entry_id: str) -> Any:
        return _decode(source.get(f"ID/{entry_id}"), f"{url}/ID/{entry_id}.json")

    if isinstance(source, HTTPSource) and len(missing) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            fetched = list(pool.map(fetch, missing))
    else:
        fetched = [fetch(i) for i in missing]
    return _Cached(
        cached.modified,
        cached.modules,
        {**cached.entries, **dict(zip(missing, fetched, strict=True))},
    )
