"""Where `scan`, `sbom` and `report` put their documents: every one or none, links kept, one per
destination (the SBOM too), and a reproducible SBOM that does not depend on GOPROXY's spelling."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree
from scanproject import make_project, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

SAVED_RESULT = Path(__file__).parent / "golden" / "report-result.json"


@pytest.fixture
def project(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    publish_dependencies(goproxy_tree)
    return make_project(tmp_path / "repo", run_go, goproxy_tree)


@pytest.fixture
def env(go_env: dict[str, str], goproxy_tree: GoProxyTree, scan_cache: Path) -> dict[str, str]:
    return scan_env(go_env, goproxy_tree, scan_cache)


def run_into(args: list[str], stdout: Path, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """goproxy-scan with its standard output redirected to the file `stdout` (as `> stdout`)."""
    with stdout.open("w") as out:
        return subprocess.run(
            ["goproxy-scan", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )


def report(*formats: str) -> list[str]:
    return ["report", "--from", str(SAVED_RESULT), *(a for f in formats for a in ("--format", f))]


def test_a_link_to_standard_output_stays_a_link_and_the_report_reaches_the_file(
    tmp_path: Path,
) -> None:
    """`--format sarif=/dev/stdout > out.txt` renamed a temporary file over the /dev/stdout link
    (as root: the container's); out.txt stayed empty. A link of our own to /proc/self/fd/1
    stands in for /dev/stdout."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    out = tmp_path / "out.txt"
    proc = run_into(report(f"sarif={link}"), out, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert json.loads(out.read_text())["version"] == "2.1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "stdout"]


def test_the_file_stdout_goes_to_counts_as_standard_output(tmp_path: Path) -> None:
    """By its own name it is written through standard output (where the shell's `>>` keeps
    what was there), not replaced by a new file behind the shell's back."""
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        f.write("before\n")
    with out.open("a") as f:
        proc = subprocess.run(
            ["goproxy-scan", *report(f"json={out}")],
            cwd=tmp_path,
            stdout=f,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    before, _, rest = out.read_text().partition("\n")
    assert before == "before"
    assert json.loads(rest)["schema_version"]


def test_a_report_through_a_link_to_a_file_replaces_the_file_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    real = tmp_path / "reports" / "scan.json"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "latest.json"
    link.symlink_to(Path("reports") / "scan.json")
    dangling = tmp_path / "next.sarif"
    dangling.symlink_to(Path("reports") / "next.sarif")
    proc = run_scan_cli(report(f"json={link}", f"sarif={dangling}"), dict(os.environ), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and dangling.is_symlink()
    assert json.loads(real.read_text())["schema_version"]
    assert json.loads((tmp_path / "reports" / "next.sarif").read_text())["version"] == "2.1.0"
    assert sorted(p.name for p in real.parent.iterdir()) == ["next.sarif", "scan.json"]


@pytest.mark.parametrize("order", ["bad last", "bad first"])
def test_a_report_that_cannot_be_written_leaves_every_output_as_it_was(
    tmp_path: Path, order: str
) -> None:
    """d.json was written before afile/x.sarif failed, or not, by argument order."""
    (tmp_path / "afile").write_text("a file\n")
    (tmp_path / "d.json").write_text("yesterday's\n")
    good = ["json=d.json", "markdown=new/dir/d.md"]
    bad = "sarif=afile/x.sarif"
    formats = [*good, bad] if order == "bad last" else [bad, *good]
    proc = run_scan_cli(report(*formats), dict(os.environ), tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.endswith(
        "afile/x.sarif: cannot write the report: afile is a file, not a directory "
        "(choose another output path)\n"
    )
    assert (tmp_path / "d.json").read_text() == "yesterday's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d.json"]


@pytest.mark.gocmd
def test_scan_writes_no_report_and_no_sbom_when_one_output_cannot_be_written(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    (project / "afile").write_text("a file\n")
    args = ["--format", "json=d.json", "--sbom", "d.sbom", "--format", "sarif=afile/x.sarif"]
    proc = run_scan_cli(["scan", ".", "--offline", *args], env, project)
    assert proc.returncode == 3, proc.stderr
    assert "afile is a file, not a directory" in proc.stderr
    assert not (project / "d.json").exists() and not (project / "d.sbom").exists()


@pytest.mark.gocmd
def test_the_sbom_may_not_share_a_file_or_standard_output_with_a_report(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """The SBOM was left out of the check: one of the two documents was silently lost."""
    proc = run_scan_cli(
        ["scan", ".", "--offline", "--format", "json=r.json", "--sbom", "r.json"], env, project
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "error: --sbom r.json and --format json=r.json both write to r.json, where the last "
        "would replace the others (give each report a file of its own)\n"
    )
    assert not (project / "r.json").exists()

    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    both = tmp_path / "both.out"
    for sbom in (str(link), str(both)):
        proc = run_into(
            ["scan", ".", "--offline", "--format", "json", "--sbom", sbom], both, project, env
        )
        assert proc.returncode == 2, proc.stderr
        assert "both write to standard output" in proc.stderr, proc.stderr
        assert both.read_text() == ""


@pytest.mark.gocmd
def test_a_reproducible_sbom_does_not_depend_on_how_goproxy_is_spelled(
    project: Path, env: dict[str, str], goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """The serial number hashed the result's notes, which name the GOPROXY setting."""
    runs = {
        "plain": ({"GOPROXY": goproxy_tree.url}, []),
        "with off": ({"GOPROXY": f"{goproxy_tree.url},off"}, []),
        "offline": ({"GOPROXY": goproxy_tree.url}, ["--offline"]),
    }
    sboms = {}
    for name, (extra, flags) in runs.items():
        out = tmp_path / f"{name}.cdx.json"
        proc = run_scan_cli(
            ["sbom", ".", "--reproducible", *flags, "--output", str(out)], {**env, **extra}, project
        )
        assert proc.returncode == 0, proc.stderr
        sboms[name] = out.read_bytes()
    assert sboms["plain"] == sboms["with off"] == sboms["offline"]
    assert json.loads(sboms["plain"])["serialNumber"].startswith("urn:uuid:")
