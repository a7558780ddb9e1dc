"""gitlab-template.yml's job in a synthetic MR pipeline: dotenv, code quality, CycloneDX."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from actionrunner import REPO
from goproxytree import GoProxyTree, write_files
from licensedmodules import publish_modules
from loopbackproxy import LoopbackProxy, tls_context
from vulnmodules import ADVISORY, ALIAS, APP_GOMOD, APP_MAIN_GO, GIN, publish_gin

_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def load_template(inputs: dict[str, Any]) -> dict[str, Any]:
    """Interpolate `$[[ inputs.x ]]` as GitLab does (defaults from `spec:`), return the job."""
    spec_text, jobs_text = (REPO / "gitlab-template.yml").read_text().split("\n---\n", 1)
    spec = yaml.safe_load(spec_text)["spec"]["inputs"]
    unknown = set(inputs) - set(spec)
    assert not unknown, f"not inputs of the template: {unknown}"
    values = {name: inputs.get(name, s.get("default", "")) for name, s in spec.items()}

    def value(m: re.Match[str]) -> str:
        v = values[m.group(1)]
        return str(v).lower() if isinstance(v, bool) else str(v)

    job: dict[str, Any] = yaml.safe_load(_INPUT.sub(value, jobs_text))["goproxy-scan"]
    return job


@dataclass
class JobRun:
    returncode: int
    log: str
    project: Path

    def dotenv(self) -> dict[str, str]:
        text = (self.project / "goproxy-scan.env").read_text()
        return dict(line.split("=", 1) for line in text.splitlines())


def run_job(job: dict[str, Any], project: Path, work: Path, ci_env: dict[str, str]) -> JobRun:
    """variables (with $VAR expansion), before_script and script under `bash -eo pipefail`.

    The first two before_script lines create the venv and pip-install the scanner; the
    installed scanner of this test environment is linked in their place (no network here).
    """
    env = dict(ci_env)
    for name, raw in job["variables"].items():
        env[name] = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), str(raw))
    env["GPS_WORK"] = str(work)
    (work).mkdir(parents=True, exist_ok=True)
    if not (work / "venv").exists():
        os.symlink(sys.prefix, work / "venv")
    before = job["before_script"]
    assert "venv" in before[0] and "pip" in before[1] and "install" in before[1]
    script = "\n".join([*before[2:], *job["script"]])
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return JobRun(proc.returncode, proc.stdout + proc.stderr, project)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture
def mr_pipeline(
    tmp_path: Path,
    go_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    xdg_cache: Path,
) -> tuple[Path, dict[str, str], GoProxyTree]:
    """A project whose MR adds a GPL-3.0-only dependency, and the MR pipeline's variables."""
    tree = GoProxyTree(tmp_path / "goproxy")
    publish_modules(tree)
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")

    def commit(deps: tuple[str, ...], message: str) -> str:
        requires = "".join(f"\texample.com/{d} v1.0.0\n" for d in deps)
        imports = "".join(f'\t"example.com/{d}"\n' for d in deps)
        calls = "".join(f"\tprintln({d}.Name())\n" for d in deps)
        write_files(
            project,
            {
                "go.mod": f"module example.com/app\n\ngo 1.21\n\nrequire (\n{requires})\n",
                "main.go": f"package main\n\nimport (\n{imports})\n\nfunc main() {{\n{calls}}}\n",
            },
        )
        run_go("mod", "tidy", cwd=project, env_extra={"GOPROXY": tree.url, "GOFLAGS": "-mod=mod"})
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", message)
        return git(project, "rev-parse", "HEAD")

    base = commit(("mit",), "base")
    head = commit(("mit", "gpl"), "add gpl")
    env = {k: v for k, v in go_env.items() if not k.startswith(("GOPROXY_SCAN_", "CI_"))}
    env.update(
        GITLAB_CI="true",
        CI="true",
        CI_PROJECT_DIR=str(project),
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=base,
        CI_COMMIT_SHA=head,
        CI_JOB_ID="42",
        GOPROXY_SCAN_TOKEN="",
        GOFLAGS="",  # a job starts without GOFLAGS; `env` adds -mod=readonly
        XDG_CACHE_HOME=str(xdg_cache),
    )
    return project, env, tree


def test_template_rules_select_merge_request_pipelines() -> None:
    rules = load_template({})["rules"]
    assert rules[0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}
    job = load_template({"stage": "verify", "warn-only": True})
    assert job["stage"] == "verify"
    assert job["variables"]["GPS_WARN_ONLY"] == "true"
    assert job["artifacts"]["reports"] == {
        "cyclonedx": "gl-sbom-goproxy-scan.cdx.json",
        "codequality": "gl-code-quality-report.json",
        "dotenv": "goproxy-scan.env",
    }


