"""Module zips as golang.org/x/mod/zip makes and checks them: create, check, read."""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GoProxyScanError, InputError, InvalidModuleError
from .gomod import parse_gomod
from .module import canonical_version, check, check_file_path, go_quote

MAX_ZIP_FILE = 500 << 20
"""Largest module zip, and largest total of its uncompressed files (bytes)."""
MAX_GO_MOD = 16 << 20
"""Largest go.mod file in a module zip (bytes)."""
MAX_LICENSE = 16 << 20
"""Largest LICENSE file in a module zip (bytes)."""

_VCS_DIRS = frozenset({".bzr", ".git", ".hg", ".svn"})
_GO_LANG = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class FileViolation:
    """One file (or the zip as a whole, path "") that breaks a module zip rule."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


@dataclass(frozen=True, slots=True)
class ZipInfo:
    """A module zip that passed check_zip: its files (relative to the module root) and sizes.

    `entries` is its central directory as read (names as UTF-8), for a caller that reads the
    zip next without parsing that again (dirhash.hash_zip, dirhash.read_zip_entry)."""

    module_path: str
    version: str
    files: tuple[str, ...]
    size: int
    zip_size: int
    entries: tuple[zipfile.ZipInfo, ...] = ()


class ZipViolation(InputError):
    """A module zip (or a source tree meant to become one) that breaks x/mod/zip rules."""

    def __init__(self, module_path: str, version: str, violations: Iterable[FileViolation]):
        self.violations = tuple(violations)
        lines = "".join(f"\n  {v}" for v in self.violations)
        super().__init__(
            f"not a valid module zip ({len(self.violations)} problem(s)):{lines}",
            module=module_path,
            version=version,
            hint="fix or remove the files named above; the go command refuses this module",
        )


@dataclass(frozen=True, slots=True)
class _File:
    """A candidate file for a zip: a slash path relative to the module root, and its kind."""

    path: str
    is_dir: bool
    is_symlink: bool
    is_regular: bool
    size: int
    read: Callable[[], bytes]


def _clean(p: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading "//", Go does not)."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for el in p.split("/"):
        if el in ("", "."):
            continue
        if el == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(el)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or "."


def _fold_char(c: str) -> str:
    # Go's strToFold: the smallest rune of the character's simple case-folding orbit, then
    # A-Z to a-z. Python has no SimpleFold; the closure under lower/upper is that orbit.
    orbit = {c}
    todo = [c]
    while todo:
        x = todo.pop()
        for y in (x.lower(), x.upper(), x.casefold()):
            if len(y) == 1 and y not in orbit:
                orbit.add(y)
                todo.append(y)
    r = min(orbit)
    return r.lower() if "A" <= r <= "Z" else r


def _fold(s: str) -> str:
    if s.isascii():
        return s.lower()
    return "".join(_fold_char(c) for c in s)


class _Collisions:
    """Case-insensitive name collisions, and names that are both a file and a directory."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, bool]] = {}

    def check(self, p: str, is_dir: bool) -> str | None:
        fold = _fold(p)
        other = self.seen.get(fold)
        if other is not None:
            other_path, other_is_dir = other
            if p != other_path:
                first, second = go_quote(other_path), go_quote(p)
                return f"case-insensitive file name collision: {first} and {second}"
            if is_dir != other_is_dir:
                return f"entry {go_quote(p)} is both a file and a directory"
            if not is_dir:
                return f"multiple entries for file {go_quote(p)}"
        else:
            self.seen[fold] = (p, is_dir)
        parent = p.rpartition("/")[0]
        return self.check(parent, True) if parent else None


def _go_lang_at_least_1_24(gomod: bytes | None) -> bool:
    # x/mod/zip reads the root go.mod with modfile.ParseLax; one it cannot read counts as old.
    if gomod is None:
        return False
    try:
        go = parse_gomod(gomod, "go.mod", lax=True).go
    except GoProxyScanError:
        return False
    m = _GO_LANG.match(go)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (1, 24)


def _is_vendored(name: str, go_1_24: bool) -> bool:
    if go_1_24 and name == "vendor/modules.txt":
        return True
    if name.startswith("vendor/"):
        i = len("vendor/")
    elif (j := name.find("/vendor/")) >= 0:
        # Before go 1.24 x/mod used a wrong offset here (golang.org/issue/37397), so every file
        # under a nested vendor/ counted as vendored; older modules keep that, or their
        # checksums would change.
        i = j + len("/vendor/") if go_1_24 else len("/vendor/")
    else:
        return False
    return "/" in name[i:]


def _check_identity(module_path: str, version: str) -> list[FileViolation]:
    canonical = canonical_version(version)
    if canonical != version:
        return [
            FileViolation(
                "",
                f"version {go_quote(version)} is not canonical (should be {go_quote(canonical)})",
            )
        ]
    try:
        check(module_path, version)
    except InvalidModuleError as e:
        return [FileViolation("", e.message)]
    return []


