"""Real git repositories for tests: fixed identities and commit dates, a bare remote to serve."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class Git:
    """Commits with fixed identities and dates in one work tree, pushed to a bare repository."""

    def __init__(self, work: Path, bare: Path) -> None:
        self.work, self.bare = work, bare
        self.clock = 1_700_000_000
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
        self("remote", "add", "origin", str(bare))

    def __call__(self, *args: str) -> str:
        stamp = f"@{self.clock} +0000"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        proc = subprocess.run(
            ["git", *args], cwd=self.work, env=env, capture_output=True, text=True, check=True
        )
        return proc.stdout.strip()

    def commit(
        self, files: dict[str, str], message: str, *, links: dict[str, str] | None = None
    ) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for name, target in (links or {}).items():
            (self.work / name).symlink_to(target)
        self.clock += 3600
        self("add", "-A")
        self("commit", "-q", "-m", message)
        return self("rev-parse", "HEAD")

    def push(self) -> None:
        self("push", "-q", "-f", "--all", "origin")
        self("push", "-q", "-f", "--tags", "origin")


def make_repo(bare: Path, module: str, tags: list[str]) -> Git:
    """A bare repository at `bare` holding one commit of module `module`, tagged `tags`."""
    repo = Git(bare.with_name("w-" + bare.name), bare)
    repo.commit({"go.mod": f"module {module}\n\ngo 1.21\n", "p.go": "package p\n"}, "one")
    for tag in tags:
        repo("tag", tag)
    repo.push()
    return repo
