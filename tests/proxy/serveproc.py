"""`go-vault serve` as a child process for tests: start, read its start-up line, stop."""

from __future__ import annotations

import collections
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

SERVE = [sys.executable, "-c", "from proxy.cli import main; main()", "serve"]
START_TIMEOUT = 60.0  # seconds; a loaded 2-core machine importing boto3 and the index


def _drain(stream: Iterable[str], lines: queue.Queue[str | None], started: threading.Event) -> None:
    for line in stream:
        if not started.is_set():  # after the start line, read only to keep the pipe flowing
            lines.put(line)
    lines.put(None)  # end of stream: the process is gone


@contextmanager
def serve_process(
    *args: str,
    shell_prefix: str | None = None,
    wrap: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready: bool = False,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run `go-vault serve --listen 127.0.0.1:0 ARGS`; yields (process, listen URL).

    The start-up line is the JSON `{"event": "start", …}` on stderr; log lines that come
    before it (granian's, botocore's) are skipped, within START_TIMEOUT. stderr is drained
    afterwards so the child never blocks on a full pipe. `env` adds variables; `ready` also
    waits for /-/readyz to answer 200.
    `shell_prefix` runs it through `sh -c "PREFIX && exec serve…"` (e.g. a mount first), and
    `wrap` goes before that (e.g. `unshare -rm` for a private mount namespace).
    Stopped with SIGTERM (then SIGKILL) unless the test already ended it.
    """
    command = [*SERVE, "--listen", "127.0.0.1:0", *args]
    if shell_prefix is not None:
        command = [*wrap, "sh", "-c", f"{shell_prefix} && exec {shlex.join(command)}"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env} if env else None,
    )
    try:
        assert proc.stderr is not None
        lines: queue.Queue[str | None] = queue.Queue()
        started = threading.Event()
        threading.Thread(target=_drain, args=(proc.stderr, lines, started), daemon=True).start()
        seen: collections.deque[str] = collections.deque(maxlen=50)
        deadline = time.monotonic() + START_TIMEOUT
        url = ""
        while not url:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"go-vault serve printed no start line in {START_TIMEOUT:.0f} s:\n"
                    + "".join(seen)
                ) from None
            if line is None:
                raise AssertionError("go-vault serve exited before starting:\n" + "".join(seen))
            seen.append(line)
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("event") == "start":
                    url = str(event["listen"])
                    started.set()
        if ready:
            _wait_ready(url, deadline)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait_ready(url: str, deadline: float) -> None:
    last = ""
    while True:
        try:
            r = httpx.get(f"{url}/-/readyz", verify=False)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:300]}"
        except httpx.TransportError as e:
            last = repr(e)
        assert time.monotonic() < deadline, f"go-vault serve at {url} not ready: {last}"
        time.sleep(0.05)