def _check_files(files: list[_File]) -> tuple[list[_File], list[FileViolation]]:
    """x/mod/zip checkFiles: which files go in the zip, and which break a rule."""
    invalid: list[FileViolation] = []
    seen_error: set[str] = set()

    def bad(p: str, reason: str) -> None:
        if p not in seen_error:
            seen_error.add(p)
            invalid.append(FileViolation(p, reason))

    def omit(p: str) -> None:
        seen_error.add(p)

    have_gomod: set[str] = set()
    root_gomod: bytes | None = None
    for f in files:
        d, _, base = f.path.rpartition("/")
        if base.lower() == "go.mod" and f.is_regular:
            have_gomod.add(d)
            if f.path == "go.mod":
                root_gomod = f.read()
    go_1_24 = _go_lang_at_least_1_24(root_gomod)

    def in_submodule(p: str) -> bool:
        d = p.rpartition("/")[0]
        while d:
            if d in have_gomod:
                return True
            d = d.rpartition("/")[0]
        return False

    valid: list[_File] = []
    collisions = _Collisions()
    room = MAX_ZIP_FILE
    size_error = False
    for f in files:
        p = f.path
        if p != _clean(p):
            bad(p, "file path is not clean")
            continue
        if p.startswith("/"):
            bad(p, "file path is not relative")
            continue
        if _is_vendored(p, go_1_24) or in_submodule(p) or p == ".hg_archival.txt":
            omit(p)
            continue
        try:
            check_file_path(p)
        except InvalidModuleError as e:
            bad(p, e.message)
            continue
        if p.lower() == "go.mod" and p != "go.mod":
            bad(p, "go.mod files must have lowercase names")
            continue
        problem = collisions.check(p, f.is_dir)
        if problem:
            bad(p, problem)
            continue
        if f.is_symlink or not f.is_regular:
            omit(p)
            continue
        if 0 <= f.size <= room:
            room -= f.size
        elif not size_error:
            size_error = True
            invalid.append(
                FileViolation(
                    "", f"module source tree too large (max size is {MAX_ZIP_FILE} bytes)"
                )
            )
        if p == "go.mod" and f.size > MAX_GO_MOD:
            bad(p, f"go.mod file too large (max size is {MAX_GO_MOD} bytes)")
            continue
        if p == "LICENSE" and f.size > MAX_LICENSE:
            bad(p, f"LICENSE file too large (max size is {MAX_LICENSE} bytes)")
            continue
        valid.append(f)
    return valid, invalid


