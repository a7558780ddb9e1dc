"""The action's glue alone: PR refs, the comment via a loopback REST API, license inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from scanner.cipolicy import overlay_licenses
from scanner.errors import InputError
from scanner.ghaction import (
    CommentAction,
    CommentClient,
    CommentForbidden,
    CommentMode,
    CommentOutcome,
    comment_action,
    pull_request,
    resolve_refs,
)
from scanner.policy import parse_policy
from scanner.reports.markdown import MARKER, comment_marker

EVENT = {
    "number": 12,
    "pull_request": {
        "number": 12,
        "base": {"sha": "b" * 40, "ref": "main", "repo": {"full_name": "acme/app"}},
        "head": {"sha": "h" * 40, "ref": "topic", "repo": {"full_name": "acme/app"}},
    },
}


def test_refs_come_from_the_pull_request_unless_given() -> None:
    assert resolve_refs(EVENT, "", "", "s" * 40) == ("b" * 40, "h" * 40)
    assert resolve_refs(EVENT, "origin/release", "", "s" * 40) == ("origin/release", "h" * 40)
    # a push has no pull request: judge everything at GITHUB_SHA
    assert resolve_refs({"ref": "refs/heads/main"}, "", "", "s" * 40) == ("", "s" * 40)


def test_a_fork_is_recognised() -> None:
    fork = json.loads(json.dumps(EVENT))
    fork["pull_request"]["head"]["repo"]["full_name"] = "mallory/app"
    pr = pull_request(fork)
    assert pr is not None and pr.from_fork and pr.number == 12
    same = pull_request(EVENT)
    assert same is not None and not same.from_fork


@pytest.mark.parametrize(
    ("mode", "verdict", "expected"),
    [
        ("never", "fail", CommentAction.NONE),
        ("always", "pass", CommentAction.UPSERT),
        ("on-failure", "pass", CommentAction.UPDATE),
        ("on-failure", "fail", CommentAction.UPSERT),
        ("on-failure", "error", CommentAction.UPSERT),
    ],
)
def test_comment_modes(mode: str, verdict: str, expected: CommentAction) -> None:
    assert comment_action(CommentMode(mode), verdict) is expected


class API:
    """Issue comments on one PR, served 2 per page with Link headers like GitHub's."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.comments: list[dict[str, Any]] = [
            {"id": 1, "body": "LGTM"},
            {"id": 2, "body": "please rebase"},
            {"id": 3, "body": "ci is green"},
        ]
        self.calls: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, data: Any, link: str = "") -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if link:
                    self.send_header("Link", link)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                api.calls.append("GET " + self.path)
                if api.status != 200:
                    return self._reply(api.status, {"message": "nope"})
                query = parse_qs(urlsplit(self.path).query)
                page = int(query.get("page", ["1"])[0])
                items = api.comments[(page - 1) * 2 : page * 2]
                link = ""
                if page * 2 < len(api.comments):
                    base = f"http://127.0.0.1:{api.port}/repos/acme/app/issues/12/comments"
                    link = f'<{base}?per_page=2&page={page + 1}>; rel="next"'
                return self._reply(200, items, link)

            def _write(self) -> dict[str, Any]:
                api.calls.append(f"{self.command} {self.path}")
                data: dict[str, Any] = json.loads(
                    self.rfile.read(int(self.headers["Content-Length"]))
                )
                return data

            def do_POST(self) -> None:
                body = self._write()["body"]
                api.comments.append({"id": 100, "body": body})
                self._reply(201, {"id": 100})

            def do_PATCH(self) -> None:
                body = self._write()["body"]
                cid = int(self.path.rsplit("/", 1)[1])
                next(c for c in api.comments if c["id"] == cid)["body"] = body
                self._reply(200, {"id": cid})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"


@pytest.fixture
def api() -> Iterator[API]:
    a = API()
    threading.Thread(target=a.server.serve_forever, args=(0.05,), daemon=True).start()
    yield a
    a.server.shutdown()
    a.server.server_close()


def test_comment_is_found_on_a_later_page_and_updated(api: API) -> None:
    api.comments.append({"id": 4, "body": f"{MARKER}\nold report"})
    client = CommentClient(api.url, "acme/app", "tok")
    assert client.upsert(12, f"{MARKER}\nnew report") is CommentOutcome.UPDATED
    assert api.calls[-1] == "PATCH /repos/acme/app/issues/comments/4"
    assert api.comments[-1]["body"] == f"{MARKER}\nnew report"
    assert sum(c.startswith("GET") for c in api.calls) == 2  # followed the Link header


