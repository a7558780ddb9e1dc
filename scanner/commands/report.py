"""`goproxy-scan report`: re-render a saved scan result; also where every report is written."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from ..config import Output, one_per_destination
from ..errors import InputError, OperationalError, utf8_problem
from ..exitcodes import ExitCode
from ..files import Document, write_documents
from ..reports import OutputFormat, render
from ..reports.github import step_summary
from ..result import ScanResult


def skip_iri_grammar() -> None:
    """Keep jsonschema from loading rfc3987_syntax in this process (call before it is imported).

    cyclonedx-python-lib's json-validation extra installs rfc3987-syntax, which jsonschema
    imports only to check `iri` formats; it compiles some forty grammars on import (2-7 s of
    start-up on every run). Nothing these commands validate carries an IRI (the SBOMs have
    no URLs; results and policies use none), so they opt out; other formats are still checked.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def pair_outputs(formats: Sequence[str], outputs: Sequence[str]) -> tuple[Output, ...]:
    """--format F… and --output FILE… pair up in order; formats without a file go to stdout.

    `--format sarif=out.sarif` names the file in one go.
    """
    if len(outputs) > len(formats):
        raise InputError(
            f"{len(outputs)} --output for {len(formats)} --format",
            hint="give one --format per --output, in the same order",
        )
    pairs = []
    given = []
    for i, fmt in enumerate(formats):
        name, _, inline = fmt.partition("=")
        target = inline or (outputs[i] if i < len(outputs) else "-")
        pairs.append(Output(OutputFormat.parse(name), target))
        given.append(f"--format {fmt}" + (f" --output {outputs[i]}" if i < len(outputs) else ""))
    one_per_destination(pairs, given, "--format ")
    return tuple(pairs)


def write_text(path: Path, text: str, what: str = "the report") -> None:
    """Write atomically: a reader never sees half a report. Missing directories are made.

    A link is followed (the file it names is replaced, the link stays); a device, a pipe or
    standard output by another name is written in place: renaming over /dev/null or
    /dev/stdout would replace the device or the link itself (as root, the machine's)."""
    write_documents([Document(text, path, what)])


def read_result(path: Path) -> str:
    """The text of a saved result (`scan --format json`), or an InputError naming the file."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as e:
        raise InputError(f"cannot read the result: {e.strerror}", path=str(path)) from e
    except UnicodeDecodeError as e:
        problem, line = utf8_problem(e)
        raise InputError(
            f"not a goproxy-scan result: {problem}",
            path=str(path),
            line=line,
            hint="pass a file written by `goproxy-scan scan --format json`",
        ) from e


def _colour(env: Mapping[str, str]) -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in env and env.get("TERM") != "dumb"


def write_outputs(
    result: ScanResult,
    outputs: Sequence[Output],
    env: Mapping[str, str] | None = None,
    also: Sequence[Document] = (),
    full_report: str = "",
) -> None:
    """The reports, and `also` (the SBOM) before them: all written, or none when one cannot be.

    Every document is rendered before any is written: a report that cannot be written leaves
    no other behind (which was written depended on the order of the flags).
    """
    env = os.environ if env is None else env
    documents = [*also]
    for out in outputs:
        if out.format is OutputFormat.OPENVEX and not result.vulnerabilities:
            # OpenVEX needs a statement: with nothing to state, no document (and no failure).
            checked = "none are known" if result.vulndb else "not checked (no --vulndb)"
            click.echo(f"note: vulnerabilities {checked}; no OpenVEX document written", err=True)
            continue
        to_stdout = out.path == "-"
        if out.format is OutputFormat.MARKDOWN and full_report:
            from ..reports.markdown import render_markdown

            text = render_markdown(result, full_report=full_report)
        else:
            text = render(result, out.format, color=to_stdout and _colour(env))
        documents.append(Document(text, None if to_stdout else Path(out.path)))
    write_documents(documents)
    if any(out.format is OutputFormat.GITHUB for out in outputs) and env.get("GITHUB_STEP_SUMMARY"):
        summary = Path(env["GITHUB_STEP_SUMMARY"])
        try:
            with summary.open("a", encoding="utf-8") as f:
                f.write(step_summary(result))
        except OSError as e:
            raise OperationalError(
                f"cannot append the step summary: {e.strerror}", path=str(summary)
            ) from e


@click.command("report")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A result written by `goproxy-scan scan --format json`.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    default=("console",),
    show_default=True,
    help=f"One of {', '.join(f.value for f in OutputFormat)}; repeatable; F=FILE allowed.",
)
@click.option("--output", "outputs", multiple=True, help="Where the matching --format goes.")
@click.option(
    "--exit-code/--no-exit-code",
    default=False,
    help="Exit 1 when the saved result failed, as `scan` did.",
)
@click.option(
    "--full-report",
    default="",
    help="Markdown: where the rows a long report leaves out can be read (e.g. the CI job's "
    "artifact), as '… and N more; see the full report in TEXT.'",
)
def report(
    source: Path,
    formats: tuple[str, ...],
    outputs: tuple[str, ...],
    exit_code: bool,
    full_report: str,
) -> int:
    """Re-render a saved scan result in other formats."""
    skip_iri_grammar()
    targets = pair_outputs(formats, outputs)
    result = ScanResult.from_json(read_result(source), str(source))
    write_outputs(result, targets, full_report=full_report)
    return int(result.exit_code) if exit_code else int(ExitCode.PASS)
