"""Private modules straight from git: the git upstream that routes module paths to repositories.

Modules under a route (a GOPRIVATE-style pattern mapped to a repository URL) are answered from
git exactly as the go command would resolve them directly (proxy/coderepo.py), on a cache of
bare clones (proxy/gitclone.py) fetched at most once per `ttl` seconds, with at most
`concurrency` git operations at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import InvalidModuleError
from scanner.module import unescape_path, unescape_version

from .coderepo import CodeRepo
from .errors import UpstreamError
from .gitclone import GitRepos, RevisionNotFound
from .workers import Workers

if TYPE_CHECKING:
    from .config import VaultConfig


def match_patterns(patterns: str, path: str) -> str | None:
    """The leading elements of `path` that a GOPRIVATE-style pattern list matches, or None.

    Each comma-separated glob matches as many path elements as it has (path.Match per element),
    so `example.com/*` matches `example.com/repo/sub/v2` with the prefix `example.com/repo`.
    """
    elems = path.split("/")
    for pattern in patterns.split(","):
        pattern = pattern.strip().strip("/")
        if not pattern:
            continue
        want = pattern.split("/")
        if len(elems) >= len(want) and all(
            fnmatchcase(e, w) for e, w in zip(elems, want, strict=False)
        ):
            return "/".join(elems[: len(want)])
    return None


@dataclass(frozen=True, slots=True)
class GitRoute:
    """`pattern=url`: modules under `pattern` live in git at `url`.

    In `url`, `{root}` is the matched repository root (`example.com/repo`) and `{repo}` its
    elements after the pattern's literal leading ones (`repo` for `example.com/*`).
    """

    pattern: str
    url: str

    def repo_url(self, root: str) -> str:
        fixed = 0
        for elem in self.pattern.strip("/").split("/"):
            if any(c in elem for c in "*?[\\"):
                break
            fixed += 1
        repo = "/".join(root.split("/")[fixed:])
        return self.url.replace("{root}", root).replace("{repo}", repo)


def parse_git_routes(spec: str) -> tuple[GitRoute, ...]:
    """`example.com/*=https://git.example.com/{repo}.git, corp.io/x=file:///srv/x` -> routes."""
    routes = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        pattern, sep, url = item.partition("=")
        if not sep or not pattern.strip() or not url.strip():
            raise UpstreamError(
                f"git route {item!r} is not PATTERN=URL",
                hint="e.g. git: 'example.com/*=https://git.example.com/{repo}.git'",
            )
        url = url.strip()
        if not url.startswith(("https://", "http://", "ssh://", "file://", "git://")):
            raise UpstreamError(
                f"git route {item!r}: {url!r} is not an https://, ssh://, git:// or file:// URL",
                hint="use URL syntax, not host:path",
            )
        routes.append(GitRoute(pattern.strip().strip("/"), url))
    return tuple(routes)


@dataclass(frozen=True, slots=True)
class GoproxyPath:
    """A GOPROXY path split: what is asked (list, latest, info, mod, zip) of which module."""

    module: str
    what: str
    version: str = ""


def parse_goproxy_path(path: str) -> GoproxyPath | None:
    """`<escaped module>/@v/<escaped v>.info` etc. -> GoproxyPath; None if not one."""
    try:
        if path.endswith("/@latest"):
            return GoproxyPath(unescape_path(path.removesuffix("/@latest")), "latest")
        escaped, sep, name = path.rpartition("/@v/")
        if not sep:
            return None
        module = unescape_path(escaped)
        if name == "list":
            return GoproxyPath(module, "list")
        stem, _, ext = name.rpartition(".")
        if ext not in ("info", "mod", "zip"):
            return None
        return GoproxyPath(module, ext, unescape_version(stem))
    except InvalidModuleError:
        return None


class GitSource:
    """The git upstream: answers GOPROXY paths of modules under its routes from git.

    `handles(path)` says whether a GOPROXY path belongs here (such a module never goes to the
    proxy upstreams); `await fetch(path)` answers it. Blocking git work runs in threads, at most
    `concurrency` at once; refs are refreshed at most once per `ttl` seconds per repository.
    """

    def __init__(
        self, routes: tuple[GitRoute, ...], cache_dir: Path, *, ttl: float, concurrency: int = 4
    ) -> None:
        self.routes = routes
        self.repos = GitRepos(cache_dir, ttl)
        self.concurrency = concurrency
        self._workers = Workers(concurrency)

    @property
    def patterns(self) -> str:
        return ",".join(r.pattern for r in self.routes)

    def route(self, module: str) -> tuple[str, str] | None:
        """(repository root, repository URL) for a module path under a route, else None."""
        for r in self.routes:
            root = match_patterns(r.pattern, module)
            if root is not None:
                return root, r.repo_url(root)
        return None

    def handles(self, path: str) -> bool:
        parsed = parse_goproxy_path(path)
        return parsed is not None and self.route(parsed.module) is not None

    async def fetch(self, path: str) -> bytes:
        parsed = parse_goproxy_path(path)
        if parsed is None:
            raise RevisionNotFound(f"not found: {path!r} is not a GOPROXY path")
        return await self._workers.run(self.answer, parsed)

    def answer(self, q: GoproxyPath) -> bytes:
        """The bytes for one GOPROXY request (blocking)."""
        found = self.route(q.module)
        if found is None:
            raise RevisionNotFound("not a git-routed module", module=q.module)
        root, url = found
        clone = self.repos.clone(url)
        with clone.lock:
            self.repos.refresh(clone)
            repo = CodeRepo(self.repos, clone, q.module, root)
            try:
                if q.what == "list":
                    return "".join(v + "\n" for v in repo.versions()).encode()
                if q.what == "latest":
                    return repo.stat_version("latest").to_json()
                if q.what == "info":
                    return repo.stat_version(q.version).to_json()
                if q.what == "mod":
                    return repo.gomod(q.version)
                return repo.zip(q.version)
            except RevisionNotFound as e:
                if e.module is None:
                    raise RevisionNotFound(
                        e.message, module=q.module, version=q.version or None
                    ) from e
                raise


def default_cache(kind: str) -> Path:
    """$XDG_CACHE_HOME/go-vault/<kind> (else ~/.cache/go-vault/<kind>)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "go-vault" / kind


def git_source_for(config: VaultConfig) -> GitSource | None:
    """The git upstream a config asks for (`git` routes), or None."""
    if not config.git:
        return None
    cache = Path(config.git_cache) if config.git_cache else default_cache("git")
    return GitSource(
        parse_git_routes(config.git),
        cache,
        ttl=config.list_ttl,
        concurrency=config.git_concurrency,
    )