def test_comment_is_created_once_with_the_marker(api: API) -> None:
    client = CommentClient(api.url, "acme/app", "tok")
    assert client.upsert(12, "report without marker") is CommentOutcome.CREATED
    assert api.comments[-1]["body"].startswith(MARKER)
    assert client.upsert(12, "second report") is CommentOutcome.UPDATED
    assert [c for c in api.calls if not c.startswith("GET")] == [
        "POST /repos/acme/app/issues/12/comments",
        "PATCH /repos/acme/app/issues/comments/100",
    ]


def test_read_only_token_is_forbidden_not_a_crash(api: API) -> None:
    api.status = 403
    with pytest.raises(CommentForbidden):
        CommentClient(api.url, "acme/app", "tok").upsert(12, "x")


def run_comment_command(
    api: API, tmp_path: Path, body: str, *args: str, event: dict[str, Any] = EVENT
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`python -m scanner.ghaction comment` as the action's step runs it, and its output file."""
    (tmp_path / "event.json").write_text(json.dumps(event))
    (tmp_path / "report.md").write_text(body)
    output = tmp_path / "output"
    output.write_text("")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner.ghaction",
            "comment",
            "--body-file",
            str(tmp_path / "report.md"),
            *args,
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_TOKEN": "tok",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(output),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, output


def test_comment_command_falls_back_for_a_fork(api: API, tmp_path: Path) -> None:
    api.status = 403
    fork = json.loads(json.dumps(EVENT))
    fork["pull_request"]["head"]["repo"]["full_name"] = "mallory/app"
    proc, output = run_comment_command(
        api, tmp_path, f"{MARKER}\nreport\n", "--mode", "always", event=fork
    )
    assert "the pull request comes from a fork" in proc.stdout
    assert "could not comment on pull request #12" in (tmp_path / "summary.md").read_text()
    assert output.read_text() == "comment=fallback\n"


def test_on_failure_pass_updates_the_comment_a_failing_run_left(api: API, tmp_path: Path) -> None:
    # The comment said the change breaks the policy; the push that fixed it must say so too.
    api.comments.append({"id": 4, "body": f"{MARKER}\n## ❌ goproxy-scan: this change breaks"})
    passed = f"{MARKER}\n## ✅ goproxy-scan: pass\n"
    _, output = run_comment_command(
        api, tmp_path, passed, "--mode", "on-failure", "--verdict", "pass"
    )
    assert output.read_text() == "comment=updated\n"
    assert api.calls[-1] == "PATCH /repos/acme/app/issues/comments/4"
    assert api.comments[-1]["body"] == passed
    assert len(api.comments) == 4


def test_on_failure_pass_creates_no_comment(api: API, tmp_path: Path) -> None:
    _, output = run_comment_command(
        api, tmp_path, f"{MARKER}\npass\n", "--mode", "on-failure", "--verdict", "pass"
    )
    assert output.read_text() == "comment=skipped\n"
    assert [c for c in api.calls if not c.startswith("GET")] == []
    assert MARKER not in json.dumps(api.comments)


def test_never_does_not_even_look_for_the_comment(api: API, tmp_path: Path) -> None:
    api.comments.append({"id": 4, "body": f"{MARKER}\nold report"})
    _, output = run_comment_command(api, tmp_path, "x", "--mode", "never", "--verdict", "fail")
    assert output.read_text() == "comment=skipped\n"
    assert api.calls == []


POLICY = """\
version: 1
licenses:
  allow: [permissive]
  deny: [strong-copyleft, GPL-2.0-only]
"""


def test_license_inputs_layer_over_the_policy_file() -> None:
    text = overlay_licenses(POLICY, ["GPL-2.0-only"], ["MIT", "network-copyleft"], "p.yml")
    lic = yaml.safe_load(text)["licenses"]
    assert lic["allow"] == ["permissive", "GPL-2.0-only"]
    assert lic["deny"] == ["strong-copyleft", "MIT", "network-copyleft"]
    assert set(parse_policy(text).licenses.deny) == {"strong-copyleft", "MIT", "network-copyleft"}


def test_a_license_input_moves_the_file_entry_however_it_is_spelled() -> None:
    """The file's `mit` stayed allowed beside the input's denied MIT (a policy refused now)."""
    text = overlay_licenses("licenses:\n  allow: [mit, ISC]\n", [], ["MIT"], "p.yml")
    lic = parse_policy(text).licenses
    assert (lic.allow, lic.deny) == (("ISC",), ("MIT",))
    with pytest.raises(InputError, match="MIT is both allowed and denied by the CI inputs"):
        overlay_licenses(POLICY, ["mit"], ["MIT"], "p.yml")


def test_license_inputs_that_contradict_each_other_are_an_input_error() -> None:
    with pytest.raises(InputError, match="both allowed and denied"):
        overlay_licenses(POLICY, ["MIT"], ["MIT"], "p.yml")
    with pytest.raises(InputError, match="NOT-A-LICENSE"):
        overlay_licenses(POLICY, [], ["NOT-A-LICENSE"], "p.yml")


def test_cipolicy_command_uses_the_policy_found_in_the_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".goproxy-scan.yml").write_text(POLICY)
    out = tmp_path / "out" / "policy.yml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner.cipolicy",
            "--dir",
            str(tmp_path),
            "--deny",
            "MIT",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert yaml.safe_load(out.read_text())["licenses"]["deny"][-1] == "MIT"


