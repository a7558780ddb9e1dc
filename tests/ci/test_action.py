"""The composite action in a synthetic PR job: outputs, annotations, summary, one PR comment."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from actionrunner import REPO, ActionRun, ActionRunner
from goproxytree import GoProxyTree, write_files
from licensedmodules import publish_modules
from vulnmodules import ADVISORY, ALIAS, APP_GOMOD, APP_MAIN_GO, GIN, publish_gin

pytestmark = [
    pytest.mark.gocmd,
    pytest.mark.slow,
]

OWNER_REPO = "acme/app"
PR = 7
TOKEN = "ghs_test_token"
MARKER = "<!-- goproxy-scan:pr-comment -->"


@dataclass
class FakeGitHubAPI:
    """A loopback stand-in for the issue-comment REST endpoints, recording every call."""

    forbid: bool = False
    fail_status: int = 0  # answer every POST/PATCH with this status (e.g. 500)
    comments: dict[int, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                api.calls.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"message": "Bad credentials"})
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                list_path = f"/repos/{OWNER_REPO}/issues/{PR}/comments"
                if api.fail_status and method != "GET":
                    return self._reply(api.fail_status, {"message": "Server Error"})
                if api.forbid and method != "GET":
                    return self._reply(403, {"message": "Resource not accessible by integration"})
                if method == "GET" and self.path.split("?")[0] == list_path:
                    items = [{"id": i, "body": b} for i, b in sorted(api.comments.items())]
                    return self._reply(200, items)
                if method == "POST" and self.path == list_path:
                    new_id = 1000 + len(api.comments)
                    api.comments[new_id] = payload["body"]
                    return self._reply(201, {"id": new_id, "body": payload["body"]})
                m = re.fullmatch(rf"/repos/{OWNER_REPO}/issues/comments/(\d+)", self.path)
                if method == "PATCH" and m and int(m.group(1)) in api.comments:
                    api.comments[int(m.group(1))] = payload["body"]
                    return self._reply(200, {"id": int(m.group(1)), "body": payload["body"]})
                return self._reply(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def writes(self) -> list[str]:
        return [m for m, _ in self.calls if m in ("POST", "PATCH")]


@pytest.fixture
def github_api() -> Iterator[FakeGitHubAPI]:
    api = FakeGitHubAPI()
    api.start()
    yield api
    api.stop()


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def gomod(*deps: str) -> str:
    lines = "".join(f"\texample.com/{d} v1.0.0\n" for d in deps)
    return f"module example.com/app\n\ngo 1.21\n\nrequire (\n{lines})\n"


def main_go(*deps: str) -> str:
    imports = "".join(f'\t"example.com/{d}"\n' for d in deps)
    calls = "".join(f"\tprintln({d}.Name())\n" for d in deps)
    return f"package main\n\nimport (\n{imports})\n\nfunc main() {{\n{calls}}}\n"


@dataclass
class PullRequestJob:
    workspace: Path
    tree: GoProxyTree
    env: dict[str, str]
    runner_temp: Path
    summary: Path
    head: str = ""
    module_dir: str = "."  # where go.mod sits in the repository

    def commit(self, deps: tuple[str, ...], message: str, run_go: Callable[..., Any]) -> str:
        module = self.workspace / self.module_dir
        write_files(module, {"go.mod": gomod(*deps), "main.go": main_go(*deps)})
        run_go(
            "mod",
            "tidy",
            cwd=module,
            env_extra={"GOPROXY": self.tree.url, "GOFLAGS": "-mod=mod"},
        )
        git(self.workspace, "add", "-A")
        git(self.workspace, "commit", "-q", "-m", message)
        return git(self.workspace, "rev-parse", "HEAD")

    def open_pr(self, base: str, head: str, fork: bool = False) -> None:
        event = {
            "action": "synchronize",
            "number": PR,
            "pull_request": {
                "number": PR,
                "base": {"sha": base, "ref": "main", "repo": {"full_name": OWNER_REPO}},
                "head": {
                    "sha": head,
                    "ref": "feature",
                    "repo": {"full_name": "someone/app" if fork else OWNER_REPO},
                },
            },
        }
        event_path = self.runner_temp.parent / "event.json"
        event_path.write_text(json.dumps(event))
        self.env.update(GITHUB_EVENT_PATH=str(event_path), GITHUB_SHA=head)
        self.head = head

    def run(self, **inputs: str) -> ActionRun:
        return ActionRunner(REPO, self.workspace, self.runner_temp).run(inputs, self.env)


@pytest.fixture
def job(
    tmp_path: Path, go_env: dict[str, str], github_api: FakeGitHubAPI, xdg_cache: Path
) -> PullRequestJob:
    tree = GoProxyTree(tmp_path / "goproxy")
    publish_modules(tree)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "main")
    runner_temp = tmp_path / "runner" / "temp"
    runner_temp.mkdir(parents=True)
    summary = tmp_path / "runner" / "step_summary.md"
    summary.write_text("")
    env = {k: v for k, v in go_env.items() if not k.startswith(("GITHUB_", "GOPROXY_SCAN_", "CI_"))}
    env.update(
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_REPOSITORY=OWNER_REPO,
        GITHUB_API_URL=github_api.url,
        GITHUB_TOKEN=TOKEN,
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_RUN_ID="1",
        CI_PROXY_MODE="auto",
        XDG_CACHE_HOME=str(xdg_cache),
    )
    return PullRequestJob(workspace, tree, env, runner_temp, summary)


@pytest.fixture
def gpl_pr(
    job: PullRequestJob, run_go: Callable[..., subprocess.CompletedProcess[str]]
) -> PullRequestJob:
    """A pull request whose head adds a GPL-3.0-only dependency to a clean MIT-only base."""
    base = job.commit(("mit",), "base: MIT only", run_go)
    git(job.workspace, "checkout", "-q", "-b", "feature")
    head = job.commit(("mit", "gpl"), "add a GPL-3.0 dependency", run_go)
    job.open_pr(base, head)
    return job


SCAN_INPUTS = {
    "sarif": "out/goproxy-scan.sarif",
    "sbom": "out/sbom.cdx.json",
}


def test_gpl_dependency_fails_with_outputs_annotations_summary_and_one_comment(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    inputs = {**SCAN_INPUTS, "proxy-url": gpl_pr.tree.url, "comment-summary-in-pr": "always"}
    run = gpl_pr.run(**inputs)
    assert run.failed, run.log
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 1, run.log

    assert run.outputs["verdict"] == "fail", run.log
    assert run.outputs["violations"] == "1"
    sarif = Path(run.outputs["sarif"])
    assert sarif == gpl_pr.workspace / "out" / "goproxy-scan.sarif"
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    sbom = json.loads(Path(run.outputs["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert {c["name"] for c in sbom["components"]} >= {"example.com/gpl", "example.com/mit"}
    result = json.loads(Path(run.outputs["result-json"]).read_text())
    assert result["base_ref"] == run.step("refs").outputs["base"]

    # The env step pointed the job's go command at the (file://) private proxy.
    assert run.env["GOPROXY"] == gpl_pr.tree.url
    # One error annotation on go.mod, for the module the PR adds.
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 1, run.stdout
    assert "file=go.mod" in errors[0] and "example.com/gpl@v1.0.0" in errors[0]
    assert "GPL-3.0-only" in errors[0]
    summary = gpl_pr.summary.read_text()
    assert MARKER in summary and "example.com/gpl" in summary

    assert github_api.writes() == ["POST"]
    (body,) = github_api.comments.values()
    assert body.startswith(MARKER) and "example.com/gpl" in body and "GPL-3.0-only" in body

    # A second run on the same PR (a new push) updates that comment instead of adding one.
    git(gpl_pr.workspace, "commit", "-q", "--allow-empty", "-m", "another push")
    gpl_pr.open_pr(run.step("refs").outputs["base"], git(gpl_pr.workspace, "rev-parse", "HEAD"))
    again = gpl_pr.run(**inputs)
    assert again.outputs["verdict"] == "fail"
    assert github_api.writes() == ["POST", "PATCH"]
    assert len(github_api.comments) == 1
    assert again.step("comment").outputs["comment"] == "updated"


def test_warn_only_reports_without_failing_the_job(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    run = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "warn-only": "true"})
    assert not run.failed, run.log
    assert run.outputs["verdict"] == "fail"
    assert "::warning title=goproxy-scan::1 policy violation(s); warn-only is set" in run.stdout
    # on-failure is the default: a failing scan comments
    assert github_api.writes() == ["POST"]


def test_a_later_passing_push_updates_the_on_failure_comment(
    gpl_pr: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # on-failure is the default. The comment saying the change breaks the policy must not stay
    # up after the push that fixed it.
    failing = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url})
    assert failing.outputs["verdict"] == "fail", failing.log
    assert github_api.writes() == ["POST"]
    (comment_id,) = github_api.comments
    assert "breaks the policy" in github_api.comments[comment_id]

    base = failing.step("refs").outputs["base"]
    gpl_pr.open_pr(base, gpl_pr.commit(("mit",), "drop the GPL dependency", run_go))
    fixed = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url})
    assert fixed.outputs["verdict"] == "pass", fixed.log
    assert fixed.step("comment").outputs["comment"] == "updated"
    assert github_api.writes() == ["POST", "PATCH"]
    assert list(github_api.comments) == [comment_id]
    body = github_api.comments[comment_id]
    assert body.startswith(MARKER) and "goproxy-scan: pass" in body
    assert "breaks the policy" not in body and "example.com/gpl" not in body


def test_read_only_token_falls_back_to_the_step_summary(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    github_api.forbid = True
    run = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url})
    assert run.step("comment").returncode == 0, run.log
    assert run.step("comment").outputs["comment"] == "fallback"
    assert "::notice title=goproxy-scan::no PR comment" in run.step("comment").stdout
    assert github_api.comments == {}
    summary = gpl_pr.summary.read_text()
    assert "example.com/gpl" in summary
    assert f"could not comment on pull request #{PR}" in summary
    assert run.outputs["verdict"] == "fail"


def test_clean_pull_request_passes_without_a_comment(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    base = job.commit(("mit",), "base", run_go)
    write_files(job.workspace, {"doc.go": "// Package main is the app.\npackage main\n"})
    git(job.workspace, "add", "-A")
    git(job.workspace, "commit", "-q", "-m", "docs only")
    job.open_pr(base, git(job.workspace, "rev-parse", "HEAD"))
    run = job.run(**{"proxy-url": job.tree.url, **SCAN_INPUTS})
    assert not run.failed, run.log
    assert run.outputs["verdict"] == "pass"
    assert run.outputs["violations"] == "0"
    assert not [ln for ln in run.stdout.splitlines() if ln.startswith("::error")]
    assert github_api.writes() == []  # on-failure: nothing to say
    assert run.step("comment").outputs["comment"] == "skipped"


def test_deny_licenses_input_fails_an_otherwise_clean_pull_request(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    write_files(job.workspace, {"README": "app\n"})
    git(job.workspace, "add", "-A")
    git(job.workspace, "commit", "-q", "-m", "base")
    base = git(job.workspace, "rev-parse", "HEAD")
    head = job.commit(("mit",), "add an MIT dependency", run_go)
    job.open_pr(base, head)
    run = job.run(**{"proxy-url": job.tree.url, "deny-licenses": "MIT"})
    assert run.outputs["verdict"] == "fail", run.log
    assert "example.com/mit@v1.0.0" in run.stdout and "MIT" in run.stdout


def test_force_mode_with_the_proxy_down_is_an_error_with_summary_and_comment(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    # The env step's exit 3 skipped everything after it: no verdict, no summary, and the PR
    # comment of an earlier run stayed up. Now it is verdict=error as a scan that cannot finish.
    github_api.comments[5] = f"{MARKER}\n## ✅ goproxy-scan: pass\n"
    run = gpl_pr.run(**{"proxy-url": "http://127.0.0.1:9", "proxy-mode": "force"})
    assert run.failed
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 3, run.log
    assert "CI_PROXY_MODE=force fails closed" in run.log
    assert run.outputs["verdict"] == "error"
    assert run.outputs["result-json"] == ""  # nothing was judged
    assert "GOPROXY" not in run.env  # fail closed: no Go environment for later steps
    assert "could not finish" in gpl_pr.summary.read_text()
    assert "could not finish" in github_api.comments[5]  # on-failure: the comment says so


def test_proxy_mode_is_read_once_in_any_case_and_a_bad_one_is_refused(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    # `env` read FORCE as force, the Scan step compared the raw string and scanned --fail-open:
    # fail-closed silently became fail-open.
    proxy = VerdictsDown()
    try:
        run = gpl_pr.run(**{"proxy-url": proxy.url, "proxy-mode": "FORCE"})
    finally:
        proxy.stop()
    assert "mode=force route=private" in run.log
    assert "--fail-open: " not in run.log  # the warning of a scan judging locally
    assert run.outputs["verdict"] == "error", run.log
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 3

    gpl_pr.env["CI_PROXY_MODE"] = "None"  # the job's variable, input empty
    quiet = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url})
    assert "mode=none route=unchanged" in quiet.log
    # none: no --proxy for the scan, which finds this job's own GOPROXY=off (as `env` left it)
    assert "GOPROXY=off: module lookup is disabled" in quiet.log, quiet.log

    gpl_pr.env["CI_PROXY_MODE"] = "forced"
    bad = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url})
    assert "CI_PROXY_MODE: 'forced' is not a proxy mode" in bad.stdout, bad.log
    assert bad.outputs["verdict"] == "error" and bad.outputs["result-json"] == ""
    assert bad.steps[-1].name == "Verdict" and bad.steps[-1].returncode == 2


class VerdictsDown:
    """A private proxy that answers its health check and nothing else (503)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:
                self._reply(200 if self.path.endswith("/-/healthz") else 503)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply(503)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_each_directory_keeps_its_own_comment(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # A monorepo scanned twice: svc-b's passing run turned svc-a's failing comment into a pass.
    job.module_dir = "svc-a"
    job.commit(("mit",), "svc-a", run_go)
    job.module_dir = "svc-b"
    base = job.commit(("mit",), "svc-b", run_go)
    job.module_dir = "svc-a"
    job.open_pr(base, job.commit(("mit", "gpl"), "svc-a adds gpl", run_go))

    a = job.run(**{"proxy-url": job.tree.url, "working-directory": "svc-a"})
    assert a.outputs["verdict"] == "fail", a.log
    b = job.run(**{"proxy-url": job.tree.url, "working-directory": "./svc-b/"})
    assert b.outputs["verdict"] == "pass", b.log
    assert b.step("comment").outputs["comment"] == "skipped"  # on-failure: no comment of its own
    (a_body,) = github_api.comments.values()
    assert a_body.startswith("<!-- goproxy-scan:pr-comment:svc-a -->"), a_body
    assert "goproxy-scan (`svc-a`): this change breaks the policy" in a_body

    b = job.run(
        **{
            "proxy-url": job.tree.url,
            "working-directory": "svc-b",
            "comment-summary-in-pr": "always",
        }
    )
    assert len(github_api.comments) == 2
    bodies = sorted(github_api.comments.values())
    assert bodies[0] == a_body
    assert "goproxy-scan (`svc-b`): pass" in bodies[1]
    # The repository root keeps the marker earlier versions wrote.
    assert not any(body.startswith(MARKER) for body in bodies)


def test_a_comment_that_cannot_be_posted_is_a_warning(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # A 500 or a refused connection in the comment step failed a passing (or warn-only) job.
    base = job.commit(("mit",), "base", run_go)
    job.open_pr(base, job.commit(("mit", "gpl"), "add gpl", run_go))
    github_api.fail_status = 500
    run = job.run(**{"proxy-url": job.tree.url, "warn-only": "true"})
    assert not run.failed, run.log
    assert run.step("comment").outputs["comment"] == "failed"
    assert "::warning title=goproxy-scan::could not write the PR comment" in run.stdout
    assert run.outputs["verdict"] == "fail"

    job.env["GITHUB_API_URL"] = "http://127.0.0.1:9"  # nothing listens
    down = job.run(**{"proxy-url": job.tree.url, "warn-only": "TRUE"})
    assert not down.failed, down.log
    assert down.step("comment").outputs["comment"] == "failed"
    strict = job.run(**{"proxy-url": job.tree.url})
    assert strict.steps[-1].name == "Verdict" and strict.steps[-1].returncode == 1


def test_head_ref_must_be_the_checked_out_commit(gpl_pr: PullRequestJob) -> None:
    # head-ref was silently ignored: the checkout was judged whatever it named.
    base = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "head-ref": "main"})
    assert base.outputs["verdict"] == "error", base.log
    assert "head-ref 'main' is" in base.stdout and "the checkout is at" in base.stdout
    assert base.outputs["result-json"] == ""
    assert base.steps[-1].name == "Verdict" and base.steps[-1].returncode == 2
    same = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "head-ref": gpl_pr.head})
    assert same.outputs["verdict"] == "fail", same.log


