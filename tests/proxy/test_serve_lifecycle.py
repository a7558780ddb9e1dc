"""`go-vault serve` starting and stopping: the start line comes once it listens, and SIGTERM
or Ctrl-C stops it at any moment after that (exit 0)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.storage.fs import FsStorage

SERVE = [sys.executable, "-c", "from proxy.cli import main; main()", "serve"]


@pytest.mark.parametrize(
    "server", [["--server", "uvicorn"], ["--server", "granian"], ["--workers", "2"]], ids=str
)
def test_the_start_line_comes_once_connections_are_taken(tmp_path: Path, server: list[str]) -> None:
    FsStorage(tmp_path / "vault")
    command = [*SERVE, "--listen", "127.0.0.1:0", "--storage", str(tmp_path / "vault"), *server]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith('{"event": "start"'):
                break
        else:
            pytest.fail(f"no start line; exit {proc.wait()}")
        host, port = json.loads(line)["listen"].removeprefix("http://").rsplit(":", 1)
        for _ in range(20):  # every attempt, not just one that raced ahead
            socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_a_stop_signal_just_after_the_start_line_stops_it(
    tmp_path: Path, server: str, stop: signal.Signals
) -> None:
    """Before the server has set its own handler, SIGTERM ends the process (a handler that
    ignored it left uvicorn serving for ever); Ctrl-C exits 0 too (uvicorn's was "aborted",
    exit 3)."""
    command = [*SERVE, "--listen", "127.0.0.1:0", "--storage", str(tmp_path / "vault")]
    proc = subprocess.Popen(
        [*command, "--server", server], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith('{"event": "start"'):
                break
        proc.send_signal(stop)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("server", [["--server", "uvicorn"], ["--workers", "2"]], ids=str)
def test_an_audit_log_on_stdout_holds_only_json_lines(tmp_path: Path, server: list[str]) -> None:
    """`audit_log: "-"` (the container image's setting) makes stdout the audit log: a SIEM
    reads it line by line, so the server's own log lines go to stderr."""
    command = [*SERVE, "--listen", "127.0.0.1:0", "--storage", str(tmp_path / "vault"), *server]
    out = tmp_path / "stdout"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [*command, "--audit-log", "-", "--log-level", "info"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith('{"event": "start"'):
                    break
            url = json.loads(line)["listen"]
            host, port = url.removeprefix("http://").rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                conn.sendall(b"GET /-/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while conn.recv(4096):
                    pass
        finally:
            proc.terminate()
            assert proc.wait(30) == 0
    lines = out.read_text().splitlines()
    assert any(json.loads(line)["event"] == "request" for line in lines)
    assert all(line.startswith("{") for line in lines), lines
