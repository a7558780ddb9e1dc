"""The gateway: a bare ASGI app speaking the GOPROXY protocol in front of the vault.

Layering, outermost first (one place, so the order is visible):
  1. trace id (`X-Go-Module-Trace-ID`, from the request or new) on every response;
  2. metrics + one audit-log line per request (see the final status, bytes and latency);
  3. error handler: any ProxyError -> its status and a text/plain body the go command prints;
  4. method (GET/HEAD only) and base path;
  4a. path length limits (400), authentication + scope per route (proxy/auth.py; /-/healthz
     open), then the per-identity rate limit -> 429 with Retry-After (proxy/limits.py);
  5. operator routes /-/healthz, /-/readyz, /-/metrics, /-/vulndb/ (proxy/vulndb.py); /sumdb/
     relayed to the configured checksum database, private paths 403 (proxy/sumdb.py);
     /-/verdicts, /-/admin/policy/, /-/admin/exceptions (proxy/verdicts.py; JSON, any method);
     /-/admin/rollbacks, /-/admin/pins (proxy/rollback.py; the same admin check);
  6. one handler per GOPROXY endpoint: list, @latest, .info, .mod, .zip;
  6a. rollback/pin (proxy/rollback.py): rolled-back versions left out of list and @latest, a
     direct request for one -> 403 with the reason; a pin fixes @latest;
  6b. the Auditor gate for .zip: the verdict in force for a stored version (it changes with a
     policy reload or an exception) -> 403, or X-Go-Module-Verdict -- auditor.py. .info and .mod
     of a refused version are served: minimal version selection reads the go.mod of versions it
     never builds, so refusing metadata would break builds that do not use the refused code;
  7. for a version not yet stored: ingest (checks, h1:, AUDITOR HOOK, store) -- proxy/ingest.py;
  8. storage (the vault) and the upstream chain (git-routed modules: proxy/gitsource.py).
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scanner import semver
from scanner.errors import InvalidModuleError
from scanner.module import (
    canonical_version,
    escape_path,
    escape_version,
    unescape_path,
    unescape_version,
)
from scanner.pseudo import is_pseudo_version

from .auth import Authenticator, TokenFile
from .cache import AnswerCache, BlobCache
from .config import VaultConfig
from .errors import (
    BadRequestError,
    MethodNotAllowedError,
    NotInProxyError,
    ProxyError,
    StorageError,
    UpstreamError,
    plain_body,
)
from .gitsource import git_source_for
from .ingest import Auditor, Ingested, Ingester, warm_up
from .limits import IngestSlots, RateLimiter, check_path
from .observability import IDENTITY, TRACE_HEADER, AuditLog, Metrics, Tracer, trace_id_from
from .rollback import ADMIN_ROUTES as ROLLBACK_ROUTES
from .rollback import RollbackGate, state_file
from .rollback import admin as rollback_admin
from .singleflight import SingleFlight
from .storage import BlobNotFoundError, BlobStream, Kind, Storage, open_storage
from .sumdb import sumdb_relay_for
from .upstream import Upstream
from .verdicts import PREFIXES as VERDICT_ROUTES
from .verdicts import REQUEST, VerdictAPI, allowed_methods
from .workers import Workers

if TYPE_CHECKING:
    from .auditor import AuditGate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("go_vault")

_IMMUTABLE = "public, max-age=31536000, immutable"
_TEXT = "text/plain; charset=utf-8"
_CONTENT_TYPES = {Kind.INFO: "application/json", Kind.MOD: _TEXT, Kind.ZIP: "application/zip"}
_CHUNK = 256 << 10  # a file read through Python, a piece at a time (uvicorn: no pathsend)
OFFLINE = "not in offline mirror"
_KINDS = {k.value: k for k in Kind}
VULNDB_PREFIX = "/-/vulndb/"  # proxy.vulndb.PREFIX, spelled here to keep that import lazy
_ROUTE_CACHE = 1 << 16
T = TypeVar("T")
# Zips up to this size (and what the blob cache takes) are kept there and sent as bytes:
# cheaper than a file send for a typical module (a warm `go mod download` of 116 KiB zips,
# measured: 1.30 -> 1.25x file:// on granian, 1.31 -> 1.19x on uvicorn, against 64 KiB).
_SMALL_ZIP = 1 << 20


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = _TEXT
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    file: Path | None = None  # sent instead of body, by pathsend or in chunks
    size: int = 0
    stream: BlobStream | None = None  # sent instead of body, chunk by chunk (object storage)

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, plain_body(text))


@dataclass(slots=True)
class Request:
    """What the audit log line says about one request, filled in as it is handled."""

    trace_id: str
    method: str
    path: str
    route: str = "other"
    module: str | None = None
    version: str | None = None
    cache: str | None = None
    decision: str | None = None
    identity: str | None = None


def is_listable(v: str) -> bool:
    """A version @v/list may name: canonical semver (maybe +incompatible), not a pseudo-version."""
    return canonical_version(v) == v and bool(v) and not is_pseudo_version(v)


@dataclass(frozen=True, slots=True)
class Route:
    """A parsed GOPROXY path: `name` is list, latest, info, mod or zip."""

    name: str
    module: str
    version: str | None = None
    kind: Kind | None = None
    canonical: bool = True


def parse_route(path: str) -> Route:
    """`<escaped module>/@v/<escaped version>.<kind>` (or `/@v/list`, `/@latest`) -> Route.

    Raises BadRequestError for a bad escape or module path, NotInProxyError for anything that
    is not a GOPROXY path; the module path check also rules out `.`, `..` and empty elements.
    """
    if path.endswith("/@latest"):
        return Route("latest", _module(path.removesuffix("/@latest")))
    escaped_module, sep, name = path.rpartition("/@v/")
    if not sep:
        raise NotInProxyError(
            f"not found: {path!r} is not a GOPROXY path", hint="see go help goproxy"
        )
    module = _module(escaped_module)
    if name == "list":
        return Route("list", module)
    stem, dot, ext = name.rpartition(".")
    kind = _KINDS.get(ext)
    if not dot or kind is None:
        raise NotInProxyError(f"not found: {name!r} is not list, .info, .mod or .zip")
    try:
        version = unescape_version(stem)
    except InvalidModuleError as e:
        raise BadRequestError(e.message, module=module) from e
    return Route(kind.value, module, version, kind, canonical_version(version) == version)


class Gateway:
    """The ASGI application; build with `Gateway(config)` (or inject storage/auditor in tests)."""

    def __init__(
        self,
        config: VaultConfig,
        *,
        storage: Storage | None = None,
        auditor: Auditor | None = None,
        tokens: TokenFile | None = None,
    ) -> None:
        self.config = config
        self.storage = storage if storage is not None else open_storage(config.storage)
        self.workers = Workers(config.pool_size)
        self.metrics = Metrics()
        self.audit_log = AuditLog(config.audit_log)
        self.tracer = Tracer(config.otlp_endpoint)
        self.upstream = Upstream(
            "" if config.offline else config.upstream,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            workers=self.workers,
            on_request=lambda _e, _p, outcome: self.metrics.upstream.labels(outcome).inc(),
            ca_file=config.upstream_ca,
            git=None if config.offline else git_source_for(config),
        )
        self.sumdb = sumdb_relay_for(config, self.workers)
        # The Auditor layer wraps the judge chain: it stores verdicts, gates stored versions
        # and is the ingest hook itself (license detection is imported only when it is used).
        self.auditor: AuditGate | None = None
        if auditor is not None:
            from .auditor import AuditGate

            self.auditor = AuditGate(
                config,
                auditor,
                storage=self.storage,
                workers=self.workers,
                audit_log=self.audit_log,
                metrics=self.metrics,
            )
        self.verdict_api = VerdictAPI(self)
        # `tokens`: the token file shared with the process's other gateways (tenants.py).
        self.auth = Authenticator(
            tokens if tokens is not None else config.auth_tokens,
            mtls=bool(config.tls_client_ca),
            mtls_scope=config.mtls_scope,
            admin_token=config.admin_token,
            tenant=config.tenant,
        )
        self.rate_limiter = RateLimiter(config.rate_limit, config.rate_burst)
        self.rollback = RollbackGate(state_file(config.storage))
        self.ingester = Ingester(
            self.storage,
            self.upstream,
            workers=self.workers,
            audit_log=self.audit_log,
            metrics=self.metrics,
            tracer=self.tracer,
            auditor=self.auditor,
            slots=IngestSlots(config.max_ingests),
            on_stored=self._stored,
        )
        self.answers = AnswerCache(config.list_ttl, config.negative_ttl)
        self.blobs = BlobCache(config.memory_cache_mb << 20)
        self._small_zip = min(_SMALL_ZIP, self.blobs.max_blob)
        self._flight: SingleFlight[bytes] = SingleFlight()
        self._base = config.base_path.rstrip("/")
        self._routes: dict[str, Route] = {}
        self._zip_files: dict[tuple[str, str, Kind], tuple[Path, int, str]] = {}

    # ---- ASGI entry: layers 1-4 -------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        start = time.perf_counter()
        req = Request(
            trace_id_from(_header(scope, TRACE_HEADER)), scope["method"], scope.get("path", "")
        )
        if self.tracer.enabled:
            with self.tracer.span("go_vault.request", trace_id=req.trace_id, path=req.path):
                response, sent = await self._handle(scope, receive, send, req)
        else:
            response, sent = await self._handle(scope, receive, send, req)
        elapsed = time.perf_counter() - start
        self.metrics.observe_request(req.route, response.status, elapsed, req.cache)
        client = scope.get("client")
        self.audit_log.event(
            "request",
            trace_id=req.trace_id,
            method=req.method,
            route=req.route,
            path=req.path,
            module=req.module,
            version=req.version,
            status=response.status,
            bytes=sent,
            latency_ms=round(elapsed * 1000, 3),
            client=client[0] if client else None,
            cache=req.cache,
            decision=req.decision,
            identity=req.identity,
        )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, req: Request
    ) -> tuple[Response, int]:
        try:
            response = await self._dispatch(scope, receive, req)
        except ProxyError as e:
            response = Response(e.status, e.body(), headers=list(e.headers))
            req.decision = req.decision or type(e).__name__
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                log.exception("internal error (trace id %s)", req.trace_id)
                response = Response.text(500, f"go-vault internal error; trace id {req.trace_id}")
            else:  # a full disk (vault or temp files): say so; atomic writes left nothing
                log.error("disk full (trace id %s): %s", req.trace_id, e)
                response = Response.text(
                    507, "go-vault: the vault's disk is full; nothing was stored\nretry later"
                )
                response.headers.append((b"retry-after", b"60"))
                req.decision = "disk-full"
        except Exception:
            log.exception("internal error (trace id %s)", req.trace_id)
            response = Response.text(
                500, f"go-vault internal error; trace id {req.trace_id}\nreport it to the operator"
            )
        return response, await self._send(scope, send, response, req)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.auditor is not None:
                    self.auditor.install_sighup()
                if not self.config.offline:
                    await self.workers.run(warm_up)  # and the pool's first thread is up
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self.upstream.aclose()
        if self.sumdb is not None:
            await self.sumdb.aclose()
        self.tracer.shutdown()
        self.audit_log.close()
        self.ingester.close()

    async def _send(self, scope: Scope, send: Send, response: Response, req: Request) -> int:
        pathsend = "http.response.pathsend" in scope.get("extensions", {})
        f: BinaryIO | None = None
        if response.file is not None and req.method != "HEAD" and not pathsend:
            try:
                f = await self.workers.run(response.file.open, "rb")
            except OSError:
                # Deleted under a running server (an operator's repair): forget and say so.
                self._zip_files.clear()
                response = Response.text(
                    500, f"{req.module}@{req.version}: the vault lost this .zip; retry\n"
                )
        if response.stream is not None:
            return await self._send_stream(send, response, response.stream, req)
        headers = [
            (b"content-type", response.content_type.encode()),
            (TRACE_HEADER.encode(), req.trace_id.encode()),
            *response.headers,
        ]
        size = response.size if response.file is not None else len(response.body)
        headers.append((b"content-length", str(size).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if req.method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return 0
        if response.file is None:
            await send({"type": "http.response.body", "body": response.body})
            return size
        if f is None:  # pathsend: the server sends the file itself (zero-copy in granian)
            await send({"type": "http.response.pathsend", "path": str(response.file)})
            return size
        try:
            while True:
                chunk = await self.workers.run(f.read, _CHUNK)
                more = len(chunk) == _CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    break
        finally:
            await self.workers.run(f.close)
        return size

    async def _send_stream(
        self, send: Send, response: Response, stream: BlobStream, req: Request
    ) -> int:
        """A blob read from storage a chunk at a time (each read in a worker): memory stays at
        one chunk however large the .zip. A client that goes away closes the stream early."""
        headers = [
            (b"content-type", response.content_type.encode()),
            (TRACE_HEADER.encode(), req.trace_id.encode()),
            *response.headers,
            (b"content-length", str(stream.size).encode()),
        ]
        sent = 0
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if req.method != "HEAD":
                while (chunk := await self.workers.run(next, stream.chunks, b"")) != b"":
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    sent += len(chunk)
            await send({"type": "http.response.body", "body": b""})
        finally:
            await self.workers.run(stream.close)
        return sent

    async def _dispatch(self, scope: Scope, receive: Receive, req: Request) -> Response:
        path = req.path
        if self._base:
            if not path.startswith(self._base + "/"):
                raise NotInProxyError(f"not found: {path} is outside {self._base}/")
            path = path[len(self._base) :]
        check_path(path)  # layer 4a: limits first, then who is asking
        identity = self.auth.authorize(scope, path)
        if identity is not None:
            req.identity = identity.name
            IDENTITY.set(identity.name)
        if self.rate_limiter.enabled:
            client = scope.get("client")
            self.rate_limiter.check(req.identity or (client[0] if client else "unknown"))
        if self.auditor is not None:  # who asked, for the Auditor's audit events
            client = scope.get("client")
            REQUEST.set((req.trace_id, client[0] if client else None))
        if path.startswith(ROLLBACK_ROUTES):  # admin routes of layer 6a (proxy/rollback.py)
            answer = await rollback_admin(self.rollback, self, scope, receive, path, req)
            return Response(*answer)
        if path.startswith(VERDICT_ROUTES):
            status, body, content_type = await self.verdict_api.handle(scope, receive, path, req)
            headers = [_allow(allowed_methods(path))] if status == 405 else []
            return Response(status, body, content_type, headers)
        if req.method not in ("GET", "HEAD"):
            refused = MethodNotAllowedError(f"method {req.method} not allowed; use GET or HEAD")
            refused.headers = (_allow("GET, HEAD"),)
            raise refused
        if path.startswith("/-/"):
            return await self._operator(path, req)
        if path.startswith("/sumdb/"):
            req.route = "sumdb"
            if self.sumdb is None:
                raise NotInProxyError("checksum database proxying is not enabled on this go-vault")
            status, body, content_type = await self.sumdb.handle(path.removeprefix("/sumdb/"))
            return Response(status, body, content_type)
        return await self._protocol(path[1:], req, _header(scope, "if-none-match"))

    # ---- layer 5: operator routes -----------------------------------------------------------

    async def _operator(self, path: str, req: Request) -> Response:
        if path == "/-/healthz":
            req.route = "healthz"
            return Response(200, b"ok\n")
        if path == "/-/readyz":
            req.route = "readyz"
            await self.workers.run(self.storage.check)
            return Response(200, b"ready\n")
        if path == "/-/metrics":
            req.route = "metrics"
            return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        if path.startswith(VULNDB_PREFIX):
            # Imported here: proxy.vulndb pulls in the policy code (jsonschema), a second of
            # start-up that a gateway without a vulnerability database should not pay.
            from .vulndb import vulndb_file

            req.route = "vulndb"
            root = Path(self.config.vulndb) if self.config.vulndb else None
            db = await self.workers.run(vulndb_file, root, path.removeprefix(VULNDB_PREFIX))
            return Response(200, content_type=db.content_type, file=db.path, size=db.size)
        raise NotInProxyError(f"not found: {path}")

    # ---- layer 6: the GOPROXY protocol ------------------------------------------------------

    async def _protocol(self, path: str, req: Request, if_none_match: str | None) -> Response:
        route = self._routes.get(path)
        if route is None:
            route = parse_route(path)
            if len(self._routes) >= _ROUTE_CACHE:
                self._routes.clear()  # a crude bound; the hot set refills in a few requests
            self._routes[path] = route
        req.route, req.module, req.version = route.name, route.module, route.version
        rolled = await self.rollback.filter(self, route, req)  # layer 6a
        if rolled is not None:
            return rolled
        if route.name == "latest":
            return await self.latest(route.module, req)
        if route.name == "list":
            return await self.list_versions(route.module, req)
        assert route.kind is not None and route.version is not None
        if not route.canonical:
            if route.kind is Kind.INFO:
                return await self.query_info(route.module, route.version, req)
            raise NotInProxyError(
                f"not found: {route.version!r} is not a canonical version", module=route.module
            )
        response = await self.artifact(route.module, route.version, route.kind, req, if_none_match)
        if self.auditor is None:
            return response
        if route.kind is Kind.ZIP:
            # Layer 6b, after artifact() so that a first request has ingested and judged.
            try:
                await self.auditor.gate(route.module, route.version)
            except BaseException:
                if response.stream is not None:
                    await self.workers.run(response.stream.close)
                raise
        response.headers.extend(self.auditor.headers(route.module, route.version))
        return response

    async def list_versions(self, module: str, req: Request) -> Response:
        """GET /{module}/@v/list: upstream's versions plus stored ones; no pseudo-versions.

        A module the vault holds only pseudo-versions of lists empty (200) when the upstream
        fails or no longer has it: the go command then asks @latest, which the vault answers.
        """
        held = await self.workers.run(self.storage.list, module)
        stored = [v for v in held if is_listable(v)]
        if self.config.offline:
            req.cache = "hit"
            if not held:
                raise NotInProxyError(OFFLINE, module=module)
            return _list_response(stored)
        data = await self._answer(module, "list", f"{escape_path(module)}/@v/list", req, bool(held))
        upstream = [v for v in data.decode("utf-8", "replace").split() if is_listable(v)]
        return _list_response([*upstream, *stored])

    async def latest(self, module: str, req: Request) -> Response:
        """GET /{module}/@latest: upstream's answer, else the newest stored version's .info.

        An upstream without @latest (a module cache's download directory, a `go-vault sync`
        tree) is read as the go command reads it: the highest version of its @v/list,
        pseudo-versions included (the list go-vault serves leaves those out).
        """
        stored = await self.workers.run(self.storage.list, module)
        if self.config.offline:
            req.cache = "hit"
            if not stored:
                raise NotInProxyError(OFFLINE, module=module)
            return await self._stored_latest(module, stored)
        try:
            data = await self._answer(
                module, "latest", f"{escape_path(module)}/@latest", req, False
            )
        except NotInProxyError:
            listed = await self._upstream_listed(module, req)
            if not listed and not stored:
                raise
            newest = semver.sort_versions([*listed, *stored])[-1]
            if newest in stored:
                req.cache = "hit"
                return await self._stored_latest(module, stored)
            info = await self.artifact(module, newest, Kind.INFO, req, None)
            return latest_response(info.body)
        except UpstreamError:
            if not stored:
                raise
            req.cache = "stale"
            return await self._stored_latest(module, stored)
        return latest_response(data)

    async def _upstream_listed(self, module: str, req: Request) -> list[str]:
        """Every canonical version in the upstream's @v/list, pseudo-versions too ([]: none)."""
        try:
            data = await self._answer(module, "list", f"{escape_path(module)}/@v/list", req, False)
        except (NotInProxyError, UpstreamError):
            return []
        words = data.decode("utf-8", "replace").split()
        return [v for v in words if semver.is_valid(v) and semver.canonical(v) == v]

    async def _stored_latest(self, module: str, stored: list[str]) -> Response:
        newest = semver.sort_versions(stored)[-1]
        info = await self.workers.run(self.storage.get, module, newest, Kind.INFO)
        return latest_response(info)

    async def _answer(
        self, module: str, what: str, upstream_path: str, req: Request, stored: bool
    ) -> bytes:
        """A list/@latest answer: fresh cache, else one shared upstream fetch, else stale/stored.

        `stored` (for lists): whether the vault holds versions of the module: when upstream
        says not found or fails, the stored versions are still listed (b"" is answered), so a
        vault keeps serving what it has.
        """
        key = (module, what)
        cached = self.answers.fresh(key)
        if cached is not None:
            req.cache = "hit"
            if cached.data is None:
                if stored:
                    return b""
                raise NotInProxyError(cached.reason, module=module)
            return cached.data
        req.cache = "miss"
        try:
            data = await self._flight.do(key, lambda: self.upstream.fetch(upstream_path))
        except NotInProxyError as e:
            self.answers.put(key, None, e.message)
            if stored:
                return b""
            raise NotInProxyError(e.message, module=module) from e
        except UpstreamError:
            stale = self.answers.stale(key)
            if stale is not None and stale.data is not None:
                req.cache = "stale"
                log.warning("serving stale %s for %s: upstream failed", what, module)
                return stale.data
            if stored:
                req.cache = "stale"
                return b""
            raise
        self.answers.put(key, data)
        return data

    async def query_info(self, module: str, query: str, req: Request) -> Response:
        """GET /{module}/@v/{query}.info for a non-canonical query (a branch, `v1.2`): relayed."""
        if self.config.offline:
            raise NotInProxyError(OFFLINE, module=module, version=query)
        req.cache = "miss"
        path = f"{escape_path(module)}/@v/{escape_version(query)}.info"
        try:
            return Response(200, await self.upstream.fetch(path), "application/json")
        except NotInProxyError as e:
            raise NotInProxyError(e.message, module=module, version=query) from e

    async def artifact(
        self, module: str, version: str, kind: Kind, req: Request, if_none_match: str | None
    ) -> Response:
        """GET /{module}/@v/{version}.info|.mod|.zip: from the vault, ingesting it first if new."""
        key = (module, version, kind)
        blob = self.blobs.get(key)
        if blob is not None:
            req.cache = "hit"
            return _blob_response(blob.data, blob.etag, kind, if_none_match)
        if kind is Kind.ZIP:
            known = self._zip_files.get(key)
            if known is not None:
                # A stored zip never changes: serving it again is a dict lookup and a sendfile.
                req.cache = "hit"
                return _file_response(*known, if_none_match)
        if kind is Kind.MOD and not self.config.offline:
            early = await self._early_mod(module, version, req)
            if early is not None:
                # Not stored yet (its zip is being checked): not to be kept as immutable.
                headers = [(b"cache-control", b"no-cache")]
                return Response(200, early, _CONTENT_TYPES[kind], headers)
        else:
            await self._ensure_stored(module, version, req)
        blob = self.blobs.get(key)  # an ingest just now leaves .info and .mod here
        if blob is not None:
            return _blob_response(blob.data, blob.etag, kind, if_none_match)
        try:
            if kind is Kind.ZIP:
                local = await self.workers.run(self.storage.local_path, module, version, kind)
                if local is not None:
                    st = await self.workers.run(os.stat, local)
                    if st.st_size <= self._small_zip:
                        # Sent from memory like .mod: for a typical module zip, setting up a
                        # file send costs more than the bytes.
                        data = await self.workers.run(local.read_bytes)
                        blob = self.blobs.put(key, data)
                        return _blob_response(data, blob.etag, kind, if_none_match)
                    known = (local, st.st_size, f'"{st.st_size:x}-{st.st_mtime_ns:x}"')
                    if len(self._zip_files) >= _ROUTE_CACHE:
                        self._zip_files.clear()
                    self._zip_files[key] = known
                    return _file_response(*known, if_none_match)
                url = await self.workers.run(self.storage.redirect_url, module, version, kind)
                if url is not None:
                    # Object storage sends the bytes; the URL may expire, so it is not cached.
                    location = [(b"location", url.encode()), (b"cache-control", b"no-store")]
                    return Response(302, headers=location)
                stream = await self.workers.run(self.storage.open_blob, module, version, kind)
                if if_none_match == stream.etag:
                    await self.workers.run(stream.close)
                    return Response(304, headers=_cache_headers(stream.etag))
                return Response(
                    200,
                    content_type=_CONTENT_TYPES[Kind.ZIP],
                    headers=_cache_headers(stream.etag),
                    stream=stream,
                )
            data = await self.workers.run(self.storage.get, module, version, kind)
        except (BlobNotFoundError, FileNotFoundError) as e:
            # Stored .info but no other blob: an operator deleted it, or a crash mid-ingest.
            raise StorageError(
                f"the vault holds this version's .info but not its .{kind.value}",
                module=module,
                version=version,
                hint="ask the operator to repair the vault",
            ) from e
        blob = self.blobs.put(key, data)
        return _blob_response(data, blob.etag, kind, if_none_match)

    async def _early_mod(self, module: str, version: str, req: Request) -> bytes | None:
        """A new version's .mod as soon as the ingest has it (Ingester.ingest_mod); None when
        the version is stored."""
        mod = await self._unless_absent(
            module, version, req, lambda: self.ingester.ingest_mod(module, version, req.trace_id)
        )
        if mod is None:
            req.cache = "hit"
        else:
            req.cache, req.decision = "miss", "ingesting"
        return mod

    async def _unless_absent(
        self, module: str, version: str, req: Request, ingest: Callable[[], Awaitable[T]]
    ) -> T:
        """`ingest()`, unless the upstream was lately found not to have module@version (that
        answer again); a new not-found is remembered."""
        negative = self.answers.fresh((module, version))
        if negative is not None and negative.data is None:
            req.cache = "hit"
            raise NotInProxyError(negative.reason, module=module, version=version)
        try:
            return await ingest()
        except NotInProxyError as e:
            self.answers.put((module, version), None, e.message)
            raise NotInProxyError(e.message, module=module, version=version) from e

    async def _ensure_stored(self, module: str, version: str, req: Request) -> None:
        if self.config.offline:
            if not await self.ingester.stored(module, version):
                raise NotInProxyError(OFFLINE, module=module, version=version)
            req.cache = "hit"
            return
        ingested = await self._unless_absent(
            module, version, req, lambda: self.ingester.ingest(module, version, req.trace_id)
        )
        req.cache = "hit" if ingested is None else "miss"
        if ingested is not None:
            req.decision = ingested.decision or "stored"

    def _stored(self, ingested: Ingested) -> None:
        """A version just stored: its small blobs kept for the requests that follow at once
        (the go command asks for .info and .zip right after the .mod)."""
        key = (ingested.module, ingested.version)
        self.blobs.put((*key, Kind.INFO), ingested.info)
        self.blobs.put((*key, Kind.MOD), ingested.mod)
        if ingested.zip is not None and len(ingested.zip) <= self._small_zip and self.storage.local:
            # (An object store sends its zips itself, through redirects.)
            self.blobs.put((*key, Kind.ZIP), ingested.zip)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def _module(escaped: str) -> str:
    try:
        return unescape_path(escaped)
    except InvalidModuleError as e:
        raise BadRequestError(e.message, hint="module paths are case-encoded: !x for X") from e


