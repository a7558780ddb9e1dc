"""The GitHub Action's glue: PR refs from the event, the report, one PR comment kept updated."""

# Run by action.yml as `python -m scanner.ghaction refs|publish|comment`; the REST calls use
# requests with GITHUB_TOKEN against GITHUB_API_URL, so GitHub Enterprise Server works unchanged.

from __future__ import annotations

import enum
import json
import os
import posixpath
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import requests

from .errors import InputError, OperationalError
from .exitcodes import ExitCode
from .reports.markdown import MARKER, comment_marker
from .result import Severity

API_VERSION = "2022-11-28"
_TIMEOUT = 20.0


class CommentMode(enum.StrEnum):
    """The `comment-summary-in-pr` input."""

    NEVER = "never"
    ALWAYS = "always"
    ON_FAILURE = "on-failure"


def parse_comment_mode(value: str) -> CommentMode:
    """The input as written: never/always/on-failure, or true/false (as dependency-review-action
    takes it) for always/never; any case, surrounding spaces ignored, empty is on-failure."""
    text = value.strip().lower() or CommentMode.ON_FAILURE.value
    text = {"true": CommentMode.ALWAYS.value, "false": CommentMode.NEVER.value}.get(text, text)
    try:
        return CommentMode(text)
    except ValueError:
        raise InputError(
            f"comment-summary-in-pr: {value!r} is not a comment mode",
            hint="use never, always or on-failure (true means always, false never)",
        ) from None


def parse_boolean(name: str, value: str) -> bool:
    """A true/false input in any case (empty is false)."""
    text = value.strip().lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise InputError(f"{name}: {value!r} is not true or false")


def comment_key_of(working_directory: str, key: str = "", workspace: str = "") -> str:
    """Which PR comment a run keeps: `key` when given, else the scanned directory relative to
    the workspace; "" for the repository root (the comment older versions kept, MARKER)."""
    text = key.strip()
    if not text:
        text = working_directory.strip() or "."
        if workspace and posixpath.isabs(text):
            text = posixpath.relpath(text, workspace)
    text = posixpath.normpath(text)
    return "" if text in (".", "/") else text.strip("/")


def module_directory(working_directory: str, workspace: str = "") -> Path:
    """The `working-directory` input as the directory to scan: relative to the workspace
    (GITHUB_WORKSPACE, where the runner starts each step), "" meaning the workspace itself.

    It must be there and hold the main module's go.mod: the runner fails a step whose
    working directory is missing before its script runs, and `scan` reads go.mod first."""
    text = working_directory.strip() or "."
    base = Path(workspace) if workspace else Path.cwd()
    directory = base / text  # an absolute input stays as it is
    shown = f"working-directory: {text!r}"
    if any(c in text for c in "\r\n\0"):  # it becomes a step output line
        raise InputError(f"{shown} is not a directory name")
    if not directory.exists():
        raise InputError(
            f"{shown} does not exist (looked for {directory})",
            hint="give the Go module's directory relative to the repository root",
        )
    if not directory.is_dir():
        raise InputError(f"{shown} is not a directory ({directory})")
    if not (directory / "go.mod").is_file():
        raise InputError(
            f"{shown} has no go.mod ({directory / 'go.mod'})",
            hint="give the directory of the Go module to scan (the one holding its go.mod)",
        )
    return directory


class CommentAction(enum.StrEnum):
    """What a run may do to the PR's comment, from the mode and the verdict."""

    NONE = "none"  # leave the pull request alone
    UPDATE = "update"  # update the marked comment if there is one; create none
    UPSERT = "upsert"  # update the marked comment, or create it


class CommentOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    SKIPPED = "skipped"  # mode or event says no comment, or no comment to update
    FALLBACK = "fallback"  # the token may not comment (fork, read-only): summary only
    FAILED = "failed"  # the API could not be reached or answered an error: a warning only


@dataclass(frozen=True, slots=True)
class PullRequest:
    """What the action needs from a pull_request / pull_request_target event payload."""

    number: int
    base_sha: str
    head_sha: str
    base_ref: str
    from_fork: bool


class CommentForbidden(OperationalError):
    """The token may not write the comment (403/404: a fork's read-only GITHUB_TOKEN)."""


