"""Scratch directories and temporary files that a killed process does not leave behind.

A server killed in the middle of an ingest or an import (SIGKILL after a drain timeout, the OOM
killer, a crash) cannot remove its half-written files: up to 500 MiB of zip each, for ever. So
each process keeps its files in a directory of its own that carries a lock (ScratchDir), or
writes a file whole under a locked temporary name beside it (TempBeside), and whoever comes
next removes those whose lock nobody holds any more.

The lock is an flock(2) on `<dir>/.owner`, held on a descriptor that stays open for the life of
the directory; the kernel drops it when the process dies, however it dies. flock and not lockf:
it belongs to the open descriptor, so a process holding one directory cannot take the lock of
another of its own by mistake (POSIX record locks are per process; where flock is emulated with
them, on NFS, the directories this process made are skipped by name as well). A child forked
with the descriptor holds the lock too: the directory stays while either lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import multiprocessing.util
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

_OWNER = ".owner"
_mine: set[Path] = set()  # live directories made by this process


class ScratchDir:
    """A new private directory under `parent` (made if missing), named `prefix` + random.

    Directories with the same parent and prefix that belong to dead processes are removed
    first. `close()` removes this one; so does the interpreter's exit, and failing both, the
    next ScratchDir made beside it after this process is gone.
    """

    def __init__(self, parent: Path, prefix: str) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        sweep(parent, prefix)
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            fd = _locked(self.path / _OWNER, 0o600)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        _mine.add(self.path)
        self._finalize = weakref.finalize(self, _remove, self.path, fd, os.getpid())
        # A multiprocessing child (a granian worker) ends with os._exit after multiprocessing's
        # own exit hooks, so atexit, and with it weakref.finalize, never runs there: its
        # directory stayed after a clean stop. Run the same finalizer from those hooks too.
        multiprocessing.util.Finalize(self, self._finalize, exitpriority=0)

    def close(self) -> None:
        """Remove the directory and whatever is still in it."""
        self._finalize()

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove(path: Path, fd: int, pid: int) -> None:
    if os.getpid() != pid:  # a forked child exiting: the directory is its parent's
        return
    _mine.discard(path)
    shutil.rmtree(path, ignore_errors=True)
    os.close(fd)


def sweep(parent: Path, prefix: str) -> None:
    """Remove `parent/prefix*` directories whose owner lock is free (their process died)."""
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for path in candidates:
        if path not in _mine:
            _if_abandoned(path / _OWNER, functools.partial(shutil.rmtree, path, ignore_errors=True))


class TempBeside:
    """A new hidden file `.<name>.<pid>.tmp` beside `final`, to be written whole and renamed
    over `final` (os.replace); `close()` removes it if it is still there.

    It is locked (flock, on a descriptor of its own, so the lock outlives the writer's file
    object and the rename) until `close()`. Unlocked ones beside it, left by killed writers of
    the same file, are removed first: a killed `go-vault sync` leaves no stray bundle-sized file
    once the next one writes there.
    """

    def __init__(self, final: Path) -> None:
        prefix = f".{final.name}."
        for stale in final.parent.glob(f"{glob.escape(prefix)}*.tmp"):
            if stale.name[len(prefix) : -len(".tmp")].isdigit():
                _if_abandoned(stale, functools.partial(stale.unlink, missing_ok=True))
        self.path = final.with_name(f"{prefix}{os.getpid()}.tmp")
        self._fd = _locked(self.path, 0o666)

    def close(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def _locked(path: Path, mode: int) -> int:
    """A descriptor of a new file at `path`, flock'd before the file has that name: a sweeper
    never finds it unlocked. Where the filesystem has no locks it stays unlocked, and since
    no sweeper can lock it either, it is never taken for abandoned."""
    claim = path.with_name(path.name + ".new")
    fd = os.open(claim, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(claim, path)
    except BaseException:
        claim.unlink(missing_ok=True)
        os.close(fd)
        raise
    return fd


def _if_abandoned(lock: Path, remove: Callable[[], None]) -> None:
    """`remove()` while holding the flock of `lock`, if nobody else holds it (its process
    died); nothing if it is held, gone, or not ours to open (another user's; an older
    version's directory has no lock file at all)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held (its process lives), or no locks on this filesystem
        pass
    else:
        remove()
    finally:
        os.close(fd)
