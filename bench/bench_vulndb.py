"""Benchmark: load the whole Go vulnerability database and match a 300+-module build list.

Targets (issue 11): index load under 1 s, matching under 0.5 s after the load. Each figure is
printed with a ratio against a baseline measured in the same run:
- load: the index from the cache vs json-decoding every raw OSV file of the source directory;
- match: the indexed match vs a naive scan of every entry's `affected` for every module.

    python bench/bench_vulndb.py [OSV_DIR] [--modules N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from scanner.module import ModuleVersion
from scanner.vulndb.database import load_index
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.layout import build_layout, latest_fixed
from scanner.vulndb.match import affects, match_modules

T = TypeVar("T")
OSV_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "go-vulndb" / "osv"


def best_of(n: int, fn: Callable[[], T]) -> tuple[float, T]:
    best, value = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    assert value is not None
    return best, value


def build_list(index: VulnIndex, n: int) -> list[ModuleVersion]:
    """n modules named by the database: alternately just below and at the latest fix."""
    out = []
    for i, path in enumerate(
        sorted(p for p in index.by_module if p not in ("stdlib", "toolchain"))
    ):
        fixed = max((latest_fixed(e, path) for e, _ in index.for_module(path)), default="")
        out.append(ModuleVersion(path, fixed if (i % 2 and fixed) else "v0.0.1"))
        if len(out) == n:
            break
    return out


def naive_match(index: VulnIndex, modules: list[ModuleVersion], go: str) -> int:
    found = set()
    for entry in index.entries.values():
        if entry.withdrawn:
            continue
        for affected in entry.affected:
            for mv in [*modules, ModuleVersion("stdlib", go), ModuleVersion("toolchain", go)]:
                if affected.module == mv.path and affects(affected.ranges, mv.version):
                    found.add((entry.id, mv))
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("osv_dir", nargs="?", type=Path, default=OSV_DIR)
    parser.add_argument("--modules", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = build_layout(args.osv_dir, Path(tmp) / "db").out_dir
        cache = Path(tmp) / "cache"
        load_index(db.as_uri(), cache_dir=cache)  # fill the cache
        t_load, index = best_of(3, lambda: load_index(db.as_uri(), cache_dir=cache))
        files = sorted(args.osv_dir.glob("*.json"))
        t_raw, _ = best_of(3, lambda: [json.loads(f.read_bytes()) for f in files])
        modules = build_list(index, args.modules)
        t_match, matches = best_of(5, lambda: match_modules(index, modules, go_version="1.21.0"))
        t_naive, naive = best_of(1, lambda: naive_match(index, modules, "v1.21.0"))
    assert naive == len(matches), (naive, len(matches))
    print(f"entries: {len(index.entries)}, build list: {len(modules)} modules + stdlib/toolchain")
    print(
        f"index load (cache):   {t_load:.3f} s  (target < 1 s)   "
        f"baseline raw OSV decode {t_raw:.3f} s, ratio {t_load / t_raw:.2f}x"
    )
    print(
        f"match {len(modules)} modules: {t_match:.4f} s  (target < 0.5 s)  "
        f"baseline naive scan {t_naive:.3f} s, ratio {t_naive / t_match:.1f}x faster; "
        f"{len(matches)} matches"
    )


if __name__ == "__main__":
    main()
