"""Where module artifacts come from: a GOPROXY (http(s)://, file://), a module cache, a list."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import requests

from .errors import InputError, NotFoundError, OperationalError
from .module import escape_path, escape_version, unescape_version

T = TypeVar("T")

# Enough to hold one go.mod fetch per worker of a build-list load open at once.
_POOL_SIZE = 32
_TIMEOUT = 60.0


class ModuleSource(Protocol):
    """Read-only access to module artifacts, as the GOPROXY protocol names them.

    Every method returns the artifact's bytes or raises NotFoundError when the source does
    not have it (HTTP 404/410, a missing file), so that a GOPROXY list can try the next
    entry; any other failure is an OperationalError. Implementations are thread-safe.
    """

    def list_versions(self, path: str) -> list[str]: ...

    def info(self, path: str, version: str) -> bytes: ...

    def gomod(self, path: str, version: str) -> bytes: ...

    def zip(self, path: str, version: str) -> bytes: ...

    def latest(self, path: str) -> bytes: ...


def _artifact(path: str, version: str, ext: str) -> str:
    return f"{escape_path(path)}/@v/{escape_version(version)}.{ext}"


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:200] if text else ""


class _FileTree:
    """A GOPROXY laid out on disk (a file:// proxy, or a module cache's download dir)."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = root
        self.label = label

    def read(self, rel: str, module: str, version: str | None = None) -> bytes:
        target = self.root / rel
        try:
            return target.read_bytes()
        except (FileNotFoundError, NotADirectoryError) as e:
            raise NotFoundError(
                f"not found in {self.label} ({target})", module=module, version=version
            ) from e
        except OSError as e:
            raise OperationalError(
                f"cannot read {target}: {e.strerror}", module=module, version=version
            ) from e


def _netrc_auth(url: str) -> tuple[str, str] | None:
    """The login of a `machine HOST:PORT` line of $NETRC (else ~/.netrc) for a URL with a port.

    The go command matches a netrc machine against the URL's host and port, and `goproxy-scan
    env` writes such a line for a proxy on a non-default port; requests looks up the host name
    alone (its own lookup is the fallback)."""
    import netrc

    netloc = urlsplit(url).netloc.rpartition("@")[2]
    if ":" not in netloc.rpartition("]")[2]:
        return None
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        found = netrc.netrc(path).authenticators(netloc)
    except (OSError, netrc.NetrcParseError):
        return None
    return (found[0], found[2]) if found else None


class ProxySource:
    """A GOPROXY server or directory: `https://host/prefix`, `http://…` or `file:///dir`."""

    def __init__(self, url: str, *, timeout: float = _TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        parts = urlsplit(self.url)
        # Messages and reprs never show credentials given in the URL.
        self.shown_url = self.url
        if parts.username or parts.password:
            self.shown_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        self._tree: _FileTree | None = None
        self._local = threading.local()
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise InputError(
                    f"GOPROXY {self.shown_url!r}: a file:// URL must name a local directory"
                )
            if os.name == "nt":  # file:///C:/x: only Windows needs urllib.request's rules
                from urllib.request import url2pathname

                local = url2pathname(unquote(parts.path))
            else:
                local = unquote(parts.path)
            self._tree = _FileTree(Path(local), self.shown_url)
        elif parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                f"GOPROXY entry {self.shown_url!r} is not an http(s):// or file:// URL",
                hint="use e.g. https://proxy.golang.org or file:///path/to/tree",
            )

    def __repr__(self) -> str:
        return f"ProxySource({self.shown_url!r})"

    def _session(self) -> requests.Session:
        # One session per thread: connection reuse without sharing a Session across threads.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            # requests is imported on first HTTP use: file:// and module-cache runs (and the
            # CLI's start-up) do not pay for it.
            import requests
            from requests.adapters import HTTPAdapter
            from requests.utils import get_environ_proxies, get_netrc_auth

            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # requests reads the environment (proxies, ~/.netrc, CA bundle) on every request
            # when trust_env is on, which doubles the cost of a small go.mod fetch. All requests
            # go to one host, so read it once here.
            session.trust_env = False
            session.proxies.update(get_environ_proxies(self.url))
            if not urlsplit(self.url).username:
                session.auth = _netrc_auth(self.url) or get_netrc_auth(self.url)
            ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if ca_bundle:
                session.verify = ca_bundle
            self._local.session = session
        return session

    def _get(self, rel: str, module: str, version: str | None = None) -> bytes:
        if self._tree is not None:
            return self._tree.read(rel, module, version)
        import requests

        url = f"{self.url}/{rel}"
        shown = f"{self.shown_url}/{rel}"
        try:
            resp = self._session().get(url, timeout=self.timeout)
        except requests.RequestException as e:
            raise OperationalError(
                f"cannot reach {shown}: {e.__class__.__name__}",
                module=module,
                version=version,
                hint="check the proxy URL and the network",
            ) from e
        if resp.status_code in (404, 410):
            raise NotFoundError(
                f"not found at {shown} ({resp.status_code} {_first_line(resp.content)})".rstrip(),
                module=module,
                version=version,
            )
        if resp.status_code != 200:
            raise OperationalError(
                f"{shown} answered {resp.status_code}: {_first_line(resp.content)}",
                module=module,
                version=version,
            )
        return resp.content

    def list_versions(self, path: str) -> list[str]:
        body = self._get(f"{escape_path(path)}/@v/list", path)
        return [line.split()[0] for line in body.decode("utf-8", "replace").splitlines() if line]

    def info(self, path: str, version: str) -> bytes:
        return self._get(_artifact(path, version, "info"), path, version)

    def gomod(self, path: str, version: str) -> bytes:
        return self._get(_artifact(path, version, "mod"), path, version)

    def zip(self, path: str, version: str) -> bytes:
        return self._get(_artifact(path, version, "zip"), path, version)

    def latest(self, path: str) -> bytes:
        return self._get(f"{escape_path(path)}/@latest", path)


class ModCacheSource(ProxySource):
    """A module cache, `$GOMODCACHE`: its `cache/download` tree is a GOPROXY layout."""

    def __init__(self, modcache: Path | str) -> None:
        download = Path(modcache) / "cache" / "download"
        super().__init__(download.resolve().as_uri())
        self.modcache = Path(modcache)

    def __repr__(self) -> str:
        return f"ModCacheSource({str(self.modcache)!r})"

    def list_versions(self, path: str) -> list[str]:
        # The go command writes @v/list only when it asked a proxy for it; the versions whose
        # .mod it downloaded are what the cache can serve.
        try:
            return super().list_versions(path)
        except NotFoundError:
            vdir = self.modcache / "cache" / "download" / escape_path(path) / "@v"
            if not vdir.is_dir():
                raise
            return sorted(unescape_version(p.name[: -len(".mod")]) for p in vdir.glob("*.mod"))


@dataclass(frozen=True, slots=True)
class _Entry:
    source: ModuleSource
    # True after "|": any error falls through; after ",": only not-found does.
    fall_through_on_error: bool


class SourceChain:
    """A GOPROXY list: entries tried in order, `,` falling through on 404/410, `|` on any error."""

    def __init__(self, entries: list[tuple[ModuleSource, bool]], *, off_at_end: bool = False):
        self.entries = [_Entry(s, f) for s, f in entries]
        self.off_at_end = off_at_end

    def __repr__(self) -> str:
        return f"SourceChain({[e.source for e in self.entries]!r})"

    def _try(self, path: str, version: str | None, fetch: Callable[[ModuleSource], T]) -> T:
        last: OperationalError | None = None
        for entry in self.entries:
            try:
                return fetch(entry.source)
            except NotFoundError as e:
                last = e
            except OperationalError as e:
                if not entry.fall_through_on_error:
                    raise
                last = e
        if self.off_at_end:
            raise NotFoundError(
                "module lookup disabled by GOPROXY=off", module=path, version=version
            ) from last
        assert last is not None
        raise last

    def list_versions(self, path: str) -> list[str]:
        return self._try(path, None, lambda s: s.list_versions(path))

    def info(self, path: str, version: str) -> bytes:
        return self._try(path, version, lambda s: s.info(path, version))

    def gomod(self, path: str, version: str) -> bytes:
        return self._try(path, version, lambda s: s.gomod(path, version))

    def zip(self, path: str, version: str) -> bytes:
        return self._try(path, version, lambda s: s.zip(path, version))

    def latest(self, path: str) -> bytes:
        return self._try(path, None, lambda s: s.latest(path))


class PrivateRouting:
    """Module paths matching GONOPROXY/GOPRIVATE read from the module cache, never a proxy.

    The go command fetches those from version control; the scanner does not, and asking a
    proxy would send the private path out (proxy.golang.org when GOPROXY is its default). Such
    a module not in the cache is a NotFoundError that says how to get it there.
    """

    def __init__(self, patterns: str, proxied: ModuleSource, cache: ModCacheSource) -> None:
        self.patterns = patterns
        self.proxied = proxied
        self.cache = cache

    def __repr__(self) -> str:
        return f"PrivateRouting({self.patterns!r}, {self.proxied!r}, {self.cache!r})"

    def _route(self, path: str, version: str | None, read: Callable[[ModuleSource], T]) -> T:
        from .goenv import match_prefix_patterns

        if not match_prefix_patterns(self.patterns, path):
            return read(self.proxied)
        try:
            return read(self.cache)
        except NotFoundError as e:
            raise NotFoundError(
                f"a private module (GONOPROXY/GOPRIVATE={self.patterns}) not in the module "
                f"cache {self.cache.modcache}",
                module=path,
                version=version,
                hint="the go command fetches it from version control, which the scanner does "
                "not: run `go mod download` first, or serve it through the private proxy "
                "(GONOPROXY= with GOPROXY naming it)",
            ) from e

    def list_versions(self, path: str) -> list[str]:
        return self._route(path, None, lambda s: s.list_versions(path))

    def info(self, path: str, version: str) -> bytes:
        return self._route(path, version, lambda s: s.info(path, version))

    def gomod(self, path: str, version: str) -> bytes:
        return self._route(path, version, lambda s: s.gomod(path, version))

    def zip(self, path: str, version: str) -> bytes:
        return self._route(path, version, lambda s: s.zip(path, version))

    def latest(self, path: str) -> bytes:
        return self._route(path, None, lambda s: s.latest(path))


def _off_hint() -> str:
    """What to do about GOPROXY=off, in the flags of the command at hand: scan and sbom,
    vulndb check, graph and go-vault prefetch reach here, and their flags differ."""
    import click

    context = click.get_current_context(silent=True)
    flags = {o for p in context.command.params for o in p.opts} if context is not None else set()
    if "--upstream" in flags:  # go-vault: the upstream list, not the environment
        return "name a proxy URL or a file:// tree as the upstream (--upstream or the config)"
    ways = ["set GOPROXY to a proxy URL or a file:// tree"]
    if "--proxy" in flags:
        ways.append("give --proxy file://TREE")
    if "--offline" in flags:
        ways.append("read the module cache with --offline")
    if "--modcache" in flags:
        ways.append("read the module cache with --modcache DIR")
    return ", ".join(ways[:-1]) + f" or {ways[-1]}" if len(ways) > 1 else ways[0]


def source_from_goproxy(value: str) -> ModuleSource:
    """A source for a GOPROXY value such as `https://a,file:///b|https://c,off`.

    `direct` (fetching from version control) is skipped: the scanner reads only proxies and
    module caches, so the usual `https://proxy.golang.org,direct` means that proxy alone; a
    value naming no proxy at all is an InputError. `off` at the end turns a miss into the go
    command's "module lookup disabled by GOPROXY=off".
    """
    parts = re.split(r"([,|])", value.strip())
    # Each entry with the separator that follows it: "|" falls through on any error.
    items = [
        (parts[i].strip(), i + 1 < len(parts) and parts[i + 1] == "|")
        for i in range(0, len(parts), 2)
        if parts[i].strip()
    ]
    entries: list[tuple[ModuleSource, bool]] = []
    off_at_end = False
    saw_direct = False
    for i, (item, fall_through) in enumerate(items):
        if item == "off":
            if len(items) == 1:
                raise InputError("GOPROXY=off: module lookup is disabled", hint=_off_hint())
            if i != len(items) - 1 or not entries:
                raise InputError(
                    f"GOPROXY={value!r}: 'off' can only end a list of proxies",
                    hint="remove 'off' or put it last",
                )
            off_at_end = True
            continue
        if item == "direct":
            saw_direct = True
            continue
        entries.append((ProxySource(item), fall_through))
    if not entries:
        what = (
            "only 'direct' (version control), which is not supported here"
            if saw_direct
            else "no proxy"
        )
        raise InputError(
            f"GOPROXY={value!r} names {what}",
            hint="name a proxy URL or a file:// tree with --proxy or GOPROXY",
        )
    if len(entries) == 1 and not off_at_end:
        return entries[0][0]
    return SourceChain(entries, off_at_end=off_at_end)
