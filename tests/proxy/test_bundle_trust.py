"""What crosses the air gap: no version the operator withdrew, no verdict nobody signed.

Real parts only: the `go-vault` CLI (sync, import, rollback, pin, rollbacks), `go-vault serve`
and the go command against a `file://` GOPROXY of the unpacked bundle.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from e2e.test_proxy_serve import go_vault_serve  # the real `go-vault serve`, polled ready
from goproxytree import GoProxyTree, write_files
from test_auditor import license_files, write_policy
from test_bundle import go_vault, keys, repack  # noqa: F401  (keys: the module fixture)

from proxy.auditor import STATE_DIR
from proxy.bundle import MANIFEST, SIGNATURE, SUMS
from proxy.storage import Kind
from proxy.storage.fs import FsStorage
from proxy.verdicts import VerdictStore

RunGo = Callable[..., subprocess.CompletedProcess[str]]
A, P = "example.org/a", "example.org/p"


def put(vault: Path, tree: GoProxyTree, path: str, version: str, license: str = "mit") -> None:
    art = tree.add_module(
        path,
        version,
        {
            "go.mod": f"module {path}\n\ngo 1.21\n",
            "x.go": f"package x // {version}\n",
            **license_files(license),
        },
    )
    storage = FsStorage(vault)
    for kind, blob in ((Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)):
        storage.put(path, version, kind, blob)


def members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def unpack(bundles: list[Path], into: Path) -> Path:
    for bundle in bundles:  # a delta untarred over its base
        with tarfile.open(bundle) as tar:
            tar.extractall(into, filter="data")
    return into


def ok(*args: str) -> tuple[str, str]:
    code, out, err = go_vault(*args)
    assert code == 0, err
    return out, err


def latest(run_go: RunGo, app: Path, goproxy: str, module: str) -> str:
    got = run_go("list", "-m", "-json", f"{module}@latest", cwd=app, env_extra={"GOPROXY": goproxy})
    return str(json.loads(got.stdout)["Version"])


@pytest.mark.gocmd
def test_a_rolled_back_version_stays_withdrawn_on_the_other_side(
    tmp_path: Path, run_go: RunGo
) -> None:
    vault_a, vault_b = tmp_path / "vaultA", tmp_path / "vaultB"
    tree = GoProxyTree(tmp_path / "tree")
    for v in ("v1.0.0", "v1.1.0", "v1.2.0"):
        put(vault_a, tree, A, v)
    for v in ("v1.0.0", "v1.1.0"):
        put(vault_a, tree, P, v)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    source = ["--storage", str(vault_a)]

    # The air-gapped vault got v1.2.0 before it was withdrawn.
    first = tmp_path / "first.tar.gz"
    ok("sync", "--offline", f"--bundle={first}", *source)
    ok("import", str(first), "--storage", str(vault_b))

    ok("rollback", A, "v1.2.0", "--reason", "compromised release", "--by", "alice", *source)
    ok("pin", P, "v1.0.0", "--reason", "hold", "--by", "alice", *source)

    # A whole bundle now: neither files nor list name v1.2.0; p lists nothing past its pin.
    full = tmp_path / "full.tar.gz"
    out, err = ok("sync", "--offline", f"--bundle={full}", *source)
    assert "left out 1 rolled-back module versions" in err and f"{A}@v1.2.0" in err, err
    assert json.loads(out)["rolled_back_left_out"] == [f"{A}@v1.2.0"]
    got = members(full)
    assert not [n for n in got if "v1.2.0" in n]
    assert got[f"{A}/@v/list"] == b"v1.0.0\nv1.1.0\n"
    assert got[f"{P}/@v/list"] == b"v1.0.0\n"
    assert f"{P}/@v/v1.1.0.zip" in got  # downloadable by name, as the gateway serves it
    assert json.loads(got["rollbacks.json"])["rollbacks"][0]["reason"] == "compromised release"
    goproxy = unpack([full], tmp_path / "full").as_uri()
    assert latest(run_go, app, goproxy, A) == "v1.1.0"
    assert latest(run_go, app, goproxy, P) == "v1.0.0"

    # A delta carries nothing new, but its lists and its rollbacks withdraw v1.2.0 there too.
    delta = tmp_path / "delta.tar.gz"
    ok("sync", "--offline", f"--bundle={delta}", "--since", str(first), *source)
    got = members(delta)
    assert got[f"{A}/@v/list"] == b"v1.0.0\nv1.1.0\n"
    both = unpack([first, delta], tmp_path / "both").as_uri()
    assert latest(run_go, app, both, A) == "v1.1.0"
    assert latest(run_go, app, both, P) == "v1.0.0"

    out, err = ok("import", str(delta), "--storage", str(vault_b))
    assert (json.loads(out)["rollbacks"], json.loads(out)["pins"]) == (1, 1)
    assert "recorded 1 rollbacks and 1 pins from the bundle" in err
    state = json.loads(ok("rollbacks", "--json", "--storage", str(vault_b))[0])
    assert [(r["module"], r["version"], r["reason"]) for r in state["rollbacks"]] == [
        (A, "v1.2.0", "compromised release")
    ]
    assert [(p["module"], p["version"]) for p in state["pins"]] == [(P, "v1.0.0")]
    assert {e["by"] for e in state["history"]} == {str(vault_a)}  # the bundle's source
    ok("import", str(delta), "--storage", str(vault_b))  # again: nothing recorded twice
    again = json.loads(ok("rollbacks", "--json", "--storage", str(vault_b))[0])
    assert again == state

    with go_vault_serve("--offline", "--storage", str(vault_b)) as (url, _):
        r = httpx.get(f"{url}/{A}/@v/v1.2.0.zip", timeout=30)
        assert r.status_code == 403 and "compromised release" in r.text
        assert latest(run_go, app, url, A) == "v1.1.0"
        assert latest(run_go, app, url, P) == "v1.0.0"


GPL = "example.org/gpl"


def flip_verdict(m: dict[str, bytes]) -> list[tarfile.TarInfo]:
    """The REJECT carried for GPL turned PASS; manifest and checksums made to match, unsigned."""
    name = f".verdicts/{GPL}/@v/v1.0.0.json"
    verdict = json.loads(m[name])
    assert verdict["decision"] == "REJECT"
    verdict["decision"], verdict["reasons"] = "PASS", []
    m[name] = json.dumps(verdict).encode()
    manifest = json.loads(m[MANIFEST])
    for entry in manifest["modules"]:
        if entry["path"] == GPL:
            entry["verdict"] = {"decision": "PASS", "sha256": hashlib.sha256(m[name]).hexdigest()}
    m[MANIFEST] = json.dumps(manifest).encode()
    m.pop(SIGNATURE, None)
    m[SUMS] = "".join(
        f"{hashlib.sha256(m[n]).hexdigest()}  {n}\n" for n in sorted(m) if n != SUMS
    ).encode()
    return []


def test_an_unsigned_bundle_cannot_carry_a_verdict_past_the_policy(
    tmp_path: Path,
    keys: dict[str, Path],  # noqa: F811
) -> None:
    vault_a = tmp_path / "vaultA"
    tree = GoProxyTree(tmp_path / "tree")
    put(vault_a, tree, GPL, "v1.0.0", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    # A's own auditor judges it (REJECT), and the verdict is stored in A.
    with go_vault_serve("--offline", "--storage", str(vault_a), "--policy", str(policy)) as (
        url,
        _,
    ):
        assert httpx.get(f"{url}/{GPL}/@v/v1.0.0.zip", timeout=30).status_code == 403
    bundle = tmp_path / "signed.tar.gz"
    ok("sync", "--offline", f"--bundle={bundle}", "--storage", str(vault_a), "--sign-key",
       str(keys["good"]))  # fmt: skip
    forged = tmp_path / "forged.tar.gz"
    repack(bundle, forged, flip_verdict)

    vault_b = tmp_path / "vaultB"
    out, err = ok("import", str(forged), "--storage", str(vault_b))
    # Served by B's own judgement of the zip (REJECT), not by the forged PASS.
    with go_vault_serve("--offline", "--storage", str(vault_b), "--policy", str(policy)) as (
        url,
        _,
    ):
        r = httpx.get(f"{url}/{GPL}/@v/v1.0.0.zip", timeout=30)
        served = (r.status_code, r.headers.get("x-go-module-verdict"))
        assert r.status_code == 403 and "GPL-3.0-only" in r.text, served
    judged = VerdictStore(vault_b / STATE_DIR / "verdicts").get(GPL, "v1.0.0")
    assert judged is not None and judged[0].decision.value == "REJECT"
    assert json.loads(out)["verdicts_dropped"] == 1
    assert "warning: the bundle is unsigned: it was not authenticated" in err, err
    assert "its 1 auditor verdicts were dropped" in err

    # Signed and verified, the carried verdict is the vault's until its policy differs.
    vault_c = tmp_path / "vaultC"
    out, err = ok("import", str(bundle), "--storage", str(vault_c), "--verify-key",
                  str(keys["good.pub"]))  # fmt: skip
    assert json.loads(out)["verdicts_dropped"] == 0 and "warning" not in err, err
    carried = VerdictStore(vault_c / STATE_DIR / "verdicts").get(GPL, "v1.0.0")
    assert carried is not None and carried[0].decision.value == "REJECT"