def load_event(path: str | None) -> dict[str, Any]:
    """The event payload at GITHUB_EVENT_PATH ({} when there is none, e.g. a local run)."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read the event payload: {e}", path=path) from e
    return data if isinstance(data, dict) else {}


def pull_request(event: Mapping[str, Any]) -> PullRequest | None:
    """The pull request of the event, or None for a push, schedule or dispatch."""
    pr = event.get("pull_request")
    if not isinstance(pr, dict):
        return None
    base = pr.get("base") or {}
    head = pr.get("head") or {}
    base_repo = (base.get("repo") or {}).get("full_name")
    head_repo = (head.get("repo") or {}).get("full_name")
    return PullRequest(
        number=int(pr.get("number") or event.get("number") or 0),
        base_sha=str(base.get("sha") or ""),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        from_fork=bool(head_repo and base_repo and head_repo != base_repo),
    )


def resolve_refs(
    event: Mapping[str, Any], base_input: str, head_input: str, sha: str
) -> tuple[str, str]:
    """(base, head): the inputs when given, else the pull request's, else ("", GITHUB_SHA)."""
    pr = pull_request(event)
    base = base_input or (pr.base_sha if pr else "")
    head = head_input or (pr.head_sha if pr else "") or sha
    return base, head


def comment_action(mode: CommentMode, verdict: str) -> CommentAction:
    """`on-failure` comments on a failure, and on a pass only updates the comment it left.

    A comment saying the change breaks the policy must not outlive the push that fixed it; a
    change that passed from the start gets no comment.
    """
    if mode is CommentMode.ALWAYS:
        return CommentAction.UPSERT
    if mode is CommentMode.ON_FAILURE:
        return CommentAction.UPSERT if verdict != "pass" else CommentAction.UPDATE
    return CommentAction.NONE


