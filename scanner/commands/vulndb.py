"""`goproxy-scan vulndb`: build a Go vulnerability database, fill its cache, check a module."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from ..errors import InputError
from ..exitcodes import ExitCode
from ..vulndb.database import DEFAULT_URL, load_index
from ..vulndb.layout import build_layout


def default_db_url() -> str:
    """GOPROXY_SCAN_VULNDB, else govulncheck's GOVULNDB, else vuln.go.dev."""
    return os.environ.get("GOPROXY_SCAN_VULNDB") or os.environ.get("GOVULNDB") or DEFAULT_URL


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "goproxy-scan" / "vulndb"


@click.group()
def vulndb() -> None:
    """The Go vulnerability database (the layout vuln.go.dev serves)."""


@vulndb.command()
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--modified",
    metavar="RFC3339",
    help="The database time for index/db.json (default: newest entry time or file mtime).",
)
def build(src: Path, out: Path, modified: str | None) -> int:
    """Build the served layout (index/, ID/) in OUT from the OSV *.json files in SRC.

    Serve OUT over https or use it as file://OUT, for example `govulncheck -db file://OUT`.
    """
    built = build_layout(src, out, modified=modified)
    click.echo(
        f"wrote {built.entries} entries for {built.modules} modules to {built.out_dir} "
        f"(modified {built.modified})"
    )
    return int(ExitCode.PASS)


@vulndb.command()
@click.argument("url", required=False)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
def fetch(url: str | None, cache_dir: Path | None) -> int:
    """Copy every entry of the database at URL into the cache, for later offline runs."""
    index = load_index(url or default_db_url(), cache_dir=cache_dir or default_cache_dir())
    click.echo(f"cached {len(index.entries)} entries of {index.url} (modified {index.modified})")
    return int(ExitCode.PASS)


@vulndb.command()
@click.argument("main_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--db", "db_url", help="Database URL (https://, file:// or a directory).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--offline", is_flag=True, help="Use the cached database and the module cache.")
@click.option("--proxy", help="GOPROXY list for the build list's go.mod files.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "openvex"]), default="text")
def check(
    main_dir: Path,
    db_url: str | None,
    cache_dir: Path | None,
    offline: bool,
    proxy: str | None,
    policy_file: Path | None,
    fmt: str,
) -> int:
    """Known vulnerabilities of MAIN_DIR's build list, with reachability; exit 1 if one fails.

    The policy is the `vulnerabilities:` section of --policy (default MAIN_DIR/.goproxy-scan.yml).
    """
    from ..buildlist import BuildModule, load_build_list
    from ..config import ScanConfig
    from ..goenv import go_environ
    from ..modfetch import ModCacheSource, ModuleSource, source_from_goproxy
    from ..policy import load_policy
    from ..scan import analyse, gomodcache, goproxy_source, read_gomod, vendor_dir
    from ..vulndb.check import build_list_code, check_build_list, finding_json, index_paths
    from ..vulndb.openvex import openvex_document, render_openvex
    from ..vulndb.policy import VulnPolicy, vuln_policy

    now = datetime.now(UTC)
    main = read_gomod(main_dir)
    if policy_file is None and (main_dir / ".goproxy-scan.yml").is_file():
        policy_file = main_dir / ".goproxy-scan.yml"
    policy = vuln_policy(load_policy(policy_file)) if policy_file else VulnPolicy()
    env = go_environ(os.environ)
    modules: tuple[BuildModule, ...]
    fetch_zip: Callable[[str, str], bytes] | None = None
    if vendor_dir(main_dir, env) is not None:
        # The go command builds from vendor/ here: the build list is vendor/modules.txt, as
        # `scan` reads it (checked against go.mod the same way), and the code is vendor/'s.
        # Neither GOPROXY nor the module cache is read, whatever --proxy or --offline say.
        modules = analyse(ScanConfig(main_dir=main_dir, source_rules=False), env).modules
    else:
        source: ModuleSource
        if offline and not proxy:
            source = ModCacheSource(gomodcache(env))
        elif proxy:
            source = source_from_goproxy(proxy)
        else:
            source = goproxy_source(env)[0]
        modules = load_build_list(main_dir, source, env=env).modules
        fetch_zip = source.zip
    index = load_index(
        db_url or default_db_url(),
        cache_dir=cache_dir or default_cache_dir(),
        modules=index_paths(modules),
        offline=offline,
    )
    if index.from_cache and not offline:
        click.echo(f"note: {index.url} unreachable; using the cached copy", err=True)
    code, renamed = build_list_code(main_dir, modules, env, fetch_zip)
    findings = check_build_list(
        index,
        main_dir,
        modules,
        go_version=main.go,
        toolchain=main.toolchain,
        policy=policy,
        now=now,
        main_path=main.module,
        code=code,
        renamed=renamed,
    )
    if fmt == "json":
        doc = {
            "db": index.url,
            "db_modified": index.modified,
            "vulnerabilities": [finding_json(f) for f in findings],
        }
        click.echo(json.dumps(doc, indent=2))
    elif fmt == "openvex":
        if not findings:
            raise InputError("no known vulnerabilities: OpenVEX needs at least one statement")
        click.echo(
            render_openvex(openvex_document(findings, main_module=main.module, now=now)), nl=False
        )
    else:
        for f in findings:
            click.echo(f"{f.outcome.value.upper():8} {f.reason}\n         fix: {f.fix_hint}")
        failing = sum(f.fails for f in findings)
        click.echo(f"{len(findings)} known vulnerabilities, {failing} failing the policy")
    return int(ExitCode.VIOLATION if any(f.fails for f in findings) else ExitCode.PASS)