def test_comment_input_takes_true_and_false_and_a_typo_fails_before_the_scan(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    # dependency-review-action's `comment-summary-in-pr: true` failed the job after the scan.
    never = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "comment-summary-in-pr": "False"})
    assert never.outputs["verdict"] == "fail", never.log
    assert github_api.writes() == []
    always = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "comment-summary-in-pr": "true"})
    assert always.step("comment").outputs["comment"] == "created", always.log
    typo = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "comment-summary-in-pr": "sometimes"})
    assert "comment-summary-in-pr: 'sometimes' is not a comment mode" in typo.stdout, typo.log
    assert typo.outputs["verdict"] == "error" and typo.outputs["result-json"] == ""
    assert typo.steps[-1].name == "Verdict" and typo.steps[-1].returncode == 2
    bad = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "warn-only": "yes", "fail-on": "HIGH"})
    assert "warn-only: 'yes' is not true or false" in bad.stdout, bad.log
    assert "fail-on" not in bad.stdout  # HIGH is high
    assert bad.outputs["verdict"] == "error"


def test_a_working_directory_that_is_missing_or_holds_no_module_is_an_input_error(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    # `inputs` let a missing working-directory through (exit-code=0); the runner then failed
    # the Scan step before its script ran: verdict empty, no summary, no comment.
    (gpl_pr.workspace / "docs").mkdir()
    (gpl_pr.workspace / "docs" / "README.md").write_text("no module here\n")
    cases = {
        "nonexistent": "working-directory: 'nonexistent' does not exist",
        "docs": "working-directory: 'docs' has no go.mod",
        "main.go": "working-directory: 'main.go' is not a directory",
    }
    for directory, message in cases.items():
        gpl_pr.summary.write_text("")
        run = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "working-directory": directory})
        assert f"::error title=goproxy-scan::input: {message}" in run.stdout, run.log
        assert run.step("inputs").outputs["exit-code"] == "2", run.log
        assert run.step("scan").returncode == 0, run.log  # its script ran and said why
        assert run.outputs["verdict"] == "error" and run.outputs["result-json"] == ""
        assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 2, run.log
        assert "could not finish" in gpl_pr.summary.read_text()
        (body,) = github_api.comments.values()  # on-failure: the comment says so too
        assert f"pr-comment:{directory}" in body and "could not finish" in body, body
        github_api.comments.clear()
    # The workspace itself, absolute or relative, is scanned as before.
    for directory in (str(gpl_pr.workspace), "./"):
        run = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "working-directory": directory})
        assert run.outputs["verdict"] == "fail", run.log


