"""Benchmark: `goproxy-scan sbom` vs cdxgen on a generated ≥300-module project and GOROOT/src/cmd.

Run: python bench/bench_sbom.py [--modules N] [--repeat R] [--seed S]
cdxgen comes from npm into bench/_work/cdxgen (`npm install @cyclonedx/cdxgen` there); both tools
run offline against the same filled module cache (GOPROXY=off, GOFLAGS=-mod=mod), their runs
alternating (ours, cdxgen, ours, ...). Prints best and median wall and CPU times, the ratios
(cdxgen / ours: above 1 means we are faster) and what each SBOM holds: components, components
with a license, dependency edges. Skips cdxgen with a message when it
is not installed or cannot run offline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "scanner"))

from goproxytree import GoProxyTree, write_files  # noqa: E402
from licenses.corpus import render as license_text  # noqa: E402

WORK = ROOT / "bench" / "_work"
CDXGEN = WORK / "cdxgen" / "node_modules" / ".bin" / "cdxgen"
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "ISC", "MPL-2.0")


def mod(i: int) -> str:
    return f"example.com/gen/m{i:04d}"


def generate(root: Path, n: int, seed: int) -> tuple[GoProxyTree, Path]:
    """n modules, each with a LICENSE and code importing what it requires; a main using 30."""
    rng = random.Random(seed)
    tree = GoProxyTree(root / "proxy")
    texts = {lid: license_text(lid) for lid in LICENSES}
    for i in reversed(range(n)):
        # Edges only to higher-numbered modules keep it a DAG; i+1 keeps everything reachable.
        targets = (
            {rng.randrange(i + 1, n) for _ in range(rng.randint(0, 3))} if i < n - 1 else set()
        )
        if i + 1 < n:
            targets.add(i + 1)
        reqs = "".join(f"\t{mod(t)} v1.0.0\n" for t in sorted(targets))
        gomod = f"module {mod(i)}\n\ngo 1.21\n" + (f"\nrequire (\n{reqs})\n" if reqs else "")
        imports = "".join(f'\t_ "{mod(t)}"\n' for t in sorted(targets))
        code = f"package m{i:04d}\n" + (f"\nimport (\n{imports})\n" if imports else "")
        code += "\n// V is used by importers.\nconst V = 1\n"
        tree.add_module(
            mod(i),
            "v1.0.0",
            {"go.mod": gomod, "LICENSE": texts[rng.choice(LICENSES)], "x.go": code},
        )
    roots = sorted({0, *rng.sample(range(n), 30)})
    imports = "".join(f'\t_ "{mod(t)}"\n' for t in roots)
    reqs = "".join(f"\t{mod(t)} v1.0.0\n" for t in roots)
    main = write_files(
        root / "main",
        {
            "go.mod": f"module example.com/main\n\ngo 1.22\n\nrequire (\n{reqs})\n",
            "main.go": f"package main\n\nimport (\n{imports})\n\nfunc main() {{}}\n",
        },
    )
    return tree, main


def go_env(home: Path, goproxy: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GOPROXY_SCAN_"))}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "go"),
        GOMODCACHE=str(home / "go" / "pkg" / "mod"),
        GOCACHE=str(home / "gocache"),
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOSUMDB="off",
        GOPROXY=goproxy,
        GOFLAGS="-mod=mod",
        XDG_CACHE_HOME=str(home / "xdg"),
        NO_COLOR="1",
    )
    return env


def timed(
    cmd: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds (user+sys, children included) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def summary(path: Path) -> dict[str, int]:
    doc: dict[str, Any] = json.loads(path.read_text())
    comps = doc.get("components", [])
    edges = sum(len(d.get("dependsOn", [])) for d in doc.get("dependencies", []))
    return {
        "components": len(comps),
        "with_license": sum(1 for c in comps if c.get("licenses")),
        "dependency_edges": edges,
    }


class Tool:
    """One side of the comparison: its command, environment and timings."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], out: Path) -> None:
        self.name, self.cmd, self.env, self.out = name, cmd, env, out
        self.walls: list[float] = []
        self.cpus: list[float] = []

    def run(self, cwd: Path) -> str | None:
        """One timed run; the error text when it failed."""
        self.out.unlink(missing_ok=True)
        wall, cpu, proc = timed(self.cmd, self.env, cwd)
        if proc.returncode != 0 or not self.out.exists():
            return f"{self.name} failed ({proc.returncode}): {proc.stderr[-400:]}"
        self.walls.append(wall)
        self.cpus.append(cpu)
        return None

    def report(self) -> str:
        w, c = self.walls, self.cpus
        return (
            f"{self.name}: wall best {min(w):.2f} s, median {statistics.median(w):.2f} s "
            f"(spread {max(w) / min(w):.2f}x); CPU best {min(c):.2f} s, median "
            f"{statistics.median(c):.2f} s over {len(w)}\n  {summary(self.out)}"
        )


