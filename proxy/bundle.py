"""Offline bundles: a vault's modules in one .tar.gz with a manifest, checksums and a signature.

A bundle is a `file://` GOPROXY tree (`<escaped module>/@v/list`, `<v>.info`, `.mod`, `.zip`)
plus `manifest.json` (format, created, source, each module's sha256s and h1:, the base
bundle's manifest digest for a delta) and `go-modules.SHA256SUMS` over every other file, so
`sha256sum -c go-modules.SHA256SUMS` works on the unpacked tree. With an ed25519 key,
`go-modules.SHA256SUMS.sig` signs the checksum file (and through it everything else).

Import verifies all of it before writing anything (members, checksums, signature, h1:, the
.info Version, the base of a delta, conflicts with stored bytes), then loads all or nothing.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import itertools
import json
import os
import queue
import shutil
import tarfile
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.dirhash import hash_zip
from scanner.errors import GoProxyScanError, InputError, OperationalError, utf8_problem
from scanner.files import is_stdout, written_in_place
from scanner.gosum import parse_gosum
from scanner.inflate import ERRORS as INFLATE_ERRORS
from scanner.inflate import open_gzip, zlib
from scanner.module import (
    ModuleVersion,
    check,
    escape_path,
    escape_version,
    sort_module_versions,
    unescape_path,
    unescape_version,
)
from scanner.semver import sort_versions
from scanner.verdict import Verdict

from . import ustar
from .errors import IngestRefusedError
from .ingest import check_artifacts
from .rollback import (
    STATE_NAME,
    Pin,
    Rollback,
    RollbackState,
    RollbackStore,
    StateFile,
    state_file,
)
from .scratch import ScratchDir, TempBeside
from .storage import Batch, Kind, Storage, blob_name, version_dir
from .storage.fs import fsync_path
from .verdicts import VerdictStore

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "go-modules.SHA256SUMS"
SIGNATURE = SUMS + ".sig"
VERDICTS = ".verdicts"  # <escaped module>/@v/<escaped version>.json, the auditor's verdicts
VULNDB = ".vulndb"  # the Go vulnerability database as /-/vulndb/ serves it (index/, ID/)
ROLLBACKS = STATE_NAME  # the source vault's rollbacks and pins (no history), merged on import
IMPORTED = "bundles.json"  # the manifest digests this vault has imported (a delta's base check)
_KINDS = (Kind.INFO, Kind.MOD, Kind.ZIP)
_IN_MEMORY = 256 << 20  # unpacked bytes kept in memory on import; the rest is staged on disk
_WRITERS = 16  # versions read at once on export
_COMPRESS = 1  # zips are already deflated: more gzip effort buys almost nothing

Progress = Callable[[int, int], None]  # (done, total) modules


class BundleError(InputError):
    """A bundle that does not verify or a request that cannot be exported; `path` is the file."""


@dataclass(frozen=True, slots=True)
class BundleSummary:
    """What an export wrote or an import loaded."""

    path: str
    modules: int
    new: int  # import: module versions not in the vault before; export: == modules
    bytes: int
    seconds: float
    manifest_sha256: str
    base: str | None
    signed: bool  # the bundle carries a signature
    vulndb: str | None = None  # the database's modified time, when exported / installed
    verified: bool | None = None  # import: the signature was checked with a verify key
    # export: rolled-back versions left out; versions a pin keeps out of the lists
    left_out: tuple[str, ...] = ()
    held_back: tuple[str, ...] = ()
    # import: rollbacks and pins recorded from the bundle; what was not (said in words)
    rollbacks: int = 0
    pins: int = 0
    notes: tuple[str, ...] = ()
    verdicts_dropped: int = 0  # import: carried verdicts not trusted (signature not verified)

    def to_json(self) -> dict[str, Any]:
        return (
            {
                "bundle": self.path,
                "modules": self.modules,
                "new": self.new,
                "bytes": self.bytes,
                "seconds": round(self.seconds, 3),
                "manifest_sha256": self.manifest_sha256,
                "base": self.base,
                "signed": self.signed,
                "vulndb": self.vulndb,
            }
            | (
                {}
                if self.verified is None
                else {
                    "signature_verified": self.verified,
                    "rollbacks": self.rollbacks,
                    "pins": self.pins,
                    "verdicts_dropped": self.verdicts_dropped,
                }
            )
            | (
                {"rolled_back_left_out": list(self.left_out), "pin_held_back": list(self.held_back)}
                if self.verified is None
                else {}
            )
        )


def named_modules(path: Path) -> list[ModuleVersion]:
    """The module versions a go.sum or list file (`path version` lines) names.

    (What a go.mod or go.work needs is its build list: proxy.prefetch.needed_modules.)"""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise InputError(f"cannot read the module list: {e.strerror}", path=str(path)) from e
    except UnicodeDecodeError as e:
        problem, at = utf8_problem(e)
        raise InputError(
            problem,
            path=str(path),
            line=at,
            hint="name a go.mod, go.sum, go.work or a list of 'module version' lines",
        ) from e
    name = path.name
    if name.endswith(".sum"):
        pairs = parse_gosum(text, str(path)).modules()
    else:
        pairs = []
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.replace("@", " ").split()
            if len(fields) != 2:
                raise InputError(f"expected 'module version', got {raw!r}", path=str(path), line=n)
            try:
                check(fields[0], fields[1])
            except GoProxyScanError as e:
                raise InputError(
                    f"{fields[0]}@{fields[1]}: {e.message}", path=str(path), line=n, hint=e.hint
                ) from e
            pairs.append((fields[0], fields[1]))
    out = {ModuleVersion(p, v) for p, v in pairs}
    for mv in out:
        check(mv.path, mv.version)
    return sort_module_versions(out)


def read_manifest(path: Path) -> tuple[dict[str, Any], bytes]:
    """The manifest (and its bytes) of a bundle .tar.gz, an unpacked bundle or a manifest.json."""
    try:
        if path.is_dir():
            data = (path / MANIFEST).read_bytes()
        elif path.name.endswith(".json"):
            data = path.read_bytes()
        else:
            data = _tar_manifest(path)
    except OSError as e:
        raise BundleError(
            f"no readable {MANIFEST}: {e}", path=str(path), hint="name a bundle or its manifest"
        ) from e
    return parse_manifest(data, str(path)), data


_ALTERED = "the bundle was altered or made by a broken tool; do not use it"


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """A manifest.json's document, checked to have the shape export_bundle writes: valid
    module versions, each once; a BundleError (naming the field) for anything else."""

    def bad(problem: str) -> BundleError:
        return BundleError(f"{MANIFEST}: {problem}", path=where, hint=_ALTERED)

    try:
        manifest = json.loads(data)
    except ValueError as e:
        raise bad(f"not JSON: {e}") from e
    if not isinstance(manifest, dict):
        raise bad(f"a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT:
        raise bad(f"format {manifest.get('format')!r}, this go-vault reads {FORMAT}")
    entries = manifest.get("modules")
    if not isinstance(entries, list):
        raise bad("no list of modules")
    seen: set[tuple[str, str]] = set()
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("path", "version")
        ):
            raise bad(f"modules[{n}] has no path and version")
        mv = (entry["path"], entry["version"])
        try:
            check(*mv)
        except GoProxyScanError as e:
            raise bad(str(e)) from e
        if mv in seen:
            raise bad(f"{mv[0]}@{mv[1]} is listed twice")
        seen.add(mv)
        if not isinstance(entry.get("verdict") or {}, dict):
            raise bad(f"{mv[0]}@{mv[1]}: verdict is not an object")
    base = manifest.get("base")
    if base is not None and not (
        isinstance(base, dict)
        and all(isinstance(base.get(k), str) for k in ("file", "manifest_sha256"))
    ):
        raise bad("base has no file and manifest_sha256")
    inherited = manifest.get("inherited", [])
    if not isinstance(inherited, list) or not all(
        isinstance(s, str) and "@" in s for s in inherited
    ):
        raise bad("inherited is not a list of module@version")
    vulndb = manifest.get("vulndb")
    if vulndb is not None and not (
        isinstance(vulndb, dict) and isinstance(vulndb.get("modified"), str)
    ):
        raise bad("vulndb has no modified time")
    rollbacks = manifest.get("rollbacks")
    if rollbacks is not None and not (
        isinstance(rollbacks, dict)
        and all(isinstance(rollbacks.get(k), int) for k in ("rollbacks", "pins"))
    ):
        raise bad("rollbacks has no counts of rollbacks and pins")
    return manifest


def _tar_manifest(bundle: Path) -> bytes:
    """The manifest.json member of a bundle .tar.gz; a damaged one is a BundleError."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return member.read()
    except KeyError as e:
        # tarfile ends its walk at a damaged header as if the archive ended there.
        raise BundleError(
            f"no {MANIFEST} in it: not a go-vault bundle, or damaged",
            path=str(bundle),
            hint="name a bundle made by go-vault sync, or its manifest.json",
        ) from e
    except _READ_ERRORS as e:
        # A cut gzip stream is an EOFError, which click would turn into a bare "aborted".
        raise BundleError(f"not a readable .tar.gz: {e}", path=str(bundle)) from e


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_bundle(
    storage: Storage,
    out: Path,
    *,
    modules: Iterable[ModuleVersion] | None = None,
    since: Path | None = None,
    source: str = "",
    signing_key: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    vulndb: Path | None = None,
    rollbacks: RollbackState | None = None,
) -> BundleSummary:
    """Write the bundle `out` (.tar.gz) of `modules` (default: the whole vault), minus `since`'s,
    and with `vulndb` (a `vulndb build` directory) the vulnerability database under .vulndb/.

    `rollbacks` (the vault's, `RollbackStore(state_file(spec)).load()`) is applied as the gateway
    applies it: a rolled-back version is left out (files and lists), a pin keeps newer versions
    out of the lists; the rollbacks and pins travel in ROLLBACKS for import to record."""
    start = time.perf_counter()
    if modules is None:
        chosen = [ModuleVersion(m, v) for m in storage.modules() for v in storage.list(m)]
    else:
        chosen = list(modules)
        missing = [mv for mv in chosen if not storage.exists(mv.path, mv.version, Kind.INFO)]
        if missing:
            names = ", ".join(f"{m.path}@{m.version}" for m in missing[:5])
            raise BundleError(
                f"{len(missing)} module versions are not in the vault: {names}",
                path=str(out),
                hint="bring them in first: go-vault prefetch FILE",
            )
    base = None
    had: set[tuple[str, ...]] = set()
    if since is not None:
        base_manifest, base_bytes = read_manifest(since)
        # A delta on a delta: what the whole chain carried, not only the last link.
        had = {(m["path"], m["version"]) for m in base_manifest.get("modules", ())}
        had |= {tuple(s.split("@", 1)) for s in base_manifest.get("inherited", ())}
        chosen = [mv for mv in chosen if (mv.path, mv.version) not in had]
        base = {"file": since.name, "manifest_sha256": _sha256(base_bytes)}
    chosen = sort_module_versions(set(chosen))
    state = rollbacks or RollbackState()
    left_out = [
        mv
        for mv in chosen
        if (rolled := state.by_module.get(mv.path)) and rolled.refusal(mv.path, mv.version)
    ]
    if left_out:
        dropped = set(left_out)
        chosen = [mv for mv in chosen if mv not in dropped]
    held_back: list[str] = []
    key = _load_signing_key(signing_key) if signing_key else None
    database = _read_vulndb(vulndb) if vulndb is not None else None
    sums: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    lists: dict[str, list[str]] = {}
    total = 0
    try:
        # A device or pipe (a FIFO to ssh), or standard output by another name, is written in
        # place: renaming over it would replace the device node, or the /dev/stdout link itself
        # (as root, the whole container's). A link to a file is followed: the file is replaced.
        in_place = written_in_place(out) or is_stdout(out)
        final = out if in_place else Path(os.path.realpath(out))
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = None if in_place else TempBeside(final)
    except OSError as e:
        raise BundleError(
            f"cannot write the bundle: {e.strerror}",
            path=str(out),
            hint="choose a --bundle path in a writable directory",
        ) from e
    tmp = final if temp is None else temp.path
    try:
        with (
            tmp.open("wb") as raw,
            tarfile.open(
                str(tmp), "w:gz", raw, compresslevel=_COMPRESS, format=tarfile.PAX_FORMAT
            ) as tar,
        ):
            # Reading and hashing run ahead in threads (storage I/O, hashlib and zlib release
            # the GIL); the tar is written in order here. A bounded window caps the memory.
            with ThreadPoolExecutor(_WRITERS) as pool:
                ahead = iter(chosen)
                pending = deque(
                    pool.submit(_read_version, storage, mv)
                    for mv in itertools.islice(ahead, _WRITERS * 2)
                )
                for i in range(1, len(chosen) + 1):
                    entry, blobs = pending.popleft().result()
                    for mv in itertools.islice(ahead, 1):
                        pending.append(pool.submit(_read_version, storage, mv))
                    for name, data in blobs:
                        sums[name] = _sha256(data)
                        _add(tar, name, data)
                        total += len(data)
                    entries.append(entry)
                    lists.setdefault(entry["path"], []).append(entry["version"])
                    if progress:
                        progress(i, len(chosen))
            inherited: dict[str, list[str]] = {}
            for path, version in had:
                inherited.setdefault(path, []).append(version)
            # A module of the base chain with a rollback or pin gets a list even when the delta
            # carries nothing new of it: unpacked over the base, it replaces the base's list.
            for module in sorted(set(inherited) & set(state.by_module) - set(lists)):
                lists[module] = []
            for module, versions in lists.items():
                # A delta's list also names its base chain's versions of the module: unpacked
                # over its base, the tree then lists every version it holds (the list is the
                # one file both bundles carry for a module).
                versions += inherited.get(module, [])
                rolled = state.by_module.get(module)
                if rolled is not None:
                    # As the gateway's @v/list: no rolled-back version, none newer than a pin
                    # (the go command takes @latest from the list of a file:// GOPROXY).
                    shown = [v for v in versions if rolled.visible(v)]
                    held_back += (
                        f"{module}@{v}"
                        for v in versions
                        if v not in shown and not rolled.refusal(module, v)
                    )
                    versions = shown
                data = "".join(v + "\n" for v in sort_versions(versions)).encode()
                name = f"{escape_path(module)}/@v/list"
                sums[name] = _sha256(data)
                _add(tar, name, data)
            for name, data in database.files if database else ():
                sums[name] = _sha256(data)
                _add(tar, name, data)
            if state.rollbacks or state.pins:
                data = _rollbacks_json(state)
                sums[ROLLBACKS] = _sha256(data)
                _add(tar, ROLLBACKS, data)
            manifest = {
                "format": FORMAT,
                "created": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "source": source,
                "base": base,
                "inherited": sorted(f"{p}@{v}" for p, v in had) if base else [],
                "modules": entries,
                "vulndb": {"modified": database.modified, "files": len(database.files)}
                if database
                else None,
                "rollbacks": {"rollbacks": len(state.rollbacks), "pins": len(state.pins)}
                if state.rollbacks or state.pins
                else None,
            }
            manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
            sums[MANIFEST] = _sha256(manifest_bytes)
            _add(tar, MANIFEST, manifest_bytes)
            sums_bytes = "".join(f"{h}  {n}\n" for n, h in sorted(sums.items())).encode()
            _add(tar, SUMS, sums_bytes)
            if key is not None:
                _add(tar, SIGNATURE, key.sign(sums_bytes).hex().encode() + b"\n")
        if temp is not None:
            os.replace(tmp, final)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise OperationalError(
            f"no space left to write the bundle ({e.strerror}); nothing was written",
            path=str(out),
            hint="free some space, or choose a --bundle path on another disk",
        ) from e
    finally:
        if temp is not None:
            temp.close()
    return BundleSummary(
        str(out),
        len(entries),
        len(entries),
        total,
        time.perf_counter() - start,
        _sha256(manifest_bytes),
        base["manifest_sha256"] if base else None,
        key is not None,
        database.modified if database else None,
        left_out=tuple(f"{mv.path}@{mv.version}" for mv in left_out),
        held_back=tuple(sorted(held_back)),
    )


