"""`goproxy-scan env`: each CI_PROXY_MODE × proxy up/down, checked by the real go command."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from loopbackproxy import LoopbackProxy, tls_context

DEP = "example.com/dep"
DEP_GO = "package dep\n\nfunc Answer() int { return 42 }\n"
MAIN_GOMOD = f"module example.com/app\n\ngo 1.21\n\nrequire {DEP} v1.0.0\n"
MAIN_GO = f'package main\n\nimport "{DEP}"\n\nfunc main() {{ println(dep.Answer()) }}\n'


def _tree(root: Path, answer: int) -> GoProxyTree:
    tree = GoProxyTree(root)
    tree.add_module(
        DEP,
        "v1.0.0",
        {
            "go.mod": f"module {DEP}\n\ngo 1.21\n",
            "dep.go": DEP_GO.replace("42", str(answer)),
            "LICENSE": "MIT License\n",
        },
    )
    return tree


@pytest.fixture
def private_proxy(tmp_path: Path) -> Iterator[LoopbackProxy]:
    proxy = LoopbackProxy(_tree(tmp_path / "private", 42).root)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def public_proxy(tmp_path: Path) -> Iterator[LoopbackProxy]:
    """Stands in for proxy.golang.org, so a fallback is visible in where downloads went."""
    proxy = LoopbackProxy(_tree(tmp_path / "public", 7).root)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path / "app", {"go.mod": MAIN_GOMOD, "main.go": MAIN_GO})


@pytest.fixture
def job_env(tmp_path: Path, go_env: dict[str, str]) -> dict[str, str]:
    """A CI job's environment: the isolated go env, no proxy settings, no inherited CI vars."""
    env = {
        k: v
        for k, v in go_env.items()
        if not k.startswith(("GOPROXY_SCAN_", "CI_", "GITHUB_", "RUNNER_"))
        and k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
    }
    env["GOFLAGS"] = ""
    env["GOPROXY"] = "off"  # what the job had before: any download would fail
    return env


