"""The upstream chain: a GOPROXY-style list of http(s):// and file:// proxies with `,`/`|` rules."""

from __future__ import annotations

import os
import shutil
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx

from scanner.modzip import MAX_GO_MOD, MAX_ZIP_FILE

from .config import goproxy_entries, is_upstream_url
from .errors import NotInProxyError, ProxyError, UpstreamError, UpstreamTimeoutError
from .workers import Workers

if TYPE_CHECKING:
    from .gitsource import GitSource


@dataclass(frozen=True, slots=True)
class Entry:
    """One upstream; `fall_through` is True when a `|` follows it (next entry on any error)."""

    url: str
    fall_through: bool

    @property
    def display(self) -> str:
        """The URL without credentials, for messages and logs."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.username or parts.password:
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        return self.url


def parse_upstreams(spec: str) -> list[Entry]:
    """`https://a,https://b|file:///mirror` -> entries; `direct` is skipped (no VCS access here).

    A configured list was checked by load_config (exit 2); this refuses any other."""
    entries: list[Entry] = []
    for entry, sep in goproxy_entries(spec):
        url = entry.rstrip("/")
        if not url or url == "direct":
            continue
        if url != "off" and not is_upstream_url(url):
            raise UpstreamError(
                f"upstream {url!r} is not an http(s):// or file:// URL",
                hint="set --upstream to a GOPROXY-style list",
            )
        entries.append(Entry(url, sep == "|"))
    return entries


class Upstream:
    """Fetches GOPROXY paths (`<escaped module>/@v/list`, …) through the entry list.

    Like the go command: a 404/410 moves to the next entry; any other failure moves on only
    after `|`, else it is the answer (502, or 504 for a timeout). `off` answers not-found.
    Every outbound request is counted through `on_request(entry, path, outcome)`.
    """

    def __init__(
        self,
        spec: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        workers: Workers,
        on_request: Callable[[str, str, str], None] | None = None,
        ca_file: str | None = None,
        git: GitSource | None = None,
    ) -> None:
        self.entries = parse_upstreams(spec)
        self.git = git  # modules under its routes come from git and never reach the entries
        self.workers = workers
        self.on_request = on_request or (lambda _entry, _path, _outcome: None)
        self._client: httpx.AsyncClient | None = None
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )

    @property
    def client(self) -> httpx.AsyncClient:
        # Created lazily so that building an Upstream (e.g. offline) opens nothing.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                follow_redirects=True,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                headers={"User-Agent": "go-vault"},
                trust_env=False,
                verify=self._verify,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def fetch(self, path: str, limit: int = MAX_GO_MOD) -> bytes:
        """The bytes at `path` from the first entry that has them (at most `limit` bytes)."""
        result = await self._walk(path, None, limit)
        assert isinstance(result, bytes)
        return result

    async def fetch_to_file(self, path: str, dest: Path, limit: int = MAX_ZIP_FILE) -> None:
        """Stream the artifact at `path` into `dest`; more than `limit` bytes is an error, so
        an upstream cannot fill the disk with an endless "zip"."""
        await self._walk(path, dest, limit)

    async def fetch_version(
        self,
        base: str,
        zip_dest: Path,
        on_metadata: Callable[[bytes, bytes], None] | None = None,
    ) -> tuple[bytes, bytes, bytes | None]:
        """`base`.info, `base`.mod and `base`.zip (base is `<escaped module>/@v/<escaped
        version>`): the zip's bytes when they were read whole (a small zip from a file://
        directory), else None and the zip streamed into `zip_dest`. The three fetches overlap;
        a failure of one cancels the others. From a file:// directory first in the chain, the
        three reads are one trip to the worker pool, or none for a small version (a cold
        `go mod download` waits on ingest at each graph level). `on_metadata(info, mod)` is
        called once both are in, while the zip may still be on its way; what it raises ends
        the fetch."""
        first = self.entries[0] if self.entries else None
        if (
            first is not None
            and first.url.startswith("file://")
            and (self.git is None or not self.git.handles(base + ".info"))
        ):
            try:
                if _small_version(first, base):
                    # A few KiB from local files: quicker here than a trip to the pool.
                    info, mod, data = _read_version(first, base, None)
                else:
                    info, mod, data = await self.workers.run(_read_version, first, base, zip_dest)
            except ProxyError:
                pass  # not all there, or unreadable: the chain rules below decide, per file
            else:
                for kind in ("info", "mod", "zip"):
                    self.on_request(first.display, f"{base}.{kind}", "ok")
                if on_metadata is not None:
                    on_metadata(info, mod)
                return info, mod, data
        fetched: dict[str, bytes] = {}

        async def fetch(kind: str) -> None:
            fetched[kind] = await self.fetch(f"{base}.{kind}")
            if on_metadata is not None and "info" in fetched and "mod" in fetched:
                on_metadata(fetched["info"], fetched["mod"])

        await _together(
            lambda: fetch("info"),
            lambda: fetch("mod"),
            lambda: self.fetch_to_file(f"{base}.zip", zip_dest),
        )
        return fetched["info"], fetched["mod"], None

    async def _walk(self, path: str, dest: Path | None, limit: int) -> bytes | None:
        if self.git is not None and self.git.handles(path):
            data = await self.git.fetch(path)
            if len(data) > limit:
                raise UpstreamError(f"git answered more than {limit} bytes for {path}")
            if dest is None:
                return data
            await self.workers.run(dest.write_bytes, data)
            return None
        if not self.entries:
            raise NotInProxyError("no upstream configured", hint="set --upstream")
        # As the go command ranks them: any other failure says more than "not found".
        not_found: NotInProxyError | None = None
        failed: ProxyError | None = None
        for entry in self.entries:
            if entry.url == "off":
                raise NotInProxyError("module lookup disabled by upstream list 'off'")
            try:
                if entry.url.startswith("file://"):
                    result = await self._file(entry, path, dest, limit)
                else:
                    result = await self._http(entry, path, dest, limit)
            except NotInProxyError as e:
                self.on_request(entry.display, path, "not_found")
                not_found = e
                continue
            except ProxyError as e:
                self.on_request(entry.display, path, "error")
                if entry.fall_through:  # `|`: on to the next entry, if there is one
                    failed = e
                    continue
                raise
            self.on_request(entry.display, path, "ok")
            return result
        last = failed or not_found
        assert last is not None  # the list has entries, each of which failed
        raise last

    async def _http(self, entry: Entry, path: str, dest: Path | None, limit: int) -> bytes | None:
        url = f"{entry.url}/{path}"
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code in (404, 410):
                    text = await _reason(response)
                    raise NotInProxyError(
                        f"not found upstream ({entry.display}: {text or response.status_code})"
                    )
                if response.status_code != 200:
                    text = await _reason(response, first_line=True)
                    raise UpstreamError(
                        f"upstream {entry.display} answered {response.status_code}"
                        + (f": {text}" if text else ""),
                        hint="retry later, or check the upstream",
                    )
                chunks: list[bytes] = []
                size = 0
                out = None if dest is None else await self.workers.run(dest.open, "wb")
                try:
                    async for chunk in response.aiter_bytes(1 << 20):
                        size += len(chunk)
                        if size > limit:
                            raise _too_big(entry, path, limit)
                        if out is None:
                            chunks.append(chunk)
                        else:
                            await self.workers.run(out.write, chunk)
                finally:
                    if out is not None:
                        await self.workers.run(out.close)
                return b"".join(chunks) if dest is None else None
        except httpx.TimeoutException as e:
            raise UpstreamTimeoutError(
                f"upstream {entry.display} timed out ({type(e).__name__})",
                hint="retry later, or raise read_timeout/connect_timeout",
            ) from e
        except httpx.HTTPError as e:
            reason = str(e) or type(e).__name__
            raise UpstreamError(
                f"upstream {entry.display} unreachable: {reason}",
                hint="retry later, or check the upstream",
            ) from e

    async def _file(self, entry: Entry, path: str, dest: Path | None, limit: int) -> bytes | None:
        return await self.workers.run(_read_file, entry, path, dest, limit)


def _read_file(entry: Entry, path: str, dest: Path | None, limit: int) -> bytes | None:
    """`path` under a file:// entry: its bytes, or copied to `dest` (then None). Blocking."""
    source = _local_file(entry, path)
    try:
        if source.stat().st_size > limit:
            raise _too_big(entry, path, limit)
        if dest is None:
            return source.read_bytes()
        shutil.copyfile(source, dest)
        return None
    except (FileNotFoundError, NotADirectoryError) as e:
        raise NotInProxyError(f"not found upstream ({entry.display})") from e
    except OSError as e:
        raise UpstreamError(
            f"upstream {entry.display}: cannot read {path}: {os.strerror(e.errno or 0)}"
        ) from e