def _rollbacks_json(state: RollbackState) -> bytes:
    """The live rollbacks and pins (the history stays in the vault: who did what there)."""
    doc = replace(state, history=()).to_json()
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def _read_rollbacks(
    where: str, manifest: dict[str, Any], files: dict[str, Staged]
) -> RollbackState:
    """The bundle's ROLLBACKS, as the manifest announces it, each version a valid one."""
    announced = manifest.get("rollbacks")
    if not announced:
        if ROLLBACKS in files:
            raise BundleError(f"{ROLLBACKS} but no rollbacks in {MANIFEST}", path=where)
        return RollbackState()
    if ROLLBACKS not in files:
        raise BundleError(f"{MANIFEST} announces rollbacks, but no {ROLLBACKS}", path=where)
    try:
        state = RollbackState.parse(files[ROLLBACKS].read_bytes())
        items: list[Rollback | Pin] = [*state.rollbacks, *state.pins]
        for item in items:
            check(item.module, item.version)
    except (ValueError, TypeError, AttributeError, GoProxyScanError) as e:
        raise BundleError(f"{ROLLBACKS}: not readable: {e}", path=where, hint=_ALTERED) from e
    if (len(state.rollbacks), len(state.pins)) != (announced["rollbacks"], announced["pins"]):
        raise BundleError(f"{ROLLBACKS} differs from the rollbacks in {MANIFEST}", path=where)
    return state


