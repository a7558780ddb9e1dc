"""The distribution installs both CLIs and they answer --help and --version."""

import subprocess


def test_both_clis_answer_version() -> None:
    for prog in ("goproxy-scan", "go-vault"):
        out = subprocess.run([prog, "--version"], capture_output=True, text=True, check=True)
        assert "0.1.0" in out.stdout