def compare(name: str, project: Path, env: dict[str, str], work: Path, repeat: int) -> None:
    """Our runs and cdxgen's alternate, so that both see the same load on a shared machine."""
    print(f"\n== {name}: {project}")
    ours_out = work / f"{name}-ours.json"
    ours_cmd = ["goproxy-scan", "sbom", str(project), "-o", str(ours_out), "--reproducible"]
    ours = Tool("goproxy-scan sbom", [*ours_cmd, "--offline"], env, ours_out)
    cold = ours.env | {"XDG_CACHE_HOME": str(Path(env["HOME"]) / "xdg-cold")}
    shutil.rmtree(cold["XDG_CACHE_HOME"], ignore_errors=True)
    cold_wall, _cpu, proc = timed(ours.cmd, cold, project)  # compiles the SPDX templates
    if proc.returncode != 0:
        raise SystemExit(f"goproxy-scan sbom failed:\n{proc.stderr}")
    print(f"goproxy-scan sbom with cold caches: {cold_wall:.2f} s")
    cdx_out = work / f"{name}-cdxgen.json"
    cdx_env = env | {
        "FETCH_LICENSE": "false",  # offline: no registry look-ups
        "CDXGEN_TELEMETRY": "false",
        "CDX_MAVEN_INCLUDE_TEST_SCOPE": "false",
        "GOPROXY": "off",
    }
    theirs = Tool(
        "cdxgen -t go",
        [str(CDXGEN), "-t", "go", "--no-recurse", "-o", str(cdx_out), str(project)],
        cdx_env,
        cdx_out,
    )
    skipped = (
        None if CDXGEN.exists() else f"not installed: cd {WORK}/cdxgen && npm i @cyclonedx/cdxgen"
    )
    for _ in range(repeat):
        error = ours.run(project)
        if error:
            raise SystemExit(error)
        if skipped is None:
            skipped = theirs.run(project)
    print(ours.report())
    if skipped is not None:
        print(f"cdxgen: skipped: {skipped}")
        return
    print(theirs.report())
    best = min(theirs.walls) / min(ours.walls)
    median = statistics.median(theirs.walls) / statistics.median(ours.walls)
    cpu = min(theirs.cpus) / min(ours.cpus)
    print(
        f"ratio cdxgen/ours: wall best-of-{repeat} {best:.2f}x, median {median:.2f}x, "
        f"CPU best {cpu:.2f}x (target >= 3x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modules", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="sbom-") as tmp:
        work = Path(tmp)
        tree, project = generate(work, args.modules, args.seed)
        home = work / "home"
        home.mkdir()
        env = go_env(home, tree.url)
        # Fill the module cache and go.sum once; both tools then read only local files.
        subprocess.run(["go", "mod", "tidy"], cwd=project, env=env, check=True, capture_output=True)
        subprocess.run(["go", "mod", "download", "all"], cwd=project, env=env, check=True)
        listed = subprocess.run(
            ["go", "list", "-m", "all"],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        print(f"generated project: {len(listed.stdout.splitlines()) - 1} modules in the build list")
        offline = env | {"GOPROXY": "off"}
        compare("generated", project, offline, work, args.repeat)
        goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
        cmd_dir = Path(goroot.stdout.strip()) / "src" / "cmd"
        vendored = {k: v for k, v in offline.items() if k != "GOFLAGS"}  # cmd builds from vendor/
        compare("goroot-src-cmd", cmd_dir, vendored, work, args.repeat)


if __name__ == "__main__":
    main()