def _read_version(
    storage: Storage, mv: ModuleVersion
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """One version's manifest entry (sha256s, h1:, verdict) and its files, named as in the
    bundle: .info, .mod, .zip, then the auditor's verdict when the vault holds one."""
    entry: dict[str, Any] = {"path": mv.path, "version": mv.version}
    blobs = []
    for kind in _KINDS:
        data = storage.get(mv.path, mv.version, kind)
        entry[kind.value] = _sha256(data)
        if kind is Kind.ZIP:
            entry["h1"] = hash_zip(data)
        blobs.append((blob_name(mv.path, mv.version, kind), data))
    store = _verdict_store(storage)
    found = store.get(mv.path, mv.version) if store is not None else None
    if found is not None and found[0].h1 == entry["h1"]:
        data = found[0].to_json_text().encode()
        entry["verdict"] = {"decision": found[0].decision.value, "sha256": _sha256(data)}
        blobs.append((verdict_name(mv.path, mv.version), data))
    return entry, blobs


@dataclass(frozen=True, slots=True)
class _VulnDB:
    modified: str  # index/db.json's "modified"
    files: tuple[tuple[str, bytes], ...]  # named as in the bundle: .vulndb/index/db.json, …


def _vulndb_modified(db_json: bytes) -> str:
    modified = json.loads(db_json)["modified"]
    if not isinstance(modified, str):
        raise ValueError(f"modified is {modified!r}")
    return modified


def _read_vulndb(root: Path) -> _VulnDB:
    """Every file of a built database directory (only the names /-/vulndb/ serves)."""
    from .vulndb import _ENDPOINT

    try:
        modified = _vulndb_modified((root / "index" / "db.json").read_bytes())
        files = tuple(
            (f"{VULNDB}/{rel}", (root / rel).read_bytes())
            for rel in sorted(
                p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
            )
            if _ENDPOINT.match(rel)
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(
            f"not a built vulnerability database: {e}",
            path=str(root),
            hint="build one with: goproxy-scan vulndb build OSV_DIR OUT",
        ) from e
    return _VulnDB(modified, files)


def verdict_name(module: str, version: str) -> str:
    return f"{VERDICTS}/{escape_path(module)}/@v/{escape_version(version)}.json"


def _verdict_store(storage: Storage) -> VerdictStore | None:
    """The auditor's verdicts beside a filesystem vault (proxy/auditor.py keeps them there)."""
    from .auditor import STATE_DIR
    from .storage.fs import FsStorage

    if not isinstance(storage, FsStorage):
        return None
    return VerdictStore(storage.root / STATE_DIR / "verdicts")


def _put_verdicts(
    storage: Storage, entries: Iterable[dict[str, Any]], files: dict[str, Staged], trusted: bool
) -> int:
    """The bundle's verdicts into the vault's store, where it has none for that version yet,
    when the bundle's signature was verified (`trusted`); returns how many were dropped.

    A verdict is what the gate serves by (a PASS under the same policy digest is not judged
    again), and the checksums of an unsigned bundle prove nothing: anyone can rewrite them
    around a REJECT turned PASS. Dropped, the version is judged by this vault's own auditor
    from its stored zip at first serve (auditor.AuditGate.current)."""
    carried = [e for e in entries if e.get("verdict")]
    if not trusted:
        return len(carried)
    verdicts = _verdict_store(storage)
    if verdicts is None:
        return 0
    for entry in carried:
        name = verdict_name(entry["path"], entry["version"])
        if verdicts.get(entry["path"], entry["version"]) is None:
            # This vault's auditor judges again when its policy differs (another digest).
            verdicts.put(Verdict.from_json(files[name].read_bytes()))
    return 0


def _merge_rollbacks(
    storage: Storage, storage_spec: str, state: RollbackState, by: str
) -> tuple[int, int, list[str]]:
    """The bundle's rollbacks and pins recorded in this vault (RollbackStore.merge): (rollbacks
    added, pins set, what was left out). A pin of a version this vault lacks is left out: the
    gateway's @latest would answer 404 for everyone."""
    if not (state.rollbacks or state.pins):
        return 0, 0, []
    pins = [p for p in state.pins if storage.exists(p.module, p.version, Kind.INFO)]
    notes = [
        f"the pin of {p.module} to {p.version} (not in this vault)"
        for p in state.pins
        if p not in pins
    ]
    events, skipped = RollbackStore(state_file(storage_spec)).merge(
        RollbackState(state.rollbacks, tuple(pins)), by
    )
    added = sum(len(e["versions"]) for e in events if e["action"] == "rollback")
    return added, sum(e["action"] == "pin" for e in events), notes + skipped


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # reproducible: the same modules give the same bundle
    tar.addfile(info, io.BytesIO(data))


def _load_signing_key(path: Path) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise InputError(f"not a PEM private key: {e}", path=str(path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("the signing key must be ed25519", path=str(path))
    return key


def _verify_signature(bundle: Path, sums: bytes, sig_hex: bytes | None, key_path: Path) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(key_path.read_bytes())
    except (OSError, ValueError) as e:
        raise InputError(f"not a PEM public key: {e}", path=str(key_path)) from e
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("the verify key must be ed25519", path=str(key_path))
    if sig_hex is None:
        raise BundleError(
            f"unsigned, but a verify key is configured ({key_path})", path=str(bundle)
        )
    try:
        key.verify(bytes.fromhex(sig_hex.decode().strip()), sums)
    except (InvalidSignature, ValueError) as e:
        raise BundleError(
            f"bad signature: {SIGNATURE} does not verify with {key_path}",
            path=str(bundle),
            hint="the bundle was altered or signed with another key; do not import it",
        ) from e


class Staged:
    """One unpacked member: its bytes, in memory while the bundle is small, else in a flat
    staging file (no directory tree to make and remove), and their sha256 (taken while
    staging, by a hasher thread, or when first asked for)."""

    __slots__ = ("_sha256", "data", "size")

    def __init__(self, data: bytes | Path, size: int, sha256: str | None = None) -> None:
        self.data = data
        self.size = size
        self._sha256 = sha256

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self.read_bytes()).hexdigest()
        return self._sha256

    def read_bytes(self) -> bytes:
        return self.data if isinstance(self.data, bytes) else self.data.read_bytes()


def _unpack(
    bundle: Path,
    into: Path,
    arrived: Callable[[str, Staged], None] | None = None,
    *,
    fast: bool = True,
) -> dict[str, Staged]:
    """Extract regular files only, refusing links, devices, absolute and `..` member names;
    `arrived(name, staged)` is called as each one is read. With `fast`, ustar.Unsupported
    when the bundle is to be read again with tarfile (`fast=False`)."""
    files: dict[str, Staged] = {}
    in_memory = 0

    def accept(name: str, kind: str) -> str | None:
        """The member's name without `.` parts; None for a directory; BundleError for the rest."""
        parts = name.split("/")
        clean = "/".join(p for p in parts if p not in (".", ""))
        if name.startswith("/") or ".." in parts or "\\" in name:
            raise BundleError(f"unsafe member name {name!r}", path=str(bundle))
        if kind == "dir":  # `.` too: a bundle unpacked and packed again with `tar -C DIR .`
            return None
        if not clean:
            raise BundleError(f"unsafe member name {name!r}", path=str(bundle))
        if kind != "file":
            raise BundleError(
                f"member {name!r} is a link or special file; bundles hold regular files",
                path=str(bundle),
            )
        if clean in files:
            raise BundleError(f"member {clean!r} appears twice", path=str(bundle))
        return clean

    def add(name: str, staged: Staged) -> None:
        files[name] = staged
        if arrived:
            arrived(name, staged)

    try:
        if fast and bundle.stat().st_size <= _IN_MEMORY:
            # A small bundle: inflated in memory on a thread of its own, each member taken
            # as soon as it is out; ustar.Unsupported when it needs tarfile after all.
            for member, data in ustar.read(_inflate_ahead(bundle, _IN_MEMORY)):
                if clean := accept(member.name, member.kind):
                    add(clean, Staged(data, len(data)))
            return files
        with tarfile.open(fileobj=open_gzip(bundle), mode="r|") as tar:  # a big one streamed
            for info in tar:
                kind = "file" if info.isfile() else "dir" if info.isdir() else "other"
                if not (clean := accept(info.name, kind)):
                    continue
                if in_memory + info.size <= _IN_MEMORY:
                    src = tar.extractfile(info)
                    assert src is not None
                    data = src.read()
                    in_memory += len(data)
                    add(clean, Staged(data, len(data)))
                else:
                    add(clean, _stage_member(tar, info, into / str(len(files))))
    except _READ_ERRORS as e:
        raise BundleError(f"not a readable .tar.gz: {e}", path=str(bundle)) from e
    return files


_READ_ERRORS: tuple[type[Exception], ...] = (OSError, tarfile.TarError, EOFError, *INFLATE_ERRORS)
_PIECE = 1 << 20


def _inflate_ahead(bundle: Path, limit: int) -> Iterator[bytes]:
    """The inflated bytes of `bundle`, a one-member .gz, in pieces that a thread of their own
    inflates ahead of the reader (ISA-L lets go of the GIL while it inflates), so the tar is
    read, and its zips hashed, while the rest is inflated. ustar.Unsupported past `limit`
    bytes, or when more than one gzip member follows (tarfile's gzip reads those)."""
    pieces: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        try:
            d, total = zlib.decompressobj(31), 0
            with bundle.open("rb") as f:
                while not stop.is_set() and (pending := f.read(_PIECE)):
                    while pending and not d.eof:
                        out = d.decompress(pending, _PIECE)
                        pending = d.unconsumed_tail
                        total += len(out)
                        if total > limit:
                            raise ustar.Unsupported("larger than is inflated in memory")
                        pieces.put(out)
                    if d.eof:
                        rest = d.unused_data + f.read()
                        if rest.startswith(b"\x1f\x8b"):
                            raise ustar.Unsupported("more than one gzip member")
                        if rest.strip(b"\x00"):  # zeros: a tape block's padding, as gzip -d
                            raise OSError(
                                f"{len(rest)} bytes follow the end of its gzip data (appended "
                                "to, or cut out of a longer file?)"
                            )
                        break
            if not d.eof and not stop.is_set():
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            pieces.put(None)
        except BaseException as e:  # handed to the reader, raised there
            pieces.put(e)

    inflater = threading.Thread(target=run, name="bundle-inflate", daemon=True)
    inflater.start()
    try:
        while (piece := pieces.get()) is not None:
            if isinstance(piece, BaseException):
                raise piece
            yield piece
    finally:
        stop.set()
        inflater.join()


def _stage_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> Staged:
    src = tar.extractfile(member)
    assert src is not None
    h = hashlib.sha256()
    with src, dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    return Staged(dest, member.size, h.hexdigest())


_BY_SUFFIX = {kind.value: kind for kind in _KINDS}


def _blob_key(name: str) -> tuple[str, str, Kind] | None:
    """The (module, version, kind) a member named in the GOPROXY layout holds, else None."""
    escaped, sep, rest = name.partition("/@v/")
    stem, dot, suffix = rest.rpartition(".")
    kind = _BY_SUFFIX.get(suffix)
    if not sep or not dot or kind is None or name.startswith("."):
        return None
    key = _version_key(escaped, stem)
    return (*key, kind) if key else None


@functools.lru_cache(maxsize=256)  # a version's three blobs come one after another
def _version_key(escaped: str, stem: str) -> tuple[str, str] | None:
    try:
        module, version = unescape_path(escaped), unescape_version(stem)
    except GoProxyScanError:
        return None
    # Escaped as the layout escapes it (not merely unescapable).
    return (module, version) if version_dir(module, version) == f"{escaped}/@v/{stem}" else None


class _Hashers:
    """The sha256 and h1: of zips, taken on `count` threads of their own from a queue (a
    future per zip cost the reading thread more than the zip's other work); `results()`
    waits for all."""

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[tuple[tuple[str, str], dict[Kind, Staged]] | None]
        self._queue = queue.SimpleQueue()
        self._results: dict[tuple[str, str], str | BaseException] = {}
        self._stop = False
        self._threads = [
            threading.Thread(target=self._run, name="bundle-h1", daemon=True) for _ in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: tuple[str, str], parts: dict[Kind, Staged]) -> None:
        """Every ingest check of the version (proxy.ingest.check_artifacts: .info, zip rules,
        .mod == the zip's go.mod) and its zip's h1: and sha256, which `results()` waits for."""
        self._queue.put((key, parts))

    def results(self) -> dict[tuple[str, str], str | BaseException]:
        """Each submitted zip's h1:, or what checking it raised (IngestRefusedError)."""
        self._finish()
        return self._results

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            key, parts = item
            if not self._stop:
                try:
                    zip_ = parts[Kind.ZIP]
                    _ = zip_.sha256  # taken here, off the reading thread
                    self._results[key] = check_artifacts(
                        *key,
                        parts[Kind.INFO].read_bytes(),
                        parts[Kind.MOD].read_bytes(),
                        zip_.data if isinstance(zip_.data, Path) else Path("bundle.zip"),
                        zip_.data if isinstance(zip_.data, bytes) else None,
                    )
                except BaseException as e:  # handed to the reader
                    self._results[key] = e

    def _finish(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []

    def __enter__(self) -> _Hashers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True  # left early (the import failed): what is queued is not wanted
        self._finish()


class _Arrivals:
    """Each version, once its three blobs are out of the tar, added to the storage batch (the
    storage may stage it, hidden, e.g. written into the vault's .tmp) and its zip's h1: begun
    on `hashers`, while the rest is read. Nothing is published before the batch's commit."""

    def __init__(self, batch: Batch, hashers: _Hashers) -> None:
        self.batch = batch
        self.hashers = hashers
        self.added: set[tuple[str, str]] = set()
        self._parts: dict[tuple[str, str], dict[Kind, Staged]] = {}

    def __call__(self, name: str, staged: Staged) -> None:
        key = _blob_key(name)
        if key is None:
            return
        module, version, kind = key
        parts = self._parts.setdefault((module, version), {})
        parts[kind] = staged
        if len(parts) == len(_KINDS):
            # .info last: it marks the version complete.
            order = (Kind.ZIP, Kind.MOD, Kind.INFO)
            try:
                self.batch.add(module, version, [(k, parts[k].data) for k in order])
            except OSError as e:  # the vault's disk, not the bundle (nothing is published)
                raise OperationalError(
                    f"cannot write into the vault: {e.strerror}; nothing was imported",
                    path=e.filename,
                    module=module,
                    version=version,
                    hint="free some space (or fix the vault's permissions) and import again",
                ) from e
            self.added.add((module, version))
            # Checked, and its h1: taken, on the other core while the rest of the tar is read.
            self.hashers.submit((module, version), parts)

    def check(self, where: str, entries: Iterable[dict[str, Any]]) -> None:
        """What was added is exactly the manifest's versions (their blobs verified)."""
        named = {(e["path"], e["version"]) for e in entries}
        for module, version in sorted(self.added ^ named):
            raise BundleError(
                f"{module}@{version}: its .info, .mod and .zip are in the bundle but it is not "
                f"in {MANIFEST}"
                if (module, version) in self.added
                else f"{module}@{version}: not all of its .info, .mod and .zip are in the bundle",
                path=where,
                hint="the bundle was altered or made by a broken tool; do not import it",
            )


@dataclass(frozen=True, slots=True)
class _Checked:
    manifest: dict[str, Any]
    manifest_sha256: str
    signed: bool
    verified: bool


def _verify_sums(bundle: Path, files: dict[str, Staged], verify_key: Path | None) -> _Checked:
    """The signature, every member against the checksums, the manifest against both."""
    where = str(bundle)
    if SUMS not in files:
        raise BundleError(f"missing {SUMS}", path=where)
    sums_bytes = files[SUMS].read_bytes()
    listed: dict[str, str] = {}
    for n, line in enumerate(sums_bytes.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BundleError(f"{SUMS}:{n}: not 'sha256  path'", path=where)
        listed[name] = digest
    sig = files[SIGNATURE].read_bytes() if SIGNATURE in files else None
    if verify_key is not None:
        _verify_signature(bundle, sums_bytes, sig, verify_key)
    present = set(files) - {SUMS, SIGNATURE}
    for name in sorted(set(listed) - present):
        raise BundleError(f"missing file {name} (listed in {SUMS})", path=where)
    for name in sorted(present - set(listed)):
        raise BundleError(f"extra file {name} is not listed in {SUMS}", path=where)
    for name in sorted(listed):
        if files[name].sha256 != listed[name]:
            raise BundleError(
                f"checksum mismatch: {name}",
                path=where,
                hint="the bundle was altered or damaged in transit",
            )
    if MANIFEST not in files:
        raise BundleError(f"missing {MANIFEST}", path=where)
    manifest_bytes = files[MANIFEST].read_bytes()
    manifest = parse_manifest(manifest_bytes, where)
    for entry in manifest["modules"]:
        module, version = entry["path"], entry["version"]
        for kind in _KINDS:
            name = blob_name(module, version, kind)
            if listed.get(name) != entry.get(kind.value):
                raise BundleError(
                    f"{module}@{version}: .{kind.value} differs from the manifest", path=where
                )
    return _Checked(manifest, _sha256(manifest_bytes), sig is not None, verify_key is not None)


def _verify_contents(
    bundle: Path,
    files: dict[str, Staged],
    checked: _Checked,
    h1s: Mapping[tuple[str, str], str | BaseException],
) -> None:
    """What the checksums cannot say: every version's ingest checks and zip h1: (`h1s`, taken as
    the versions arrived), the verdicts and the vulnerability database."""
    where = str(bundle)
    manifest = checked.manifest
    entries = manifest.get("modules", ())
    for entry in entries:
        module, version = entry["path"], entry["version"]
        h1 = h1s[module, version]
        if isinstance(h1, IngestRefusedError):
            # What ingest refuses, import refuses: the whole bundle, naming the version.
            problem = h1.message.removeprefix("refused by go-vault ingest: ")
            raise BundleError(
                f"{module}@{version}: {problem}; nothing was imported",
                path=where,
                hint="the bundle was altered or made by a broken tool; do not import it",
            ) from h1
        if isinstance(h1, InputError):
            raise BundleError(f"{module}@{version}: {h1.message}", path=where) from h1
        if isinstance(h1, BaseException):
            raise h1
        if h1 != entry.get("h1"):
            raise BundleError(
                f"{module}@{version}: zip hashes to {h1}, the manifest says {entry.get('h1')}",
                path=where,
                hint="the bundle does not hold the bytes it claims; do not import it",
            )
        try:
            info_version = json.loads(files[blob_name(module, version, Kind.INFO)].read_bytes())[
                "Version"
            ]
        except (ValueError, KeyError, TypeError):
            info_version = None
        if info_version != version:
            raise BundleError(f"{module}@{version}: .info does not name {version}", path=where)
        if entry.get("verdict"):
            name = verdict_name(module, version)
            try:
                verdict = Verdict.from_json(files[name].read_bytes())
            except (KeyError, ValueError, TypeError) as e:
                raise BundleError(
                    f"{module}@{version}: no readable verdict: {e}", path=where
                ) from e
            if files[name].sha256 != entry["verdict"].get("sha256") or verdict.h1 != h1:
                raise BundleError(
                    f"{module}@{version}: the verdict does not name this zip", path=where
                )
    _verify_vulndb(where, manifest, files)


def _verify_vulndb(where: str, manifest: dict[str, Any], files: dict[str, Staged]) -> None:
    """The .vulndb/ files are what the manifest announces, named as /-/vulndb/ serves them."""
    from .vulndb import _ENDPOINT

    names = [n.removeprefix(VULNDB + "/") for n in files if n.startswith(VULNDB + "/")]
    announced = manifest.get("vulndb")
    if not announced:
        if names:
            raise BundleError(f"{VULNDB}/ files but no vulndb in {MANIFEST}", path=where)
        return
    for rel in names:
        if not _ENDPOINT.match(rel):
            raise BundleError(f"{VULNDB}/{rel} is not a vulnerability database file", path=where)
    try:
        modified = _vulndb_modified(files[f"{VULNDB}/index/db.json"].read_bytes())
    except (KeyError, ValueError, TypeError) as e:
        raise BundleError(f"{VULNDB}/index/db.json: not readable: {e}", path=where) from e
    if modified != announced.get("modified") or len(names) != announced.get("files"):
        raise BundleError(f"{VULNDB}/ differs from the vulndb in {MANIFEST}", path=where)


def _stage_vulndb(files: dict[str, Staged], target: Path) -> Path:
    """The bundle's database written (and fsync'd) beside `target`, ready to be renamed in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    dirs: set[Path] = {staging}
    for name, staged in files.items():
        if not name.startswith(VULNDB + "/"):
            continue
        dest = staging / name.removeprefix(VULNDB + "/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dirs.add(dest.parent)
        with dest.open("wb") as out:
            out.write(staged.read_bytes())
            out.flush()
            os.fsync(out.fileno())
    for d in dirs:
        fsync_path(d)
    return staging


def _install_vulndb(staging: Path, target: Path) -> None:
    """Swap the staged database in: the served directory is always one whole database (the
    mirror's LiveIndex sees index/db.json's inode change and reloads)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    fsync_path(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _installed_modified(target: Path) -> str | None:
    try:
        return _vulndb_modified((target / "index" / "db.json").read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def imported_bundles(state: StateFile) -> dict[str, Any]:
    data = state.read()
    return json.loads(data) if data else {"bundles": []}


def import_bundle(
    storage: Storage,
    storage_spec: str,
    bundle: Path,
    *,
    verify_key: Path | None = None,
    progress: Progress | None = None,
    vulndb: Path | None = None,
) -> BundleSummary:
    """Verify `bundle` completely, then store every module version in it (all or nothing) and
    install its vulnerability database at `vulndb` (where the proxy's --vulndb serves it) unless
    the one there is as new or newer."""
    start = time.perf_counter()
    try:
        return _import(storage, storage_spec, bundle, verify_key, progress, vulndb, start)
    except ustar.Unsupported:
        # Not the tar `sync` writes (repacked by another tar, say): nothing was published;
        # all of it again, read by tarfile.
        return _import(
            storage, storage_spec, bundle, verify_key, progress, vulndb, start, fast=False
        )


def _import(
    storage: Storage,
    storage_spec: str,
    bundle: Path,
    verify_key: Path | None,
    progress: Progress | None,
    vulndb: Path | None,
    start: float,
    *,
    fast: bool = True,
) -> BundleSummary:
    record = state_file(storage_spec, IMPORTED)
    with (
        ScratchDir(Path(tempfile.gettempdir()), "go-vault-import-") as tmp,
        storage.batch() as batch,
        _Hashers(2) as hashers,
    ):
        arrivals = _Arrivals(batch, hashers)
        files = _unpack(bundle, tmp, arrivals, fast=fast)
        h1s = hashers.results()  # and the zips' sha256 with them
        checked = _verify_sums(bundle, files, verify_key)
        base = checked.manifest.get("base")
        known = {b["manifest_sha256"] for b in imported_bundles(record)["bundles"]}
        if base and base["manifest_sha256"] not in known:
            raise BundleError(
                f"a delta on {base['file']} (manifest sha256 {base['manifest_sha256'][:12]}…), "
                "which this vault has not imported",
                path=str(bundle),
                hint=f"import {base['file']} first",
            )
        entries = checked.manifest.get("modules", [])
        arrivals.check(str(bundle), entries)
        total = sum(
            files[blob_name(e["path"], e["version"], k)].size for e in entries for k in _KINDS
        )
        _verify_contents(bundle, files, checked, h1s)
        carried = _read_rollbacks(str(bundle), checked.manifest, files)
        new = []
        unstored = batch.unstored()
        for entry in entries:
            module, version = entry["path"], entry["version"]
            if (module, version) in unstored:
                new.append(entry)
                continue
            stored = False
            for kind in _KINDS:
                if storage.exists(module, version, kind):
                    stored |= kind is Kind.INFO
                    same = storage.get(module, version, kind) == (
                        files[blob_name(module, version, kind)].read_bytes()
                    )
                    if not same:
                        raise BundleError(
                            f"{module}@{version}: the vault holds a different .{kind.value}",
                            path=str(bundle),
                            hint="stored bytes are never replaced; find out which is right",
                        )
            if not stored:
                new.append(entry)
        announced = checked.manifest.get("vulndb")
        staging = None
        if announced and vulndb is not None:
            installed = _installed_modified(vulndb)
            if installed is None or installed < announced["modified"]:
                staging = _stage_vulndb(files, vulndb)

        try:
            # Everything verified: publish all of it, or (on a failure) none.
            batch.commit(progress)
            # Only now: a failed commit must leave no verdict for a version it did not store.
            dropped = _put_verdicts(storage, entries, files, checked.verified)
            source = checked.manifest.get("source")
            merged = _merge_rollbacks(
                storage,
                storage_spec,
                carried,
                source if isinstance(source, str) and source else f"bundle {bundle.name}",
            )
            if staging is not None and vulndb is not None:
                _install_vulndb(staging, vulndb)
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

        def add(data: bytes | None) -> bytes:
            doc = json.loads(data) if data else {"bundles": []}
            if checked.manifest_sha256 not in {b["manifest_sha256"] for b in doc["bundles"]}:
                doc["bundles"].append(
                    {
                        "file": bundle.name,
                        "manifest_sha256": checked.manifest_sha256,
                        "imported": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "modules": len(entries),
                    }
                )
            return json.dumps(doc, indent=1).encode() + b"\n"

        record.update(add)
    return BundleSummary(
        str(bundle),
        len(entries),
        len(new),
        total,
        time.perf_counter() - start,
        checked.manifest_sha256,
        base["manifest_sha256"] if base else None,
        checked.signed,
        announced["modified"] if staging is not None and announced else None,
        checked.verified,
        rollbacks=merged[0],
        pins=merged[1],
        notes=tuple(merged[2]),
        verdicts_dropped=dropped,
    )
