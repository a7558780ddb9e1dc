"""`goproxy-scan vulndb build`: the served layout from a directory of OSV files."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

from scanner.vulndb.layout import build_layout


def test_layout_of_the_whole_database(osv_dir: Path, vulndb_dir: Path) -> None:
    files = sorted(osv_dir.glob("*.json"))
    ids = sorted(f.stem for f in (vulndb_dir / "ID").glob("*.json"))
    assert ids == [f.stem for f in files]
    db = json.loads((vulndb_dir / "index" / "db.json").read_bytes())
    assert db["modified"] >= "2026-08-18T20:23:02Z"  # newest published/withdrawn in the snapshot
    modules = json.loads((vulndb_dir / "index" / "modules.json").read_bytes())
    assert [m["path"] for m in modules] == sorted(m["path"] for m in modules)
    gin = next(m for m in modules if m["path"] == "github.com/gin-gonic/gin")
    first = next(v for v in gin["vulns"] if v["id"] == "GO-2020-0001")
    assert first == {"id": "GO-2020-0001", "modified": "2021-04-14T20:04:52Z", "fixed": "1.6.0"}
    stdlib = next(m for m in modules if m["path"] == "stdlib")
    assert any(v["id"] == "GO-2022-0969" and v["fixed"] == "1.19.1" for v in stdlib["vulns"])
    vulns = json.loads((vulndb_dir / "index" / "vulns.json").read_bytes())
    assert {"id": "GO-2020-0001", "modified": "2021-04-14T20:04:52Z"}.items() <= vulns[0].items()
    assert vulns[0]["aliases"] == ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"]
    # govulncheck reads the .json.gz twins over http
    for name in ("index/db.json", "index/modules.json", "ID/GO-2022-0969.json"):
        plain = (vulndb_dir / name).read_bytes()
        assert gzip.decompress((vulndb_dir / f"{name}.gz").read_bytes()) == plain
    entry = json.loads((vulndb_dir / "ID" / "GO-2020-0001.json").read_bytes())
    assert entry == json.loads((osv_dir / "GO-2020-0001.json").read_bytes())


def _small(osv_dir: Path, dest: Path, ids: list[str]) -> Path:
    dest.mkdir()
    for i in ids:
        shutil.copy2(osv_dir / f"{i}.json", dest / f"{i}.json")
    return dest


def test_build_is_deterministic_and_replaces_the_output(osv_dir: Path, tmp_path: Path) -> None:
    src = _small(osv_dir, tmp_path / "osv", ["GO-2020-0001", "GO-2021-0072", "GO-2022-0969"])
    a = build_layout(src, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "stale.json").write_text("{}")
    b = build_layout(src, tmp_path / "b")
    assert a.modified == b.modified and a.entries == 3

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert tree(tmp_path / "a") == tree(tmp_path / "b")  # stale.json is gone, bytes equal
    c = build_layout(src, tmp_path / "c", modified="2030-01-02T03:04:05Z")
    assert json.loads((c.out_dir / "index" / "db.json").read_bytes()) == {
        "modified": "2030-01-02T03:04:05Z"
    }


def test_cli_build_and_its_errors(osv_dir: Path, tmp_path: Path) -> None:
    src = _small(osv_dir, tmp_path / "osv", ["GO-2020-0001"])
    ok = subprocess.run(
        ["goproxy-scan", "vulndb", "build", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "wrote 1 entries for 1 modules" in ok.stdout
    assert (tmp_path / "out" / "ID" / "GO-2020-0001.json.gz").is_file()

    (src / "broken.json").write_text('{"id": "GO-X", "affected": []}')
    bad = subprocess.run(
        ["goproxy-scan", "vulndb", "build", str(src), str(tmp_path / "out2")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "broken.json" in bad.stderr and "'modified'" in bad.stderr
    assert not (tmp_path / "out2").exists()