def _allow(methods: str) -> tuple[bytes, bytes]:
    """The header a 405 must carry (RFC 9110 section 15.5.6): the methods the route takes."""
    return (b"allow", methods.encode())


def _cache_headers(etag: str) -> list[tuple[bytes, bytes]]:
    return [(b"cache-control", _IMMUTABLE.encode()), (b"etag", etag.encode())]


def _blob_response(data: bytes, etag: str, kind: Kind, if_none_match: str | None) -> Response:
    if if_none_match == etag:
        return Response(304, headers=_cache_headers(etag))
    return Response(200, data, _CONTENT_TYPES[kind], _cache_headers(etag))


def _file_response(path: Path, size: int, etag: str, if_none_match: str | None) -> Response:
    if if_none_match == etag:
        return Response(304, headers=_cache_headers(etag))
    headers = _cache_headers(etag)
    return Response(
        200, content_type=_CONTENT_TYPES[Kind.ZIP], headers=headers, file=path, size=size
    )


def latest_response(info: bytes) -> Response:
    """@latest: the .info of a version, not as immutable (a new release, a rollback moves it)."""
    return Response(200, info, "application/json", [(b"cache-control", b"no-cache")])


def _list_response(versions: list[str]) -> Response:
    unique = semver.sort_versions(set(versions))
    body = "".join(v + "\n" for v in unique).encode()
    return Response(200, body, _TEXT, [(b"cache-control", b"no-cache")])
