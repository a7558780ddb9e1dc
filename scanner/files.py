"""How the tools write their documents: every one or none, never renamed over a link or device."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import OperationalError


def written_in_place(path: Path) -> bool:
    """Whether `path` is there and is neither a regular file nor a directory (a device, a pipe):
    an output written there whole, never through a temporary file renamed over it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@dataclass(frozen=True, slots=True)
class Document:
    """One document to write: its text, where (None: standard output), what it is (for errors)."""

    text: str
    path: Path | None = None
    what: str = "the report"


def is_stdout(path: Path) -> bool:
    """Whether `path` is this process's standard output by another name: /dev/stdout, or the
    file stdout is redirected to. Written there, it goes through the stream, in order."""
    try:
        st, out = path.stat(), os.fstat(1)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino)


def write_documents(documents: Sequence[Document]) -> None:
    """Write every document, or none when one cannot be written.

    Files are written to temporaries beside their targets (missing directories made) before
    any is renamed into place, so a failure leaves every target as it was and removes what it
    made. A link is followed and the file it names replaced: renaming over /dev/stdout would
    replace the link itself (as root, the whole container's). Devices, pipes and standard
    output cannot be staged; they are written last, once every file is in place.
    """
    staged: list[_Staged] = []
    streams: list[tuple[Document, bool]] = []  # and whether it is standard output
    try:
        for doc in documents:
            if doc.path is None or is_stdout(doc.path):
                streams.append((doc, True))
            elif _in_place(doc.path):
                streams.append((doc, False))
            else:
                staged.append(_stage(doc))
        for s in staged:
            s.commit()
    except BaseException:
        for s in reversed(staged):
            s.discard()
        raise
    for doc, to_stdout in streams:
        if to_stdout:
            sys.stdout.write(doc.text)
            sys.stdout.flush()
        else:
            _write_in_place(doc)


def _in_place(path: Path) -> bool:
    """A device or pipe, or a name that cannot be resolved to the file it opens (a
    /proc/self/fd link to a deleted file): written through the name itself."""
    if written_in_place(path):
        return True
    try:
        st = path.stat()
    except OSError:
        return False
    try:
        real = Path(os.path.realpath(path)).stat()
    except OSError:
        return True
    return (st.st_dev, st.st_ino) != (real.st_dev, real.st_ino)


def _write_in_place(doc: Document) -> None:
    assert doc.path is not None
    try:
        with doc.path.open("w", encoding="utf-8") as f:
            f.write(doc.text)
    except OSError as e:
        raise OperationalError(f"cannot write {doc.what}: {e.strerror}", path=str(doc.path)) from e


class _Staged:
    """A document written to a temporary file beside the file it will replace."""

    def __init__(self, doc: Document, target: Path) -> None:
        self.doc = doc
        self.target = target
        self.tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        self.made: list[Path] = []  # directories made for it, outermost first
        self.committed = False

    def write(self) -> None:
        for parent in reversed(self.target.parents):
            if not parent.is_dir():
                parent.mkdir()  # a file in the way raises FileExistsError
                self.made.append(parent)
        if self.target.is_dir():  # found now, not when renaming after others were replaced
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self.target))
        self.tmp.write_text(self.doc.text, encoding="utf-8")

    def commit(self) -> None:
        try:
            self.tmp.replace(self.target)
        except OSError as e:
            raise self.error(e) from e
        self.committed = True

    def discard(self) -> None:
        """Remove what staging made; a committed document stays (it was written whole)."""
        if not self.committed:
            with contextlib.suppress(OSError):
                self.tmp.unlink(missing_ok=True)
            for made in reversed(self.made):
                with contextlib.suppress(OSError):
                    made.rmdir()

    def error(self, e: OSError) -> OperationalError:
        where = str(self.doc.path)
        blocking = _file_in_the_way(self.target)
        if blocking is not None:
            return OperationalError(
                f"cannot write {self.doc.what}: {blocking} is a file, not a directory",
                path=where,
                hint="choose another output path",
            )
        return OperationalError(f"cannot write {self.doc.what}: {e.strerror}", path=where)


def _stage(doc: Document) -> _Staged:
    """The document in a temporary file beside its target: the file the path names, through
    any links (a dangling one names the file to make)."""
    assert doc.path is not None
    target = Path(os.path.realpath(doc.path)) if doc.path.is_symlink() else doc.path
    staged = _Staged(doc, target)
    try:
        staged.write()
    except OSError as e:
        staged.discard()
        raise staged.error(e) from e
    return staged


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing parent of path when it is not a directory (mkdir cannot pass it)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None
