"""`go-vault serve` as a process, used by the real go command on a graph of 36 modules."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from goproxytree import GoProxyTree, write_files
from vaultlab import LoopbackUpstream, fixture_graph

pytestmark = pytest.mark.gocmd


@contextmanager
def go_vault_serve(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, object]]]:
    """Run `go-vault serve --listen 127.0.0.1:0 ARGS`; yields (base URL, its start-up line)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from proxy.cli import main; main()",
            "serve",
            "--listen",
            "127.0.0.1:0",
            *args,
        ],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []  # stderr, drained so a chatty server never blocks on a full pipe
    try:
        assert proc.stderr is not None
        # granian's log lines (stderr since 3297cd9) and audit events come before it
        for line in proc.stderr:
            log.append(line)
            if line.startswith('{"event": "start"'):
                start = json.loads(line)
                break
        else:
            raise AssertionError("no start-up line:\n" + "".join(log[-20:]))
        drain = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        drain.start()
        url = str(start["listen"])
        assert httpx.get(f"{url}/-/healthz").status_code == 200  # listening once it says so
        yield url, start
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        finally:
            proc.kill()
        assert code == 0, "go-vault serve did not shut down cleanly on SIGTERM:\n" + "".join(
            log[-20:]
        )


def sums(output: str) -> dict[str, tuple[str, str]]:
    decoder, out, pos = json.JSONDecoder(), {}, 0
    text = output.strip()
    while pos < len(text):
        item, pos = decoder.raw_decode(text, pos)
        pos = len(text) - len(text[pos:].lstrip())
        out[f"{item['Path']}@{item['Version']}"] = (item.get("Sum", ""), item.get("GoModSum", ""))
    return out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_fixture_graph_through_go_vault_serve(
    tmp_path: Path, go_env: dict[str, str], run_go: object, workers: str
) -> None:
    """With --workers 2 the two cold clients' requests meet in different processes, which
    share one fetch per version through the vault's claims."""
    tree = GoProxyTree(tmp_path / "upstream")
    app = write_files(tmp_path / "app", fixture_graph(tree, count=32))
    upstream = LoopbackUpstream(tree.root)
    upstream.delay = 0.005  # enough for the two cold clients to overlap

    def go(*args: str, proxy: str, cache: str, **kw: object) -> subprocess.Popen[str]:
        env = {**go_env, "GOPROXY": proxy, "GOMODCACHE": str(tmp_path / cache)}
        return subprocess.Popen(
            ["go", *args],
            cwd=app,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def finish(p: subprocess.Popen[str]) -> str:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        return out

    direct = sums(finish(go("mod", "download", "-json", proxy=tree.url, cache="mc-direct")))
    assert len(direct) >= 30
    try:
        with go_vault_serve(
            "--storage",
            str(tmp_path / "vault"),
            "--upstream",
            upstream.url,
            "--workers",
            workers,
            env={"GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
        ) as (url, start):
            assert start["storage"] == str(tmp_path / "vault") and start["upstream"] == upstream.url
            # Two cold clients at once: one upstream fetch per artifact.
            a = go("mod", "download", "-json", proxy=url, cache="mc-a")
            b = go("mod", "download", "-json", proxy=url, cache="mc-b")
            assert sums(finish(a)) == direct and sums(finish(b)) == direct
            artifacts = {p: n for p, n in upstream.hits.items() if "/@v/v" in p}
            assert len(artifacts) >= 3 * 30 and set(artifacts.values()) == {1}, artifacts
            finish(go("build", "-o", str(tmp_path / "app.bin"), ".", proxy=url, cache="mc-a"))
            # Upstream gone: everything cached is still served, byte for byte.
            upstream.stop()
            assert sums(finish(go("mod", "download", "-json", proxy=url, cache="mc-c"))) == direct
            cold = go("mod", "download", "example.com/never@v1.0.0", proxy=url, cache="mc-c")
            _, err = cold.communicate(timeout=60)
            assert cold.returncode != 0 and "502 Bad Gateway" in err and "unreachable" in err
            assert httpx.get(f"{url}/-/readyz").status_code == 200
    finally:
        upstream.stop()
    stored = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len([e for e in stored if e["event"] == "ingest" and e["decision"] == "stored"]) == len(
        direct
    )


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_reads_config_file_env_and_flags(tmp_path: Path, server: str) -> None:
    config = tmp_path / "vault.yaml"
    config.write_text(
        f"storage: {tmp_path / 'from-file'}\nupstream: https://a.example|https://b.example\n"
    )
    env = {"GO_VAULT_BASE_PATH": "/go", "GO_VAULT_SERVER": server}
    with go_vault_serve("--config", str(config), "--offline", env=env) as (url, start):
        assert start["server"] == server
        assert start["storage"] == str(tmp_path / "from-file")
        assert start["offline"] is True and url.endswith("/go")
        r = httpx.get(f"{url}/example.com/m/@v/list")
        assert r.status_code == 404 and "not in offline mirror" in r.text


def test_serve_defaults(tmp_path: Path) -> None:
    env = {
        "GOPROXY": "https://corp.example/go,direct",
        "GO_VAULT_AUDIT_LOG": str(tmp_path / "a.log"),
    }
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with go_vault_serve(env=env) as (url, start):
            assert start["storage"] == str(tmp_path / "vault-data")
            assert start["upstream"] == "https://corp.example/go"
            assert httpx.get(f"{url}/-/healthz").text == "ok\n"
    finally:
        os.chdir(cwd)


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "vault.toml"
    config.write_text('storrage = "x"\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from proxy.cli import main; main()",
            "serve",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{config}:1: unknown setting 'storrage'" in proc.stderr
