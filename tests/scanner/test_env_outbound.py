"""`goproxy-scan env` behind an outbound HTTP proxy: the health check goes where go goes."""

from __future__ import annotations

import http.client
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import test_env
from goproxytree import go_binary, write_files
from loopbackproxy import LoopbackProxy
from test_env import DEP, go_download, goproxy_scan_env, parse_exports

from scanner.cienv import OutboundProxies

# test_env's fixtures: a healthy loopback GOPROXY, the module that needs it, a job's environment.
private_proxy = test_env.private_proxy
project = test_env.project
job_env = test_env.job_env

pytestmark = pytest.mark.gocmd

# A name no resolver knows (RFC 2606): reachable only through the outbound proxy below.
INTERNAL_HOST = "goproxy.corp.test"


@dataclass
class ForwardProxy:
    """An outbound HTTP proxy on 127.0.0.1 that takes every host to 127.0.0.1 (same port)."""

    seen: list[str] = field(default_factory=list)  # the absolute URLs it was asked for
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                target = urlsplit(self.path)
                if not target.scheme:  # a direct request, not one for a proxy
                    self.send_error(400, "absolute URI expected")
                    return
                proxy.seen.append(self.path)
                upstream = http.client.HTTPConnection("127.0.0.1", target.port or 80, timeout=30)
                try:
                    path = target.path + (f"?{target.query}" if target.query else "")
                    upstream.request("GET", path)
                    resp = upstream.getresponse()
                    body = resp.read()
                finally:
                    upstream.close()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type") or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def egress() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    proxy.start()
    yield proxy
    proxy.stop()


def exported(stdout: str) -> dict[str, str]:
    """`export K=V` lines as the shell would set them."""
    return {k: " ".join(shlex.split(v)) for k, v in parse_exports(stdout).items()}


# Go's own answer, through net/http.ProxyFromEnvironment (golang.org/x/net/http/httpproxy).
_GO_PROXY_FOR = """package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
)

func main() {
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		req, err := http.NewRequest("GET", lines.Text(), nil)
		if err != nil {
			panic(err)
		}
		proxy, err := http.ProxyFromEnvironment(req)
		if err != nil {
			panic(err)
		}
		if proxy == nil {
			fmt.Println("DIRECT")
		} else {
			fmt.Println(proxy.String())
		}
	}
}
"""

URLS = [
    "http://127.0.0.1:8080/-/healthz",
    "http://localhost:8080/",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]:8080/",
    "http://goproxy.corp.example/",
    "https://goproxy.corp.example/",
    "http://goproxy.corp.example:8443/",
    "https://GoProxy.Corp.Example:8443/go",
    "http://corp.example/",
    "http://notcorp.example/",
    "http://10.1.2.3:3000/",
    "http://192.168.1.5/",
    "http://192.168.1.5:8080/",
    "http://[fd00::5]/",
    "https://athens/",
]

NO_PROXY = [
    "",
    "corp.example",
    ".corp.example",
    "*.corp.example",
    "goproxy.corp.example:8443",
    " 10.0.0.0/8, 192.168.1.5 ,fd00::/8",
    "192.168.1.5:80,[fd00::5]:80,athens:443",
    "notcorp.example:80,,:8080,10.1.2.3/33",
    "nothing.example,*",
]


