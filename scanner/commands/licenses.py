"""`goproxy-scan licenses DIR_OR_ZIP`: license detection for one module tree."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import click

from ..errors import GoProxyScanError, InputError
from ..exitcodes import ExitCode
from ..licenses import LicenseReport, detect_dir, detect_zip, load_index


def _zip_identity(path: Path) -> tuple[str, str]:
    """module path and version from a module zip's `<path>@<version>/` entry prefix."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"not a readable zip file: {e}", path=str(path)) from e
    for name in names:
        head, at, rest = name.partition("@")
        if at and "/" in rest:
            return head, rest.split("/", 1)[0]
    raise InputError(
        "no `<module>@<version>/` entries: not a Go module zip",
        path=str(path),
        hint="pass --module and --version, or a module directory",
    )


def _render(report: LicenseReport, target: str) -> str:
    lines = []
    for f in report.files:
        if not f.matches:
            lines.append(f"{f.path}: no license text found")
        for m in f.matches:
            extra = f", nearest {m.nearest}" if m.nearest else ""
            kind = "" if m.kind == "text" else f" [{m.kind}]"
            lines.append(
                f"{f.path}:{m.start_line}-{m.end_line}: {m.license_id}{kind} "
                f"(confidence {m.confidence:.2f}{extra})"
            )
    if not report.files:
        lines.append(f"{target}: no license files")
    lines.append(f"module license: {report.expression or '(none found)'}")
    if report.declared:
        lines.append(f"declared in go.mod: {report.declared}")
        if report.declared_mismatch:
            lines.append(
                f"warning: go.mod declares {report.declared} but the root license files hold "
                f"{report.root_expression}"
            )
    return "\n".join(lines)


@click.command("licenses")
@click.argument("target", metavar="DIR_OR_ZIP", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--module", "module_path", help="Module path of a zip (default: from its entries).")
@click.option("--version", "version", help="Version of a zip (default: from its entries).")
@click.option(
    "--spdx-cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GOPROXY_SCAN_SPDX_CACHE_DIR",
    help="Where the compiled SPDX template index is cached.",
)
def licenses(
    target: Path,
    as_json: bool,
    module_path: str | None,
    version: str | None,
    spdx_cache_dir: Path | None,
) -> int:
    """Detect the licenses of a module directory or module zip, per file and for the module."""
    index = load_index(spdx_cache_dir)
    if target.is_dir():
        report = detect_dir(target, index=index, skip=_vendored_nested(target))
    else:
        found_path, found_version = _zip_identity(target)
        module_path = module_path or found_path
        version = version or found_version
        if (module_path, version) != (found_path, found_version):
            # detect_zip reads only the entries under the prefix given: a mistyped flag made
            # "no license files", exit 0.
            raise InputError(
                f"no entries under {module_path}@{version}/: the zip holds"
                f" {found_path}@{found_version}/",
                path=str(target),
                hint="leave --module and --version out: they are read from the zip",
            )
        report = detect_zip(target, module_path, version, index=index)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(_render(report, str(target)))
    return int(ExitCode.PASS)


def _vendored_nested(directory: Path) -> list[str]:
    """For a module's copy in vendor/: the sub-directories vendor/modules.txt lists as modules
    of their own (scan skips them the same way; a vendored module keeps no go.mod)."""
    from ..licenses.detect import nested_modules
    from ..modulestxt import parse_modules_txt

    here = directory.resolve()
    vendor = next((d for d in here.parents if d.name == "vendor"), None)
    if vendor is None or not (listing := vendor / "modules.txt").is_file():
        return []
    try:
        modules = parse_modules_txt(listing.read_bytes(), str(listing)).build_list()
    except (OSError, GoProxyScanError):
        return []  # judged as any directory; `scan` says what is wrong with the listing
    return nested_modules(here.relative_to(vendor).as_posix(), (m.path for m in modules))
