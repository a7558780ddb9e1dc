"""The filesystem vault: a GOPROXY-shaped directory tree written atomically and never rewritten."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import filecmp
import functools
import hashlib
import itertools
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from scanner.errors import InvalidModuleError
from scanner.module import escape_path, unescape_path, unescape_version

from ..errors import ImmutabilityError, StorageError
from ..scratch import ScratchDir, sweep
from . import Batch, BlobNotFoundError, Blobs, BlobStream, Kind, Storage, blob_name, version_dir

security_log = logging.getLogger("go_vault.security")
log = logging.getLogger(__name__)

_TMP = ".tmp"
_STAGE = "stage-"  # <root>/.tmp/stage-*: a process's staged blobs (FsStorage._staging)
_CLAIMS = ".claims"  # one locked byte per version being ingested (FsStorage.claim)


def fsync_path(path: str | Path) -> None:
    """fsync(2) a file or directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsStorage(Storage):
    """Blobs at `<root>/<escaped module>/@v/<escaped version>.<kind>`.

    The layout is the one a `file://` GOPROXY uses, so a vault directory can be served by any
    static file server (the benchmark compares against nginx doing exactly that). Temporary files
    live in `<root>/.tmp` (same filesystem, so the final link is atomic; no module path starts
    with "."), in a directory per process that the next process removes if this one is killed
    (proxy/scratch.py).
    """

    local = True
    claims = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)  # for string paths where pathlib would cost more than the call
        self._tmp = root / _TMP
        # (pid, its directory, the directory's path)
        self._staging_dir: tuple[int, ScratchDir, str] | None = None
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._claims_file: tuple[int, int] | None = None  # (pid, fd): locks belong to a process
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            sweep(self._tmp, _STAGE)  # what killed processes left
        except OSError as e:
            raise StorageError(
                f"cannot create vault directory {root}: {e.strerror}",
                path=str(root),
                hint="check --storage and its permissions",
            ) from e

    def _path(self, module: str, version: str, kind: Kind) -> Path:
        return self.root / blob_name(module, version, kind)

    def get(self, module: str, version: str, kind: Kind) -> bytes:
        try:
            return self._path(module, version, kind).read_bytes()
        except FileNotFoundError as e:
            raise BlobNotFoundError(
                f"no .{kind.value} stored", module=module, version=version
            ) from e

    def exists(self, module: str, version: str, kind: Kind) -> bool:
        return os.path.isfile(f"{self._root}/{blob_name(module, version, kind)}")

    def local_path(self, module: str, version: str, kind: Kind) -> Path | None:
        path = self._path(module, version, kind)
        return path if path.is_file() else None

    def open_blob(self, module: str, version: str, kind: Kind, chunk: int = 1 << 20) -> BlobStream:
        try:
            f = self._path(module, version, kind).open("rb")
        except FileNotFoundError as e:
            raise BlobNotFoundError(
                f"no .{kind.value} stored", module=module, version=version
            ) from e
        st = os.fstat(f.fileno())

        def chunks() -> Iterator[bytes]:
            with f:
                while data := f.read(chunk):
                    yield data

        # The tag the gateway gives a file it sends (size and mtime; a blob never changes).
        return BlobStream(st.st_size, f'"{st.st_size:x}-{st.st_mtime_ns:x}"', chunks(), f.close)

    def put(self, module: str, version: str, kind: Kind, data: bytes | Path) -> bool:
        return self._put_all(module, version, [(kind, data)])[0]

    def put_version(
        self, module: str, version: str, blobs: Sequence[tuple[Kind, bytes | Path]]
    ) -> list[bool]:
        """Each written and fsynced, then moved in in the given order, then one directory
        fsync."""
        return self._put_all(module, version, blobs)

    def _put_all(
        self, module: str, version: str, blobs: Sequence[tuple[Kind, bytes | Path]]
    ) -> list[bool]:
        finals = [self._path(module, version, kind) for kind, _ in blobs]
        staged: list[str | None] = []
        try:
            finals[0].parent.mkdir(parents=True, exist_ok=True)
            for (kind, data), final in zip(blobs, finals, strict=True):
                # Each fsync'd before it is closed, here: handing the fsyncs to other threads
                # cost more than it saved (bench/bench_proxy.py, cold go mod download).
                staged.append(None if final.is_file() else self._stage(kind, data, fsync=True))
            stored = [
                self._publish(module, version, kind, data, final, tmp)
                for (kind, data), final, tmp in zip(blobs, finals, staged, strict=True)
            ]
            if any(stored):
                fsync_path(finals[0].parent)
            return stored
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # the gateway answers 507 with Retry-After
            # A vault directory made read-only or immutable, a file in the way: an operator's
            # problem, said as one (it was a traceback and "internal error").
            raise StorageError(
                f"cannot write to the vault at {e.filename or finals[0].parent}: {e.strerror}",
                module=module,
                version=version,
                hint="check the vault directory's permissions, attributes and free space",
            ) from e
        finally:
            _unlink_all(staged)

    def batch(self) -> Batch:
        return FsBatch(self)

    def _staging(self) -> str:
        """This process's directory in .tmp (made on first use; a forked child makes its own)."""
        staging = self._staging_dir
        if staging is None or staging[0] != os.getpid():
            with self._lock:
                staging = self._staging_dir
                if staging is None or staging[0] != os.getpid():
                    made = ScratchDir(self._tmp, _STAGE)
                    staging = self._staging_dir = (os.getpid(), made, str(made.path))
        return staging[2]

    def _stage(self, kind: Kind, data: bytes | Path, *, fsync: bool = False) -> str:
        """`data` in a new read-only file in .tmp (fsync'd on request, before it is closed).
        Paths are strings here and in FsBatch: an import stages a thousand files, and pathlib
        took as long as writing them."""
        while True:
            tmp = f"{self._staging()}/{kind.value}-{next(self._names)}"
            with contextlib.suppress(FileExistsError):
                _write_new(tmp, data, fsync=fsync)
                return tmp

    def _stage_dir(self) -> str:
        """A new directory in .tmp (FsBatch stages a new `@v` in it)."""
        while True:
            tmp = f"{self._staging()}/v-{next(self._names)}"
            with contextlib.suppress(FileExistsError):
                os.mkdir(tmp)
                return tmp

    def _publish(
        self,
        module: str,
        version: str,
        kind: Kind,
        data: bytes | Path,
        final: str | Path,
        tmp: str | None,
    ) -> bool:
        if tmp is None:
            return self._same_or_refuse(final, module, version, kind, data)
        try:
            _move_new(tmp, final)
        except FileExistsError:
            return self._same_or_refuse(final, module, version, kind, data)
        return True

    def _same_or_refuse(
        self, final: str | Path, module: str, version: str, kind: Kind, data: bytes | Path
    ) -> bool:
        try:
            same = (
                Path(final).read_bytes() == data
                if isinstance(data, bytes)
                else filecmp.cmp(final, data, shallow=False)
            )
        except OSError as e:  # a directory, say, where the blob belongs
            raise StorageError(
                f"cannot compare with what the vault holds for this .{kind.value}: {e.strerror}",
                path=str(final),
                module=module,
                version=version,
                hint="look at that path in the vault; it is not a blob this proxy wrote",
            ) from e
        if same:
            return False
        security_log.warning(
            "refused to overwrite %s@%s .%s with different bytes", module, version, kind.value
        )
        raise ImmutabilityError(
            f"refused: the vault already holds a different .{kind.value} for this version",
            module=module,
            version=version,
            hint="stored bytes are never replaced; an upstream that changed them is suspect",
        )

    def list(self, module: str, kind: Kind = Kind.INFO) -> list[str]:
        directory = self.root / escape_path(module) / "@v"
        suffix = f".{kind.value}"
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as e:  # a file where the module's directory belongs, say
            raise StorageError(
                f"cannot read the vault at {directory}: {e.strerror}",
                module=module,
                hint="look at that path in the vault; it is not a directory this proxy wrote",
            ) from e
        versions = []
        for name in names:
            if name.endswith(suffix):
                with contextlib.suppress(InvalidModuleError):
                    versions.append(unescape_version(name.removesuffix(suffix)))
        return versions

    def delete(self, module: str, version: str, kind: Kind) -> bool:
        try:
            self._path(module, version, kind).unlink()
        except FileNotFoundError:
            return False
        return True

    def modules(self) -> Iterator[str]:
        for dirpath, dirnames, _ in os.walk(self.root):
            if dirpath == str(self.root):
                dirnames[:] = sorted(d for d in dirnames if d != _TMP)
            else:
                dirnames.sort()
            if "@v" in dirnames:
                dirnames.remove("@v")
                # An empty @v (a batch staging into it, or every blob deleted) stores nothing.
                with os.scandir(os.path.join(dirpath, "@v")) as entries:
                    if not any(entries):
                        continue
                rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
                with contextlib.suppress(InvalidModuleError):
                    yield unescape_path(rel)

    def claim(self, module: str, version: str) -> Callable[[], None] | None:
        """A POSIX record lock on one byte of `<root>/.claims`, at an offset hashed from the
        version: the server processes sharing this vault (granian's --workers, or replicas on
        one volume) fetch each version once. The kernel drops a process's locks when it exits,
        killed or not, so no claim outlives its holder. Where the filesystem has no locks,
        every claim is granted."""
        name = f"{module}@{version}".encode()
        at = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big") >> 2
        fd = self._claims_fd()
        if fd is None:
            return _granted
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, at)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                return None  # another process holds it
            log.warning("no ingest claims in %s: %s", self.root, e.strerror)
            self._claims_file = (os.getpid(), -1)
            return _granted
        return functools.partial(fcntl.lockf, fd, fcntl.LOCK_UN, 1, at)

    def _claims_fd(self) -> int | None:
        """This process's descriptor of .claims, opened once and never closed (closing any
        descriptor of a file drops all of the process's locks on it); None: no claims here."""
        with self._lock:
            if self._claims_file is None or self._claims_file[0] != os.getpid():
                try:
                    fd = os.open(self.root / _CLAIMS, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                except OSError as e:  # a read-only vault, say: it ingests nothing anyway
                    log.warning("no ingest claims in %s: %s", self.root, e.strerror)
                    fd = -1
                self._claims_file = (os.getpid(), fd)
            fd = self._claims_file[1]
        return fd if fd >= 0 else None

    def check(self) -> None:
        try:
            fd, name = tempfile.mkstemp(dir=self._tmp, prefix="ready-")
            os.close(fd)
            os.unlink(name)
        except OSError as e:
            raise StorageError(
                f"vault directory {self.root} is not writable: {e.strerror}", path=str(self.root)
            ) from e


class FsBatch(Batch):
    """Blobs written into `.tmp` as they are added (no fsync yet); `commit` makes them all
    durable with one syncfs(2), moves them in, and makes the new names durable with a second.

    A module whose `@v` does not exist yet gets it staged whole: its blobs are written into a
    directory in .tmp under their final names, which `commit` renames to the `@v` (one rename
    for all of them, and readers see the module's versions appear at once). Into an existing
    `@v` each blob is moved on its own (`_move_new`), and one already there is compared
    instead; so is each blob of a staged `@v` that another writer made in the meantime.

    Two syncs for the whole batch instead of one per blob: the fsyncs of 900 staged files took
    four times as long as writing them (bench/bench_bundle.py's fixture). syncfs also flushes
    what other writers have pending on the vault's filesystem; for an import that is a fair
    price. Without syncfs (not Linux) each file and changed directory is fsync'd instead.

    Module directories are made while staging; one without `@v` holds nothing, so readers see
    nothing new. Directories still empty when the batch ends (discarded, or rolled back) are
    removed again.
    """

    def __init__(self, storage: FsStorage) -> None:
        super().__init__(storage)
        self.fs = storage
        self._root = storage._root
        # (module, version, its blobs' path without the suffix, blobs, their staged files)
        self._staged: list[tuple[str, str, str, Blobs, list[str | None]]] = []
        self._groups: dict[str, str] = {}  # a new @v -> the directory in .tmp staging it
        self._group_finals: dict[str, list[str]] = {}  # a new @v -> its blobs' final paths
        self._made: list[str] = []  # directories made for staged blobs, parents first
        self._dirs = {self._root}  # directories known to exist
        self._unstored: set[tuple[str, str]] = set()

    def unstored(self) -> AbstractSet[tuple[str, str]]:
        return self._unstored

    def add(self, module: str, version: str, blobs: Blobs) -> None:
        blobs = list(blobs)
        base = f"{self._root}/{version_dir(module, version)}"
        at_v, _, stem = base.rpartition("/")
        group = self._groups.get(at_v)
        if group is None and at_v not in self._dirs:
            made = len(self._made)
            _makedirs(os.path.dirname(at_v), self._made, self._dirs)
            # In a module directory made just now there is no @v.
            if len(self._made) == made and os.path.lexists(at_v):
                self._dirs.add(at_v)
            else:
                group = self._groups[at_v] = self.fs._stage_dir()
                self._group_finals[at_v] = []
        staged: list[str | None] = []
        self._staged.append((module, version, base, blobs, staged))
        if group is not None:
            self._unstored.add((module, version))
            for kind, data in blobs:
                tmp = f"{group}/{stem}.{kind.value}"
                _write_new(tmp, data)
                staged.append(tmp)
                self._group_finals[at_v].append(f"{base}.{kind.value}")
            return
        for kind, data in blobs:
            # None: stored already, compared at commit.
            exists = os.path.isfile(f"{base}.{kind.value}")
            staged.append(None if exists else self.fs._stage(kind, data))

    def commit(self, progress: Callable[[int, int], None] | None = None) -> list[list[bool]]:
        linked: list[str] = []
        try:
            _sync_all(
                self.fs.root,
                [
                    *self._groups.values(),
                    *(tmp for *_, tmps in self._staged for tmp in tmps if tmp),
                ],
            )
            out: list[list[bool]] = []
            changed: set[str] = set()
            whole: set[str] = set()  # the @v directories renamed into place
            for at_v, group in list(self._groups.items()):
                if _move_dir(group, at_v):
                    whole.add(at_v)
                    del self._groups[at_v]  # nothing left of it in .tmp
                    linked += self._group_finals[at_v]
                    self._made.append(at_v)  # removed again if the commit fails
                else:  # its blobs are moved in one by one, below
                    _makedirs(at_v, self._made, self._dirs)
            for module, version, base, blobs, tmps in self._staged:
                finals = [f"{base}.{kind.value}" for kind, _ in blobs]
                if os.path.dirname(base) in whole:
                    flags = [True] * len(blobs)  # linked already
                else:
                    flags = [
                        self.fs._publish(module, version, kind, data, final, tmp)
                        for (kind, data), final, tmp in zip(blobs, finals, tmps, strict=True)
                    ]
                    linked += (f for f, stored in zip(finals, flags, strict=True) if stored)
                if any(flags):
                    changed.add(os.path.dirname(base))
                out.append(flags)
                if progress:
                    progress(len(out), len(self._staged))
            # A new directory's own entry lives in its parent: sync those too.
            changed.update(os.path.dirname(d) for d in self._made)
            if changed:
                _sync_all(self.fs.root, changed)
            self._made = []  # they hold the blobs now
            # What was moved in is gone from .tmp; the rest (linked, or not needed) is not.
            left = [
                tmp
                for (_, _, base, _, tmps), flags in zip(self._staged, out, strict=True)
                if os.path.dirname(base) not in whole
                for tmp, stored in zip(tmps, flags, strict=True)
                if tmp is not None and (not stored or _renameat2 is None)
            ]
            self._staged = []
            _unlink_all(left)
            return out
        except BaseException:
            _unlink_all(linked[::-1])  # .info went in last, so it goes first
            raise
        finally:
            self.discard()

    def discard(self) -> None:
        staged, self._staged = self._staged, []
        for *_, tmps in staged:
            _unlink_all(tmps)
        groups, self._groups, self._group_finals = self._groups, {}, {}
        for group in groups.values():
            with contextlib.suppress(OSError):
                os.rmdir(group)
        # Directories made for blobs that never went in (none after a commit that succeeded).
        made, self._made = self._made, []
        for d in reversed(made):
            with contextlib.suppress(OSError):  # not empty: something is stored there
                os.rmdir(d)


def _granted() -> None:
    return None


def _sync_all(root: Path, paths: Iterable[str | Path]) -> None:
    """`paths` (files or directories on `root`'s filesystem) durable: one syncfs(2) of that
    filesystem where there is one, else an fsync each."""
    if _syncfs is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if _syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"syncfs: {os.strerror(err)}", str(root))
        finally:
            os.close(fd)
        return
    for path in paths:
        fsync_path(path)