def _list_dir(root: Path) -> list[_File]:
    """x/mod/zip listFilesInDir: a lexical walk without VCS dirs, nested modules, vendored pkgs."""
    gomod = root / "go.mod"
    go_1_24 = _go_lang_at_least_1_24(gomod.read_bytes() if gomod.is_file() else None)
    out: list[_File] = []

    def walk(directory: Path, rel: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            slash = f"{rel}/{entry.name}" if rel else entry.name
            if _is_vendored(slash, go_1_24):
                continue
            st = entry.stat(follow_symlinks=False)
            full = Path(entry.path)
            if stat.S_ISDIR(st.st_mode):
                if entry.name in _VCS_DIRS:
                    continue
                try:
                    sub_gomod = os.lstat(full / "go.mod")
                except OSError:
                    sub_gomod = None
                if sub_gomod is not None and not stat.S_ISDIR(sub_gomod.st_mode):
                    continue  # a nested module: its files are not ours
                walk(full, slash)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            out.append(_File(slash, False, False, True, st.st_size, full.read_bytes))

    walk(root, "")
    return out


def _write_zip(module_path: str, version: str, files: list[_File]) -> bytes:
    prefix = f"{module_path}@{version}/"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            # Timestamps and permissions are ignored by the go command; fixed values keep
            # the bytes reproducible.
            info = zipfile.ZipInfo(prefix + f.path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, f.read())
    return buf.getvalue()


def _create(module_path: str, version: str, files: list[_File]) -> bytes:
    problems = _check_identity(module_path, version)
    if problems:
        raise ZipViolation(module_path, version, problems)
    valid, invalid = _check_files(files)
    if invalid:
        raise ZipViolation(module_path, version, invalid)
    return _write_zip(module_path, version, valid)


def create_zip(module_path: str, version: str, src_dir: Path | str) -> bytes:
    """The module zip the go command would make of `src_dir` (x/mod/zip CreateFromDir).

    Leaves out VCS directories, nested modules, vendored packages, symlinks and irregular
    files; raises ZipViolation listing every file that cannot go into a module zip.
    """
    return _create(module_path, version, _list_dir(Path(src_dir)))


def create_zip_from_files(module_path: str, version: str, files: Mapping[str, bytes]) -> bytes:
    """The module zip of in-memory files ({"rel/path": data}) by the same rules (x/mod Create)."""

    def reader(data: bytes) -> Callable[[], bytes]:
        return lambda: data

    listed = [_File(name, False, False, True, len(d), reader(d)) for name, d in files.items()]
    return _create(module_path, version, listed)


def _open_zip(zip_data: bytes | Path) -> tuple[zipfile.ZipFile, int]:
    # Names without the UTF-8 flag are read as UTF-8, as Go's archive/zip does (raw bytes),
    # not as cp437: a non-UTF-8 name then fails here (UnicodeDecodeError) as it fails in Go.
    if isinstance(zip_data, bytes):
        return zipfile.ZipFile(io.BytesIO(zip_data), metadata_encoding="utf-8"), len(zip_data)
    return zipfile.ZipFile(zip_data, metadata_encoding="utf-8"), zip_data.stat().st_size


def _entry_kind_problem(info: zipfile.ZipInfo) -> str | None:
    if info.flag_bits & 0x1:
        # Go's archive/zip cannot decrypt, and zipfile refuses without a password: no module
        # zip is encrypted (found by the fuzzer: RuntimeError escaped check_zip).
        return "encrypted"
    # Unix-made zips keep the file type in the high bits of external_attr; x/mod/zip ignores
    # them, but a symlink or device entry in a module zip is an attack, not a file.
    if info.create_system != 3:
        return None
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == 0 or stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "symbolic link" if stat.S_ISLNK(mode) else "not a regular file"


def _read_exact(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """Read one entry; a problem if its data disagree with its declared size or CRC."""
    try:
        with z.open(info) as f:
            got = 0
            while chunk := f.read(1 << 20):
                got += len(chunk)
                if got > info.file_size:
                    return f"uncompressed size is larger than declared ({info.file_size} bytes)"
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        NotImplementedError,
        ValueError,  # a header offset pointing outside the file
        RuntimeError,  # an encryption flag only in the local header
        zlib.error,  # corrupt deflate data (zipfile lets it through)
    ) as e:
        return f"cannot read: {e}"
    if got != info.file_size:
        return f"uncompressed size {got} differs from declared {info.file_size} bytes"
    if info.compress_type == zipfile.ZIP_DEFLATED:
        # zipfile stops at the declared size, so a bomb declared small reads as fine; Go's
        # reader fails on the extra bytes, so the zip would be unusable (and is hostile).
        return _inflates_past(z, info)
    return None


def _inflates_past(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """A problem if the entry's data cannot be found, or its deflate stream holds more than
    its declared size (bounded work: at most declared + 1 bytes are inflated)."""
    fp = z.fp
    assert fp is not None
    try:
        fp.seek(info.header_offset)
        name_len, extra_len = struct.unpack("<HH", fp.read(30)[26:30])
        fp.seek(info.header_offset + 30 + name_len + extra_len)
    except (ValueError, OSError, struct.error) as e:
        return f"cannot read: local header at offset {info.header_offset}: {e}"
    if info.compress_type != zipfile.ZIP_DEFLATED:
        return None  # stored: zipfile reads exactly the declared size, and checks the CRC
    too_large = f"uncompressed size is larger than declared ({info.file_size} bytes)"
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, room = info.compress_size, info.file_size + 1
    pending = b""
    try:
        while room > 0 and not inflater.eof:
            if not pending:
                if left <= 0:
                    return None
                pending = fp.read(min(left, 1 << 16))
                if not pending:
                    return None
                left -= len(pending)
            room -= len(inflater.decompress(pending, room))
            pending = inflater.unconsumed_tail
    except zlib.error as e:
        return f"cannot read: corrupt deflate data: {e}"
    return too_large if room <= 0 else None


def check_zip(
    zip_data: bytes | Path,
    module_path: str,
    version: str,
    *,
    read_contents: bool = True,
    inflate: bool = True,
) -> ZipInfo:
    """Check a module zip against every x/mod/zip rule (and no symlinks); ZipViolation lists all.

    Rules: canonical version matching the path's major version; every entry under
    "<path>@<version>/"; clean, valid file paths; no case-insensitive collisions or duplicates;
    go.mod only at the root and lower-case; zip and uncompressed total ≤ 500 MiB; go.mod and
    LICENSE ≤ 16 MiB; no symlinks or irregular files; no deflate stream longer than its declared
    size (always inflated, at most declared + 1 bytes). `read_contents` also decompresses every
    file to prove its declared size and CRC (what the go command's Unzip enforces).
    `inflate=False` (with `read_contents=False`) leaves the contents alone entirely: for a
    caller that inflates every entry next, bounded by its declared size (dirhash.hash_zip).
    """
    problems = _check_identity(module_path, version)
    if problems:
        raise ZipViolation(module_path, version, problems)
    try:
        z, zip_size = _open_zip(zip_data)
    except UnicodeDecodeError as e:  # before ValueError, its base class
        bad = FileViolation(repr(e.object[:120]), "file name is not valid UTF-8")
        raise ZipViolation(module_path, version, [bad]) from e
    # NotImplementedError: a "zip version" zipfile does not know (found by the fuzzer)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as e:
        raise ZipViolation(module_path, version, [FileViolation("", f"not a zip file: {e}")]) from e
    if zip_size > MAX_ZIP_FILE:
        z.close()
        raise ZipViolation(
            module_path,
            version,
            [
                FileViolation(
                    "",
                    f"module zip file is too large ({zip_size} bytes; "
                    f"limit is {MAX_ZIP_FILE} bytes)",
                )
            ],
        )
    prefix = f"{module_path}@{version}/"
    violations: list[FileViolation] = []
    files: list[str] = []
    collisions = _Collisions()
    total = 0
    size_error = False
    with z:
        entries = tuple(z.infolist())
        for info in entries:
            name = info.filename
            if not name.startswith(prefix):
                violations.append(
                    FileViolation(name, f"path does not have prefix {go_quote(prefix)}")
                )
                continue
            rel = name[len(prefix) :]
            if rel == "":
                continue
            is_dir = rel.endswith("/")
            if is_dir:
                rel = rel[:-1]
            if _clean(rel) != rel:
                violations.append(FileViolation(name, "file path is not clean"))
                continue
            try:
                check_file_path(rel)
            except InvalidModuleError as e:
                violations.append(FileViolation(name, e.message))
                continue
            problem = collisions.check(rel, is_dir)
            if problem:
                violations.append(FileViolation(name, problem))
                continue
            if is_dir:
                continue
            kind_problem = _entry_kind_problem(info)
            if kind_problem:
                violations.append(FileViolation(name, kind_problem))
                continue
            base = rel.rpartition("/")[2]
            if base.lower() == "go.mod":
                if base != rel:
                    violations.append(
                        FileViolation(name, "go.mod file not in module root directory")
                    )
                    continue
                if rel != "go.mod":
                    violations.append(FileViolation(name, "go.mod files must have lowercase names"))
                    continue
            size = info.file_size
            if MAX_ZIP_FILE - total >= size:
                total += size
            elif not size_error:
                size_error = True
                violations.append(
                    FileViolation(
                        "",
                        "total uncompressed size of module contents too large "
                        f"(max size is {MAX_ZIP_FILE} bytes)",
                    )
                )
            if rel == "go.mod" and size > MAX_GO_MOD:
                violations.append(
                    FileViolation(name, f"go.mod file too large (max size is {MAX_GO_MOD} bytes)")
                )
                continue
            if rel == "LICENSE" and size > MAX_LICENSE:
                violations.append(
                    FileViolation(name, f"LICENSE file too large (max size is {MAX_LICENSE} bytes)")
                )
                continue
            if read_contents and not size_error:
                read_problem = _read_exact(z, info)
                if read_problem:
                    violations.append(FileViolation(name, read_problem))
                    continue
            # Even without reading contents (a caller hashes them next, and zipfile stops at
            # the declared size), a stream inflating past it is a bomb: find it here.
            elif inflate and not size_error and (problem := _inflates_past(z, info)):
                violations.append(FileViolation(name, problem))
                continue
            files.append(rel)
    if violations:
        raise ZipViolation(module_path, version, violations)
    return ZipInfo(module_path, version, tuple(files), total, zip_size, entries)


def read_zip_files(
    zip_data: bytes | Path,
    module_path: str,
    version: str,
    *,
    select: Callable[[str], bool] | None = None,
    max_size: int = MAX_LICENSE,
) -> dict[str, bytes]:
    """The files of a module zip, keyed by path relative to the module root.

    `select(rel_path)` picks which to read (e.g. license files); files declared larger than
    `max_size` are skipped so a hostile zip cannot exhaust memory. Entries outside the
    "<path>@<version>/" prefix and directories are ignored: run check_zip first to reject them.
    """
    prefix = f"{module_path}@{version}/"
    out: dict[str, bytes] = {}
    try:
        z, _size = _open_zip(zip_data)
        with z:
            for info in z.infolist():
                name = info.filename
                if not name.startswith(prefix) or name.endswith("/"):
                    continue
                rel = name[len(prefix) :]
                if select is not None and not select(rel):
                    continue
                if info.file_size > max_size:
                    continue
                out[rel] = z.read(info)
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        UnicodeDecodeError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as e:
        raise InputError(
            f"cannot read the module zip: {e}", module=module_path, version=version
        ) from e
    return out
