"""Checksum-database proxying: /sumdb/<name>/… relayed to the configured database, cached.

The go command asks `<GOPROXY>/sumdb/<name>/supported` and, on 200, sends every lookup and
tile request for that database here. Tiles never change once served (a partial tile `.p/W`
included), so they are kept forever; a lookup's record never changes either; `latest` is
refreshed and served from the cache only when the database cannot be reached. A lookup for a
private module path is answered 403 with a GONOSUMDB hint and never leaves the proxy.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from scanner.errors import InputError, InvalidModuleError
from scanner.module import unescape_path, unescape_version

from .errors import BadRequestError, NotInProxyError, ProxyError, UpstreamError
from .gitsource import default_cache, match_patterns
from .workers import Workers

if TYPE_CHECKING:
    from .config import VaultConfig

_SAFE = re.compile(r"[A-Za-z0-9._@!+~/-]+")
_MAX_ANSWER = 16 << 20
_TEXT = "text/plain; charset=utf-8"


class PrivateModuleError(ProxyError, InputError):
    """A checksum-database lookup for a private module path: refused, never relayed."""

    status = 403


class SumdbRelay:
    """Relays one checksum database (`name` at `url`); `await handle(rest)` answers a request.

    `rest` is the path after `/sumdb/`: `<name>/supported`, `<name>/lookup/<m>@<v>`,
    `<name>/latest` or `<name>/tile/…`. `private` is a GOPRIVATE-style pattern list.
    """

    def __init__(
        self,
        name: str,
        url: str,
        cache_dir: Path,
        *,
        private: str,
        workers: Workers,
        offline: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.cache_dir = cache_dir / hashlib.sha256(f"{name} {url}".encode()).hexdigest()[:16]
        self.private = private
        self.workers = workers
        self.offline = offline
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                follow_redirects=True,
                headers={"User-Agent": "go-vault"},
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def handle(self, rest: str) -> tuple[int, bytes, str]:
        name, _, what = rest.partition("/")
        if name != self.name:
            raise NotInProxyError(
                f"checksum database {name!r} is not proxied here (only {self.name})",
                hint=f"set GOSUMDB to {self.name}, or GONOSUMDB for private modules",
            )
        if what == "supported":
            return 200, b"", _TEXT
        if not _SAFE.fullmatch(what) or any(e in ("", ".", "..") for e in what.split("/")):
            raise BadRequestError(f"not a checksum database path: /sumdb/{rest}")
        if what.startswith("lookup/"):
            self._refuse_private(what.removeprefix("lookup/"))
            return 200, await self._cached(what, refresh=False), _TEXT
        if what == "latest":
            return 200, await self._cached(what, refresh=True), _TEXT
        if what.startswith("tile/"):
            return 200, await self._cached(what, refresh=False), "application/octet-stream"
        raise NotInProxyError(f"not found: /sumdb/{rest}")

    def _refuse_private(self, key: str) -> None:
        escaped_path, sep, escaped_version = key.rpartition("@")
        try:
            if not sep:
                raise InvalidModuleError("missing @version")
            module = unescape_path(escaped_path)
            unescape_version(escaped_version)
        except InvalidModuleError as e:
            raise BadRequestError(f"bad checksum database lookup {key!r}: {e.message}") from e
        pattern = match_patterns(self.private, module)
        if pattern is not None:
            raise PrivateModuleError(
                "private module path: go-vault does not ask the checksum database about it",
                module=module,
                hint=f"set GONOSUMDB={pattern} (or GOPRIVATE) for the go command",
            )

    async def _cached(self, what: str, *, refresh: bool) -> bytes:
        """The answer for `what`: from the cache (unless `refresh`), else the database.

        With `refresh`, the cached copy is served only when the database cannot be reached.
        """
        local = self.cache_dir / what
        cached = await self.workers.run(_read, local)
        if cached is not None and (not refresh or self.offline):
            return cached
        if self.offline:
            raise NotInProxyError(f"not in offline mirror: /sumdb/{self.name}/{what}")
        try:
            data = await self._get(what)
        except UpstreamError:
            if cached is None:
                raise
            return cached
        await self.workers.run(_write, local, data)
        return data

    async def _get(self, what: str) -> bytes:
        url = f"{self.url}/{what}"
        try:
            response = await self.client.get(url)
        except httpx.HTTPError as e:
            raise UpstreamError(
                f"checksum database {self.url} unreachable: {e or type(e).__name__}",
                hint="retry later, or check the sumdb setting",
            ) from e
        if response.status_code in (404, 410):
            text = response.text[:300].strip()
            raise NotInProxyError(text or f"not found in checksum database: {what}")
        if response.status_code != 200:
            raise UpstreamError(
                f"checksum database {self.url} answered {response.status_code} for {what}",
                hint="retry later",
            )
        if len(response.content) > _MAX_ANSWER:
            raise UpstreamError(f"checksum database answer for {what} is too large")
        return response.content


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def parse_sumdb(spec: str) -> tuple[str, str] | None:
    """The `sumdb` setting `NAME URL` -> (name, url); None when it is not that."""
    name, _, url = spec.strip().partition(" ")
    url = url.strip()
    if not name or not url.startswith(("http://", "https://")):
        return None
    return name, url


def sumdb_relay_for(config: VaultConfig, workers: Workers) -> SumdbRelay | None:
    """The relay a config asks for (`sumdb: "NAME URL"`), or None (then /sumdb/ answers 404)."""
    if not config.sumdb:
        return None
    parsed = parse_sumdb(config.sumdb)
    if parsed is None:  # load_config refuses it naming where it was set
        raise InputError(
            f"sumdb: {config.sumdb!r} is not 'NAME URL'",
            hint="e.g. sumdb: 'sum.golang.org https://sum.golang.org'",
        )
    name, url = parsed
    git_patterns = ",".join(
        part.partition("=")[0].strip() for part in (config.git or "").split(",") if part.strip()
    )
    private = ",".join(p for p in (config.private or "", git_patterns) if p)
    cache = Path(config.sumdb_cache) if config.sumdb_cache else default_cache("sumdb")
    return SumdbRelay(
        name,
        url,
        cache,
        private=private,
        workers=workers,
        offline=config.offline,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
    )