def test_the_outbound_route_is_the_go_commands(tmp_path: Path, go_env: dict[str, str]) -> None:
    program = write_files(
        tmp_path / "proxyfor",
        {"go.mod": "module example.com/proxyfor\n\ngo 1.21\n", "main.go": _GO_PROXY_FOR},
    )
    built = subprocess.run(
        [go_binary(), "build", "-o", str(tmp_path / "proxyfor-bin"), "."],
        cwd=program,
        env=go_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    base = {k: v for k, v in go_env.items() if k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY")}
    base = {k: v for k, v in base.items() if k.upper() not in ("NO_PROXY", "REQUEST_METHOD")}
    for no_proxy in NO_PROXY:
        settings = {
            "HTTP_PROXY": "http://egress.corp:3128",
            "HTTPS_PROXY": "egress.corp:3129",  # no scheme: Go reads http://
            "NO_PROXY": no_proxy,
        }
        go = subprocess.run(
            [str(tmp_path / "proxyfor-bin")],
            input="".join(f"{u}\n" for u in URLS),
            env={**base, **settings},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        proxies = OutboundProxies.from_environ(settings)
        ours = [proxies.proxy_for(u) or "DIRECT" for u in URLS]
        theirs = go.stdout.split()
        assert dict(zip(URLS, ours, strict=True)) == dict(zip(URLS, theirs, strict=True)), no_proxy


@pytest.mark.parametrize("how", ["flags", "environment"])
def test_a_loopback_proxy_is_probed_directly_despite_an_outbound_proxy(
    how: str, private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    # QA: the probe went to http://egress.invalid:8080 ("Name or service not known"), so force
    # failed and auto fell back to proxy.golang.org, while the go command reaches the proxy.
    if how == "flags":
        args = ["--http-proxy", "http://egress.invalid:8080", "--no-proxy", "127.0.0.1"]
        extra = {}
    else:
        args, extra = [], {"GOPROXY_SCAN_HTTP_PROXY": "http://egress.invalid:8080"}
    proc = goproxy_scan_env(
        ["--mode", "force", "--proxy", private_proxy.url, *args], job_env, extra
    )
    assert proc.returncode == 0, proc.stderr
    assert "mode=force route=private" in proc.stderr
    assert ("/-/healthz", "") in private_proxy.requests
    written = exported(proc.stdout)
    assert written["GOPROXY"] == private_proxy.url
    assert written["HTTP_PROXY"] == "http://egress.invalid:8080"
    assert "127.0.0.1" in written["NO_PROXY"].split(",")


def test_the_jobs_own_no_proxy_entries_are_kept_beside_the_private_proxys_host(
    private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    # The NO_PROXY env writes replaces the job's: with --http-proxy and no --no-proxy it held
    # only the private proxy's host, and the job's own internal hosts went to the egress proxy.
    job = {**job_env, "NO_PROXY": "corp.test,10.0.0.0/8"}
    args = ["--mode", "force", "--proxy", private_proxy.url, "--http-proxy", "http://e.invalid:8"]
    proc = goproxy_scan_env(args, job)
    assert proc.returncode == 0, proc.stderr
    assert exported(proc.stdout)["NO_PROXY"].split(",") == ["corp.test", "10.0.0.0/8", "127.0.0.1"]


def test_the_jobs_own_http_proxy_carries_the_health_check_and_the_downloads(
    private_proxy: LoopbackProxy,
    egress: ForwardProxy,
    project: Path,
    job_env: dict[str, str],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # The private proxy is reachable only through the job's outbound proxy, as the go command
    # will reach it: the health check must go that way too.
    url = f"http://{INTERNAL_HOST}:{urlsplit(private_proxy.url).port}"
    job = {**job_env, "HTTP_PROXY": egress.url}
    proc = goproxy_scan_env(["--mode", "force", "--proxy", url], job)
    assert proc.returncode == 0, proc.stderr
    assert egress.seen == [f"{url}/-/healthz"]
    written = exported(proc.stdout)
    assert written["GOPROXY"] == url

    result = go_download(run_go, project, {**written, "HTTP_PROXY": egress.url})
    assert result.returncode == 0, result.stderr
    assert f"{url}/{DEP}/@v/v1.0.0.zip" in egress.seen
    assert f"/{DEP}/@v/v1.0.0.zip" in private_proxy.module_requests()


@pytest.mark.parametrize("how", ["job NO_PROXY", "--http-proxy"])
def test_no_proxy_covering_the_host_sends_the_health_check_direct(
    how: str, private_proxy: LoopbackProxy, egress: ForwardProxy, job_env: dict[str, str]
) -> None:
    # Direct, like the go command: here the name resolves nowhere, so force fails closed.
    url = f"http://{INTERNAL_HOST}:{urlsplit(private_proxy.url).port}"
    if how == "job NO_PROXY":
        args, job = [], {**job_env, "HTTP_PROXY": egress.url, "no_proxy": ".corp.test"}
    else:
        # env writes NO_PROXY with the private proxy's host: the go command goes direct.
        args, job = ["--http-proxy", egress.url], job_env
    proc = goproxy_scan_env(["--mode", "force", "--proxy", url, *args], job)
    assert proc.returncode == 3, proc.stderr
    assert f"{url}/-/healthz: " in proc.stderr and " via " not in proc.stderr
    assert egress.seen == []
    assert private_proxy.requests == []


def test_the_outbound_proxys_password_stays_out_of_the_warning(
    private_proxy: LoopbackProxy, job_env: dict[str, str]
) -> None:
    url = f"http://{INTERNAL_HOST}:{urlsplit(private_proxy.url).port}"
    job = {**job_env, "HTTP_PROXY": "http://bot:s3cret@egress.invalid:3128"}
    proc = goproxy_scan_env(["--mode", "auto", "--proxy", url], job)
    assert proc.returncode == 0, proc.stderr
    assert f"{url}/-/healthz via http://egress.invalid:3128: " in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout
