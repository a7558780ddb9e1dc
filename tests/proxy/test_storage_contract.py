"""The Storage contract (proxy/storage/__init__.py docstring), run against every backend.

To add a backend, add a name to BACKENDS and a branch to the `storage` fixture that builds it
(skipping when its server is not available); every test below then runs against it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from vaultlab import leftovers

from proxy.errors import ImmutabilityError
from proxy.storage import BlobNotFoundError, Kind, Storage, open_storage
from proxy.storage.fs import FsStorage

BACKENDS = ["fs", "s3"]


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "fs":
        yield open_storage(str(tmp_path / "vault"))
    elif request.param == "s3":
        yield open_storage(f"s3://{request.getfixturevalue('moto_server').new_bucket()}/vault")
    else:  # pragma: no cover - a backend listed without a fixture branch
        raise AssertionError(f"no fixture for backend {request.param}")


def test_put_then_get_returns_the_same_bytes(storage: Storage) -> None:
    assert storage.put("example.com/m", "v1.0.0", Kind.MOD, b"module example.com/m\n")
    assert storage.get("example.com/m", "v1.0.0", Kind.MOD) == b"module example.com/m\n"
    assert storage.exists("example.com/m", "v1.0.0", Kind.MOD)
    assert not storage.exists("example.com/m", "v1.0.0", Kind.ZIP)


def test_put_from_a_file(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "big.zip"
    src.write_bytes(bytes(range(256)) * 8192)
    assert storage.put("example.com/m", "v1.0.0", Kind.ZIP, src)
    assert storage.get("example.com/m", "v1.0.0", Kind.ZIP) == src.read_bytes()
    # The same bytes again (from a file or as bytes) are a no-op.
    assert not storage.put("example.com/m", "v1.0.0", Kind.ZIP, src)
    assert not storage.put("example.com/m", "v1.0.0", Kind.ZIP, src.read_bytes())


def test_missing_key(storage: Storage) -> None:
    with pytest.raises(BlobNotFoundError):
        storage.get("example.com/none", "v1.0.0", Kind.INFO)
    assert not storage.exists("example.com/none", "v1.0.0", Kind.INFO)
    assert storage.list("example.com/none") == []
    assert not storage.delete("example.com/none", "v1.0.0", Kind.INFO)


def test_different_bytes_are_refused_and_the_stored_bytes_stay(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    storage.put("example.com/m", "v1.0.0", Kind.ZIP, b"first")
    with pytest.raises(ImmutabilityError) as e:
        storage.put("example.com/m", "v1.0.0", Kind.ZIP, b"second")
    assert "example.com/m@v1.0.0" in str(e.value)
    assert storage.get("example.com/m", "v1.0.0", Kind.ZIP) == b"first"
    assert any(r.name == "go_vault.security" for r in caplog.records)


def test_keys_are_distinct_by_case_version_and_kind(storage: Storage) -> None:
    storage.put("example.com/Upper", "v1.0.0-RC1", Kind.INFO, b"A")
    storage.put("example.com/upper", "v1.0.0-rc1", Kind.INFO, b"B")
    storage.put("example.com/upper", "v1.0.0-rc1", Kind.MOD, b"C")
    assert storage.get("example.com/Upper", "v1.0.0-RC1", Kind.INFO) == b"A"
    assert storage.get("example.com/upper", "v1.0.0-rc1", Kind.INFO) == b"B"
    assert storage.list("example.com/Upper") == ["v1.0.0-RC1"]
    assert sorted(storage.modules()) == ["example.com/Upper", "example.com/upper"]


def test_list_by_kind_and_nested_modules(storage: Storage) -> None:
    storage.put("golang.org/x/tools", "v0.1.0", Kind.INFO, b"{}")
    storage.put("golang.org/x/tools", "v0.2.0", Kind.ZIP, b"zip")
    storage.put("golang.org/x/tools/gopls", "v0.3.0", Kind.INFO, b"{}")
    storage.put("example.com/m", "v2.0.0+incompatible", Kind.INFO, b"{}")
    assert storage.list("golang.org/x/tools") == ["v0.1.0"]
    assert storage.list("golang.org/x/tools", Kind.ZIP) == ["v0.2.0"]
    assert storage.list("example.com/m") == ["v2.0.0+incompatible"]
    assert sorted(storage.modules()) == [
        "example.com/m",
        "golang.org/x/tools",
        "golang.org/x/tools/gopls",
    ]


def test_delete_removes_one_blob(storage: Storage) -> None:
    storage.put("example.com/m", "v1.0.0", Kind.INFO, b"{}")
    storage.put("example.com/m", "v1.0.0", Kind.MOD, b"module example.com/m\n")
    assert storage.delete("example.com/m", "v1.0.0", Kind.INFO)
    assert not storage.exists("example.com/m", "v1.0.0", Kind.INFO)
    assert storage.exists("example.com/m", "v1.0.0", Kind.MOD)
    # After a delete (an operator's action) the key may be written again.
    assert storage.put("example.com/m", "v1.0.0", Kind.INFO, b'{"Version":"v1.0.0"}')


def test_racing_writers_of_different_bytes_never_mix(storage: Storage) -> None:
    """Atomic + immutable: with 8 threads putting different bytes, exactly one set survives."""
    payloads = [bytes([i]) * (1 << 18) for i in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            storage.put("example.com/race", "v1.0.0", Kind.ZIP, data)
        except ImmutabilityError as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = storage.get("example.com/race", "v1.0.0", Kind.ZIP)
    assert stored in payloads
    assert len(errors) == len(payloads) - 1


def test_local_path_when_offered_holds_the_bytes(storage: Storage) -> None:
    storage.put("example.com/m", "v1.0.0", Kind.ZIP, b"zipbytes")
    path = storage.local_path("example.com/m", "v1.0.0", Kind.ZIP)
    if path is not None:
        assert path.read_bytes() == b"zipbytes"
    assert storage.local_path("example.com/m", "v9.0.0", Kind.ZIP) is None


def test_open_blob_reads_in_bounded_chunks(storage: Storage) -> None:
    data = bytes(range(256)) * 4099  # ~1 MiB, not a multiple of the chunk
    storage.put("example.com/m", "v1.0.0", Kind.ZIP, data)
    stream = storage.open_blob("example.com/m", "v1.0.0", Kind.ZIP, chunk=1 << 16)
    parts = list(stream.chunks)
    assert b"".join(parts) == data
    assert stream.size == len(data)
    assert max(len(p) for p in parts) <= 1 << 16
    again = storage.open_blob("example.com/m", "v1.0.0", Kind.ZIP)
    again.close()  # stopping early is allowed
    assert again.etag == stream.etag
    assert stream.etag.startswith('"') and stream.etag.endswith('"')
    with pytest.raises(BlobNotFoundError):
        storage.open_blob("example.com/m", "v9.0.0", Kind.ZIP)


def test_check_passes_on_a_working_store(storage: Storage) -> None:
    storage.check()


def test_put_version_stores_every_blob_with_the_same_rules(
    storage: Storage, tmp_path: Path
) -> None:
    zip_file = tmp_path / "m.zip"
    zip_file.write_bytes(b"zip bytes")
    blobs: list[tuple[Kind, bytes | Path]] = [
        (Kind.ZIP, zip_file),
        (Kind.MOD, b"module example.com/m\n"),
        (Kind.INFO, b'{"Version":"v1.0.0"}'),
    ]
    assert storage.put_version("example.com/m", "v1.0.0", blobs) == [True, True, True]
    assert storage.get("example.com/m", "v1.0.0", Kind.ZIP) == b"zip bytes"
    assert storage.list("example.com/m") == ["v1.0.0"]
    assert storage.put_version("example.com/m", "v1.0.0", blobs) == [False, False, False]
    with pytest.raises(ImmutabilityError):
        storage.put_version("example.com/m", "v1.0.0", [(Kind.MOD, b"module other\n")])
    assert storage.get("example.com/m", "v1.0.0", Kind.MOD) == b"module example.com/m\n"


def _version(n: int) -> list[tuple[Kind, bytes | Path]]:
    return [
        (Kind.ZIP, b"zip %d" % n),
        (Kind.MOD, b"module example.com/b%d\n" % n),
        (Kind.INFO, b'{"Version":"v1.0.0"}'),
    ]


def test_batch_publishes_nothing_before_commit_then_everything(storage: Storage) -> None:
    storage.put("example.com/b1", "v1.0.0", Kind.MOD, b"module example.com/b1\n")
    with storage.batch() as batch:
        for n in range(3):
            batch.add(f"example.com/b{n}", "v1.0.0", _version(n))
        assert not any(storage.exists(f"example.com/b{n}", "v1.0.0", Kind.INFO) for n in range(3))
        assert sorted(storage.modules()) == ["example.com/b1"]
        done: list[tuple[int, int]] = []
        flags = batch.commit(lambda i, total: done.append((i, total)))
    assert flags == [[True, True, True], [True, False, True], [True, True, True]]
    assert done == [(1, 3), (2, 3), (3, 3)]
    for n in range(3):
        for kind, data in _version(n):
            assert storage.get(f"example.com/b{n}", "v1.0.0", kind) == data
    assert sorted(storage.modules()) == [f"example.com/b{n}" for n in range(3)]


def test_batch_with_a_conflict_lands_nothing(storage: Storage, tmp_path: Path) -> None:
    """All or nothing: one refused blob and the versions the commit had stored go again."""
    storage.put("example.com/b2", "v1.0.0", Kind.ZIP, b"the stored zip")
    big = tmp_path / "big.zip"
    big.write_bytes(b"z" * (1 << 20))
    with storage.batch() as batch:
        for n in range(5):
            blobs = _version(n)
            if n == 3:
                blobs[0] = (Kind.ZIP, big)
            batch.add(f"example.com/b{n}", "v1.0.0", blobs)
        with pytest.raises(ImmutabilityError) as e:
            batch.commit()
    assert "example.com/b2@v1.0.0" in str(e.value)
    assert storage.get("example.com/b2", "v1.0.0", Kind.ZIP) == b"the stored zip"
    for n in range(5):
        for kind in Kind:
            assert storage.exists(f"example.com/b{n}", "v1.0.0", kind) == (
                n == 2 and kind is Kind.ZIP
            )
    assert sorted(storage.modules()) == ["example.com/b2"]


def test_a_batch_left_without_commit_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    with storage.batch() as batch:
        for n in range(3):
            batch.add(f"example.com/b{n}", "v1.0.0", _version(n))
    assert list(storage.modules()) == []
    local = storage.local_path("example.com/b0", "v1.0.0", Kind.ZIP)
    assert local is None
    if isinstance(storage, FsStorage):  # no staged file left behind either
        assert leftovers(storage.root / ".tmp") == []


@pytest.mark.parametrize("rename", [True, False], ids=["renameat2", "link"])
def test_fs_batch_racing_a_writer_keeps_the_first_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rename: bool
) -> None:
    """Versions written by another writer between a batch's add and its commit: the same
    bytes are a no-op, others are refused and the batch lands nothing; the stored bytes stay,
    whether names are moved in with renameat2(RENAME_NOREPLACE) or linked."""
    from proxy.storage import fs

    if not rename:
        monkeypatch.setattr(fs, "_renameat2", None)
    elif fs._renameat2 is None:  # pragma: no cover - a libc without renameat2
        pytest.skip("no renameat2 here")
    storage = FsStorage(tmp_path / "vault")
    other = FsStorage(tmp_path / "vault")  # another process's writer on the same vault
    with storage.batch() as batch:
        for n in range(3):
            batch.add(f"example.com/b{n}", "v1.0.0", _version(n))
        other.put_version("example.com/b0", "v1.0.0", _version(0))
        assert batch.commit()[0] == [False, False, False]
    assert sorted(storage.modules()) == [f"example.com/b{n}" for n in range(3)]
    with storage.batch() as batch:
        batch.add("example.com/c", "v1.0.0", _version(5))
        other.put("example.com/c", "v1.0.0", Kind.ZIP, b"another zip")
        with pytest.raises(ImmutabilityError):
            batch.commit()
    assert storage.get("example.com/c", "v1.0.0", Kind.ZIP) == b"another zip"
    assert not storage.exists("example.com/c", "v1.0.0", Kind.INFO)
    assert leftovers(storage.root / ".tmp") == []


def test_fs_batch_failing_late_takes_back_the_new_modules_it_moved_in(tmp_path: Path) -> None:
    """A new module's @v is staged whole and renamed in at commit; when a later version is
    refused, that @v goes again with everything in it, and the staging area is empty."""
    storage = FsStorage(tmp_path / "vault")
    storage.put("example.com/old", "v1.0.0", Kind.ZIP, b"the stored zip")
    with storage.batch() as batch:
        for version in ("v1.0.0", "v1.1.0"):
            batch.add("example.com/new", version, _version(1))
        batch.add("example.com/old", "v1.0.0", _version(2))
        assert batch.unstored() >= {("example.com/new", "v1.0.0"), ("example.com/new", "v1.1.0")}
        with pytest.raises(ImmutabilityError):
            batch.commit()
    assert storage.list("example.com/new") == []
    assert not (tmp_path / "vault" / "example.com" / "new" / "@v").exists()
    assert storage.get("example.com/old", "v1.0.0", Kind.ZIP) == b"the stored zip"
    assert leftovers(storage.root / ".tmp") == []
    with storage.batch() as batch:  # and the same versions land whole once nothing conflicts
        for version in ("v1.0.0", "v1.1.0"):
            batch.add("example.com/new", version, _version(1))
        assert batch.commit() == [[True] * 3] * 2
    assert sorted(storage.list("example.com/new")) == ["v1.0.0", "v1.1.0"]
    assert storage.get("example.com/new", "v1.1.0", Kind.ZIP) == b"zip 1"
    assert leftovers(storage.root / ".tmp") == []