def _move_new(tmp: str, final: str | Path) -> None:
    """`tmp` given the name `final`, or FileExistsError when that name exists: two racing
    writers cannot replace each other's bytes. renameat2(RENAME_NOREPLACE) where the kernel
    and filesystem have it, else link(2) (the caller removes `tmp`). A rename deletes no
    inode: ext4 scans past recently deleted ones on every create for a while after, which made
    the next import or ingest several times slower."""
    global _renameat2
    if _renameat2 is not None:
        if (
            _renameat2(
                _AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(final), _RENAME_NOREPLACE
            )
            == 0
        ):
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(err, os.strerror(err), str(final))
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(final))
        _renameat2 = None  # this filesystem cannot; link from now on
    os.link(tmp, final)


def _move_dir(tmp: str, final: str) -> bool:
    """The directory `tmp` given the name `final` (renameat2 RENAME_NOREPLACE); False when
    that name exists, or the filesystem cannot (the caller moves what it holds one by one)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(final), _RENAME_NOREPLACE):
        err = ctypes.get_errno()
        if err in (errno.EEXIST, errno.ENOTEMPTY, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            return False
        raise OSError(err, os.strerror(err), final)
    return True


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _libc(name: str) -> Callable[..., int] | None:
    try:
        fn: Callable[..., int] = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    return fn


_renameat2 = _libc("renameat2")


_syncfs = _libc("syncfs")


def _write_new(path: str, data: bytes | Path, *, fsync: bool = False) -> None:
    """`data` in a new read-only file (created so at once, no chmod after; O_EXCL: the name is
    ours alone, FileExistsError if it is taken), fsync'd on request before it is closed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    try:
        # Bare os calls: each syscall lets go of the GIL and waits to get it back, so a
        # writer thread beside busy Python threads goes as fast as it makes few of them.
        if isinstance(data, bytes):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        else:
            with data.open("rb") as src:
                while chunk := src.read(1 << 20):
                    os.write(fd, chunk)  # a regular file takes all of it
        if fsync:
            os.fsync(fd)
    except BaseException:
        _unlink_all([path])
        raise
    finally:
        os.close(fd)


def _unlink_all(paths: Sequence[str | None]) -> None:
    for path in paths:
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _makedirs(path: str, made: list[str], known: set[str]) -> None:
    """mkdir -p, adding each directory it created to `made` (parents first) and every one it
    saw to `known` (not looked at again): one mkdir(2) per directory not known yet. (A file
    where a directory belongs fails the write into it.)"""
    if path in known:
        return
    parent = os.path.dirname(path)
    if parent != path:
        _makedirs(parent, made, known)
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    else:
        made.append(path)
    known.add(path)
