"""Build the layout the online Go vulnerability database serves from a directory of OSV files.

    index/db.json       {"modified": T}                     newest change of any entry
    index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"?}]}]
    index/vulns.json    [{"id", "modified", "aliases"}]
    ID/<id>.json        the OSV entry

Every file is also written as `.json.gz` (govulncheck asks an http database for those). The
output is deterministic: sorted, compact JSON, gzip without a timestamp.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import semver
from ..errors import InputError, OperationalError
from .osv import Entry, EventKind, parse_entry


@dataclass(frozen=True, slots=True)
class BuiltDatabase:
    """What `build_layout` wrote: where, how many entries, and the database's `modified`."""

    out_dir: Path
    entries: int
    modules: int
    modified: str


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _osv_version(go_version: str) -> str:
    return go_version[1:] if go_version.startswith("v") else go_version


def latest_fixed(entry: Entry, module: str) -> str:
    """The highest `fixed` version of the entry for the module (Go form, with "v"), or ""."""
    best = ""
    for affected in entry.affected:
        if affected.module != module:
            continue
        for events in affected.ranges:
            for ev in events:
                if ev.kind is EventKind.FIXED and (
                    not best or semver.compare(ev.version, best) > 0
                ):
                    best = ev.version
    return best


def read_osv_dir(src_dir: Path) -> list[tuple[Entry, bytes, float]]:
    """Every `*.json` OSV file of a directory: parsed, re-serialised compactly, its mtime."""
    if not src_dir.is_dir():
        raise InputError("not a directory of OSV files", path=str(src_dir), hint="give DIR/*.json")
    out = []
    seen: dict[str, Path] = {}
    for path in sorted(src_dir.glob("*.json")):
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read OSV entry: {e}", path=str(path)) from e
        entry = parse_entry(data, str(path))
        if entry.id in seen:
            raise InputError(f"entry {entry.id} is also in {seen[entry.id]}", path=str(path))
        seen[entry.id] = path
        out.append((entry, _dumps(data), path.stat().st_mtime))
    if not out:
        raise InputError("no *.json OSV entries found", path=str(src_dir))
    return out


def _write(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(data, mtime=0))


def build_layout(src_dir: Path, out_dir: Path, *, modified: str | None = None) -> BuiltDatabase:
    """Write the served layout for the OSV files in `src_dir` to `out_dir`, replacing it whole.

    `modified` overrides the database time. The default is the newest of the entries' times and
    the files' mtimes: the Go database's source files often carry the zero time, and clients
    cache by this value, so new or edited files must move it even when their times do not.
    """
    entries = read_osv_dir(src_dir)
    newest_file = datetime.fromtimestamp(int(max(m for _, _, m in entries)), UTC)
    db_modified = modified or max(
        newest_file.strftime("%Y-%m-%dT%H:%M:%SZ"), *(e.last_change for e, _, _ in entries)
    )
    modules: dict[str, list[dict[str, str]]] = {}
    vulns = []
    for entry, _, _ in entries:
        vulns.append(
            {"id": entry.id, "modified": entry.last_change, "aliases": list(entry.aliases)}
        )
        for module in sorted({a.module for a in entry.affected}):
            item = {"id": entry.id, "modified": entry.last_change}
            fixed = latest_fixed(entry, module)
            if fixed:
                item["fixed"] = _osv_version(fixed)
            modules.setdefault(module, []).append(item)
    modules_index: list[dict[str, Any]] = [
        {"path": path, "vulns": sorted(vs, key=lambda v: v["id"])}
        for path, vs in sorted(modules.items())
    ]
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and swap it in, so a server reading `out_dir` never sees half.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write(tmp, "index/db.json", _dumps({"modified": db_modified}))
        _write(tmp, "index/modules.json", _dumps(modules_index))
        _write(tmp, "index/vulns.json", _dumps(sorted(vulns, key=lambda v: str(v["id"]))))
        for entry, data, _ in entries:
            _write(tmp, f"ID/{entry.id}.json", data)
        os.chmod(tmp, 0o755)
        old = out_dir.with_name(f".{out_dir.name}.old")
        if out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise OperationalError(f"cannot write the database: {e}", path=str(out_dir)) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BuiltDatabase(out_dir, len(entries), len(modules_index), db_modified)
