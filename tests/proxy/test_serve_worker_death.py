"""A granian worker does not outlive the `go-vault serve` process that started it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest
from serveproc import serve_process


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _stat(int(entry.name))
            if state is not None and state[1] == pid and state[0] != "Z":
                out.append(int(entry.name))
    return out


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text.rpartition(")")[2].split()[:2]  # the name in () may hold spaces
    return state, int(ppid)


def alive(pid: int) -> bool:
    state = _stat(pid)
    return state is not None and state[0] != "Z"  # a zombie has ended (reaped by whoever)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG)")
def test_worker_ends_when_the_main_process_is_killed(tmp_path: Path) -> None:
    audit = str(tmp_path / "audit.jsonl")
    args = ("--server", "granian", "--storage", str(tmp_path / "vault"), "--offline")
    workers: list[int] = []
    try:
        with serve_process(*args, "--audit-log", audit, ready=True) as (proc, url):
            assert httpx.get(f"{url}/-/healthz").status_code == 200
            workers = children(proc.pid)
            assert workers, "granian started no worker process"
            proc.kill()  # SIGKILL: no handler of its own runs
            proc.wait(10)
            deadline = time.monotonic() + 30  # generous: a loaded machine
            while any(alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            left = [w for w in workers if alive(w)]
            assert not left, f"worker(s) {left} outlived the killed main process"
    finally:
        for w in workers:  # without the fix: do not leave an orphan serving
            if alive(w):
                os.kill(w, signal.SIGKILL)
