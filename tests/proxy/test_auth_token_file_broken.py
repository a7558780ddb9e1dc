"""A token file that breaks while go-vault serves (a hand edit, a bad deploy) leaves the tokens
read before in force, is reported once, and is read again once fixed; broken at start: exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from serveproc import SERVE, START_TIMEOUT

from proxy.auth import Access, TokenFile

BROKEN = '{"tokens": ['
KEPT = "the tokens read before it broke stay in force"


@contextmanager
def serve_logged(log: Path, *args: str) -> Iterator[str]:
    """`go-vault serve` with its stderr in the file `log` (read by the test as it goes)."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*SERVE, "--listen", "127.0.0.1:0", *args], stdout=err, stderr=err, text=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = ""
        while not url:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            for line in log.read_text().splitlines():
                if line.startswith('{"event": "start"'):
                    url = json.loads(line)["listen"]
            time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _get(url: str, token: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_a_token_file_broken_while_serving_keeps_the_last_good_tokens(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    tree.add_module("example.com/m", "v1.0.0", {"go.mod": "module example.com/m\n"})
    tokens = TokenFile(tmp_path / "tokens.json")
    _, token = tokens.add("ci", Access.READ)
    good = tokens.path.read_text()
    tenants = tmp_path / "tenants.yml"
    tenants.write_text("acme: {}\n")  # a second gateway reading the same token file
    log = tmp_path / "serve.log"
    args = ["--storage", str(tmp_path / "vault"), "--upstream", tree.url, "--server", "uvicorn"]
    args += ["--auth-tokens", str(tokens.path), "--tenants", str(tenants)]
    with serve_logged(log, *args) as url:
        paths = [f"{url}/example.com/m/@v/list", f"{url}/t/acme/example.com/m/@v/list"]
        assert [_get(p, token).status_code for p in paths] == [200, 200]

        tokens.path.write_text(BROKEN)
        deadline = time.monotonic() + 60
        while KEPT not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            for p in paths:
                r = _get(p, token)
                assert r.status_code == 200, r.text  # the last good tokens still hold
                assert _get(p, "gvt_unknown").status_code == 401  # looks at the file now
            time.sleep(0.1)
        for p in paths * 3:
            assert _get(p, token).status_code == 200
            assert _get(p, "gvt_unknown").status_code == 401

        tokens.path.write_text(good)
        _, added = tokens.add("ci-2", Access.READ)  # read at once: an unknown token forces it
        assert [_get(p, added).status_code for p in paths] == [200, 200]
        assert [_get(p, token).status_code for p in paths] == [200, 200]
    text = log.read_text()
    errors = [line for line in text.splitlines() if KEPT in line]
    assert len(errors) == 1, text  # once, not per request nor per gateway
    assert errors[0].startswith(f"ERROR go_vault {tokens.path}:1: token file is not JSON")
    assert "Traceback" not in text and "InputError" not in text, text
    assert f"token file {tokens.path} reads again" in text


def test_a_token_file_broken_at_start_is_refused(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(BROKEN)
    args = ["--storage", str(tmp_path / "vault"), "--auth-tokens", str(tokens), "--offline"]
    done = subprocess.run(
        [*SERVE, "--listen", "127.0.0.1:0", "--server", "uvicorn", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{tokens}:1: token file is not JSON" in done.stderr, done.stderr
