"""Ingest: malformed upstream artifacts are refused with a message the go command prints, an
audit event is written, and the vault is left exactly as it was; the auditor hook decides too."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, build_zip, write_files
from vaultlab import GatewayFactory, LoopbackUpstream, leftovers

from proxy.storage import Kind, open_storage
from scanner.dirhash import hash_gomod
from scanner.verdict import Decision, Reason, Verdict

RunGo = Callable[..., subprocess.CompletedProcess[str]]
M = "example.com/bad"
GOMOD = f"module {M}\n"


def zip_with(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A zip with raw entry names and unix modes (to make symlinks and bad names)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


P = f"{M}@v1.0.0/"


def over_500_mib() -> bytes:
    """A zip whose contents add up to more than 500 MiB (zeros: half a megabyte compressed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr(P + "go.mod", GOMOD)
        info = zipfile.ZipInfo(P + "big.bin", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            for _ in range(501):
                f.write(bytes(1 << 20))
    return buf.getvalue()


# Built only by the test that uses them (some take a second to make).
BAD_ZIPS: dict[str, Callable[[], bytes]] = {
    "wrong prefix": lambda: build_zip("example.com/other@v1.0.0/", {"go.mod": GOMOD}),
    "case collision": lambda: build_zip(P, {"go.mod": GOMOD, "README": "a", "readme": "b"}),
    "symlink": lambda: zip_with(
        [(P + "go.mod", GOMOD.encode(), 0o100644), (P + "link", b"/etc/passwd", 0o120777)]
    ),
    "go.mod in a subdirectory": lambda: build_zip(P, {"go.mod": GOMOD, "sub/go.mod": "module x\n"}),
    "invalid file path": lambda: zip_with(
        [(P + "go.mod", GOMOD.encode(), 0o100644), (P + "a\\b.go", b"x", 0o100644)]
    ),
    "LICENSE over 16 MiB": lambda: build_zip(
        P, {"go.mod": GOMOD, "LICENSE": b"x" * ((16 << 20) + 1)}
    ),
    "go.mod over 16 MiB": lambda: build_zip(P, {"go.mod": GOMOD + "//" + "x" * (16 << 20) + "\n"}),
    "contents over 500 MiB": over_500_mib,
    "not a zip": lambda: b"PK\x03\x04 not really",
}


def project(tmp_path: Path) -> Path:
    return write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})