def test_a_scan_that_cannot_run_is_an_error_not_a_violation(
    gpl_pr: PullRequestJob, github_api: FakeGitHubAPI
) -> None:
    run = gpl_pr.run(**{"proxy-url": gpl_pr.tree.url, "policy": "missing-policy.yml"})
    assert run.outputs["verdict"] == "error", run.log
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 2
    assert "::error title=goproxy-scan::the scan could not finish (exit 2)" in run.stdout
    assert "the policy file does not exist" in run.log
    assert "could not finish" in gpl_pr.summary.read_text()


def test_a_scan_that_wrote_no_files_names_none_in_its_outputs(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # README's upload steps run `if: always() && steps.scan.outputs.sarif != ''`: an output
    # naming a file the failed scan never wrote failed those steps on a missing path.
    base = job.commit(("mit",), "base", run_go)
    write_files(job.workspace, {"go.mod": "module example.com/app\n\ngo 1.21\n\nrequire (\n"})
    git(job.workspace, "add", "-A")
    git(job.workspace, "commit", "-q", "-m", "break go.mod")
    job.open_pr(base, git(job.workspace, "rev-parse", "HEAD"))
    run = job.run(**{"proxy-url": job.tree.url, **SCAN_INPUTS})
    assert run.outputs["verdict"] == "error", run.log
    assert not (job.workspace / SCAN_INPUTS["sarif"]).exists()
    assert not (job.workspace / SCAN_INPUTS["sbom"]).exists()
    assert (run.outputs["sarif"], run.outputs["sbom"], run.outputs["result-json"]) == ("", "", "")


def test_module_in_a_subdirectory_gets_repository_relative_annotations(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    job.module_dir = "services/app"
    base = job.commit(("mit",), "base", run_go)
    head = job.commit(("mit", "gpl"), "add gpl", run_go)
    job.open_pr(base, head)
    run = job.run(**{"proxy-url": job.tree.url, "working-directory": "services/app"})
    assert run.outputs["verdict"] == "fail", run.log
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 1 and "file=services/app/go.mod" in errors[0], run.stdout


def test_proxy_from_the_jobs_environment_when_the_input_is_empty(
    gpl_pr: PullRequestJob,
) -> None:
    # e.g. an organisation-level GOPROXY_SCAN_PROXY variable mapped into the job's env
    gpl_pr.env["GOPROXY_SCAN_PROXY"] = gpl_pr.tree.url
    run = gpl_pr.run()
    assert run.env["GOPROXY"] == gpl_pr.tree.url, run.log
    assert run.outputs["verdict"] == "fail"
    result = json.loads(Path(run.outputs["result-json"]).read_text())
    assert any(gpl_pr.tree.url in note for note in result["notes"]), result["notes"]


def test_vulndb_input_fails_a_pull_request_adding_a_vulnerable_module(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    vulndb: Path,
) -> None:
    base = job.commit(("mit",), "base: MIT only", run_go)
    publish_gin(job.tree)
    write_files(job.workspace, {"go.mod": APP_GOMOD, "main.go": APP_MAIN_GO})
    run_go("mod", "tidy", cwd=job.workspace, env_extra={"GOPROXY": job.tree.url})
    git(job.workspace, "add", "-A")
    git(job.workspace, "commit", "-q", "-m", "add gin v1.5.0")
    job.open_pr(base, git(job.workspace, "rev-parse", "HEAD"))

    # The license check alone passes: gin is MIT.
    plain = job.run(**{"proxy-url": job.tree.url})
    assert plain.outputs["verdict"] == "pass", plain.log

    run = job.run(**{"proxy-url": job.tree.url, "vulndb": vulndb.as_uri()})
    assert run.outputs["verdict"] == "fail", run.log
    assert run.outputs["violations"] == "1"
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 1
    result = json.loads(Path(run.outputs["result-json"]).read_text())
    (vuln,) = result["vulnerabilities"]
    assert (vuln["id"], vuln["module"], vuln["version"]) == (ADVISORY, GIN, "v1.5.0")
    assert (vuln["reachability"], vuln["status"]) == ("called", "new")
    assert result["vulndb"] == vulndb.as_uri()
    errors = [ln for ln in run.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 1 and "file=go.mod" in errors[0] and ADVISORY in errors[0], run.stdout
    assert ADVISORY in job.summary.read_text()
    (body,) = github_api.comments.values()  # on-failure: the failing run comments
    assert ADVISORY in body and ALIAS in body


POLICY_FAIL_ON_MEDIUM = (
    "version: 1\nlicenses:\n  allow: [permissive]\nsource_rules:\n  fail_on: medium\n"
)
MD5_GO = (
    'package main\n\nimport "crypto/md5"\n\nfunc digest(b []byte) [16]byte { return md5.Sum(b) }\n'
)


def test_empty_fail_on_input_leaves_the_policys_fail_on_in_force(
    job: PullRequestJob,
    github_api: FakeGitHubAPI,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # docs/scan.md: --fail-on, else the policy's source_rules.fail_on, else high. The action
    # passed --fail-on high whatever the policy said, so a medium finding slipped through.
    write_files(job.workspace, {".goproxy-scan.yml": POLICY_FAIL_ON_MEDIUM})
    base = job.commit(("mit",), "base with a policy failing on medium", run_go)
    write_files(job.workspace, {"digest.go": MD5_GO})
    git(job.workspace, "add", "-A")
    git(job.workspace, "commit", "-q", "-m", "hash with MD5")
    job.open_pr(base, git(job.workspace, "rev-parse", "HEAD"))

    run = job.run(**{"proxy-url": job.tree.url})
    assert run.outputs["verdict"] == "fail", run.log
    assert run.steps[-1].name == "Verdict" and run.steps[-1].returncode == 1
    assert run.outputs["violations"] == "1"
    # A medium finding is a warning annotation; it fails the check all the same.
    (md5,) = [ln for ln in run.stdout.splitlines() if "GPS103" in ln]
    assert md5.startswith("::warning file=digest.go,"), run.stdout

    # A given input still overrides the policy.
    lenient = job.run(**{"proxy-url": job.tree.url, "fail-on": "high"})
    assert lenient.outputs["verdict"] == "pass", lenient.log