def goproxy_scan_env(
    args: list[str], env: dict[str, str], extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["goproxy-scan", "env", *args],
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def parse_github_env(text: str) -> dict[str, str]:
    """The runner's reading of $GITHUB_ENV: `NAME=value` or `NAME<<DELIM` … `DELIM`."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value: list[str] = []
            while lines[i] != delim:
                value.append(lines[i])
                i += 1
            i += 1
            out[name] = "\n".join(value)
        else:
            name, value_text = line.split("=", 1)
            out[name] = value_text
    return out


def parse_dotenv(text: str) -> dict[str, str]:
    assert text == "" or text.endswith("\n")
    out = {}
    for line in text.splitlines():
        assert line and not line.startswith("#"), "GitLab rejects blank and comment lines"
        name, value = line.split("=", 1)
        out[name] = value
    return out


def parse_exports(text: str) -> dict[str, str]:
    """`export K=V` lines, values still shell-quoted."""
    return dict(line.removeprefix("export ").split("=", 1) for line in text.splitlines())


def go_download(
    run_go: Callable[..., subprocess.CompletedProcess[str]], project: Path, written: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # GOFLAGS=-mod=readonly needs go.sum; `go mod download` of the requirement writes it.
    return run_go("mod", "download", "-x", DEP, cwd=project, env_extra=written, check=False)


pytestmark = pytest.mark.gocmd


@pytest.mark.parametrize("mode", ["auto", "force"])
def test_healthy_proxy_routes_go_downloads_through_it(
    mode: str,
    tmp_path: Path,
    private_proxy: LoopbackProxy,
    public_proxy: LoopbackProxy,
    project: Path,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    dotenv = tmp_path / "go.env"
    proc = goproxy_scan_env(
        ["--dotenv", str(dotenv), "--private", "corp.example/*"],
        job_env,
        {
            "CI_PROXY_MODE": mode,
            "GOPROXY_SCAN_PROXY": private_proxy.url + "/",
            "GOPROXY_SCAN_PUBLIC_PROXY": public_proxy.url,
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    written = parse_dotenv(dotenv.read_text())
    assert written["GOPROXY"] == private_proxy.url  # no ",direct": refused means refused
    assert written["GONOSUMDB"] == "corp.example/*"
    assert written["GONOPROXY"] == ""
    assert written["GOFLAGS"] == "-mod=readonly"
    assert ("/-/healthz", "") in private_proxy.requests

    result = go_download(run_go, project, written)
    assert result.returncode == 0, result.stderr
    assert f"/{DEP}/@v/v1.0.0.zip" in private_proxy.module_requests()
    assert public_proxy.module_requests() == []
    # and the bytes are the private proxy's: `go run` prints its answer
    run = run_go("run", ".", cwd=project, env_extra={**written, "GOFLAGS": "-mod=mod"})
    assert run.stderr.strip() == "42"


@pytest.mark.parametrize("down", ["unhealthy", "unreachable"])
def test_auto_falls_back_to_public_with_a_visible_warning(
    down: str,
    tmp_path: Path,
    private_proxy: LoopbackProxy,
    public_proxy: LoopbackProxy,
    project: Path,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    url = private_proxy.url
    if down == "unhealthy":
        private_proxy.healthy = False
    else:
        private_proxy.stop()
    dotenv = tmp_path / "go.env"
    proc = goproxy_scan_env(
        [
            "--mode",
            "auto",
            "--proxy",
            url,
            "--public-proxy",
            public_proxy.url,
            "--private",
            "corp.example/*",
            "--dotenv",
            str(dotenv),
        ],
        job_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr
    assert f"private Go proxy {url} is not answering its health check" in proc.stderr
    assert "503" in proc.stderr if down == "unhealthy" else "refused" in proc.stderr
    assert "falling back" in proc.stderr
    written = parse_dotenv(dotenv.read_text())
    assert written["GOPROXY"] == public_proxy.url
    assert written["GOPRIVATE"] == "corp.example/*"  # private paths never reach a public proxy

    result = go_download(run_go, project, written)
    assert result.returncode == 0, result.stderr
    assert f"/{DEP}/@v/v1.0.0.zip" in public_proxy.module_requests()
    assert private_proxy.module_requests() == []


@pytest.mark.parametrize("down", ["unhealthy", "unreachable"])
def test_force_fails_closed_and_writes_nothing(
    down: str,
    tmp_path: Path,
    private_proxy: LoopbackProxy,
    job_env: dict[str, str],
) -> None:
    url = private_proxy.url
    if down == "unhealthy":
        private_proxy.healthy = False
    else:
        private_proxy.stop()
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=1\n")
    proc = goproxy_scan_env(
        ["--github-env", "--health-timeout", "2"],
        job_env,
        {"CI_PROXY_MODE": "force", "GOPROXY_SCAN_PROXY": url, "GITHUB_ENV": str(github_env)},
    )
    assert proc.returncode == 3, proc.stderr
    assert "CI_PROXY_MODE=force fails closed" in proc.stderr
    assert github_env.read_text() == "EARLIER=1\n"


def test_force_without_a_proxy_url_is_an_input_error(job_env: dict[str, str]) -> None:
    proc = goproxy_scan_env(["--mode", "force"], job_env)
    assert proc.returncode == 2
    assert "GOPROXY_SCAN_PROXY" in proc.stderr


@pytest.mark.parametrize("healthy", [True, False])
def test_none_changes_nothing(
    healthy: bool,
    tmp_path: Path,
    private_proxy: LoopbackProxy,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    project: Path,
) -> None:
    private_proxy.healthy = healthy
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    proc = goproxy_scan_env(
        ["--mode", "none", "--proxy", private_proxy.url, "--github-env"],
        job_env,
        {"GITHUB_ENV": str(github_env)},
    )
    assert proc.returncode == 0, proc.stderr
    assert github_env.read_text() == ""
    assert private_proxy.requests == []  # not even probed
    # the job's own GOPROXY=off still rules
    result = go_download(run_go, project, {})
    assert result.returncode != 0
    assert "GOPROXY=off" in result.stderr


def test_github_env_is_multiline_safe_and_the_next_step_sees_it(
    tmp_path: Path,
    private_proxy: LoopbackProxy,
    job_env: dict[str, str],
) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=1\n")
    proc = goproxy_scan_env(
        ["--github-env", "--proxy", private_proxy.url, "--goflags", "-mod=mod -tags=a,b"],
        job_env,
        {"GITHUB_ENV": str(github_env), "GITHUB_ACTIONS": "true"},
    )
    assert proc.returncode == 0, proc.stderr
    text = github_env.read_text()
    assert text.startswith("EARLIER=1\n")
    assert "GOPROXY<<ghadelimiter_" in text
    written = parse_github_env(text)
    assert written["EARLIER"] == "1"
    assert written["GOPROXY"] == private_proxy.url
    assert written["GOFLAGS"] == "-mod=mod -tags=a,b"


def test_github_warning_is_a_workflow_annotation(
    tmp_path: Path, private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    private_proxy.healthy = False
    github_env = tmp_path / "github_env"
    job_env = {k: v for k, v in job_env.items() if k != "GOPROXY"}
    proc = goproxy_scan_env(
        ["--github-env", "--proxy", private_proxy.url],
        job_env,
        {"GITHUB_ENV": str(github_env)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("::warning title=goproxy-scan env::private Go proxy")
    # the job had no GOPROXY of its own: the public default
    assert parse_github_env(github_env.read_text())["GOPROXY"] == "https://proxy.golang.org,direct"


def test_fallback_keeps_the_jobs_own_goproxy(
    private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    private_proxy.healthy = False
    proc = goproxy_scan_env(
        ["--proxy", private_proxy.url], job_env, {"GOPROXY": "https://athens.corp.example"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "export GOPROXY=https://athens.corp.example\n" in proc.stdout
    assert "warning: private Go proxy" in proc.stderr


def test_no_proxy_configured_is_a_note_not_a_warning(job_env: dict[str, str]) -> None:
    proc = goproxy_scan_env(["--mode", "auto"], {**job_env, "GITHUB_ACTIONS": "true"})
    assert proc.returncode == 0, proc.stderr
    assert "note: no private proxy configured" in proc.stderr
    assert "warning" not in proc.stdout + proc.stderr
    assert "export GOPROXY=off\n" in proc.stdout  # the job's own setting stays


def test_export_lines_configure_the_go_command_in_a_shell(
    private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    script = (
        f'eval "$(goproxy-scan env --mode auto --proxy {shlex.quote(private_proxy.url)} '
        "--private 'corp.example/*,other.example')\" && go env -json GOPROXY GONOSUMDB GOFLAGS"
    )
    proc = subprocess.run(
        ["bash", "-c", script], env=job_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "GOPROXY": private_proxy.url,
        "GONOSUMDB": "corp.example/*,other.example",
        "GOFLAGS": "-mod=readonly",
    }


def test_credentials_are_not_written_for_an_http_proxy(
    tmp_path: Path, private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    netrc = tmp_path / "netrc"
    proc = goproxy_scan_env(
        ["--proxy", private_proxy.url, "--token", "s3cret", "--netrc", str(netrc)], job_env
    )
    assert proc.returncode == 0, proc.stderr
    assert "credentials only over https" in proc.stderr
    assert not netrc.exists()
    assert "GOAUTH" not in proc.stdout and "s3cret" not in proc.stdout + proc.stderr


def test_outbound_proxy_keeps_the_private_proxy_out(
    private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    proc = goproxy_scan_env(
        [
            "--proxy",
            private_proxy.url,
            "--https-proxy",
            "http://egress.corp:3128",
            "--no-proxy",
            "localhost",
        ],
        job_env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "export HTTPS_PROXY=http://egress.corp:3128\n" in proc.stdout
    assert "export NO_PROXY=localhost,127.0.0.1\n" in proc.stdout


@pytest.fixture
def tls_proxy(tmp_path: Path) -> Iterator[tuple[LoopbackProxy, Path]]:
    """An https proxy with a throwaway CA (the go command trusts it through SSL_CERT_FILE)."""
    context, ca_file = tls_context(tmp_path)
    proxy = LoopbackProxy(_tree(tmp_path / "tls", 42).root, credentials=("ci-bot", "s3cret"))
    proxy.start(context)
    yield proxy, ca_file
    proxy.stop()


def test_https_proxy_token_goes_to_a_netrc_the_go_command_uses(
    tmp_path: Path,
    tls_proxy: tuple[LoopbackProxy, Path],
    project: Path,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    proxy, ca_file = tls_proxy
    netrc = tmp_path / "runner" / "netrc"
    dotenv = tmp_path / "go.env"
    proc = goproxy_scan_env(
        ["--mode", "force", "--proxy", proxy.url, "--netrc", str(netrc), "--dotenv", str(dotenv)],
        job_env,
        {
            "GOPROXY_SCAN_TOKEN": "s3cret",
            "GOPROXY_SCAN_PROXY_USER": "ci-bot",
            "REQUESTS_CA_BUNDLE": str(ca_file),
        },
    )
    assert proc.returncode == 0, proc.stderr
    # This job: the export lines point the go command at the 0600 netrc holding the token.
    written = {k: " ".join(shlex.split(v)) for k, v in parse_exports(proc.stdout).items()}
    assert written["GOAUTH"] == "netrc" and written["NETRC"] == str(netrc)
    assert "s3cret" not in proc.stdout + proc.stderr
    host_port = proxy.url.removeprefix("https://")
    assert netrc.read_text() == f"machine {host_port} login ci-bot password s3cret\n"
    assert netrc.stat().st_mode & 0o777 == 0o600

    result = go_download(run_go, project, {**written, "SSL_CERT_FILE": str(ca_file)})
    assert result.returncode == 0, result.stderr
    expected = "Basic " + base64.b64encode(b"ci-bot:s3cret").decode()
    zips = [auth for path, auth in proxy.requests if path.endswith(".zip")]
    assert zips == [expected]

    # Later jobs: the dotenv names no file they lack and holds no secret.
    later = parse_dotenv(dotenv.read_text())
    assert "s3cret" not in dotenv.read_text()
    assert "GOAUTH" not in later and "NETRC" not in later
    assert later["GOPROXY"] == proxy.url
    assert f"{dotenv} leaves out GOAUTH, NETRC" in proc.stderr
    # A later job (a fresh module cache) with only the dotenv is refused by the proxy...
    fresh = {**later, "SSL_CERT_FILE": str(ca_file), "GOMODCACHE": str(tmp_path / "later-1")}
    refused = go_download(run_go, project, fresh)
    assert refused.returncode != 0 and "401" in refused.stderr
    # ...and one that brings its own ~/.netrc (e.g. from a masked CI/CD variable) is served.
    home = tmp_path / "later-home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine {host_port} login ci-bot password s3cret\n")
    own = {**fresh, "HOME": str(home), "GOMODCACHE": str(tmp_path / "later-2")}
    served = go_download(run_go, project, own)
    assert served.returncode == 0, served.stderr


def test_https_proxy_without_the_netrc_is_refused(
    tls_proxy: tuple[LoopbackProxy, Path],
    project: Path,
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # The counter-check of the test above: the proxy really demands the credentials.
    proxy, ca_file = tls_proxy
    result = go_download(
        run_go,
        project,
        {"GOPROXY": proxy.url, "SSL_CERT_FILE": str(ca_file), "NETRC": os.devnull},
    )
    assert result.returncode != 0
    assert "401" in result.stderr


def test_file_goproxy_tree_is_a_private_proxy_too(
    tmp_path: Path,
    project: Path,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # An offline bundle unpacked as a directory serves air-gapped jobs as GOPROXY=file://.
    tree = _tree(tmp_path / "bundle", 42)
    proc = goproxy_scan_env(["--mode", "force", "--proxy", tree.url, "--sumdb", "off"], job_env)
    assert proc.returncode == 0, proc.stderr
    assert f"export GOPROXY={tree.url}\n" in proc.stdout
    assert "export GOSUMDB=off\n" in proc.stdout
    written = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines())
    written = {k: shlex.split(v)[0] if v else "" for k, v in written.items()}
    result = go_download(run_go, project, written)
    assert result.returncode == 0, result.stderr

    missing = goproxy_scan_env(
        ["--mode", "force", "--proxy", (tmp_path / "nowhere").as_uri()], job_env
    )
    assert missing.returncode == 3
    assert "nowhere: missing" in missing.stderr


def test_github_token_is_masked_and_kept_out_of_github_env(
    tmp_path: Path, private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    github_env = tmp_path / "github_env"
    proc = goproxy_scan_env(
        ["--github-env", "--proxy", private_proxy.url, "--token", "s3cret"],
        job_env,
        {"GITHUB_ENV": str(github_env)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "::add-mask::s3cret"
    assert "s3cret" not in github_env.read_text()