def audit_events(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def vault_files(tmp_path: Path) -> list[str]:
    """Every file in the vault but lock files."""
    return leftovers(tmp_path / "vault")


@pytest.mark.parametrize("violation", sorted(BAD_ZIPS))
def test_malformed_zip_is_refused_and_the_vault_unchanged(
    violation: str,
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    goproxy_tree.add_module("example.com/good", "v1.0.0")
    goproxy_tree.add_raw(
        M, "v1.0.0", info=b'{"Version":"v1.0.0"}', mod=GOMOD.encode(), zip=BAD_ZIPS[violation]()
    )
    with gateway() as gw:
        assert httpx.get(f"{gw.url}/example.com/good/@v/v1.0.0.zip").status_code == 200
        before = vault_files(tmp_path)
        proc = run_go(
            "mod",
            "download",
            f"{M}@v1.0.0",
            cwd=project(tmp_path),
            env_extra={"GOPROXY": gw.url},
            check=False,
        )
        assert proc.returncode != 0
        assert "502 Bad Gateway" in proc.stderr
        assert "refused by go-vault ingest" in proc.stderr  # the reason reaches the developer
        assert vault_files(tmp_path) == before
        scratch = gw.gateway.ingester._scratch()
        assert leftovers(scratch) == []  # the refused zip is not left behind either
    assert not scratch.exists()  # removed when the gateway shuts down
    refused = [e for e in audit_events(tmp_path) if e["event"] == "ingest" and e["module"] == M]
    assert refused and refused[0]["decision"] == "refused"


@pytest.mark.parametrize(
    ("info", "mod", "why"),
    [
        (
            b'{"Version":"v1.0.1","Time":"2024-01-01T00:00:00Z"}',
            GOMOD.encode(),
            ".info Version is 'v1.0.1'",
        ),
        (b"<html>", GOMOD.encode(), ".info is not JSON"),
        (b'{"Version":"v1.0.0","Time":"yesterday"}', GOMOD.encode(), "not RFC 3339"),
        # Python reads these; the go command does not, and the stored .info would fail forever
        (b'{"Version":"v1.0.0","Time":"2024-01-01T00:00:00"}', GOMOD.encode(), "not RFC 3339"),
        (b'{"Version":"v1.0.0","Time":"2024-01-01"}', GOMOD.encode(), "not RFC 3339"),
        (b'{"Version":"v1.0.0","Time":"2024-01-01 00:00:00Z"}', GOMOD.encode(), "not RFC 3339"),
        (
            b'{"Version":"v1.0.0"}',
            b"module example.com/bad\n\nrequire x.y/z v1.0.0\n",
            ".mod differs",
        ),
    ],
)
def test_info_and_mod_must_match_the_request_and_the_zip(
    info: bytes,
    mod: bytes,
    why: str,
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    goproxy_tree.add_raw(M, "v1.0.0", info=info, mod=mod, zip=build_zip(P, {"go.mod": GOMOD}))
    with gateway() as gw:
        for kind in ("mod", "info", "zip") if "info" in why else ("info", "zip"):
            r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.{kind}")
            assert r.status_code == 502 and why in r.text
            assert r.text.startswith(f"{M}@v1.0.0: refused by go-vault ingest")
    assert vault_files(tmp_path) == []


def test_a_new_versions_mod_is_served_while_its_zip_is_checked(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """The go command walks a cold module graph one level of .mod files at a time, so a new
    version's .mod is answered once fetched and checked on its own (not as immutable), while
    the zip is checked behind it. A zip that then fails stores nothing and answers 502, and
    the next .mod request ingests again and answers with its outcome: that .mod belonged to
    no valid version (it was served again, and the go command built its graph with it)."""
    bad_mod = b"module example.com/bad\n\nrequire x.y/z v1.0.0\n"
    goproxy_tree.add_raw(
        M, "v1.0.0", info=b'{"Version":"v1.0.0"}', mod=bad_mod, zip=build_zip(P, {"go.mod": GOMOD})
    )
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.mod")
        assert r.status_code == 200 and r.content == bad_mod
        assert r.headers["cache-control"] == "no-cache" and "etag" not in r.headers
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip")
        assert r.status_code == 502 and ".mod differs" in r.text
        assert vault_files(tmp_path) == []
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.mod")
        assert r.status_code == 502 and ".mod differs" in r.text
    ingests = [e for e in audit_events(tmp_path) if e["event"] == "ingest" and e["module"] == M]
    # Two or three: the .zip request shares the first ingest or, once it failed, runs its own.
    assert {e["decision"] for e in ingests} == {"refused"} and len(ingests) >= 2


def test_a_mod_answered_early_that_changes_when_the_version_is_stored_is_an_alert(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """The upstream fixes a version whose zip was refused after its .mod had been answered:
    clients that took the first .mod hold a go.sum line the stored one does not verify."""
    bad_mod = b"module example.com/bad\n\nrequire x.y/z v1.0.0\n"
    goproxy_tree.add_raw(
        M, "v1.0.0", info=b'{"Version":"v1.0.0"}', mod=bad_mod, zip=build_zip(P, {"go.mod": GOMOD})
    )
    with gateway() as gw:
        assert httpx.get(f"{gw.url}/{M}/@v/v1.0.0.mod").content == bad_mod
        assert httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip").status_code == 502
        goproxy_tree.add_raw(
            M,
            "v1.0.0",
            info=b'{"Version":"v1.0.0"}',
            mod=GOMOD.encode(),
            zip=build_zip(P, {"go.mod": GOMOD}),
        )
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.mod")
        assert r.status_code == 200 and r.content == GOMOD.encode()
        metrics = httpx.get(f"{gw.url}/-/metrics").text
    (alert,) = [e for e in audit_events(tmp_path) if e["event"] == "security"]
    assert alert["kind"] == "version-pollution" and alert["module"] == M
    assert alert["early_gomod_h1"] == hash_gomod(bad_mod)
    assert alert["gomod_h1"] == hash_gomod(GOMOD.encode())
    assert "go_vault_version_pollution_total 1.0" in metrics


def test_different_bytes_for_a_stored_version_are_a_security_event(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """A vault holding a zip (say, from a crash before .info) never takes other bytes for it."""
    storage = open_storage(str(tmp_path / "vault"))
    storage.put(M, "v1.0.0", Kind.ZIP, build_zip(P, {"go.mod": GOMOD, "a.go": "package a\n"}))
    before = storage.get(M, "v1.0.0", Kind.ZIP)
    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": GOMOD, "a.go": "package a // changed\n"})
    with gateway(storage=storage) as gw:
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip")
    assert r.status_code == 502 and "already holds a different .zip" in r.text
    assert storage.get(M, "v1.0.0", Kind.ZIP) == before
    assert not storage.exists(M, "v1.0.0", Kind.INFO)
    assert any(e["event"] == "security" and e["module"] == M for e in audit_events(tmp_path))


class ListAuditor:
    """A stand-in for the license auditor: rejects modules named in `deny`, records every call."""

    def __init__(self, deny: set[str], review: frozenset[str] = frozenset()) -> None:
        self.deny = deny
        self.review = review
        self.calls: list[tuple[str, str, str]] = []

    def audit(self, module: str, version: str, zip_file: Path | bytes, h1: str) -> Verdict | None:
        self.calls.append((module, version, h1))
        rejected = module in self.deny
        decision = Decision.REVIEW_REQUIRED if module in self.review else Decision.PASS
        return Verdict(
            module=module,
            version=version,
            decision=Decision.REJECT if rejected else decision,
            licenses=(),
            expression="GPL-3.0-only" if rejected else "MIT",
            reasons=(Reason("license.denied", "GPL-3.0-only is not allowed"),) if rejected else (),
            policy_digest="sha256:test",
            h1=h1,
            detector_version="test",
            evaluated_at="2026-01-01T00:00:00Z",
        )


def test_auditor_reject_refuses_the_code_and_keeps_the_metadata(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    goproxy_tree.add_module("example.com/gpl", "v1.0.0", {"go.mod": "module example.com/gpl\n"})
    good = goproxy_tree.add_module(
        "example.com/mit", "v1.0.0", {"go.mod": "module example.com/mit\n"}
    )
    auditor = ListAuditor({"example.com/gpl"})
    cwd = project(tmp_path)
    with gateway(auditor=auditor) as gw:
        env = {"GOPROXY": gw.url}
        proc = run_go(
            "mod", "download", "example.com/gpl@v1.0.0", cwd=cwd, env_extra=env, check=False
        )
        assert proc.returncode != 0
        assert "403 Forbidden" in proc.stderr
        assert "REJECT by policy: license GPL-3.0-only; license.denied" in proc.stderr
        assert "policy exception" in proc.stderr
        # Minimal version selection reads go.mod files of versions it never builds: the
        # refused version's metadata is served, only its code is not.
        mod = httpx.get(f"{gw.url}/example.com/gpl/@v/v1.0.0.mod")
        assert mod.status_code == 200 and mod.text == "module example.com/gpl\n"
        assert mod.headers["x-go-module-verdict"].startswith("REJECT")
        assert httpx.get(f"{gw.url}/example.com/gpl/@v/v1.0.0.zip").status_code == 403
        ok = run_go("mod", "download", "-json", "example.com/mit@v1.0.0", cwd=cwd, env_extra=env)
        assert json.loads(ok.stdout)["Sum"] == auditor.calls[-1][2]
    storage = open_storage(str(tmp_path / "vault"))
    # the judged bytes are kept (the verdict names their h1), never served while refused
    assert storage.exists("example.com/gpl", "v1.0.0", Kind.ZIP)
    assert storage.get("example.com/mit", "v1.0.0", Kind.ZIP) == good.zip.read_bytes()
    verdicts = {
        e["module"]: e.get("verdict") for e in audit_events(tmp_path) if e["event"] == "ingest"
    }
    assert verdicts == {"example.com/gpl": "REJECT", "example.com/mit": "PASS"}


@pytest.mark.parametrize(("mode", "status"), [("refuse", 403), ("serve", 200)])
def test_review_required_follows_the_config(
    mode: str, status: int, gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    goproxy_tree.add_module("example.com/odd", "v1.0.0", {"go.mod": "module example.com/odd\n"})
    auditor = ListAuditor(set(), review=frozenset({"example.com/odd"}))
    with gateway(auditor=auditor, review_required=mode) as gw:
        r = httpx.get(f"{gw.url}/example.com/odd/@v/v1.0.0.zip")
    assert r.status_code == status
    if status == 403:
        assert r.text.startswith("example.com/odd@v1.0.0: REVIEW_REQUIRED by policy")
    ingest = [e for e in audit_events(tmp_path) if e["event"] == "ingest"]
    assert ingest[0]["decision"] == "stored"
    assert ingest[0]["verdict"] == "REVIEW_REQUIRED"


def test_corrupt_zip_contents_are_refused(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """A zip whose bytes do not match its CRC (corrupted in transit or on the upstream)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(P + "go.mod", GOMOD)
        z.writestr(P + "a.go", "package a // hello\n")
    data = bytearray(buf.getvalue())
    data[data.find(b"hello")] = ord("j")
    goproxy_tree.add_raw(
        M, "v1.0.0", info=b'{"Version":"v1.0.0"}', mod=GOMOD.encode(), zip=bytes(data)
    )
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip")
    assert r.status_code == 502 and "Bad CRC-32" in r.text
    assert vault_files(tmp_path) == []


def test_concurrent_mod_requests_share_one_ingest_that_leaves_the_version_in_memory(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    """Many requests for a new version's .mod: one fetch of each file; each gets the .mod; the
    stored version's .info, .mod and (small) .zip are then kept in memory for what follows."""
    from concurrent.futures import ThreadPoolExecutor

    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": GOMOD, "a.go": "package a\n"})
    upstream.delay = 0.05  # the requests overlap the ingest
    with gateway() as gw, ThreadPoolExecutor(8) as pool:
        url = f"{gw.url}/{M}/@v/v1.0.0.mod"
        answers = list(pool.map(lambda _: httpx.get(url), range(8)))
        assert {(r.status_code, r.content) for r in answers} == {(200, GOMOD.encode())}
        for kind in ("info", "zip"):  # the ingest is done once these answer
            assert httpx.get(f"{gw.url}/{M}/@v/v1.0.0.{kind}").status_code == 200
        for kind in Kind:
            assert gw.gateway.blobs.get((M, "v1.0.0", kind)) is not None
    assert {p: n for p, n in upstream.hits.items() if "/@v/v1.0.0." in p} == {
        f"/{M}/@v/v1.0.0.{kind}": 1 for kind in ("info", "mod", "zip")
    }


def test_warm_up_checks_a_module_without_storing_it(tmp_path: Path) -> None:
    from proxy.ingest import warm_up

    warm_up()  # raises if a check refused its made-up module
    assert list(tmp_path.iterdir()) == []


def test_a_mod_is_answered_while_the_zip_is_still_downloading(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    """From an HTTP upstream the .mod answers once .info and .mod are in, not after the zip
    (the upstream holds the zip until the .mod has been answered); the .zip then waits for
    the whole ingest."""
    import threading

    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": GOMOD, "a.go": "package a\n"})
    released = upstream.hold[f"/{M}/@v/v1.0.0.zip"] = threading.Event()
    with gateway() as gw:
        # Waiting for the held zip would time out this request instead.
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.mod", timeout=20)
        assert r.status_code == 200 and r.content == GOMOD.encode()
        released.set()
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip", timeout=20)
        assert r.status_code == 200 and r.headers["cache-control"].endswith("immutable")


def test_a_long_refusal_reaches_the_developer_whole_with_what_to_do(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """A zip with a dozen problems made a body of 8 lines and 648 bytes: the go command counts
    the "\\n\\t" it prints between lines, cut the body at 7 lines ("[Truncated: too long.]")
    and the hint saying nothing was stored never showed."""
    files = {"go.mod": GOMOD}
    for i in range(12):  # each pair a case collision, each named long
        files[f"Collides-With-Its-Lower-Case-Twin-{i:02}.go"] = "package bad\n"
        files[f"collides-with-its-lower-case-twin-{i:02}.go"] = "package bad\n"
    goproxy_tree.add_raw(
        M, "v1.0.0", info=b'{"Version":"v1.0.0"}', mod=GOMOD.encode(), zip=build_zip(P, files)
    )
    with gateway() as gw:
        proc = run_go(
            "mod",
            "download",
            f"{M}@v1.0.0",
            cwd=project(tmp_path),
            env_extra={"GOPROXY": gw.url},
            check=False,
        )
    assert proc.returncode != 0 and "refused by go-vault ingest" in proc.stderr
    assert "[Truncated" not in proc.stderr, proc.stderr
    assert "nothing was stored" in proc.stderr and "more" in proc.stderr


def test_a_vault_that_cannot_be_written_says_so(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """A vault directory that refuses the write (read-only, immutable, a file in the way) was a
    traceback and "go-vault internal error"; nothing is stored, and the ingest is an event."""
    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": GOMOD})
    with gateway() as gw:
        (tmp_path / "vault" / "example.com").mkdir(parents=True, exist_ok=True)
        (tmp_path / "vault" / "example.com" / "bad").write_text("in the way\n")
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip")
    assert r.status_code == 500, r.text
    assert r.text.startswith(f"{M}@v1.0.0: cannot write to the vault at "), r.text
    assert "permissions" in r.text and "internal error" not in r.text
    (event,) = [e for e in audit_events(tmp_path) if e["event"] == "ingest" and e["module"] == M]
    assert event["decision"] == "failed" and "cannot write to the vault" in event["reason"]
