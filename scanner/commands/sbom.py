"""`goproxy-scan sbom`: the CycloneDX SBOM alone (same analysis as scan, no source rules)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..exitcodes import ExitCode
from ..sbom import SbomOptions, render_sbom
from .report import skip_iri_grammar, write_text
from .scan import check_vulnerabilities, flags_from, scan_options, source_date


@click.command("sbom")
@scan_options
@click.option(
    "--output",
    "-o",
    "sbom",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output). A .xml name means XML.",
)
@click.option(
    "--spec",
    "sbom_spec",
    type=click.Choice(["1.6", "1.5", "1.4"]),
    help="CycloneDX version (default 1.6).",
)
@click.option(
    "--format",
    "sbom_format",
    type=click.Choice(["json", "xml"]),
    help="Default: from the file name, else JSON.",
)
@click.option(
    "--reproducible",
    is_flag=True,
    default=None,
    help="Fixed timestamp (SOURCE_DATE_EPOCH or 1970) and content-derived serial.",
)
@click.option(
    "--vulndb",
    metavar="URL_OR_DIR",
    help="Go vulnerability database (https://, file:// or a directory): known vulnerabilities "
    "go into the SBOM's vulnerabilities (default: GOPROXY_SCAN_VULNDB, else none).",
)
def sbom(**params: Any) -> int:
    """Write the CycloneDX SBOM of the module in DIR (default .)."""
    skip_iri_grammar()
    from ..scan import run_scan

    flags = flags_from(params)
    config = replace(load_config(flags), source_rules=False)
    env = os.environ
    result = run_scan(config, env)
    if config.vulndb:
        result = check_vulnerabilities(result, config, datetime.now(UTC))
    options = SbomOptions(
        spec_version=config.sbom_spec,
        output_format=config.sbom_output_format,
        reproducible=config.reproducible,
        timestamp=source_date(env),
    )
    text = render_sbom(result, options)
    if config.sbom is None:
        click.echo(text, nl=False)
    else:
        write_text(config.sbom, text, "the SBOM")
    return int(ExitCode.PASS)
