"""`go-vault serve` as a child process for tests: start, read its start-up line, stop."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

SERVE = [sys.executable, "-c", "from proxy.cli import main; main()", "serve"]


@contextmanager
def serve_process(
    *args: str, shell_prefix: str | None = None, wrap: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run `go-vault serve --listen 127.0.0.1:0 ARGS`; yields (process, listen URL).

    `shell_prefix` runs it through `sh -c "PREFIX && exec serve…"` (e.g. a mount first), and
    `wrap` goes before that (e.g. `unshare -rm` for a private mount namespace).
    Stopped with SIGTERM (then SIGKILL) unless the test already ended it.
    """
    command = [*SERVE, "--listen", "127.0.0.1:0", *args]
    if shell_prefix is not None:
        command = [*wrap, "sh", "-c", f"{shell_prefix} && exec {shlex.join(command)}"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if not line.startswith("{"):
            raise AssertionError(f"go-vault serve did not start: {line}{proc.stderr.read()}")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        yield proc, str(json.loads(line)["listen"])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
