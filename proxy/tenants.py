"""Tenants: `/t/<tenant>/` base paths, each with its own policy, storage prefix and quota."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from scanner.errors import GoProxyScanError, InputError, yaml_problem
from scanner.yamlfile import safe_load

from .auth import TokenFile
from .errors import ProxyError
from .rollback import StateFile, state_file
from .storage import BlobNotFoundError, BlobStream, Kind, Storage, open_storage

if TYPE_CHECKING:
    from .app import Gateway, Receive, Scope, Send
    from .config import VaultConfig

log = logging.getLogger("go_vault")

PREFIX = "/t/"
QUOTA_STATE = "quota.json"  # a tenant's usage, in <tenant vault>/.go-vault/ (or its S3 prefix)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def is_tenant_name(name: str) -> bool:
    """A name a tenant can have: one /t/<name>/ path segment of [a-z0-9-], 1-32 long."""
    return bool(_NAME.match(name))


class QuotaExceededError(ProxyError):
    """A tenant's vault would go over its quota: 507, and nothing of the version is stored."""

    status = 507


@dataclass(frozen=True, slots=True)
class Tenant:
    """One namespace: served at /t/<name>/, stored under <storage>/t/<name>."""

    name: str
    policy: str | None = None
    license_whitelist: str | None = None
    quota_bytes: int = 0  # 0: no limit
    quota_modules: int = 0


def load_tenants(path: str | Path) -> dict[str, Tenant]:
    """The tenants file: `{name: {policy, license_whitelist, quota_bytes, quota_modules}}`."""
    try:
        data = safe_load(Path(path).read_text()) or {}
    except OSError as e:
        raise InputError(f"tenants file unreadable: {e.strerror}", path=str(path)) from e
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise InputError(f"tenants file is not YAML: {problem}", path=str(path), line=line) from e
    if not isinstance(data, dict):
        raise InputError("tenants file must map tenant names to settings", path=str(path))
    known = {f.name for f in dataclasses.fields(Tenant)} - {"name"}
    out: dict[str, Tenant] = {}
    for name, settings in data.items():
        if not isinstance(name, str) or not is_tenant_name(name):
            raise InputError(
                f"tenant name {name!r} is not [a-z0-9-]{{1,32}}", path=str(path), hint="rename it"
            )
        settings = settings or {}
        unknown = set(settings) - known if isinstance(settings, dict) else {"(not a mapping)"}
        if unknown:
            raise InputError(
                f"tenant {name}: unknown settings {sorted(unknown)}",
                path=str(path),
                hint=f"known: {', '.join(sorted(known))}",
            )
        try:
            out[name] = Tenant(
                name,
                settings.get("policy"),
                settings.get("license_whitelist"),
                int(settings.get("quota_bytes", 0)),
                int(settings.get("quota_modules", 0)),
            )
        except (TypeError, ValueError) as e:
            raise InputError(f"tenant {name}: {e}", path=str(path)) from e
    return out


