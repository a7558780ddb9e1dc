"""The list files `go-vault prefetch FILE` and `sync --modules FILE` read: a mistake in one is
reported at its line, as go.mod and go.sum mistakes are."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def go_vault(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "prefetch": lambda listing, vault: [
        "prefetch", listing, "--storage", vault, "--upstream", "off",
    ],
    "sync": lambda listing, vault: [
        "sync", "--offline", "--bundle", vault + ".tar.gz", "--modules", listing,
        "--storage", vault,
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_version_in_a_list_names_its_line(tmp_path: Path, command: str) -> None:
    listing = tmp_path / "modules.txt"
    listing.write_text("# wanted\nexample.com/l/one v1.0.0\nexample.com/l/two latest\n")
    done = go_vault(*COMMANDS[command](str(listing), str(tmp_path / "vault")))
    assert done.returncode == 2, done.stderr
    assert f"error: {listing}:3: example.com/l/two@latest: " in done.stderr, done.stderr
    assert "not a semantic version" in done.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_list_that_is_not_utf8_is_an_input_error(tmp_path: Path, command: str) -> None:
    """A list saved in Latin-1 (or a binary given by mistake) was a UnicodeDecodeError traceback."""
    listing = tmp_path / "modules.txt"
    listing.write_bytes("example.com/l/caf\xe9 v1.0.0\n".encode("latin-1"))
    done = go_vault(*COMMANDS[command](str(listing), str(tmp_path / "vault")))
    assert done.returncode == 2, done.stderr
    assert f"error: {listing}:1: not UTF-8 text: byte 0xe9 at column 18" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