def test_force_mode_with_the_proxy_down_fails_closed(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    project, env, _ = mr_pipeline
    job = load_template({"proxy-url": "http://127.0.0.1:9", "proxy-mode": "force"})
    run = run_job(job, project, tmp_path / "work", env)
    assert run.returncode == 3, run.log
    assert "CI_PROXY_MODE=force fails closed" in run.log
    assert not (project / "goproxy-scan.env").exists()


def test_ci_proxy_mode_variable_sets_the_dotenv(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    project, env, tree = mr_pipeline
    # proxy-mode input left empty: the project's CI_PROXY_MODE variable decides
    run = run_job(
        load_template({"proxy-url": tree.url}),
        project,
        tmp_path / "work",
        {**env, "CI_PROXY_MODE": "force"},
    )
    dotenv = run.dotenv()
    assert dotenv["GOPROXY"] == tree.url, run.log
    assert dotenv["GOFLAGS"] == "-mod=readonly"
    assert "mode=force route=private" in run.log


def test_merge_request_adding_gpl_fails_with_reports(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    project, env, tree = mr_pipeline
    run = run_job(load_template({"proxy-url": tree.url}), project, tmp_path / "work", env)
    assert run.returncode == 1, run.log
    assert "example.com/gpl" in run.log and "GPL-3.0-only" in run.log
    quality = json.loads((project / "gl-code-quality-report.json").read_text())
    assert any("example.com/gpl" in issue["description"] for issue in quality)
    assert all(issue["location"]["path"] == "go.mod" for issue in quality)
    sbom = json.loads((project / "gl-sbom-goproxy-scan.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    result = json.loads((project / "goproxy-scan-result.json").read_text())
    assert result["base_ref"] == env["CI_MERGE_REQUEST_DIFF_BASE_SHA"]

    warn = run_job(
        load_template({"proxy-url": tree.url, "warn-only": True}),
        project,
        tmp_path / "work",
        env,
    )
    assert warn.returncode == 0, warn.log
    assert "warn-only is set" in warn.log


def test_vulndb_input_fails_a_merge_request_adding_a_vulnerable_module(
    tmp_path: Path,
    go_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    xdg_cache: Path,
    vulndb: Path,
) -> None:
    tree = GoProxyTree(tmp_path / "goproxy")
    publish_modules(tree)
    publish_gin(tree)
    project = tmp_path / "project"
    write_files(
        project,
        {
            "go.mod": "module example.com/app\n\ngo 1.21\n\nrequire example.com/mit v1.0.0\n",
            "main.go": 'package main\n\nimport "example.com/mit"\n\n'
            "func main() { println(mit.Name()) }\n",
        },
    )
    git(project, "init", "-q", "-b", "main")
    tidy = {"GOPROXY": tree.url, "GOFLAGS": "-mod=mod"}
    run_go("mod", "tidy", cwd=project, env_extra=tidy)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    base = git(project, "rev-parse", "HEAD")
    write_files(project, {"go.mod": APP_GOMOD, "main.go": APP_MAIN_GO})
    run_go("mod", "tidy", cwd=project, env_extra=tidy)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "add gin v1.5.0")
    # A database directory inside the project, named relative to it as users would.
    shutil.copytree(vulndb, project / ".ci" / "vulndb")
    env = {k: v for k, v in go_env.items() if not k.startswith(("GOPROXY_SCAN_", "CI_"))}
    env.update(
        CI_PROJECT_DIR=str(project),
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=base,
        CI_COMMIT_SHA=git(project, "rev-parse", "HEAD"),
        GOFLAGS="",
        XDG_CACHE_HOME=str(xdg_cache),
    )
    inputs = {"proxy-url": tree.url, "vulndb": ".ci/vulndb"}
    run = run_job(load_template(inputs), project, tmp_path / "work", env)
    assert run.returncode == 1, run.log
    assert ADVISORY in run.log and ALIAS in run.log
    result = json.loads((project / "goproxy-scan-result.json").read_text())
    (vuln,) = result["vulnerabilities"]
    assert (vuln["id"], vuln["module"], vuln["status"]) == (ADVISORY, GIN, "new")
    assert result["vulndb"] == (project / ".ci" / "vulndb").as_uri()
    quality = json.loads((project / "gl-code-quality-report.json").read_text())
    assert [i["location"]["path"] for i in quality if i["check_name"] == ADVISORY] == ["go.mod"]
    sbom = json.loads((project / "gl-sbom-goproxy-scan.cdx.json").read_text())
    assert [v["id"] for v in sbom["vulnerabilities"]] == [ADVISORY]

    # Without the input the same MR passes: gin's license (MIT) is allowed.
    plain = run_job(load_template({"proxy-url": tree.url}), project, tmp_path / "work", env)
    assert plain.returncode == 0, plain.log


def test_empty_fail_on_input_leaves_the_policys_fail_on_in_force(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    # docs/scan.md: --fail-on, else the policy's source_rules.fail_on, else high; the job passed
    # --fail-on high whatever the policy said.
    project, env, tree = mr_pipeline
    write_files(
        project,
        {
            ".goproxy-scan.yml": "version: 1\nlicenses:\n  allow: [permissive]\n"
            "source_rules:\n  fail_on: medium\n",
            "digest.go": 'package main\n\nimport "crypto/md5"\n\n'
            "func digest(b []byte) [16]byte { return md5.Sum(b) }\n",
        },
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "hash with MD5 under a policy failing on medium")
    env = {
        **env,
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(project, "rev-parse", "HEAD~1"),
        "CI_COMMIT_SHA": git(project, "rev-parse", "HEAD"),
    }
    run = run_job(load_template({"proxy-url": tree.url}), project, tmp_path / "work", env)
    assert run.returncode == 1, run.log
    result = json.loads((project / "goproxy-scan-result.json").read_text())
    assert [f["rule_id"] for f in result["findings"]] == ["GPS103"], result["findings"]

    lenient = run_job(
        load_template({"proxy-url": tree.url, "fail-on": "high"}), project, tmp_path / "work", env
    )
    assert lenient.returncode == 0, lenient.log


def test_the_netrc_serves_this_job_and_stays_out_of_the_dotenv(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    # NETRC named a file only the scan job's container has, and GOAUTH=netrc without it gave
    # a later job (README's `needs: [goproxy-scan]` build) the proxy's 401.
    project, env, tree = mr_pipeline
    context, ca_file = tls_context(tmp_path)
    proxy = LoopbackProxy(tree.root, credentials=("goproxy-scan", "s3cret"))
    proxy.start(context)
    try:
        tls = {"REQUESTS_CA_BUNDLE": str(ca_file), "SSL_CERT_FILE": str(ca_file)}
        job = {**env, **tls, "GOPROXY_SCAN_TOKEN": "s3cret"}
        run = run_job(load_template({"proxy-url": proxy.url}), project, tmp_path / "work", job)
    finally:
        proxy.stop()
    assert run.returncode == 1, run.log
    assert "example.com/gpl" in run.log and "GPL-3.0-only" in run.log
    assert "mode=auto route=private" in run.log
    # The .netrc that `env` wrote, for this job only.
    netrc = Path(env["HOME"]) / ".config" / "goproxy-scan" / "netrc"
    assert "password s3cret" in netrc.read_text()
    dotenv = run.dotenv()
    assert dotenv["GOPROXY"] == proxy.url
    assert "NETRC" not in dotenv and "GOAUTH" not in dotenv
    assert "s3cret" not in (project / "goproxy-scan.env").read_text()
    assert "goproxy-scan.env leaves out GOAUTH, NETRC" in run.log


def test_sarif_in_a_subdirectory_is_kept_as_an_artifact(
    mr_pipeline: tuple[Path, dict[str, str], GoProxyTree], tmp_path: Path
) -> None:
    # `artifacts: paths: ["*.sarif"]` matched the project root only: a `sarif` input in a
    # subdirectory was written and not kept. The template also reads the mode in any case.
    project, env, tree = mr_pipeline
    job = load_template({"proxy-url": tree.url, "sarif": "reports/gl.sarif", "proxy-mode": "FORCE"})
    run = run_job(job, project, tmp_path / "work", env)
    assert run.returncode == 1, run.log
    assert "mode=force route=private" in run.log
    assert json.loads((project / "reports" / "gl.sarif").read_text())["version"] == "2.1.0"
    kept = [p for pattern in job["artifacts"]["paths"] for p in project.glob(pattern)]
    sarif = [p for p in kept if p.suffix == ".sarif"]
    assert sarif and json.loads(sarif[0].read_text())["version"] == "2.1.0", kept
    markdown = (project / "goproxy-scan-report.md").read_text()
    assert "goproxy-scan" in markdown

    bad = run_job(load_template({"proxy-mode": "forced"}), project, tmp_path / "work", env)
    assert bad.returncode == 2, bad.log
    assert "'forced' is not a proxy mode" in bad.log
