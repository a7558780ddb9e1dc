"""Offline bundles: export, verify, import all or nothing; tampering, deltas, signatures."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from goproxytree import GoProxyTree, go_binary, go_command_env
from vaultlab import listing

from proxy.auditor import STATE_DIR
from proxy.bundle import MANIFEST, SIGNATURE, SUMS
from proxy.scratch import TempBeside
from proxy.storage import Kind
from proxy.storage.fs import FsStorage
from proxy.verdicts import VerdictStore
from scanner.dirhash import hash_zip
from scanner.verdict import Decision, Verdict

RunGo = Callable[..., subprocess.CompletedProcess[str]]
MODULES = [(f"example.com/b/m{n}", v) for n in range(4) for v in ("v1.0.0", "v1.1.0")]
MODULES.append(("example.com/B/Upper", "v0.1.0-pre"))


def go_vault(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def fill(vault: Path, tree: GoProxyTree, modules: list[tuple[str, str]]) -> None:
    """Store modules in a filesystem vault, the way ingest leaves them."""
    storage = FsStorage(vault)
    for path, version in modules:
        art = tree.add_module(
            path, version, {"go.mod": f"module {path}\n", "x.go": f"package x // {version}\n"}
        )
        storage.put(path, version, Kind.ZIP, art.zip)
        storage.put(path, version, Kind.MOD, art.mod)
        storage.put(path, version, Kind.INFO, art.info)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("good", "other"):
        key = Ed25519PrivateKey.generate()
        priv, pub = d / f"{name}.pem", d / f"{name}.pub.pem"
        priv.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        pub.write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        out[name], out[name + ".pub"] = priv, pub
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> dict[str, Path]:
    """Vault A with MODULES, its full signed bundle, and the tree it came from."""
    d = tmp_path_factory.mktemp("bundle")
    tree = GoProxyTree(d / "tree")
    fill(d / "vaultA", tree, MODULES)
    bundle = d / "full.tar.gz"
    code, out, err = go_vault(
        "sync",
        "--offline",
        f"--bundle={bundle}",
        "--storage",
        str(d / "vaultA"),
        "--sign-key",
        str(keys["good"]),
    )
    assert code == 0, err
    assert json.loads(out)["modules"] == len(MODULES)
    return {"dir": d, "bundle": bundle, "vault": d / "vaultA", "tree": tree.root}


def test_unpacked_bundle_checks_with_sha256sum_and_serves_as_goproxy(
    exported: dict[str, Path], tmp_path: Path, run_go: RunGo
) -> None:
    unpacked = tmp_path / "unpacked"
    with tarfile.open(exported["bundle"]) as tar:
        tar.extractall(unpacked, filter="data")
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", SUMS], cwd=unpacked, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 3 * len(MODULES) + 5 + 1  # blobs, lists, manifest
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text("module example.com/app\n\ngo 1.21\n")
    out = run_go(
        "mod",
        "download",
        "-json",
        "example.com/b/m0@v1.1.0",
        "example.com/B/Upper@v0.1.0-pre",
        cwd=app,
        env_extra={"GOPROXY": unpacked.as_uri()},
    )
    assert out.stdout.count('"Sum": "h1:') == 2


def test_import_then_reimport_is_a_no_op(
    exported: dict[str, Path], tmp_path: Path, keys: dict[str, Path]
) -> None:
    vault = tmp_path / "vaultB"
    args = ["import", str(exported["bundle"]), "--storage", str(vault)]
    code, out, err = go_vault(*args, "--verify-key", str(keys["good.pub"]))
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["modules"], summary["new"], summary["signed"]) == (
        len(MODULES),
        len(MODULES),
        True,
    )
    assert summary["signature_verified"] is True
    assert "warning" not in err
    modules = listing(vault)
    blobs = {k: v for k, v in listing(exported["vault"]).items() if "@v" in k}
    assert {k: v for k, v in modules.items() if "@v" in k} == blobs  # the same bytes as A
    code, out, err = go_vault(*args)  # no verify key: the signature is there, unchecked
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["new"], summary["signed"], summary["signature_verified"]) == (0, True, False)
    assert "warning: the bundle is signed, but its signature was not checked" in err
    assert listing(vault) == modules


def repack(
    src: Path, dest: Path, change: Callable[[dict[str, bytes]], list[tarfile.TarInfo]]
) -> None:
    """Copy bundle `src` to `dest` through `change`, which edits the members' bytes in place and
    may return extra raw members (links, odd names) to append."""
    with tarfile.open(src) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    extra = change(members)
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)


def _zip_name(members: dict[str, bytes]) -> str:
    return next(n for n in sorted(members) if n.endswith(".zip"))


def flip_byte(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    name = _zip_name(m)
    data = bytearray(m[name])
    data[len(data) // 2] ^= 0x01
    m[name] = bytes(data)
    return []


def missing_file(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    del m[_zip_name(m)]
    return []


def extra_file(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    m["example.com/evil/@v/v1.0.0.zip"] = b"PK\x05\x06" + bytes(18)
    return []


def dotdot_member(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    info = tarfile.TarInfo("../outside.txt")
    info.size = 1
    return [info]


def symlink_member(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    info = tarfile.TarInfo("example.com/link/@v/list")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return [info]


def wrong_h1(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    """A consistent bundle whose manifest lies about one h1: (checksums recomputed to match)."""

    manifest = json.loads(m[MANIFEST])
    manifest["modules"][0]["h1"] = "h1:" + "A" * 43 + "="
    m[MANIFEST] = json.dumps(manifest).encode()
    _resum_manifest(m)
    return []


def _resum_manifest(m: dict[str, bytes]) -> None:
    """The manifest's checksum made to match its (edited) bytes; the signature dropped."""
    import hashlib

    sums = []
    for line in m[SUMS].decode().splitlines():
        digest, name = line.split("  ", 1)
        if name == MANIFEST:
            digest = hashlib.sha256(m[MANIFEST]).hexdigest()
        sums.append(f"{digest}  {name}\n")
    m[SUMS] = "".join(sums).encode()
    del m[SIGNATURE]