class CommentClient:
    """The issue-comment endpoints of the REST API for one repository."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        if not token:
            raise InputError("no GITHUB_TOKEN: pass `github-token` to the action")
        self.base = f"{api_url.rstrip('/')}/repos/{repository}"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "goproxy-scan-action",
            }
        )

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            resp = self.session.request(method, url, timeout=_TIMEOUT, **kwargs)
        except requests.RequestException as e:
            raise OperationalError(f"{method} {url}: {e}") from e
        if resp.status_code in (403, 404):
            # A fork's GITHUB_TOKEN is read-only, and a repository it cannot see answers 404.
            raise CommentForbidden(
                f"{method} {url}: HTTP {resp.status_code}: the token may not comment",
                hint="grant `pull-requests: write`; forks get the step summary only",
            )
        if resp.status_code >= 400:
            raise OperationalError(f"{method} {url}: HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.json() if resp.content else None

    def find(self, number: int, marker: str) -> int | None:
        """The id of the first comment on the PR carrying `marker`, following pagination."""
        url: str | None = f"{self.base}/issues/{number}/comments"
        params: dict[str, Any] | None = {"per_page": 100}
        while url:
            try:
                resp = self.session.get(url, params=params, timeout=_TIMEOUT)
            except requests.RequestException as e:
                raise OperationalError(f"GET {url}: {e}") from e
            if resp.status_code in (403, 404):
                raise CommentForbidden(f"GET {url}: HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise OperationalError(f"GET {url}: HTTP {resp.status_code}")
            for comment in resp.json():
                if marker in (comment.get("body") or ""):
                    return int(comment["id"])
            url = resp.links.get("next", {}).get("url")
            params = None  # the next link carries them
        return None

    def upsert(
        self, number: int, body: str, marker: str = MARKER, create: bool = True
    ) -> CommentOutcome:
        """Update the PR's marked comment, or create it: one comment per PR, however many runs.

        With `create` False a PR without the comment is left alone (SKIPPED).
        """
        if marker not in body:
            body = f"{marker}\n{body}"
        existing = self.find(number, marker)
        if existing is None:
            if not create:
                return CommentOutcome.SKIPPED
            self._call("POST", f"{self.base}/issues/{number}/comments", json={"body": body})
            return CommentOutcome.CREATED
        self._call("PATCH", f"{self.base}/issues/comments/{existing}", json={"body": body})
        return CommentOutcome.UPDATED


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)


@click.group()
def cli() -> None:
    """Helpers the goproxy-scan GitHub Action runs between its steps."""


def _output(text: str) -> None:
    """`key=value` lines to $GITHUB_OUTPUT (stdout when it is unset, e.g. a local run)."""
    if os.environ.get("GITHUB_OUTPUT"):
        _append(os.environ["GITHUB_OUTPUT"], text)
    else:
        click.echo(text, nl=False)


def _error(message: str) -> None:
    click.echo(f"::error title=goproxy-scan::{message.replace(chr(10), '%0A')}")


@click.command("inputs")
@click.option("--proxy-mode", envvar="INPUT_PROXY_MODE", default="")
@click.option("--comment-mode", envvar="INPUT_COMMENT_SUMMARY_IN_PR", default="")
@click.option("--warn-only", envvar="INPUT_WARN_ONLY", default="")
@click.option("--fail-on", envvar="INPUT_FAIL_ON", default="")
@click.option("--working-directory", envvar="INPUT_WORKING_DIRECTORY", default=".")
@click.option("--comment-key", envvar="INPUT_COMMENT_KEY", default="")
def inputs(
    proxy_mode: str,
    comment_mode: str,
    warn_only: str,
    fail_on: str,
    working_directory: str,
    comment_key: str,
) -> int:
    """Check the action's inputs before anything runs; write them normalised to $GITHUB_OUTPUT.

    The one place that reads proxy-mode (else $CI_PROXY_MODE), comment-summary-in-pr, warn-only,
    fail-on and working-directory (which must hold a go.mod): later steps use these outputs,
    never the raw inputs. A bad value is an `::error` and `exit-code=2` (the Scan step then
    reports verdict=error without scanning).
    """
    from .cienv import parse_mode

    errors: list[str] = []
    values: dict[str, str] = {}

    def check(name: str, parse: Any, fallback: str) -> None:
        try:
            values[name] = parse()
        except InputError as e:
            errors.append(str(e))
            values[name] = fallback

    raw_mode = proxy_mode.strip() or os.environ.get("CI_PROXY_MODE", "")
    where = "proxy-mode" if proxy_mode.strip() else "CI_PROXY_MODE"

    def mode() -> str:
        try:
            return parse_mode(raw_mode).value
        except InputError as e:
            raise InputError(
                f"{where}: {raw_mode!r} is not a proxy mode", hint="use auto, force or none"
            ) from e

    check("proxy-mode", mode, "force")
    check("comment-mode", lambda: parse_comment_mode(comment_mode).value, "on-failure")
    check("warn-only", lambda: str(parse_boolean("warn-only", warn_only)).lower(), "false")

    def severity() -> str:
        if not fail_on.strip():
            return ""
        try:
            return Severity.parse(fail_on.strip().lower()).value
        except (InputError, ValueError):
            raise InputError(
                f"fail-on: {fail_on!r} is not a severity",
                hint="use critical, high, medium, low or info (empty: the policy's)",
            ) from None

    check("fail-on", severity, "")
    workspace = os.environ.get("GITHUB_WORKSPACE", "")
    # Absolute, for the Scan step's `cd` (a bad one: the workspace, where nothing is scanned).
    check(
        "working-directory",
        lambda: str(module_directory(working_directory, workspace)),
        workspace or str(Path.cwd()),
    )
    key = comment_key_of(working_directory, comment_key, workspace)
    values["comment-key"] = key
    for message in errors:
        _error(f"input: {message}")
    values["exit-code"] = "2" if errors else "0"
    _output("".join(f"{k}={v}\n" for k, v in values.items()))
    return int(ExitCode.PASS)


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60)
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def check_head(head_input: str) -> str:
    """ "" when the checkout is at `head_input`, else why not.

    The action judges the checked-out tree: what the job's later steps build and what the
    annotations and SARIF point at. A head-ref naming another commit is refused, not scanned
    in its stead and not silently ignored.
    """
    wanted = _git("rev-parse", "--verify", "--quiet", f"{head_input}^{{commit}}")
    if not wanted:
        return f"head-ref {head_input!r} is not a commit in this checkout"
    actual = _git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if wanted != actual:
        return (
            f"head-ref {head_input!r} is {wanted[:12]} but the checkout is at "
            f"{actual[:12] or 'no commit'}: the action judges the checked-out tree; check out "
            "that ref (actions/checkout `ref:`) or leave head-ref empty"
        )
    return ""


@click.command()
@click.option("--base", "base_input", default="", help="The base-ref input (empty: from event).")
@click.option("--head", "head_input", default="", help="The head-ref input (empty: from event).")
def refs(base_input: str, head_input: str) -> int:
    """Write `base=`, `head=` and `exit-code=` to $GITHUB_OUTPUT (stdout when unset).

    A given head-ref must be the commit checked out (exit-code=2 and an ::error otherwise).
    """
    event = load_event(os.environ.get("GITHUB_EVENT_PATH"))
    base, head = resolve_refs(event, base_input, head_input, os.environ.get("GITHUB_SHA", ""))
    problem = check_head(head_input.strip()) if head_input.strip() else ""
    if problem:
        _error(problem)
    _output(f"base={base}\nhead={head}\nexit-code={2 if problem else 0}\n")
    return int(ExitCode.PASS)


@click.command()
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The Markdown report (goproxy-scan report --format markdown).",
)
@click.option(
    "--mode",
    default="on-failure",
    show_default=True,
    help="The comment-summary-in-pr input: never, always, on-failure (true/false: always/never).",
)
@click.option("--verdict", default="pass", show_default=True, help="pass, fail or error.")
@click.option("--key", default="", help="The comment's key (empty: the repository root's).")
def comment(body_file: Path, mode: str, verdict: str, key: str) -> int:
    """Create or update the goproxy-scan comment of this key on the pull request.

    Under `on-failure` a passing run updates the comment an earlier failing run left, so it
    says the change passes now, and creates none.

    A comment that cannot be written never fails the job: a token that may not comment (forks,
    read-only tokens) gets a notice, any other API failure a warning; the verdict is the
    scan's alone and the report stays in the step summary.
    """
    action = comment_action(parse_comment_mode(mode), verdict)
    event = load_event(os.environ.get("GITHUB_EVENT_PATH"))
    pr = pull_request(event)
    outcome = CommentOutcome.SKIPPED
    if pr is not None and pr.number and action is not CommentAction.NONE:
        try:
            client = CommentClient(
                os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                os.environ.get("GITHUB_REPOSITORY", ""),
                os.environ.get("GITHUB_TOKEN", ""),
            )
            outcome = client.upsert(
                pr.number,
                body_file.read_text("utf-8"),
                marker=comment_marker(key),
                create=action is CommentAction.UPSERT,
            )
        except CommentForbidden as e:
            outcome = CommentOutcome.FALLBACK
            why = "the pull request comes from a fork" if pr.from_fork else str(e)
            click.echo(
                "::notice title=goproxy-scan::no PR comment "
                f"({why}); the report is in the job summary"
            )
            _append(
                os.environ.get("GITHUB_STEP_SUMMARY"),
                f"\n> goproxy-scan could not comment on pull request #{pr.number}: {why}.\n",
            )
        except (OperationalError, InputError, OSError, ValueError) as e:
            # InputError: no token; ValueError: an answer that is not JSON.
            outcome = CommentOutcome.FAILED
            why = str(e)
            click.echo(
                "::warning title=goproxy-scan::could not write the PR comment "
                f"({why}); the report is in the job summary, the verdict is the scan's"
            )
            _append(
                os.environ.get("GITHUB_STEP_SUMMARY"),
                f"\n> goproxy-scan could not comment on pull request #{pr.number}.\n",
            )
    _append(os.environ.get("GITHUB_OUTPUT"), f"comment={outcome.value}\n")
    click.echo(f"goproxy-scan: PR comment {outcome.value}", err=True)
    return int(ExitCode.PASS)


# Where the rows a long GitHub comment leaves out can be read.
GITHUB_FULL_REPORT = (
    "the action's `result-json` output (keep it with actions/upload-artifact) and, with the "
    "`sarif` input, in code scanning"
)


@click.command()
@click.option(
    "--result",
    "result_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The result JSON that `goproxy-scan scan` wrote; none: the scan could not finish.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the Markdown report (the PR comment body).",
)
@click.option(
    "--sarif",
    "sarif_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write SARIF 2.1.0 for code scanning.",
)
@click.option("--key", default="", help="The comment's key (empty: the repository root's).")
@click.option("--exit-code", default="", help="The scan's exit code, when it wrote no result.")
def publish(
    result_path: Path | None,
    markdown_path: Path,
    sarif_path: Path | None,
    key: str,
    exit_code: str,
) -> int:
    """Annotations on stdout, the report in the step summary, SARIF, and `violations=N`."""
    from .commands.report import read_result, write_text
    from .reports import OutputFormat, render
    from .reports.markdown import render_markdown
    from .result import ScanResult

    if result_path is None:
        title = f" (`{key}`)" if key else ""
        markdown = (
            f"{comment_marker(key)}\n## ❌ goproxy-scan{title}: could not finish\n\n"
            f"The scan could not finish (exit {exit_code or 3}); nothing was judged. "
            "See the job log.\n"
        )
        write_text(markdown_path, markdown)
        _append(os.environ.get("GITHUB_STEP_SUMMARY"), markdown)
        _append(os.environ.get("GITHUB_OUTPUT"), "violations=0\n")
        return int(ExitCode.PASS)
    result = ScanResult.from_json(read_result(result_path), str(result_path))
    click.echo(render(result, OutputFormat.GITHUB), nl=False)
    markdown = render_markdown(result, key=key, label=key, full_report=GITHUB_FULL_REPORT)
    write_text(markdown_path, markdown)
    _append(os.environ.get("GITHUB_STEP_SUMMARY"), markdown)
    if sarif_path is not None:
        write_text(sarif_path, render(result, OutputFormat.SARIF))
    violations = (
        len(result.failing_modules)
        + len(result.failing_findings)
        + len(result.failing_vulnerabilities)
    )
    _append(os.environ.get("GITHUB_OUTPUT"), f"violations={violations}\n")
    return int(ExitCode.PASS)


cli.add_command(inputs)
cli.add_command(refs)
cli.add_command(comment)
cli.add_command(publish)


def main() -> None:
    from .cli import run

    sys.exit(run(cli, prog_name="python -m scanner.ghaction"))


if __name__ == "__main__":
    main()
