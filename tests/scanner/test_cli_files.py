"""Files the CLI reads or writes that are not what it expects: a one-line error, no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest


def goproxy_scan(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Any:
    return subprocess.run(
        ["goproxy-scan", *args],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# A Windows editor's Latin-1 'é' in a comment, on the file's third line.
LATIN1_POLICY = b"version: 1\nlicenses:\n  allow: [MIT]  # caf\xe9\n"


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "check", "POLICY"],
        ["policy", "explain", "example.com/m@v1.0.0", "--license", "MIT", "--policy", "POLICY"],
        ["scan", "--policy", "POLICY", "--offline", "--no-source-rules"],
    ],
    ids=["check", "explain", "scan"],
)
def test_a_policy_that_is_not_utf8_names_the_line(tmp_path: Path, args: list[str]) -> None:
    """It was a UnicodeDecodeError traceback ('failed unexpectedly (a bug)')."""
    policy = tmp_path / "policy.yml"
    policy.write_bytes(LATIN1_POLICY)
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    proc = goproxy_scan([str(policy) if a == "POLICY" else a for a in args], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: {policy}:3: not UTF-8 text: byte 0xe9 at column 22 (save the file as UTF-8)\n"
    )


MARKDOWN = ["--markdown", "report.md"]


@pytest.mark.parametrize(
    "command",
    [
        ["goproxy-scan", "report", "--from", "RESULT", "--format", "sarif"],
        [sys.executable, "-m", "scanner.ghaction", "publish", "--result", "RESULT", *MARKDOWN],
    ],
    ids=["report", "action-publish"],
)
def test_a_result_that_is_not_utf8_is_an_input_error(tmp_path: Path, command: list[str]) -> None:
    """A result file in another encoding (or a binary) was a UnicodeDecodeError traceback."""
    result = tmp_path / "result.json"
    result.write_bytes('{\n  "main_module": "café"\n}\n'.encode("utf-16"))
    proc = subprocess.run(
        [str(result) if a == "RESULT" else a for a in command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        f"error: {result}:1: not a goproxy-scan result: not UTF-8 text: byte 0xff at column 1"
    ), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "report.md").exists()


SAVED_RESULT = Path(__file__).parent / "golden" / "report-result.json"


def test_an_output_path_under_a_file_is_an_error_naming_that_file(tmp_path: Path) -> None:
    """A regular file where a directory was needed: a traceback from mkdir (FileExistsError)."""
    blocker = tmp_path / "out"
    blocker.write_text("not a directory\n")
    report = ["goproxy-scan", "report", "--from", str(SAVED_RESULT), "--format"]
    action = [sys.executable, "-m", "scanner.ghaction", "publish", "--result", str(SAVED_RESULT)]
    policy = [sys.executable, "-m", "scanner.cipolicy", "--allow", "MIT"]
    targets = {
        "report": [*report, f"sarif={blocker}/scan.sarif"],
        "report, deeper": [*report, f"json={blocker}/a/b/result.json"],
        "action publish": [*action, "--markdown", f"{blocker}/report.md"],
        "action sarif": [*action, "--markdown", "report.md", "--sarif", f"{blocker}/x.sarif"],
        "action policy": [*policy, "--output", f"{blocker}/policy.yml"],
    }
    for name, command in targets.items():
        proc = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
        )
        assert proc.returncode == 3, (name, proc.stderr)
        assert (
            f"{blocker} is a file, not a directory (choose another output path)"
            in (proc.stderr.splitlines()[-1])
        ), (name, proc.stderr)
        assert "Traceback" not in proc.stderr, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "report.md"]


def test_a_report_into_a_pipe_or_device_is_written_there_not_renamed_over_it(
    tmp_path: Path,
) -> None:
    """The atomic write renamed its temporary file over the target: `--format json=/dev/null`
    run as root replaced the machine's /dev/null with a regular file. A FIFO stands in for it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = goproxy_scan(
        ["report", "--from", str(SAVED_RESULT), "--format", f"json={fifo}"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    if not got:  # unblock the reader if the pipe was replaced (the bug): it waits for a writer
        with contextlib.suppress(OSError), open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
    reader.join(30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and json.loads(got[0])["schema_version"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]