class QuotaStorage(Storage):
    """A tenant's vault: the inner backend, refusing a new version that would pass the quota.

    The tenant's usage is one small state document in its vault (`QUOTA_STATE`: bytes per
    module), shared by every process and replica serving the vault: `put_version` reserves the
    version's bytes in it under the vault's lock (flock; compare-and-swap on S3), checking the
    quota in the same step, then stores, and gives the reservation back if the store fails. So
    two servers (or `--workers N`) cannot both take the last place. The check comes before any
    byte is written: a refused version leaves nothing behind. The document is counted from the
    backend when absent, empty or unreadable (a walk of every blob, so before taking the lock);
    a delete takes the blob's bytes off it. A tenant without a quota keeps no document (and
    empties one left from a time it had a quota).
    """

    def __init__(self, inner: Storage, tenant: Tenant, state: StateFile) -> None:
        self.inner = inner
        self.local = inner.local
        self.claims = inner.claims
        self.tenant = tenant
        self.state = state
        self._unmetered = False  # a tenant without a quota emptied a stale document once

    def _count(self) -> dict[str, int]:
        """The usage counted from the backend: a `list` per module and kind, and on a backend
        without local files a `get` per blob, so never under the document's lock."""
        usage: dict[str, int] = {}
        for module in self.inner.modules():
            total = 0
            for kind in Kind:
                for version in self.inner.list(module, kind):
                    local = self.inner.local_path(module, version, kind)
                    total += (
                        local.stat().st_size
                        if local is not None
                        else len(self.inner.get(module, version, kind))
                    )
            usage[module] = total
        return usage

    def _usage(self, data: bytes | None, warn: bool = True) -> dict[str, int] | None:
        """The usage the document holds; None when it is absent, empty or does not read."""
        if not data:
            return None
        try:
            doc = json.loads(data)
            modules = doc["modules"]
            if isinstance(modules, dict) and all(isinstance(v, int) for v in modules.values()):
                return {str(k): int(v) for k, v in modules.items()}
        except (ValueError, TypeError, KeyError):
            pass
        if warn:
            log.warning(
                "tenant %s: quota usage %s does not read; recounted",
                self.tenant.name,
                self.state.where,
            )
        return None

    @staticmethod
    def _doc(usage: dict[str, int]) -> bytes:
        return json.dumps(
            {"version": 1, "bytes": sum(usage.values()), "modules": usage},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def _reserve(self, module: str, version: str, incoming: int) -> None:
        t = self.tenant
        # No usable document: count before the lock (flock, or each compare-and-swap retry).
        held = self._usage(self.state.read(), warn=False)
        counted = self._count() if held is None else None

        def change(data: bytes | None) -> bytes:
            usage = self._usage(data)
            if usage is None:
                # Our count, unless the document was emptied since we looked (rare): count now.
                usage = dict(counted) if counted is not None else self._count()
            used = sum(usage.values())
            if t.quota_modules and module not in usage and len(usage) + 1 > t.quota_modules:
                raise QuotaExceededError(
                    f"tenant {t.name} holds {len(usage)} modules, its quota",
                    module=module,
                    version=version,
                    hint="ask the operator to raise quota_modules",
                )
            if t.quota_bytes and used + incoming > t.quota_bytes:
                raise QuotaExceededError(
                    f"tenant {t.name} would hold {used + incoming} bytes,"
                    f" over its quota of {t.quota_bytes}",
                    module=module,
                    version=version,
                    hint="ask the operator to raise quota_bytes",
                )
            usage[module] = usage.get(module, 0) + incoming
            return self._doc(usage)

        self.state.update(change)

    def _release(self, module: str, size: int) -> None:
        """Give back `size` bytes of `module` reserved by `_reserve` and not stored."""

        try:
            self.state.update(lambda data: self._less(data, module, size))
        except (GoProxyScanError, OSError) as e:
            # Counted too high until the document is recounted: stricter, never over quota.
            log.error(
                "tenant %s: quota reservation of %s not given back: %s (%s)",
                self.tenant.name,
                module,
                e,
                self.state.where,
            )

    def _less(self, data: bytes | None, module: str, size: int | None) -> bytes:
        """The document with `size` bytes of `module` taken off; left empty (recounted at the
        next write) when it is empty or does not read, or `size` is unknown."""
        usage = self._usage(data)
        if usage is None or size is None:
            return b""
        left = usage.get(module, 0) - size
        if left > 0:
            usage[module] = left
        else:
            usage.pop(module, None)
        return self._doc(usage)

    def put_version(
        self, module: str, version: str, blobs: Sequence[tuple[Kind, bytes | Path]]
    ) -> list[bool]:
        t = self.tenant
        if not (t.quota_modules or t.quota_bytes):
            if not self._unmetered:
                self._unmetered = True
                if self.state.read():
                    self.state.update(lambda _: b"")  # untracked writes follow: recount later
            return self.inner.put_version(module, version, blobs)
        sizes = [len(d) if isinstance(d, bytes) else d.stat().st_size for _, d in blobs]
        self._reserve(module, version, sum(sizes))
        try:
            stored = self.inner.put_version(module, version, blobs)
        except BaseException:
            self._release(module, sum(sizes))
            raise
        # A blob another process stored first was counted already.
        unstored = sum(size for size, new in zip(sizes, stored, strict=True) if not new)
        if unstored:
            self._release(module, unstored)
        return stored

    def put(self, module: str, version: str, kind: Kind, data: bytes | Path) -> bool:
        return self.put_version(module, version, [(kind, data)])[0]

    def get(self, module: str, version: str, kind: Kind) -> bytes:
        return self.inner.get(module, version, kind)

    def exists(self, module: str, version: str, kind: Kind) -> bool:
        return self.inner.exists(module, version, kind)

    def list(self, module: str, kind: Kind = Kind.INFO) -> list[str]:
        return self.inner.list(module, kind)

    def delete(self, module: str, version: str, kind: Kind) -> bool:
        metered = self.tenant.quota_modules or self.tenant.quota_bytes
        size = self._size(module, version, kind) if metered else None
        deleted = self.inner.delete(module, version, kind)
        if deleted:
            self.state.update(lambda data: self._less(data, module, size))
        return deleted

    def _size(self, module: str, version: str, kind: Kind) -> int | None:
        """The stored blob's size (None: not stored), without reading it."""
        try:
            blob = self.inner.open_blob(module, version, kind)
        except BlobNotFoundError:
            return None
        blob.close()
        return blob.size

    def modules(self) -> Iterator[str]:
        return self.inner.modules()

    def local_path(self, module: str, version: str, kind: Kind) -> Path | None:
        return self.inner.local_path(module, version, kind)

    def redirect_url(self, module: str, version: str, kind: Kind) -> str | None:
        return self.inner.redirect_url(module, version, kind)

    def open_blob(self, module: str, version: str, kind: Kind, chunk: int = 1 << 20) -> BlobStream:
        return self.inner.open_blob(module, version, kind, chunk)

    def check(self) -> None:
        self.inner.check()

    def claim(self, module: str, version: str) -> Callable[[], None] | None:
        return self.inner.claim(module, version)


def tenant_config(config: VaultConfig, tenant: Tenant) -> VaultConfig:
    """The root config narrowed to one tenant: base path, storage prefix, policy.

    A tenant that names no policy (neither `policy` nor `license_whitelist`) is judged by the
    root's: it was not judged at all, so a tenant served what the root refuses.
    """
    own = tenant.policy is not None or tenant.license_whitelist is not None
    return dataclasses.replace(
        config,
        base_path=f"{config.base_path.rstrip('/')}{PREFIX}{tenant.name}",
        storage=f"{config.storage.rstrip('/')}/t/{tenant.name}",
        policy=tenant.policy if own else config.policy,
        license_whitelist=tenant.license_whitelist if own else config.license_whitelist,
        tenant=tenant.name,
    )


class TenantRouter:
    """ASGI: /t/<tenant>/… goes to that tenant's Gateway, everything else to the root one."""

    def __init__(self, root: Gateway, tenants: dict[str, Gateway]) -> None:
        self.root = root
        self.tenants = tenants
        self._prefix = root.config.base_path.rstrip("/") + PREFIX

    @property
    def gateways(self) -> list[Gateway]:
        return [self.root, *self.tenants.values()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(self._prefix):
            name = path[len(self._prefix) :].partition("/")[0]
            gateway = self.tenants.get(name)
            if gateway is not None:
                await gateway(scope, receive, send)
                return
        await self.root(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for gateway in self.gateways:
                    if gateway.auditor is not None:
                        gateway.auditor.install_sighup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for gateway in self.gateways:
                    await gateway.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def with_tenants(
    config: VaultConfig,
    build: Callable[[VaultConfig, Storage | None, TokenFile | None], Gateway],
) -> Gateway | TenantRouter:
    """The app `go-vault serve` runs: the root Gateway, routed to tenants when configured.

    Every gateway reads the one token file through one `TokenFile`: a broken version of it is
    logged once, not once per gateway.
    """
    tokens = TokenFile(config.auth_tokens) if config.auth_tokens else None
    root = build(config, None, tokens)
    if not config.tenants:
        return root
    gateways: dict[str, Any] = {}
    for name, tenant in load_tenants(config.tenants).items():
        narrowed = tenant_config(config, tenant)
        state = state_file(narrowed.storage, QUOTA_STATE)
        storage = QuotaStorage(open_storage(narrowed.storage), tenant, state)
        gateways[name] = build(narrowed, storage, tokens)
    return TenantRouter(root, gateways)
