"""Benchmark: our build list vs `go list -m all` on a generated ≥300-module graph.

Run: python bench/bench_buildlist.py [--modules N] [--repeat R] [--seed S] [--http] [--latency MS]
The upstream is a file:// GOPROXY tree; --http serves it over HTTP on 127.0.0.1 instead, and
--latency adds a delay to each response, as a proxy across a network has (the go command
fetches GOMAXPROCS go.mod files at once, we 16). Each go run starts from an empty module cache;
ours has no cache to warm. Prints the median times and the ratio (go / ours: above 1 means we
are faster), after checking that both lists agree.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from goproxytree import GoProxyTree, go_binary, go_command_env, scanner_cli, write_files  # noqa: E402

from scanner.buildlist import load_build_list  # noqa: E402
from scanner.modfetch import ProxySource  # noqa: E402


def generate(root: Path, n: int, seed: int) -> tuple[GoProxyTree, Path]:
    """A proxy with n modules (1–3 versions each) and a main module reaching all of them."""
    rng = random.Random(seed)
    tree = GoProxyTree(root / "proxy")
    versions = {i: [f"v1.{k}.0" for k in range(rng.randint(1, 3))] for i in range(n)}

    def mod(i: int) -> str:
        return f"example.com/gen/m{i:04d}"

    for i in range(n):
        for v in versions[i]:
            # Edges only to higher-numbered modules keep it a DAG; every module i >= 1 is
            # required by some lower one, so the whole set is reachable from m0000.
            targets = (
                {rng.randrange(i + 1, n) for _ in range(rng.randint(1, 4))} if i < n - 1 else set()
            )
            if i + 1 < n:
                targets.add(i + 1)
            go = "1.16" if rng.random() < 0.7 else "1.21"
            reqs = "".join(f"\t{mod(t)} {rng.choice(versions[t])}\n" for t in sorted(targets))
            text = f"module {mod(i)}\n\ngo {go}\n" + (f"\nrequire (\n{reqs})\n" if reqs else "")
            tree.add_module(mod(i), v, {"go.mod": text, "x.go": "package x\n"})
    roots = sorted({0, *rng.sample(range(n), 30)})
    reqs = "".join(f"\t{mod(t)} {versions[t][0]}\n" for t in roots)
    main = write_files(
        root / "main", {"go.mod": f"module example.com/main\n\ngo 1.21\n\nrequire (\n{reqs})\n"}
    )
    return tree, main


# A file server in its own process (so it does not share our GIL); HTTP/1.0 like
# `python -m http.server`, with an optional delay per response standing for network latency.
_SERVER = """
import functools, http.server, sys, time
delay = float(sys.argv[3]) / 1000
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)
        super().do_GET()
    def log_message(self, *args):
        pass
handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


@contextlib.contextmanager
def served(tree: GoProxyTree, latency_ms: float) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(tree.root), str(latency_ms)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def go_list(url: str, main: Path, scratch: Path) -> tuple[float, list[str]]:
    work = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(main, work / "main")
    env = go_command_env(work / "home", url)  # a fresh module cache every run: cold
    go = go_binary()
    start = time.perf_counter()
    proc = subprocess.run(
        [go, "list", "-m", "all"], cwd=work / "main", env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"go list -m all failed:\n{proc.stderr}")
    shutil.rmtree(work, ignore_errors=True)
    return elapsed, proc.stdout.splitlines()


def ours_inprocess(url: str, main: Path) -> tuple[float, list[str]]:
    start = time.perf_counter()
    bl = load_build_list(main, ProxySource(url))
    return time.perf_counter() - start, [str(m) for m in bl.modules]


def ours_cli(url: str, main: Path) -> tuple[float, list[str]]:
    exe = scanner_cli()
    start = time.perf_counter()
    proc = subprocess.run([exe, "graph", str(main), "--proxy", url], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"goproxy-scan graph failed:\n{proc.stderr}")
    return elapsed, proc.stdout.splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--http", action="store_true", help="serve the tree over HTTP")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="MS", help="with --http: delay per response"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-buildlist-") as tmp:
        root = Path(tmp)
        tree, main_dir = generate(root, args.modules, args.seed)
        with served(tree, args.latency) if args.http else contextlib.nullcontext(tree.url) as url:
            run(args, url, main_dir, root)


def run(args: argparse.Namespace, url: str, main_dir: Path, root: Path) -> None:
    go_times, lib_times, cli_times = [], [], []
    for _ in range(args.repeat):
        t, go_lines = go_list(url, main_dir, root)
        go_times.append(t)
        t, lib_lines = ours_inprocess(url, main_dir)
        lib_times.append(t)
        t, cli_lines = ours_cli(url, main_dir)
        cli_times.append(t)
        if not (go_lines == lib_lines == cli_lines):
            raise SystemExit("build lists differ from go list -m all")
    go_t, lib_t, cli_t = (statistics.median(x) for x in (go_times, lib_times, cli_times))
    latency = f" (+{args.latency:g} ms per response)" if args.http and args.latency else ""
    print(f"upstream: {url}{latency}")
    print(f"modules in build list: {len(go_lines) - 1} (graph of {args.modules} generated)")
    print(f"go list -m all (cold cache): {go_t:.3f}s  median of {args.repeat}")
    print(f"load_build_list (in-process): {lib_t:.3f}s  ratio go/ours = {go_t / lib_t:.2f}x")
    print(f"goproxy-scan graph (process): {cli_t:.3f}s  ratio go/ours = {go_t / cli_t:.2f}x")


if __name__ == "__main__":
    main()
