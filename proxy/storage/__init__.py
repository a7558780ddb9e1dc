"""The vault's storage interface: immutable blobs keyed by (module, version, kind)."""

from __future__ import annotations

import abc
import contextlib
import enum
import functools
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from scanner.errors import NotFoundError
from scanner.module import escape_path, escape_version


class Kind(enum.Enum):
    """The three artifacts a GOPROXY serves for one module version; the value is the suffix."""

    INFO = "info"
    MOD = "mod"
    ZIP = "zip"


def blob_name(module: str, version: str, kind: Kind) -> str:
    """`<escaped module>/@v/<escaped version>.<kind>`, a blob's name in the GOPROXY layout
    that the backends and bundles use; raises InvalidModuleError for an invalid key."""
    return f"{version_dir(module, version)}.{kind.value}"


@functools.lru_cache(maxsize=4096)
def version_dir(module: str, version: str) -> str:
    """`<escaped module>/@v/<escaped version>`: blob_name without the kind's suffix.
    Remembered: escaping validates the path (slow), and each version is named many times."""
    return f"{escape_path(module)}/@v/{escape_version(version)}"


class BlobNotFoundError(NotFoundError):
    """`get` of a key that is not stored."""


class Storage(abc.ABC):
    """A blob store for the vault; every backend passes tests/proxy/test_storage_contract.py.

    Contract:
    - A key is `(module, version, kind)`: `module` is the module path as Go spells it (not
      case-escaped; backends escape it themselves), `version` a canonical version, `kind` a Kind.
    - `put` is atomic: a reader sees either no blob or all of its bytes, never a partial one,
      even if the process dies mid-write or another writer races it.
    - Blobs are immutable: `put` of a stored key with the same bytes is a no-op returning False;
      with different bytes it raises `proxy.errors.ImmutabilityError` and the stored bytes stay.
      `put` returns True when it stored new bytes.
    - `get` returns the bytes or raises `BlobNotFoundError`; `exists` is False for a missing key.
    - `list(module, kind)` returns the versions of `module` that have a blob of `kind`, in no
      particular order; an unknown module gives []. `modules()` yields every stored module path.
    - `delete` removes one blob and returns whether it existed. Only operator commands call it;
      the gateway never deletes.
    - `open_blob` reads a blob in chunks of at most `chunk` bytes (a `BlobStream`); a backend
      that can streams it, so serving a large .zip needs no more memory than one chunk.
    - `local_path` may return a local file holding the blob (for zero-copy sending) or None;
      `redirect_url` may return a URL serving the blob (presigned object-store URL) or None.
    - `check` raises `proxy.errors.StorageError` when the store cannot serve (readiness).
    - `claim(module, version)` claims the ingest of a version among the processes sharing the
      store: a release function, or None while another process holds the claim. It only saves
      duplicate upstream fetches (a second identical put is a no-op), so a backend without a
      cheap shared lock grants every claim (`claims` False: nothing to look at again after).
    - `batch()` gives a `Batch`: many versions put with the same rules, published together
      by `commit` (for imports); nothing added to it is visible before `commit`.
    - Methods block; async callers run them in a worker pool. Instances are thread-safe.
      Where `local` is True, blobs are local files (`local_path` gives them) and `exists` is
      a stat, quick enough to call on the event loop (a trip to the pool costs more).
    """

    local: bool = False
    claims: bool = False

    @abc.abstractmethod
    def get(self, module: str, version: str, kind: Kind) -> bytes: ...

    @abc.abstractmethod
    def put(self, module: str, version: str, kind: Kind, data: bytes | Path) -> bool: ...

    def put_version(
        self, module: str, version: str, blobs: Sequence[tuple[Kind, bytes | Path]]
    ) -> list[bool]:
        """`put` each blob of one version, visible in the given order (ingest puts .info last:
        it marks the version stored). A backend may make this faster than separate puts."""
        return [self.put(module, version, kind, data) for kind, data in blobs]

    @abc.abstractmethod
    def exists(self, module: str, version: str, kind: Kind) -> bool: ...

    @abc.abstractmethod
    def list(self, module: str, kind: Kind = Kind.INFO) -> list[str]: ...

    @abc.abstractmethod
    def delete(self, module: str, version: str, kind: Kind) -> bool: ...

    @abc.abstractmethod
    def modules(self) -> Iterator[str]: ...

    def local_path(self, module: str, version: str, kind: Kind) -> Path | None:
        return None

    def open_blob(self, module: str, version: str, kind: Kind, chunk: int = 1 << 20) -> BlobStream:
        """The blob as a `BlobStream` (this one holds the bytes; backends override to stream)."""
        data = self.get(module, version, kind)
        tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        return BlobStream(
            len(data), tag, (data[i : i + chunk] for i in range(0, len(data), chunk)), _nothing
        )

    def redirect_url(self, module: str, version: str, kind: Kind) -> str | None:
        """A URL the client may GET the stored blob from (a presigned object-store URL), or None.

        The gateway answers a .zip request with a 302 to it when there is no `local_path`;
        the go command follows it (checklist item 14).
        """
        return None

    def check(self) -> None:
        return None

    def claim(self, module: str, version: str) -> Callable[[], None] | None:
        """Granted at once: this backend has no claims (see the contract)."""
        return _nothing

    def batch(self) -> Batch:
        """A `Batch` on this store; a backend may stage the blobs as they are added."""
        return Batch(self)