def test_a_crash_exits_3_never_1(capsys: pytest.CaptureFixture[str]) -> None:
    # The action, the GitLab job and the pre-commit hook read exit 1 as "policy violation".
    import click

    from scanner.cli import run

    @click.group()
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise RuntimeError("unexpected")

    assert run(group, ["boom"], prog_name="goproxy-scan") == 3
    err = capsys.readouterr().err
    assert "RuntimeError: unexpected" in err and "failed unexpectedly" in err


def test_comment_text_from_data_is_never_markup(tmp_path: Path) -> None:
    # `github.com/acme/*,gitlab.com/corp/*` in a note was read as emphasis.
    markdown_it = pytest.importorskip("markdown_it")
    from scanner.reports.markdown import _cell, comment_marker, render_markdown
    from scanner.result import ScanResult

    golden = Path(__file__).parents[1] / "scanner" / "golden" / "report-result.json"
    data = json.loads(golden.read_text())
    note = "GONOPROXY/GOPRIVATE=github.com/acme/*,gitlab.com/corp/* _x_ ~y~ `z` [l](u) a\\b &lt;"
    data["notes"] = [note]
    result = ScanResult.from_json(json.dumps(data), "r.json")
    html = (
        markdown_it.MarkdownIt("commonmark")
        .enable("table")
        .enable("strikethrough")
        .render(render_markdown(result))
    )
    shown = html.split("Note:")[1].split("</blockquote>")[0]  # the template's own markup aside
    assert "<em>" not in shown and "<s>" not in shown and "<code>" not in shown, shown
    assert "<a href" not in shown and "github.com/acme/*,gitlab.com/corp/* _x_ ~y~ `z`" in shown
    text = (
        markdown_it.MarkdownIt("commonmark")
        .enable("table")
        .enable("strikethrough")
        .render(_cell(note))
    )
    assert text == f"<p>{note.replace('&', '&amp;')}</p>\n"
    assert comment_marker("") == MARKER
    assert comment_marker("a b-->") == "<!-- goproxy-scan:pr-comment:a%20b--%3E -->"


def test_a_long_github_comment_says_where_the_full_list_is(tmp_path: Path) -> None:
    # It said "see the full report in the job's artifacts"; the action uploads none.
    golden = Path(__file__).parents[1] / "scanner" / "golden" / "report-result.json"
    data = json.loads(golden.read_text())
    finding = data["findings"][0]
    data["findings"] = [{**finding, "line": i + 1, "fingerprint": f"{i:032d}"} for i in range(3000)]
    (tmp_path / "big.json").write_text(json.dumps(data))
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "scanner.ghaction", "publish"),
            *("--result", str(tmp_path / "big.json"), "--markdown", str(tmp_path / "c.md")),
            *("--key", "svc-a"),
        ],
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(tmp_path / "out")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    body = (tmp_path / "c.md").read_text()
    assert body.startswith(comment_marker("svc-a"))
    assert "see the full report in the action's `result-json` output" in body
    assert "job's artifacts" not in body
