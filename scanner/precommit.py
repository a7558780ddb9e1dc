"""The `goproxy-scan` pre-commit hook: judge what the commit adds or changes, inside git."""

# pre-commit stashes unstaged changes first, so the work tree is the staged state and `--base
# HEAD` leaves exactly the commit's new dependencies and findings. Run as
# `python -m scanner.precommit [scan options]` (see .pre-commit-hooks.yaml).

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def has_head() -> bool:
    """False before a repository's first commit: then everything staged is new."""
    git = shutil.which("git")
    if git is None:
        return False
    proc = subprocess.run(
        [git, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def scan_arguments(extra: list[str], head: bool) -> list[str]:
    """`scan` with the console report and, once there is a HEAD, `--base HEAD`; the hook's
    `args:` come last so they can add to or override these."""
    return ["scan", "--format", "console", *(["--base", "HEAD"] if head else []), *extra]


def main() -> None:
    from .cli import cli, run

    # Inside a git hook GIT_INDEX_FILE names the repository's index; the scan's base worktree
    # (git worktree add) must use its own. This process exits right after the scan.
    os.environ.pop("GIT_INDEX_FILE", None)
    sys.exit(run(cli, scan_arguments(sys.argv[1:], has_head()), prog_name="goproxy-scan"))


if __name__ == "__main__":
    main()