Blobs = Sequence[tuple[Kind, bytes | Path]]


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class BlobStream:
    """A stored blob read piece by piece: `size` bytes, `etag` a strong HTTP entity tag
    (quoted) for them, `chunks` yielding them in order (each at most the chunk size asked
    for). Call `close` when stopping early (the client went away); a finished stream is closed.
    `chunks` blocks (network or disk): async callers take each chunk in a worker.
    """

    size: int
    etag: str
    chunks: Iterator[bytes]
    close: Callable[[], None]


class Batch:
    """Module versions put together: `add` them (nothing is visible yet), then `commit`.

    `commit` publishes every blob with `put`'s rules (each version's blobs in the given order,
    so a version's .info, added last, marks it complete) and returns once they are all stored,
    durably where the backend is durable; it returns `put`'s flags per version, in `add` order.
    When any put fails, the blobs this commit had stored are deleted again (.info first) before
    the error is raised, so a batch lands whole or not at all -- short of the process dying
    mid-commit, which leaves whole versions (or versions without .info) and no partial blob.
    Leaving the `with` block without committing drops what was staged.

    This one keeps the versions until `commit` and puts them then, `workers` versions at once
    (each put is a round trip to an object store).
    """

    def __init__(self, storage: Storage, workers: int = 16) -> None:
        self.storage = storage
        self.workers = workers
        self._versions: list[tuple[str, str, Blobs]] = []

    def add(self, module: str, version: str, blobs: Blobs) -> None:
        self._versions.append((module, version, list(blobs)))

    def unstored(self) -> AbstractSet[tuple[str, str]]:
        """Added versions of which the storage held nothing when they were added (a
        filesystem batch made their directory): checking those for stored bytes is wasted.
        This one knows of none."""
        return frozenset()

    def commit(self, progress: Callable[[int, int], None] | None = None) -> list[list[bool]]:
        landed: list[tuple[str, str, Kind]] = []
        lock = threading.Lock()

        def put(item: tuple[str, str, Blobs]) -> list[bool]:
            module, version, blobs = item
            flags = []
            for kind, data in blobs:
                flags.append(self.storage.put(module, version, kind, data))
                if flags[-1]:
                    with lock:
                        landed.append((module, version, kind))
            return flags

        out: list[list[bool]] = []
        try:
            with ThreadPoolExecutor(self.workers) as pool:
                for flags in pool.map(put, self._versions):
                    out.append(flags)
                    if progress:
                        progress(len(out), len(self._versions))
        except BaseException:
            # .info first: a reader never sees a version marked stored while it is going away.
            order = {Kind.INFO: 0, Kind.MOD: 1, Kind.ZIP: 2}
            for module, version, kind in sorted(landed, key=lambda k: order[k[2]]):
                with contextlib.suppress(Exception):
                    self.storage.delete(module, version, kind)
            raise
        finally:
            self._versions = []
        return out

    def discard(self) -> None:
        self._versions = []

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def open_storage(spec: str) -> Storage:
    """Open the backend named by `--storage`: a directory path, `file://` URL or `s3://` URL."""
    from .fs import FsStorage

    if spec.startswith("s3://"):
        from .s3 import S3Storage

        return S3Storage.from_spec(spec)

    if spec.startswith("file://"):
        spec = spec.removeprefix("file://")
    return FsStorage(Path(spec))
