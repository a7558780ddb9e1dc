"""Detection over module trees: which files are read, what a module's expression is."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files

from scanner.cli import cli, run
from scanner.licenses import (
    LicenseReport,
    TemplateIndex,
    detect_dir,
    detect_zip,
    is_license_file,
    load_index,
)
from scanner.licenses.templates import data_version

from .corpus import render

MIT = render("MIT")
APACHE = render("Apache-2.0")
BSD3 = render("BSD-3-Clause")
AGPL = render("AGPL-3.0-only")
NOTICE = (
    "Example Library\nCopyright 2024 Example Corp.\n\n"
    "This product includes software developed at Example Corp (https://example.com/).\n"
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("LICENSE", True),
        ("LICENCE.md", True),
        ("COPYING.txt", True),
        ("UNLICENSE", True),
        ("NOTICE", True),
        ("LICENSE-APACHE", True),
        ("MIT-LICENSE.txt", True),
        ("sub/pkg/LICENSE.rst", True),
        ("license.go", False),
        ("LICENSE.json", False),
        ("licenses/cmd.go", False),
        ("LICENSES/Apache-2.0.txt", True),
        ("vendor/x/LICENSE", False),
        ("testdata/LICENSE", False),
        ("README.md", False),
    ],
)
def test_license_file_names(path: str, expected: bool) -> None:
    assert is_license_file(path) is expected


def test_module_tree(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(
        tmp_path,
        {
            "go.mod": "module example.com/lib\n\ngo 1.22\n",
            "LICENSE": APACHE,
            "NOTICE": NOTICE,
            "third_party/xxhash/LICENSE.txt": BSD3,
            "nested/go.mod": "module example.com/lib/nested\n",
            "nested/LICENSE": AGPL,
            "vendor/example.org/v/LICENSE": AGPL,
            "internal/license.go": "package internal\n",
        },
    )
    report = detect_dir(tmp_path, index=index)
    assert [f.path for f in report.files] == ["LICENSE", "third_party/xxhash/LICENSE.txt"]
    assert report.expression == "Apache-2.0 AND BSD-3-Clause"
    assert report.root_expression == "Apache-2.0"
    (bsd,) = [f for f in report.findings() if f.expression == "BSD-3-Clause"]
    assert bsd.files == ("third_party/xxhash/LICENSE.txt",)
    assert bsd.category == "permissive"


def test_notice_with_a_license_counts(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(tmp_path, {"LICENSE": MIT, "NOTICE": NOTICE + "\n" + BSD3})
    report = detect_dir(tmp_path, index=index)
    assert report.expression == "BSD-3-Clause AND MIT"


def test_several_files_and_several_licenses_in_one(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(tmp_path, {"LICENSE-MIT": MIT, "LICENSE-APACHE": APACHE, "COPYING": MIT + BSD3})
    report = detect_dir(tmp_path, index=index)
    assert report.expression == "Apache-2.0 AND BSD-3-Clause AND MIT"
    copying = next(f for f in report.files if f.path == "COPYING")
    assert [m.license_id for m in copying.matches] == ["MIT", "BSD-3-Clause"]
    assert copying.matches[0].end_line < copying.matches[1].start_line


def test_declared_license_agrees_or_is_reported(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(
        tmp_path,
        {"go.mod": "module example.com/dual\n\n//go:license MIT OR Apache-2.0\n", "LICENSE": MIT},
    )
    report = detect_dir(tmp_path, index=index)
    assert report.declared == "MIT OR Apache-2.0"
    assert report.declared_mismatch
    (tmp_path / "LICENSE-APACHE").write_text(APACHE)
    report = detect_dir(tmp_path, index=index)
    assert not report.declared_mismatch


def test_report_json_round_trip(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(
        tmp_path,
        {
            "go.mod": "module example.com/rt\n//go:license MIT\n",
            "LICENSE": MIT + "\n\nNo use by anyone on Tuesdays, whatever the other terms say, "
            "unless a written waiver is signed by the author.\n",
            "sub/COPYING": "SPDX-License-Identifier: BSD-3-Clause\n",
        },
    )
    report = detect_dir(tmp_path, index=index)
    assert {m.kind for f in report.files for m in f.matches} == {"text", "unknown", "reference"}
    again = LicenseReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report


def test_no_license_files(tmp_path: Path, index: TemplateIndex) -> None:
    write_files(tmp_path, {"go.mod": "module example.com/none\n", "main.go": "package main\n"})
    report = detect_dir(tmp_path, index=index)
    assert report.files == ()
    assert report.expression == ""
    assert report.findings() == ()


@pytest.mark.gocmd
def test_zip_downloaded_by_the_go_command(
    tmp_path: Path,
    goproxy_tree: GoProxyTree,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    index: TemplateIndex,
) -> None:
    goproxy_tree.add_module(
        "example.com/Upper/lib",
        "v1.2.0",
        {
            "go.mod": "module example.com/Upper/lib\n\ngo 1.21\n//go:license MPL-2.0\n",
            "LICENSE": render("MPL-2.0"),
            "lib.go": "package lib\n",
        },
    )
    out = run_go(
        "mod",
        "download",
        "-json",
        "example.com/Upper/lib@v1.2.0",
        cwd=tmp_path,
        env_extra={"GOPROXY": goproxy_tree.url},
    )
    zip_path = Path(json.loads(out.stdout)["Zip"])
    report = detect_zip(zip_path, "example.com/Upper/lib", "v1.2.0", index=index)
    assert report.expression == "MPL-2.0"
    assert report.declared == "MPL-2.0"
    assert not report.declared_mismatch
    assert report.files[0].matches[0].exact


def test_index_cache_is_reused_and_survives_corruption(tmp_path: Path) -> None:
    first = load_index(tmp_path)
    (cached,) = tmp_path.glob("spdx-templates-*.marshal")
    assert data_version() in cached.name
    again = load_index(tmp_path)
    assert again.templates == first.templates
    cached.write_bytes(b"not marshal data")
    rebuilt = load_index(tmp_path)
    assert rebuilt.templates == first.templates


def test_cli_licenses_dir_and_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], goproxy_tree: GoProxyTree
) -> None:
    write_files(tmp_path / "mod", {"go.mod": "module example.com/m\n", "LICENSE": MIT})
    cache = str(tmp_path / "cache")
    assert run(cli, ["licenses", str(tmp_path / "mod"), "--spdx-cache-dir", cache]) == 0
    text = capsys.readouterr().out
    assert "LICENSE:" in text and "MIT (confidence 1.00)" in text
    assert "module license: MIT" in text

    art = goproxy_tree.add_module(
        "example.com/m", "v0.1.0", {"go.mod": "module example.com/m\n", "COPYING": BSD3}
    )
    assert run(cli, ["licenses", str(art.zip), "--json", "--spdx-cache-dir", cache]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["expression"] == "BSD-3-Clause"
    assert data["files"][0]["path"] == "COPYING"
    assert data["files"][0]["matches"][0]["confidence"] == 1.0

    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"nope")
    assert run(cli, ["licenses", str(not_zip), "--spdx-cache-dir", cache]) == 2
    assert "not a readable zip" in capsys.readouterr().err


def test_spdx_identifier_line_is_a_reference_not_a_match(
    tmp_path: Path, index: TemplateIndex
) -> None:
    write_files(
        tmp_path,
        {
            "LICENSE": "SPDX-License-Identifier: mit OR Apache-2.0\n",
            "sub/LICENSE": "// SPDX-License-Identifier: Not-A-License\n",
            "full/LICENSE": "SPDX-License-Identifier: MIT\n\n" + MIT,
        },
    )
    report = detect_dir(tmp_path, index=index)
    by_path = {f.path: f for f in report.files}
    (tag,) = by_path["LICENSE"].matches
    assert (tag.license_id, tag.kind, tag.confidence) == ("MIT OR Apache-2.0", "reference", 0.8)
    assert by_path["sub/LICENSE"].matches == ()
    (text,) = by_path["full/LICENSE"].matches
    assert (text.license_id, text.exact) == ("MIT", True)
    (finding,) = [f for f in report.findings() if f.expression == "MIT OR Apache-2.0"]
    assert finding.category == "permissive"
