"""`goproxy-scan scan`: the pre-merge check — SBOM, verdicts, source rules, reports, exit code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..config import Output, ScanConfig, load_config, one_per_destination
from ..errors import InputError, OperationalError
from ..files import Document
from ..reports import OutputFormat
from ..result import ScanResult, Severity
from ..sbom import SbomFormat, SbomOptions, SpecVersion, render_sbom
from .report import pair_outputs, skip_iri_grammar, write_outputs


def source_date(env: Mapping[str, str]) -> datetime | None:
    """SOURCE_DATE_EPOCH, the reproducible-builds convention, fixes the SBOM timestamp."""
    raw = env.get("SOURCE_DATE_EPOCH", "")
    if not raw:
        return None
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except ValueError as e:
        raise InputError(f"SOURCE_DATE_EPOCH={raw!r} is not a Unix time") from e


def sbom_document(result: ScanResult, config: ScanConfig, env: Mapping[str, str]) -> Document:
    """The SBOM `--sbom` asks for, rendered (and checked against its schema), not yet written."""
    assert config.sbom is not None
    options = SbomOptions(
        spec_version=config.sbom_spec,
        output_format=config.sbom_output_format,
        reproducible=config.reproducible,
        timestamp=source_date(env),
    )
    return Document(render_sbom(result, options), config.sbom, "the SBOM")


def one_document_per_destination(config: ScanConfig) -> None:
    """The SBOM counts as a report: into a report's file, or standard output beside one, one
    of the two was lost without a word. Checked before the scan runs."""
    if config.sbom is None:
        return
    outputs = [Output(OutputFormat.CYCLONEDX, str(config.sbom)), *config.outputs]
    given = [f"--sbom {config.sbom}"]
    given += [
        f"--format {o.format.value}" + ("" if o.path == "-" else f"={o.path}")
        for o in config.outputs
    ]
    one_per_destination(outputs, given, "--format ")


def check_vulnerabilities(result: ScanResult, config: ScanConfig, now: datetime) -> ScanResult:
    """The build list against the vulnerability database, reached and judged by the policy."""
    from collections.abc import Callable

    from ..goenv import go_environ
    from ..policy import load_policy
    from ..scan import module_source, read_gomod, repo_prefix
    from ..vulndb.check import reach, scanned_code
    from ..vulndb.database import load_index
    from ..vulndb.match import match_modules
    from ..vulndb.osv import STDLIB, TOOLCHAIN
    from ..vulndb.policy import VulnPolicy, evaluate_vulns, vuln_policy
    from ..vulndb.scanresult import built_module, go_lines, to_vuln_results, with_vulnerabilities
    from .vulndb import default_cache_dir

    main = read_gomod(config.main_dir)
    policy = vuln_policy(load_policy(config.policy_file)) if config.policy_file else VulnPolicy()
    built = [mv for mv in map(built_module, result.modules) if mv is not None]
    try:
        index = load_index(
            config.vulndb,
            cache_dir=default_cache_dir(),
            modules={mv.path for mv in built} | {STDLIB, TOOLCHAIN},
            offline=config.offline,
        )
    except OperationalError as e:
        # Unreachable without a cache: exit 3, or with --fail-open go on unchecked and say so.
        if not config.fail_open:
            raise
        note = f"{e}; --fail-open: known vulnerabilities were not checked"
        return replace(result, notes=(*result.notes, note))
    # The standard library at the release the result's SBOM names (go.mod's, else local Go).
    matches = match_modules(index, built, go_version=result.stdlib_version or main.go)
    # The main module and the code the build compiles are read only when something matched.
    env = go_environ(os.environ)
    zips: list[Callable[[str, str], bytes]] = []

    def fetch(path: str, version: str) -> bytes:
        # Asked only for a module the module cache has not extracted, never in vendor mode
        # (vendor/ is read): there GOPROXY may be off, as the go command needs no proxy.
        if not zips:
            zips.append(module_source(config, env)[0].zip)
        return zips[0](path, version)

    code, renamed = scanned_code(config.main_dir, result.modules, env, fetch)
    reached = reach(matches, config.main_dir, main.module, code, renamed)
    findings = evaluate_vulns(policy, reached, now)
    gomod_text = (config.main_dir / "go.mod").read_text("utf-8", errors="replace")
    vulns = to_vuln_results(
        findings, result.modules, go_lines(gomod_text), repo_prefix(config.main_dir)
    )
    result = with_vulnerabilities(result, vulns, index.url, index.modified)
    if index.from_cache and not config.offline:
        note = f"the vulnerability database {index.url} was unreachable; used the cached copy"
        result = replace(result, notes=(*result.notes, note))
    return result


def scan_options(f: Any) -> Any:
    """Options `scan` and `sbom` share (they run the same analysis)."""
    for decorator in reversed(
        [
            click.argument(
                "main_dir", required=False, type=click.Path(file_okay=False, path_type=Path)
            ),
            click.option(
                "--policy",
                "policy_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Policy file (default: .goproxy-scan.yml found upwards).",
            ),
            click.option("--proxy", help="Verdict proxy http(s)://…, or a file:// GOPROXY tree."),
            click.option(
                "--offline",
                is_flag=True,
                default=None,
                help="No network: modules from the module cache or file:// only.",
            ),
            click.option(
                "--fail-open/--fail-closed",
                "fail_open",
                default=None,
                help="Proxy unreachable: judge locally (open) or exit 3 (closed, default).",
            ),
            click.option(
                "--jobs",
                type=click.IntRange(min=0),
                help="Worker processes for source rules (default, or 0: one per CPU).",
            ),
            click.option(
                "--cache-dir",
                type=click.Path(file_okay=False, path_type=Path),
                help="Source-rule cache directory.",
            ),
        ]
    ):
        f = decorator(f)
    return f


def flags_from(params: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the user gave: unset click options are None and leave lower layers alone."""
    flags = {k: v for k, v in params.items() if v is not None and v != ()}
    if "fail_on" in flags:
        flags["fail_on"] = Severity.parse(flags["fail_on"])
    if "sbom_spec" in flags:
        flags["sbom_spec"] = SpecVersion(flags["sbom_spec"])
    if "sbom_format" in flags:
        flags["sbom_format"] = SbomFormat(flags["sbom_format"])
    return flags