def _local_file(entry: Entry, path: str) -> Path:
    return Path(urllib.parse.unquote(urllib.parse.urlsplit(entry.url).path)) / path


def _small_version(entry: Entry, base: str) -> bool:
    """Whether the version's zip under a file:// entry is small enough to copy on the loop."""
    try:
        return os.stat(_local_file(entry, f"{base}.zip")).st_size <= _INLINE_BYTES
    except OSError:
        return False  # the pool's read says what is wrong


_INLINE_BYTES = 256 << 10


def _read_version(
    entry: Entry, base: str, zip_dest: Path | None
) -> tuple[bytes, bytes, bytes | None]:
    """.info, .mod and .zip of one version under a file:// entry; the zip copied to
    `zip_dest` if one is given (then None), else read. Blocking."""
    info = _read_file(entry, f"{base}.info", None, MAX_GO_MOD)
    mod = _read_file(entry, f"{base}.mod", None, MAX_GO_MOD)
    data = _read_file(entry, f"{base}.zip", zip_dest, MAX_ZIP_FILE)
    assert info is not None and mod is not None
    return info, mod, data


async def _together(*calls: Callable[[], Awaitable[object]]) -> None:
    """Run all of `calls` concurrently; the first failure cancels the rest and is raised."""

    async def run(call: Callable[[], Awaitable[object]]) -> None:
        await call()

    try:
        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(run, call)
    except BaseExceptionGroup as group:
        raise _first_leaf(group) from None


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _head(response: httpx.Response) -> bytes:
    """The start of an error body (enough for a message; never the whole of a huge one)."""
    async for chunk in response.aiter_bytes(512):
        return chunk[:512]
    return b""


async def _reason(response: httpx.Response, *, first_line: bool = False) -> str:
    """What an error answer says, for a message: its text (a GOPROXY explains a 404 in it,
    e.g. "not found: …"; the go command shows it), or only its first line (at most 300
    characters); nothing for an HTML page (a web server's or a firewall's error page), which
    would be only markup."""
    text = (await _head(response)).decode("utf-8", "replace").strip()
    if "html" in response.headers.get("content-type", "") or text.startswith("<"):
        return ""
    return text.splitlines()[0][:300] if first_line and text else text


def _too_big(entry: Entry, path: str, limit: int) -> UpstreamError:
    return UpstreamError(
        f"upstream {entry.display} sent more than {limit} bytes for {path}",
        hint="no module file may be that large; the upstream is suspect",
    )