def unreadable_zip(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    """A zip that is not a zip, its checksum and the manifest's sha256 made to match."""
    import hashlib

    name = _zip_name(m)
    old, m[name] = hashlib.sha256(m[name]).hexdigest(), b"not a zip"
    new = hashlib.sha256(m[name]).hexdigest()
    m[MANIFEST] = m[MANIFEST].replace(old.encode(), new.encode())
    m[SUMS] = m[SUMS].replace(old.encode(), new.encode())
    _resum_manifest(m)
    return []


def _replace_blob(m: dict[str, bytes], name: str, data: bytes) -> None:
    """`name`'s bytes replaced, its checksum and the manifest's sha256 made to match (unsigned)."""
    import hashlib

    old, m[name] = hashlib.sha256(m[name]).hexdigest(), data
    new = hashlib.sha256(data).hexdigest()
    m[MANIFEST] = m[MANIFEST].replace(old.encode(), new.encode())
    m[SUMS] = m[SUMS].replace(old.encode(), new.encode())
    _resum_manifest(m)


def other_mod(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    """A .mod that is not the zip's go.mod (it adds a requirement), everything checksummed:
    what ingest refuses, a bundle must not bring in."""
    name = _zip_name(m).removesuffix(".zip") + ".mod"
    _replace_blob(m, name, m[name] + b"\nrequire example.com/evil v6.6.6\n")
    return []


def bad_info_time(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    name = _zip_name(m).removesuffix(".zip") + ".info"
    _replace_blob(m, name, b'{"Version":"v0.1.0-pre","Time":"2024-01-01"}')
    return []


def unlisted_version(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    """A whole version, checksummed, that the manifest does not name (unsigned bundle)."""
    import hashlib

    for kind, data in (("info", b'{"Version":"v1.0.0"}'), ("mod", b"module example.com/evil\n")):
        m[f"example.com/evil/@v/v1.0.0.{kind}"] = data
    m["example.com/evil/@v/v1.0.0.zip"] = b"PK\x05\x06" + bytes(18)
    sums = m[SUMS].decode() + "".join(
        f"{hashlib.sha256(m[n]).hexdigest()}  {n}\n" for n in m if n.startswith("example.com/evil")
    )
    m[SUMS] = sums.encode()
    del m[SIGNATURE]
    return []


def bad_signature(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    key = Ed25519PrivateKey.generate()  # not the key the vault trusts
    m[SIGNATURE] = key.sign(m[SUMS]).hex().encode()
    return []


TAMPERING = {
    "flipped byte": (flip_byte, "checksum mismatch: example.com/!b/!upper/@v/v0.1.0-pre.zip"),
    "missing file": (missing_file, "missing file example.com/!b/!upper/@v/v0.1.0-pre.zip"),
    "extra file": (extra_file, "extra file example.com/evil/@v/v1.0.0.zip is not listed"),
    "../ member": (dotdot_member, "unsafe member name '../outside.txt'"),
    "symlink member": (symlink_member, "is a link or special file"),
    "wrong h1": (wrong_h1, "the manifest says h1:AAAA"),
    "unreadable zip": (
        unreadable_zip,
        "example.com/B/Upper@v0.1.0-pre: not a valid module zip (1 problem(s)):\n  not a zip file",
    ),
    "mod not the zip's go.mod": (
        other_mod,
        "example.com/B/Upper@v0.1.0-pre: .mod differs from the go.mod inside the .zip; nothing was"
        " imported",
    ),
    "info Time not RFC 3339": (
        bad_info_time,
        "example.com/B/Upper@v0.1.0-pre: .info Time '2024-01-01' is not RFC 3339",
    ),
    "bad signature": (bad_signature, "bad signature"),
    "version not in the manifest": (
        unlisted_version,
        "example.com/evil@v1.0.0: its .info, .mod and .zip are in the bundle but it is not in",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_bundle_is_refused_and_the_vault_unchanged(
    case: str, exported: dict[str, Path], tmp_path: Path, keys: dict[str, Path]
) -> None:
    change, message = TAMPERING[case]
    vault = tmp_path / "vaultB"
    fill(vault, GoProxyTree(tmp_path / "tree"), [("example.com/already/here", "v1.0.0")])
    before = listing(vault)
    bad = tmp_path / "bad.tar.gz"
    repack(exported["bundle"], bad, change)
    verify = (
        ["--verify-key", str(keys["good.pub"])] if case in ("bad signature", "flipped byte") else []
    )
    code, _, err = go_vault("import", str(bad), "--storage", str(vault), *verify)
    assert code == 2, err
    assert message in err
    assert listing(vault) == before
    assert not (tmp_path / "outside.txt").exists()


def test_a_failed_import_leaves_no_vault_where_there_was_none(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    """The import makes a --storage directory that is not there; when it fails it removes what
    it made (an empty vault, .tmp and all, was left behind). A directory that was there stays,
    and one that was empty is empty again."""
    bad = tmp_path / "bad.tar.gz"
    repack(exported["bundle"], bad, flip_byte)
    new = tmp_path / "new" / "vault"
    code, out, err = go_vault("import", str(bad), "--storage", str(new))
    assert code == 2 and not out, err
    assert "checksum mismatch" in err
    assert not (tmp_path / "new").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = go_vault("import", str(bad), "--storage", str(empty))
    assert code == 2 and not out, err
    assert empty.is_dir() and not list(empty.iterdir())  # .tmp and all taken back

    code, out, err = go_vault("import", str(exported["bundle"]), "--storage", str(new))
    assert code == 0, err  # the good bundle makes the vault and stays
    assert json.loads(out)["new"] == len(MODULES)


def test_delta_carries_only_new_modules_and_needs_its_base(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    vault_a = tmp_path / "vaultA"
    shutil.copytree(exported["vault"], vault_a)
    new = [("example.com/b/m0", "v1.2.0"), ("example.com/b/late", "v0.9.0")]
    fill(vault_a, GoProxyTree(tmp_path / "tree"), new)
    delta = tmp_path / "delta.tar.gz"
    code, out, err = go_vault(
        "sync",
        "--offline",
        f"--bundle={delta}",
        "--since",
        str(exported["bundle"]),
        "--storage",
        str(vault_a),
    )
    assert code == 0, err
    with tarfile.open(delta) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
    assert sorted((m["path"], m["version"]) for m in manifest["modules"]) == sorted(new)
    assert manifest["base"]["file"] == "full.tar.gz"

    vault_c = tmp_path / "vaultC"
    code, _, err = go_vault("import", str(delta), "--storage", str(vault_c))
    assert code == 2
    assert "import full.tar.gz first" in err
    assert not vault_c.exists()  # the failed import made no vault there
    assert go_vault("import", str(exported["bundle"]), "--storage", str(vault_c))[0] == 0
    code, out, err = go_vault("import", str(delta), "--storage", str(vault_c))
    assert code == 0, err
    assert json.loads(out)["new"] == 2

    # A delta on the delta carries only what is newer than the whole chain.
    fill(vault_a, GoProxyTree(tmp_path / "tree2"), [("example.com/b/later", "v0.1.0")])
    delta2 = tmp_path / "delta2.tar.gz"
    code, out, err = go_vault(
        "sync", "--offline", f"--bundle={delta2}", "--since", str(delta), "--storage", str(vault_a)
    )
    assert code == 0, err
    assert json.loads(out)["modules"] == 1
    code, out, err = go_vault("import", str(delta2), "--storage", str(vault_c))
    assert code == 0, err
    assert json.loads(out)["new"] == 1


def test_a_delta_unpacked_over_its_base_lists_every_version(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    """A bundle is a file:// GOPROXY tree: untarred over its base, a delta's @v/list (the one
    file both carry for a module) names the base's versions too, so the go command sees all."""
    vault_a = tmp_path / "vaultA"
    shutil.copytree(exported["vault"], vault_a)
    fill(vault_a, GoProxyTree(tmp_path / "tree"), [("example.com/b/m0", "v1.2.0")])
    delta = tmp_path / "delta.tar.gz"
    code, _, err = go_vault(
        "sync", "--offline", f"--bundle={delta}", "--since", str(exported["bundle"]),
        "--storage", str(vault_a),
    )  # fmt: skip
    assert code == 0, err
    tree = tmp_path / "unpacked"
    for bundle in (exported["bundle"], delta):
        with tarfile.open(bundle) as tar:
            tar.extractall(tree, filter="data")
    env = go_command_env(tmp_path / "home", tree.as_uri())
    listed = subprocess.run(
        [go_binary(), "list", "-m", "-versions", "example.com/b/m0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["example.com/b/m0", "v1.0.0", "v1.1.0", "v1.2.0"]
    got = subprocess.run(
        [go_binary(), "mod", "download", "-json", "example.com/b/m0@v1.1.0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert got.returncode == 0 and "Error" not in json.loads(got.stdout), got.stdout + got.stderr


JUDGED = ("example.com/v/judged", "v1.0.0")


def judged_bundle(tmp_path: Path, sign_key: Path | None = None) -> tuple[Path, Verdict]:
    """A bundle of a vault holding JUDGED, with its verdict, and example.com/v/unjudged."""
    vault = tmp_path / "vaultA"
    fill(vault, GoProxyTree(tmp_path / "tree"), [JUDGED, ("example.com/v/unjudged", "v1.0.0")])
    path, version = JUDGED
    h1 = hash_zip(FsStorage(vault).get(path, version, Kind.ZIP))
    verdict = Verdict(
        path,
        version,
        Decision.PASS,
        (),
        "MIT",
        (),
        "sha256:" + "0" * 64,
        h1,
        "t",
        "2024-01-01T00:00:00Z",
    )
    VerdictStore(vault / STATE_DIR / "verdicts").put(verdict)
    bundle = tmp_path / "v.tar.gz"
    sign = ["--sign-key", str(sign_key)] if sign_key else []
    code, _, err = go_vault(
        "sync", "--offline", f"--bundle={bundle}", "--storage", str(vault), *sign
    )
    assert code == 0, err
    return bundle, verdict


def test_verdicts_travel_with_their_modules(tmp_path: Path, keys: dict[str, Path]) -> None:
    """A signed bundle's verdicts, its signature verified, are stored with its modules (an
    unsigned bundle's are not trusted: tests/proxy/test_bundle_trust.py)."""
    bundle, verdict = judged_bundle(tmp_path, keys["good"])
    path, version = JUDGED
    h1 = verdict.h1
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
    assert ".verdicts/example.com/v/judged/@v/v1.0.0.json" in names
    by_path = {m["path"]: m for m in manifest["modules"]}
    assert by_path[path]["verdict"]["decision"] == "PASS"
    assert "verdict" not in by_path["example.com/v/unjudged"]

    vault_b = tmp_path / "vaultB"
    verify = ["--verify-key", str(keys["good.pub"])]
    code, _, err = go_vault("import", str(bundle), "--storage", str(vault_b), *verify)
    assert code == 0, err
    got = VerdictStore(vault_b / STATE_DIR / "verdicts").get(path, version)
    assert got is not None and got[0] == verdict
    # Not verified (no key given): the same verdict is dropped, and the import says so.
    vault_u = tmp_path / "vaultU"
    code, out, err = go_vault("import", str(bundle), "--storage", str(vault_u))
    assert code == 0 and json.loads(out)["verdicts_dropped"] == 1, err
    assert "its signature was not checked; its 1 auditor verdicts were dropped" in err
    assert VerdictStore(vault_u / STATE_DIR / "verdicts").get(path, version) is None

    # A verdict naming other bytes is refused like any other tampering.
    def other_h1(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
        import hashlib

        name = ".verdicts/example.com/v/judged/@v/v1.0.0.json"
        m[name] = m[name].replace(h1.encode(), b"h1:" + b"B" * 43 + b"=")
        manifest = json.loads(m[MANIFEST])
        for entry in manifest["modules"]:
            if entry["path"] == path:
                entry["verdict"]["sha256"] = hashlib.sha256(m[name]).hexdigest()
        m[MANIFEST] = json.dumps(manifest).encode()
        del m[SIGNATURE]
        m[SUMS] = "".join(
            f"{hashlib.sha256(m[n]).hexdigest()}  {n}\n" for n in sorted(m) if n != SUMS
        ).encode()
        return []

    bad = tmp_path / "bad.tar.gz"
    repack(bundle, bad, other_h1)
    vault_c = tmp_path / "vaultC"
    code, _, err = go_vault("import", str(bad), "--storage", str(vault_c))
    assert code == 2 and "the verdict does not name this zip" in err
    assert all("@v" not in k for k in listing(vault_c))


def test_a_failed_commit_stores_no_verdict(tmp_path: Path, keys: dict[str, Path]) -> None:
    """A bundle's verdicts are written once its modules are stored: a commit that fails (here
    on a directory where a .zip must go) leaves no verdict for a version the vault lacks."""
    bundle, _ = judged_bundle(tmp_path, keys["good"])  # signed: its verdicts are trusted
    vault = tmp_path / "vaultB"
    fill(vault, GoProxyTree(tmp_path / "treeB"), [("example.com/already/here", "v1.0.0")])
    (vault / "example.com/v/judged/@v/v1.0.0.zip").mkdir(parents=True)
    before = listing(vault)
    verify = ["--verify-key", str(keys["good.pub"])]
    code, out, err = go_vault("import", str(bundle), "--storage", str(vault), *verify)
    assert code == 3 and not out, err
    assert "cannot compare with what the vault holds" in err and "Traceback" not in err, err
    assert listing(vault) == before
    assert VerdictStore(vault / STATE_DIR / "verdicts").get(*JUDGED) is None


def test_modules_selects_what_a_go_sum_names(exported: dict[str, Path], tmp_path: Path) -> None:
    gosum = tmp_path / "go.sum"
    gosum.write_text(
        "example.com/b/m1 v1.1.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        "example.com/b/m1 v1.1.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        "example.com/B/Upper v0.1.0-pre h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    )
    bundle = tmp_path / "some.tar.gz"
    vault = str(exported["vault"])
    code, out, err = go_vault(
        "sync", "--offline", f"--bundle={bundle}", "--modules", str(gosum), "--storage", vault
    )
    assert code == 0, err
    assert json.loads(out)["modules"] == 2
    gosum.write_text(gosum.read_text() + "example.com/b/absent v1.0.0 h1:" + "A" * 43 + "=\n")
    code, _, err = go_vault(
        "sync",
        "--offline",
        f"--bundle={tmp_path / 'x.tar.gz'}",
        "--modules",
        str(gosum),
        "--storage",
        vault,
    )
    assert code == 2
    assert "not in the vault: example.com/b/absent@v1.0.0" in err and "go-vault prefetch" in err
    assert not (tmp_path / "x.tar.gz").exists()


def test_sync_removes_what_a_killed_sync_left_beside_the_bundle(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    bundle = tmp_path / "nightly.tar.gz"
    live = TempBeside(bundle)  # one that is still writing here: its lock holds
    stale = tmp_path / ".nightly.tar.gz.4242.tmp"  # a sync killed while writing: no lock
    stale.write_bytes(b"half a bundle")
    try:
        code, _, err = go_vault(
            "sync", "--offline", f"--bundle={bundle}", "--storage", str(exported["vault"])
        )
        assert code == 0, err
        assert not stale.exists()
        assert live.path.exists()
    finally:
        live.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.tar.gz"]


def test_sync_into_a_pipe_streams_the_bundle_and_leaves_the_pipe(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    """`--bundle` naming a FIFO (or /dev/stdout): written in place. Renamed over, as root a
    device node such as /dev/null was replaced with a regular file."""
    fifo = tmp_path / "to-ssh"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = go_vault(
        "sync", "--offline", f"--bundle={fifo}", "--storage", str(exported["vault"])
    )
    assert code == 0, err
    reader.join(60)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["to-ssh"]
    (tmp_path / "got.tar.gz").write_bytes(got[0])
    code, out, err = go_vault(
        "import", str(tmp_path / "got.tar.gz"), "--storage", str(tmp_path / "vaultB")
    )
    assert code == 0, err
    assert json.loads(out)["modules"] == len(MODULES)


GO_VAULT = [sys.executable, "-c", "from proxy.cli import main; main()"]


def test_sync_through_links_replaces_their_files_and_keeps_the_links(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    """A link to a file: the file is replaced, the link stays. A link that is standard output
    by another name (as /dev/stdout is, with stdout redirected to a file): written through it.
    Renamed over, as root /dev/stdout itself became a regular file holding the bundle."""
    vault = str(exported["vault"])
    target = tmp_path / "bundles" / "real.tar.gz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "latest.tar.gz"
    link.symlink_to(target)
    code, _, err = go_vault("sync", "--offline", f"--bundle={link}", "--storage", vault)
    assert code == 0, err
    assert link.is_symlink() and tarfile.is_tarfile(target)

    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    captured = tmp_path / "captured.tar.gz"
    with captured.open("wb") as out:
        proc = subprocess.run(
            [*GO_VAULT, "sync", "--offline", f"--bundle={stdout_link}", "--storage", vault],
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert stdout_link.is_symlink() and tarfile.is_tarfile(captured)
    assert not list(tmp_path.glob(".*.tmp"))
