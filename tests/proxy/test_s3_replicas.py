"""Several `go-vault serve` processes on one S3 bucket (a real moto server process)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from goproxytree import GoProxyTree, json_stream, write_files
from s3server import MotoServer
from serveproc import serve_process
from vaultlab import LoopbackUpstream

from proxy.storage import open_storage

RunGo = Callable[..., subprocess.CompletedProcess[str]]
M = "example.com/shared"


def go_vault(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@contextmanager
def serve(storage: str, upstream: str, tmp: Path, *args: str) -> Iterator[str]:
    """One `go-vault serve` process; yields its URL once it answers /-/readyz."""
    audit = str(tmp / f"audit-{time.monotonic_ns()}.jsonl")
    with serve_process(
        *("--server", "uvicorn", "--storage", storage, "--upstream", upstream),
        *("--audit-log", audit, *args),
        ready=True,
    ) as (_proc, url):
        yield url


def objects(server: MotoServer, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=server.url)
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", ()))


@pytest.fixture
def shared_upstream(goproxy_tree: GoProxyTree) -> Iterator[LoopbackUpstream]:
    for v in ("v1.2.0", "v1.3.0"):
        goproxy_tree.add_module(
            M, v, {"go.mod": f"module {M}\n", "s.go": f'package shared\n\nconst V = "{v}"\n'}
        )
    lab = LoopbackUpstream(goproxy_tree.root)
    lab.delay = 0.2  # both replicas ask upstream while the other is still ingesting
    yield lab
    lab.stop()


@pytest.mark.gocmd
def test_two_replicas_one_bucket(
    moto_server: MotoServer,
    shared_upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    bucket = moto_server.new_bucket()
    storage = f"s3://{bucket}/vault"
    with (
        serve(storage, shared_upstream.url, tmp_path) as a,
        serve(storage, shared_upstream.url, tmp_path) as b,
    ):
        # Concurrent ingest of the same version through both replicas.
        urls = [f"{u}/{M}/@v/v1.3.0.zip" for u in (a, b) for _ in range(4)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda u: httpx.get(u, timeout=30), urls))
        assert {r.status_code for r in answers} == {200}
        assert len({r.content for r in answers}) == 1  # identical bytes from both replicas
        stored = [k for k in objects(moto_server, bucket) if "v1.3.0" in k]
        assert stored == [f"vault/{M}/@v/v1.3.0.{k}" for k in ("info", "mod", "zip")]

        app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})

        def go_sum(url: str) -> str:
            run_go("clean", "-modcache", cwd=app)
            out = run_go(
                "mod", "download", "-json", f"{M}@v1.3.0", cwd=app, env_extra={"GOPROXY": url}
            )
            return str(next(json_stream(out.stdout))["Sum"])

        assert go_sum(a) == go_sum(b)

        # A rollback written to the bucket applies on every replica.
        go_vault("rollback", M, "v1.3.0", "--reason", "bad release", "--storage", storage)
        deadline = time.monotonic() + 15
        while any("v1.3.0" in httpx.get(f"{u}/{M}/@v/list").text for u in (a, b)):
            assert time.monotonic() < deadline, "a replica still lists v1.3.0"
            time.sleep(0.1)
        for u in (a, b):
            r = httpx.get(f"{u}/{M}/@v/v1.3.0.info")
            assert r.status_code == 403 and "bad release" in r.text
            assert httpx.get(f"{u}/{M}/@latest").json()["Version"] == "v1.2.0"


@pytest.mark.gocmd
def test_presigned_redirect_is_followed_by_the_go_command(
    moto_server: MotoServer,
    shared_upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    storage = f"s3://{moto_server.new_bucket()}/vault?presign=1"
    with serve(storage, shared_upstream.url, tmp_path) as url:
        first = httpx.get(f"{url}/{M}/@v/v1.2.0.zip")  # ingests, then redirects
        assert first.status_code == 302
        assert first.headers["location"].startswith(moto_server.url)
        app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
        out = run_go("mod", "download", "-json", f"{M}@v1.2.0", cwd=app, env_extra={"GOPROXY": url})
        assert str(next(json_stream(out.stdout))["Sum"]).startswith("h1:")


def test_bundle_export_and_import_on_s3(moto_server: MotoServer, tmp_path: Path) -> None:
    """The bundle commands take the same s3:// storage as serve (and the base check too)."""
    from proxy.bundle import export_bundle, import_bundle
    from proxy.storage import Kind, open_storage

    src = open_storage(f"s3://{moto_server.new_bucket()}/a")
    tree = GoProxyTree(tmp_path / "tree")
    art = tree.add_module(M, "v1.2.0", {"go.mod": f"module {M}\n", "s.go": "package shared\n"})
    for kind, path in ((Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)):
        src.put(M, "v1.2.0", kind, Path(path))
    bundle = tmp_path / "b.tar.gz"
    export_bundle(src, bundle)
    spec = f"s3://{moto_server.new_bucket()}/b"
    dest = open_storage(spec)
    assert import_bundle(dest, spec, bundle).new == 1
    assert import_bundle(dest, spec, bundle).new == 0
    assert dest.get(M, "v1.2.0", Kind.ZIP) == Path(art.zip).read_bytes()


def test_zip_from_s3_without_presign_is_streamed(
    moto_server: MotoServer, goproxy_tree: GoProxyTree, gateway: Any
) -> None:
    """No local file, no presigned URL: the gateway relays the object a chunk at a time, with
    the object's ETag (If-None-Match -> 304) and its length; HEAD sends no body."""
    blob = random.Random(7).randbytes(5 << 20 | 123)  # incompressible: a zip over 5 chunks
    goproxy_tree.add_module(
        "example.com/big", "v1.0.0", {"go.mod": "module example.com/big\n", "b.bin": blob}
    )
    expected = (goproxy_tree.root / "example.com/big/@v/v1.0.0.zip").read_bytes()
    storage = open_storage(f"s3://{moto_server.new_bucket()}/vault")
    with gateway(storage=storage) as gw:
        url = f"{gw.url}/example.com/big/@v/v1.0.0.zip"
        first = httpx.get(url, timeout=30)  # ingests, then streams from the bucket
        again = httpx.get(url, timeout=30)  # already stored: straight from the bucket
        for r in (first, again):
            assert r.status_code == 200 and r.content == expected
            assert r.headers["content-length"] == str(len(expected))
        etag = again.headers["etag"]
        assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
        head = httpx.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(expected))
