"""The vault's storage interface: immutable blobs keyed by (module, version, kind)."""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Sequence
from pathlib import Path

from scanner.errors import NotFoundError


class Kind(enum.Enum):
    """The three artifacts a GOPROXY serves for one module version; the value is the suffix."""

    INFO = "info"
    MOD = "mod"
    ZIP = "zip"


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
    - `local_path` may return a local file holding the blob (for zero-copy sending) or None;
      `redirect_url` may return a URL serving the blob (presigned object-store URL) or None.
    - `check` raises `proxy.errors.StorageError` when the store cannot serve (readiness).
    - Methods block; async callers run them in a worker pool. Instances are thread-safe.
    """

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

    def redirect_url(self, module: str, version: str, kind: Kind) -> str | None:
        """A URL the client may GET the stored blob from (a presigned object-store URL), or None.

        The gateway answers a .zip request with a 302 to it when there is no `local_path`;
        the go command follows it (checklist item 14).
        """
        return None

    def check(self) -> None:
        return None


def open_storage(spec: str) -> Storage:
    """Open the backend named by `--storage`: a directory path, `file://` URL or `s3://` URL."""
    from .fs import FsStorage

    if spec.startswith("s3://"):
        from .s3 import S3Storage

        return S3Storage.from_spec(spec)

    if spec.startswith("file://"):
        spec = spec.removeprefix("file://")
    return FsStorage(Path(spec))