@click.command("scan")
@scan_options
@click.option("--base", help="Judge only what changed since this git ref.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    help="console, json, sarif, github, markdown, gitlab, cyclonedx, openvex; repeatable; F=FILE.",
)
@click.option(
    "--vulndb",
    metavar="URL_OR_DIR",
    help="Go vulnerability database (https://, file:// or a directory) to check the build "
    "list against (default: GOPROXY_SCAN_VULNDB, else not checked; --offline: the cache).",
)
@click.option("--output", "outputs", multiple=True, help="Where the matching --format goes.")
@click.option(
    "--sbom",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the CycloneDX SBOM here (.xml for XML).",
)
@click.option("--sbom-spec", type=click.Choice(["1.6", "1.5", "1.4"]), help="CycloneDX version.")
@click.option(
    "--reproducible",
    is_flag=True,
    default=None,
    help="Fixed SBOM timestamp (SOURCE_DATE_EPOCH or 1970) and content-derived serial.",
)
@click.option(
    "--fail-on", help="Lowest finding severity that fails: info|low|medium|high|critical."
)
@click.option("--source-rules/--no-source-rules", default=None, help="Run the source rules.")
def scan(formats: tuple[str, ...], outputs: tuple[str, ...], **params: Any) -> int:
    """Judge the module in DIR (default .): exit 0 pass, 1 violation, 2 input, 3 operational."""
    skip_iri_grammar()
    from ..diff import base_analysis, mark_against_base
    from ..scan import run_scan

    flags = flags_from(params)
    if formats or outputs:
        flags["outputs"] = pair_outputs(formats or ("console",), outputs)
    config = load_config(flags)
    one_document_per_destination(config)
    env = os.environ
    result = run_scan(config, env)
    if config.vulndb:
        result = check_vulnerabilities(result, config, datetime.now(UTC))
    if config.base:
        base = base_analysis(config, env, None)
        result = mark_against_base(result, base, config.base)
        if result.vulnerabilities:
            from ..scan import read_gomod
            from ..vulndb.scanresult import base_statuses

            head = read_gomod(config.main_dir)
            base_go = None if base is None else (base.main.go, base.main.toolchain)
            statuses = base_statuses(result, base_go, (head.go, head.toolchain))
            result = replace(
                result,
                vulnerabilities=tuple(
                    replace(v, status=statuses[v.key]) for v in result.vulnerabilities
                ),
            )
    sbom = () if config.sbom is None else (sbom_document(result, config, env),)
    write_outputs(result, config.outputs, env, also=sbom)
    return int(result.exit_code)
