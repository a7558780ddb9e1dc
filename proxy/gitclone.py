"""The clone cache of the git upstream: bare clones fetched (never re-cloned), `git` runs."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NotInProxyError, UpstreamError

log = logging.getLogger("go_vault")

# What git says when the repository itself is missing (a 404, so a GOPROXY list falls through).
_REPO_MISSING = ("does not appear to be a git repository", "not found", "Repository not found")


def display_url(url: str) -> str:
    """The URL without credentials: it goes into .info Origin and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


class GitError(UpstreamError):
    """A git command failed (network, credentials, a broken repository): 502."""


class RevisionNotFound(NotInProxyError):
    """No such module, version or revision in the repository: 404, so go says so."""


@dataclass(slots=True)
class BareClone:
    """One cached bare clone: refs as the remote last advertised them, refreshed after `ttl`."""

    url: str
    dir: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    refs: dict[str, str] = field(default_factory=dict)
    fetched_at: float = -1.0


class GitRepos:
    """The clone cache: `git` subprocesses, one operation per clone at a time."""

    def __init__(self, cache_dir: Path, ttl: float, timeout: float = 300.0) -> None:
        self.cache_dir = cache_dir
        self.ttl = ttl
        self.timeout = timeout
        self._clones: dict[str, BareClone] = {}
        self._lock = threading.Lock()

    def clone(self, url: str) -> BareClone:
        with self._lock:
            c = self._clones.get(url)
            if c is None:
                key = hashlib.sha256(url.encode()).hexdigest()[:32]
                c = self._clones[url] = BareClone(url, self.cache_dir / key)
            return c

    def run(
        self, clone: BareClone, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        env = {
            **os.environ,
            "GIT_DIR": str(clone.dir),
            "GIT_TERMINAL_PROMPT": "0",  # credentials come from the environment or .netrc
        }
        try:
            proc = subprocess.run(
                ["git", *args], env=env, capture_output=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GitError(
                f"git {args[0]} for {display_url(clone.url)} failed: {e}",
                hint="check that git is installed and the repository is reachable",
            ) from e
        if check and proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            fatal = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
            raise GitError(
                f"git {args[0]} {display_url(clone.url)}: {fatal[0] if fatal else proc.returncode}",
                hint="check the repository URL and the credentials (environment or .netrc)",
            )
        return proc

    def refresh(self, clone: BareClone) -> None:
        """ls-remote the refs and fetch heads and tags, unless done within the last `ttl` s.

        When the remote cannot be reached but refs were seen before, those are used (for
        another `ttl`) and a warning is logged: what the clone holds can still be served.
        """
        if clone.fetched_at >= 0 and time.monotonic() - clone.fetched_at < self.ttl:
            return
        try:
            self._refresh(clone)
        except (GitError, RevisionNotFound) as e:  # unreachable, or (for now) not there
            if not clone.refs:
                raise
            log.warning("git: using the refs seen before for %s: %s", display_url(clone.url), e)
            clone.fetched_at = time.monotonic()

    def _refresh(self, clone: BareClone) -> None:
        try:
            clone.dir.parent.mkdir(parents=True, exist_ok=True)
            with open(clone.dir.with_name(clone.dir.name + ".lock"), "a") as lock:
                # One refresh of a clone at a time across processes too (granian workers,
                # several servers on one git_cache): concurrent ones raced to create the same
                # clone, and git fetches into one repository fail on each other's ref locks.
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._refresh_locked(clone)
        except OSError as e:
            raise GitError(
                f"cannot create a git clone cache in {clone.dir.parent}: {e.strerror}",
                hint="check git_cache and its permissions",
            ) from e

    def _refresh_locked(self, clone: BareClone) -> None:
        if not (clone.dir / "objects").is_dir():
            tmp = clone.dir.with_name(clone.dir.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                subprocess.run(
                    ["git", "init", "-q", "--bare", str(tmp)], check=True, capture_output=True
                )
            except (OSError, subprocess.CalledProcessError) as e:
                raise GitError(
                    f"cannot create a git clone cache in {clone.dir.parent}: {e}",
                    hint="check git_cache and that git is installed",
                ) from e
            # As cmd/go: archives ignore export-subst/export-ignore, so bytes match the tree.
            (tmp / "info").mkdir(exist_ok=True)
            (tmp / "info" / "attributes").write_text("\n* -export-subst -export-ignore\n")
            os.replace(tmp, clone.dir)
            self.run(clone, "remote", "add", "origin", "--", clone.url)
        listing = self.run(clone, "ls-remote", "-q", "origin", check=False)
        if listing.returncode != 0:
            text = listing.stderr.decode("utf-8", "replace")
            if any(s in text for s in _REPO_MISSING):
                raise RevisionNotFound(
                    f"no git repository at {display_url(clone.url)}",
                    hint="check the module path, or the git route's URL",
                )
            self.run(clone, "ls-remote", "-q", "origin")  # raises GitError with the reason
        out = listing.stdout.decode()
        refs: dict[str, str] = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and (f[1] == "HEAD" or f[1].startswith(("refs/heads/", "refs/tags/"))):
                refs[f[1]] = f[0]
        for ref in [r for r in refs if r.endswith("^{}")]:
            refs[ref.removesuffix("^{}")] = refs.pop(ref)  # an annotated tag's commit
        missing = [h for h in set(refs.values()) if not self._have(clone, h)]
        if missing:
            self.run(
                clone,
                "fetch",
                "-q",
                "-f",
                "--prune",
                "origin",
                "refs/heads/*:refs/heads/*",
                "refs/tags/*:refs/tags/*",
            )
        clone.refs = refs
        clone.fetched_at = time.monotonic()

    def _have(self, clone: BareClone, obj: str) -> bool:
        return self.run(clone, "cat-file", "-e", obj + "^{commit}", check=False).returncode == 0
