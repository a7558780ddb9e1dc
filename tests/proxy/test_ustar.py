"""proxy/ustar.py reads the tars `go-vault sync` writes exactly as tarfile does, from pieces of
any size, and says Unsupported (so the caller falls back to tarfile) for anything else."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from test_bundle import exported, go_vault, keys, listing  # noqa: F401 - fixtures

from proxy import ustar

LONG = "example.com/" + "/".join(["a-rather-long-path-element"] * 9) + "/@v/v1.0.0.zip"


def tar_of(files: dict[str, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        d = tarfile.TarInfo("example.com")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1.5  # fractional: tarfile writes an mtime pax record
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


FILES = {
    "manifest.json": b"{}\n",
    "empty": b"",
    "example.com/exact/@v/v1.0.0.mod": b"m" * 512,
    "example.com/odd/@v/v1.0.0.zip": bytes(range(256)) * 7,
    # Over 100 bytes: ustar's prefix field; over 255: a pax path record.
    "example.com/" + "p" * 120 + "/@v/v1.0.0.info": b"{}",
    LONG: b"z" * 70000,
}


def by_tarfile(data: bytes) -> list[tuple[str, str, bytes]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            kind = "file" if m.isfile() else "dir" if m.isdir() else "other"
            f = tar.extractfile(m) if m.isfile() else None
            out.append((m.name, kind, f.read() if f else b""))
    return out


@pytest.mark.parametrize("piece", [1, 7, 512, 4096, 1 << 30])
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_reads_what_tarfile_reads_from_pieces_of_any_size(piece: int, fmt: int) -> None:
    files = FILES if fmt == tarfile.PAX_FORMAT else {k: v for k, v in FILES.items() if k != LONG}
    data = tar_of(files, fmt)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    got = [(m.name, m.kind, body) for m, body in ustar.read(pieces)]
    assert got == by_tarfile(data)
    assert [name for name, kind, _ in got if kind == "file"] == list(files)


def _member(name: str, kind: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "../../etc/passwd"
        tar.addfile(info)
    return out.getvalue()


def test_links_are_members_of_another_kind() -> None:
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE):
        ((member, data),) = ustar.read([_member("evil", kind)])
        assert (member.name, member.kind, data) == ("evil", "other", b"")


def _bad_checksum(data: bytes) -> bytes:
    return data[:148] + b"0000000\x00" + data[156:]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: tar_of(FILES, tarfile.GNU_FORMAT), id="gnu"),
        pytest.param(lambda: tar_of({"caf\u00e9/x": b"1"}), id="non-ascii-name"),
        pytest.param(lambda: _bad_checksum(tar_of({"a": b"1"})), id="bad-checksum"),
        pytest.param(lambda: tar_of({"a": b"1" * 2000})[:1500], id="truncated"),
        pytest.param(lambda: tar_of({"a": b"1"})[:1024], id="no-end-marker"),
        pytest.param(lambda: tar_of({"a": b"1"}) + b"garbage", id="trailing-data"),
    ],
)
def test_anything_else_is_left_to_tarfile(make: object) -> None:
    data = make()  # type: ignore[operator]
    with pytest.raises(ustar.Unsupported):
        list(ustar.read([data]))


def test_a_bundle_repacked_by_gnu_tar_imports_like_the_original(
    exported: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Unpacked and packed again with GNU tar (its own header format): read by tarfile
    instead, the same versions land."""
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "xzf", str(exported["bundle"]), "-C", str(unpacked)], check=True)
    repacked = tmp_path / "repacked.tar.gz"
    subprocess.run(["tar", "czf", str(repacked), "-C", str(unpacked), "."], check=True)
    results = {}
    for name, bundle in (("original", exported["bundle"]), ("repacked", repacked)):
        vault = tmp_path / name
        code, out, err = go_vault("import", str(bundle), "--storage", str(vault))
        assert code == 0, err
        results[name] = (json.loads(out)["new"], listing(vault))
    assert results["repacked"][0] == results["original"][0] > 0
    blobs = {k for k in results["original"][1] if "@v" in k}
    assert {k for k in results["repacked"][1] if "@v" in k} == blobs


@pytest.mark.parametrize(
    ("name", "change", "error"),
    [
        ("zero-padded", lambda data: data + bytes(1024), None),  # a tape block's padding
        ("two-gzip-members", lambda data: _split_in_two_members(data), None),
        ("appended-to", lambda data: data + b"junk", "4 bytes follow the end of its gzip data"),
        ("cut", lambda data: data[: len(data) // 2], "end-of-stream marker"),
    ],
)
def test_what_follows_or_lacks_the_gzip_stream(
    exported: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    name: str,
    change: object,
    error: str | None,
) -> None:
    bundle = tmp_path / f"{name}.tar.gz"
    bundle.write_bytes(change(exported["bundle"].read_bytes()))  # type: ignore[operator]
    vault = tmp_path / "vault"
    code, out, err = go_vault("import", str(bundle), "--storage", str(vault))
    if error is None:
        assert code == 0, err
        assert json.loads(out)["new"] > 0
    else:
        assert code == 2 and "not a readable .tar.gz" in err and error in err, err
        assert {k for k in listing(vault) if "@v" in k} == set()


def _split_in_two_members(data: bytes) -> bytes:
    """The same tar as two concatenated gzip members (pigz --independent, cat a.gz b.gz)."""
    tar = gzip.decompress(data)
    return gzip.compress(tar[:10240]) + gzip.compress(tar[10240:])


def test_a_bundle_larger_than_memory_allows_is_streamed_through_disk(
    exported: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inflated past what import keeps in memory: the in-memory reading gives up, and tarfile
    reads the bundle again, staging members on disk; the same versions land."""
    from proxy import bundle as bundle_module
    from proxy.storage.fs import FsStorage

    monkeypatch.setattr(bundle_module, "_IN_MEMORY", 4096)
    staged: list[str] = []
    stage_member = bundle_module._stage_member
    monkeypatch.setattr(
        bundle_module,
        "_stage_member",
        lambda tar, member, dest: staged.append(member.name) or stage_member(tar, member, dest),
    )
    vault = tmp_path / "vault"
    summary = bundle_module.import_bundle(FsStorage(vault), str(vault), exported["bundle"])
    assert summary.new == summary.modules > 0
    assert staged  # members went through disk
    blobs = {k: v for k, v in listing(exported["vault"]).items() if "@v" in k}
    assert {k: v for k, v in listing(vault).items() if "@v" in k} == blobs
