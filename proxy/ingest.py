"""Ingest: every new module version is fetched, checked, hashed and audited before it is stored.

Order (nothing is stored unless every step passes): fetch .info, .mod and .zip from the upstream
chain -> x/mod/zip rules (scanner.modzip.check_zip) -> .info Version equals the request ->
.mod equals the zip's go.mod -> h1: (scanner.dirhash) -> the AUDITOR HOOK (license policy) ->
store .zip, .mod, then .info last: a version counts as stored once its .info is.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import tempfile
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from prometheus_client import Counter

from scanner.dirhash import hash_gomod, hash_zip, read_zip_entry
from scanner.errors import GoProxyScanError, InputError
from scanner.gomod import parse_gomod
from scanner.module import escape_path, escape_version
from scanner.modzip import check_zip
from scanner.verdict import Verdict

from .errors import (
    ImmutabilityError,
    IngestRefusedError,
    NotInProxyError,
    PolicyRejectedError,
    ProxyError,
)
from .limits import IngestSlots
from .observability import AuditLog, Metrics, Tracer
from .scratch import ScratchDir, sweep
from .singleflight import SingleFlight
from .storage import Kind, Storage
from .upstream import Upstream
from .workers import Workers


class Auditor(Protocol):
    """The license auditor's hook, run on every new module version after the zip checks.

    `audit(module, version, zip_file, h1)` gets the checked zip (a path or its bytes) and its
    `h1:`; it returns a Verdict, or None when it has no opinion. The checked bytes are stored
    whatever the decision: a refused version's `.info` and `.mod` stay servable, because minimal
    version selection reads the go.mod of versions it never builds, and only the code (`.zip`)
    is refused (403, by the gateway's Auditor gate). The decision is in the audit log either way.
    It runs in the worker pool (it may block).
    """

    def audit(
        self, module: str, version: str, zip_file: Path | bytes, h1: str
    ) -> Verdict | None: ...


@dataclass(frozen=True, slots=True)
class Ingested:
    """What ingest stored for one module version."""

    module: str
    version: str
    h1: str
    gomod_h1: str
    zip_size: int
    decision: str  # the auditor's decision, or "" when no auditor ran
    info: bytes  # the stored .info and .mod, so the request that ingested need not read them back
    mod: bytes
    zip: bytes | None = None  # the stored .zip, when it was small enough to be read whole


def _refuse(module: str, version: str, what: str) -> IngestRefusedError:
    return IngestRefusedError(
        f"refused by go-vault ingest: {what}",
        module=module,
        version=version,
        hint="the upstream's copy breaks the Go module rules; nothing was stored",
    )


def check_info(module: str, version: str, info: bytes) -> None:
    """The .info names the requested version (and a readable time, if any)."""
    try:
        fields = json.loads(info)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _refuse(module, version, f".info is not JSON ({e})") from e
    if not isinstance(fields, dict) or fields.get("Version") != version:
        got = fields.get("Version") if isinstance(fields, dict) else None
        raise _refuse(module, version, f".info Version is {got!r}, not the requested {version}")
    stamp = fields.get("Time")
    if stamp is not None and not is_rfc3339(stamp):
        raise _refuse(module, version, f".info Time {stamp!r} is not RFC 3339")


# What the go command's time.Time.UnmarshalJSON takes: date, "T", time, zone ("Z" or ±hh:mm).
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def is_rfc3339(stamp: object) -> bool:
    """Whether `stamp` is a time the go command reads (Python also reads "2024-01-01" etc.)."""
    if not isinstance(stamp, str) or not _RFC3339.fullmatch(stamp):
        return False
    try:
        datetime.fromisoformat(stamp)  # the fields' ranges: month 13, hour 25, ...
    except ValueError:
        return False
    return True


def check_artifacts(
    module: str, version: str, info: bytes, mod: bytes, zip_path: Path, data: bytes | None = None
) -> str:
    """Every ingest check on the fetched files; returns the zip's h1:. Blocking. `data`: the
    zip's bytes when they are in memory already (read from there, not the file)."""
    check_info(module, version, info)
    try:
        # hash_zip below inflates every file, checking its CRC and declared size (and stops
        # one byte past it), so check_zip need not look at the contents at all.
        source = data if data is not None else zip_path
        # The central directory is parsed once: check_zip hands it on.
        entries = check_zip(source, module, version, read_contents=False, inflate=False).entries
        h1 = hash_zip(source, entries)
        name = f"{module}@{version}/go.mod"
        gomod = next((entry for entry in entries if entry.filename == name), None)
        zip_gomod = read_zip_entry(source, gomod) if gomod is not None else None
    except InputError as e:
        raise _refuse(module, version, e.message) from e
    # Without a go.mod in the zip, the go command synthesizes "module <path>" (maybe quoted).
    expected = (
        [zip_gomod]
        if zip_gomod is not None
        else [f"module {module}\n".encode(), f'module "{module}"\n'.encode()]
    )
    if mod not in expected:
        raise _refuse(module, version, ".mod differs from the go.mod inside the .zip")
    return h1


def warm_up() -> None:
    """Every ingest check once, on a made-up module in memory (nothing is stored): the first
    real ingest then does not wait for the code it runs to load (about 20 ms, measured)."""
    module, version = "example.com/warm-up", "v1.0.0"
    mod = f"module {module}\n".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{module}@{version}/go.mod", mod)
        z.writestr(f"{module}@{version}/a.go", "package a\n")
    info = b'{"Version":"v1.0.0"}'
    check_artifacts(module, version, info, mod, Path("warm-up.zip"), buf.getvalue())
    _names_module(mod, module)


def _answer(waiters: list[asyncio.Future[bytes | None]], mod: bytes | None) -> None:
    for waiter in waiters:
        if not waiter.done():  # else its request went away
            waiter.set_result(mod)


def _names_module(mod: bytes, module: str) -> bool:
    """Whether `mod` is a go.mod (read as the go command reads a dependency's) for `module`."""
    if len(mod) > _EARLY_MOD_MAX:
        return False  # parsed with the zip, off the event loop
    try:
        return parse_gomod(mod, lax=True).module == module
    except GoProxyScanError:
        return False


_EARLY_MOD_MAX = 64 << 10
_FAILED_KEPT = 10_000  # versions whose failed ingest an Ingester remembers (ingest_mod)
_CHECK_HERE = 256 << 10  # zips up to this size are checked on the event loop
_SCRATCH = "go-vault-ingest-"  # <TMPDIR>/go-vault-ingest-*: a process's zips being fetched


class VersionPollutionError(ImmutabilityError):
    """The upstream re-tagged a version the vault holds with other bytes (version pollution).

    Refused like any second write (the stored bytes stay); also an alert: its own audit event
    and go_vault_version_pollution_total, with both h1: values for the investigation.
    """

    def __init__(self, cause: ImmutabilityError, stored_h1: str, upstream_h1: str) -> None:
        super().__init__(
            cause.message
            + f" (version pollution: stored h1 {stored_h1}, upstream now serves {upstream_h1})",
            module=cause.module,
            version=cause.version,
            hint=cause.hint,
        )
        self.stored_h1 = stored_h1
        self.upstream_h1 = upstream_h1


class Ingester:
    """Brings module versions into the vault, once: concurrent requests share one ingest."""

    def __init__(
        self,
        storage: Storage,
        upstream: Upstream,
        *,
        workers: Workers,
        audit_log: AuditLog,
        metrics: Metrics,
        tracer: Tracer,
        auditor: Auditor | None = None,
        slots: IngestSlots | None = None,
        on_stored: Callable[[Ingested], None] | None = None,
    ) -> None:
        self.storage = storage
        self.on_stored = on_stored  # called on the loop with each version stored
        self.slots = slots if slots is not None else IngestSlots(0)  # proxy/limits.py
        self.upstream = upstream
        self.workers = workers
        self.audit_log = audit_log
        self.metrics = metrics
        self.tracer = tracer
        self.auditor = auditor
        self._flight: SingleFlight[Ingested | None] = SingleFlight()
        # Requests waiting for just the .mod of a version being ingested (ingest_mod).
        self._mods: dict[tuple[str, str], list[asyncio.Future[bytes | None]]] = {}
        # Versions whose ingest failed: their .mod waits for the next ingest's outcome (it is
        # not answered early again), with the /go.mod h1 of the .mod answered early, or "".
        self._failed: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._scratch_dir: ScratchDir | None = None
        sweep(Path(tempfile.gettempdir()), _SCRATCH)  # what killed servers left
        self.pollution = Counter(
            "go_vault_version_pollution",
            "Upstream re-tags of a stored module version with different bytes (refused)",
            registry=metrics.registry,
        )

    async def ingest(self, module: str, version: str, trace_id: str) -> Ingested | None:
        """Ingest module@version unless stored; None if it already was (a cache hit)."""
        if await self.stored(module, version):
            return None
        return await self._flight.do(
            (module, version), lambda: self._ingest(module, version, trace_id)
        )

    async def stored(self, module: str, version: str) -> bool:
        """Whether module@version is in the vault (its .info is)."""
        if self.storage.local:
            return self.storage.exists(module, version, Kind.INFO)
        return await self.workers.run(self.storage.exists, module, version, Kind.INFO)

    async def ingest_mod(self, module: str, version: str, trace_id: str) -> bytes | None:
        """The .mod of module@version, None when it is stored already. Else it comes from the
        ingest as soon as it is fetched, if it is a go.mod naming `module`, while the zip is
        checked and the version stored behind it: the go command reads a module graph one
        level of .mod files at a time, so a cold graph otherwise waits on every zip check in
        turn. Without such a .mod (or when the ingest had fetched it already, or an earlier
        ingest of the version failed) this waits for the ingest and has its outcome. A .mod
        answered early that differs from the one a later ingest stores is a security event."""
        if await self.stored(module, version):
            return None
        key = (module, version)
        # A future of its own: a request that goes away cancels only its own wait.
        early: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._mods.setdefault(key, []).append(early)
        task = self._flight.start(key, lambda: self._ingest(module, version, trace_id))
        mod = await early  # None: not early, the ingest's outcome decides
        if mod is not None:
            return mod
        ingested = await asyncio.shield(task)
        return ingested.mod if ingested is not None else None

    async def _ingest(self, module: str, version: str, trace_id: str) -> Ingested | None:
        """The ingest, under the vault's claim on it; None when another server process sharing
        the vault stored the version first."""
        try:
            release = await self._claim(module, version)
            if release is None:
                return None
            try:
                if self.storage.claims and await self.stored(module, version):
                    return None  # stored between the look before and the claim
                return await self._ingest_logged(module, version, trace_id)
            finally:
                release()
        finally:
            _answer(self._mods.pop((module, version), []), None)  # the outcome decides

    async def _claim(self, module: str, version: str) -> Callable[[], None] | None:
        """The vault's claim on ingesting module@version (Storage.claim), waited for while
        another process holds it; None once that one has stored the version (if it failed,
        this one tries in turn)."""
        wait = 0.001
        while (release := self.storage.claim(module, version)) is None:
            await asyncio.sleep(wait)
            wait = min(wait * 2, 0.005)  # a lock and a stat: cheap to look often
            if await self.stored(module, version):
                return None
        return release

    async def _ingest_logged(self, module: str, version: str, trace_id: str) -> Ingested:
        start = time.perf_counter()
        base = f"{escape_path(module)}/@v/{escape_version(version)}"
        with self.tracer.span("go_vault.ingest", module=module, version=version):
            try:
                async with self.slots:
                    result = await self._fetch_check_store(module, version, base)
            except NotInProxyError:
                self.metrics.ingests.labels("not_found").inc()
                raise
            except VersionPollutionError as e:
                self.metrics.ingests.labels("security").inc()
                self.pollution.inc()
                self.audit_log.event(
                    "security",
                    kind="version-pollution",
                    trace_id=trace_id,
                    module=module,
                    version=version,
                    decision="security",
                    status=e.status,
                    stored_h1=e.stored_h1,
                    upstream_h1=e.upstream_h1,
                    reason=e.message,
                    latency_ms=round((time.perf_counter() - start) * 1000, 2),
                )
                raise
            except ProxyError as e:
                outcome = {
                    PolicyRejectedError: "rejected",
                    ImmutabilityError: "security",
                    IngestRefusedError: "refused",
                }.get(type(e), "failed")
                self.metrics.ingests.labels(outcome).inc()
                self.audit_log.event(
                    "security" if outcome == "security" else "ingest",
                    trace_id=trace_id,
                    module=module,
                    version=version,
                    decision=outcome,
                    status=e.status,
                    reason=e.message,
                    latency_ms=round((time.perf_counter() - start) * 1000, 2),
                )
                raise
        served_early = self._failed.pop((module, version), "")
        if served_early and served_early != result.gomod_h1:
            self._changed_early_mod(result, served_early, trace_id)
        if self.on_stored is not None:
            self.on_stored(result)
        self.metrics.ingests.labels("stored").inc()
        self.audit_log.event(
            "ingest",
            trace_id=trace_id,
            module=module,
            version=version,
            decision="stored",
            verdict=result.decision or None,
            h1=result.h1,
            gomod_h1=result.gomod_h1,
            bytes=result.zip_size,
            latency_ms=round((time.perf_counter() - start) * 1000, 2),
        )
        return result

    def _changed_early_mod(self, result: Ingested, served_early: str, trace_id: str) -> None:
        """The .mod answered early, before its zip was refused, is not the .mod stored now."""
        self.pollution.inc()
        self.audit_log.event(
            "security",
            kind="version-pollution",
            trace_id=trace_id,
            module=result.module,
            version=result.version,
            decision="stored",
            early_gomod_h1=served_early,
            gomod_h1=result.gomod_h1,
            reason="the upstream changed this version's .mod after go-vault had answered it"
            " (its zip was refused then): clients that fetched the first one fail with"
            " SECURITY ERROR against their go.sum",
        )

    def _remember_failure(self, key: tuple[str, str], served_early: str) -> None:
        self._failed[key] = served_early or self._failed.get(key, "")
        self._failed.move_to_end(key)
        if len(self._failed) > _FAILED_KEPT:
            self._failed.popitem(last=False)

    async def _fetch_check_store(self, module: str, version: str, base: str) -> Ingested:
        # An unguessable name in a directory of our own: no mkdir/rmtree per ingest on the loop.
        zip_path = self._scratch() / f"{random.getrandbits(128):032x}.zip"
        key = (module, version)
        served_early = ""  # the /go.mod h1 of the .mod answered before the zip's checks
        try:
            answered = False

            def early(info: bytes, mod: bytes) -> None:
                # A version whose ingest failed before answers only with the outcome: its
                # .mod did not belong to a valid version then.
                nonlocal answered, served_early
                if self._mods.get(key) and key not in self._failed:
                    check_info(module, version, info)  # cheap; the zip's checks take the time
                    if _names_module(mod, module):
                        _answer(self._mods.pop(key), mod)
                        answered, served_early = True, hash_gomod(mod)

            info, mod, data = await self.upstream.fetch_version(base, zip_path, early)
            if answered:
                await asyncio.sleep(0)  # those requests answer before the checks below
            size = len(data) if data is not None else zip_path.stat().st_size
            if self.auditor is None and size <= _CHECK_HERE:
                # A small zip's checks take less time than a trip to the pool and back (a cold
                # `go mod download` waits on ingest at every graph level); the store goes.
                data = data if data is not None else zip_path.read_bytes()
                h1 = check_artifacts(module, version, info, mod, zip_path, data)
                return await self.workers.run(
                    self._store, module, version, info, mod, zip_path, h1, "", data
                )
            if data is not None:  # read whole from a file:// upstream; the auditor wants a file
                await self.workers.run(zip_path.write_bytes, data)
            return await self.workers.run(self._check_store, module, version, info, mod, zip_path)
        except ProxyError as e:
            if not isinstance(e, NotInProxyError):
                self._remember_failure(key, served_early)
            raise
        finally:
            # Gone already when stored; after a failure or a cancellation, one unlink (no await:
            # a cancelled task cannot wait for a worker).
            zip_path.unlink(missing_ok=True)

    def _check_store(
        self, module: str, version: str, info: bytes, mod: bytes, zip_path: Path
    ) -> Ingested:
        """The blocking half of ingest: every check, the AUDITOR HOOK, then the vault write."""
        h1 = check_artifacts(module, version, info, mod, zip_path)
        decision = ""
        if self.auditor is not None:
            # AUDITOR HOOK: the license auditor judges the exact bytes named by h1. A refusal
            # is not raised here: the gate refuses the .zip, the metadata stays servable.
            verdict = self.auditor.audit(module, version, zip_path, h1)
            if verdict is not None:
                decision = verdict.decision.value
        return self._store(module, version, info, mod, zip_path, h1, decision, None)

    def _store(
        self,
        module: str,
        version: str,
        info: bytes,
        mod: bytes,
        zip_path: Path,
        h1: str,
        decision: str,
        data: bytes | None,
    ) -> Ingested:
        """The checked version into the vault (blocking). `data`: the zip's bytes, if read."""
        zip_size = len(data) if data is not None else zip_path.stat().st_size
        # .info last: a version counts as stored once its .info is.
        blobs: list[tuple[Kind, bytes | Path]] = [
            (Kind.ZIP, data if data is not None else zip_path),
            (Kind.MOD, mod),
            (Kind.INFO, info),
        ]
        try:
            self.storage.put_version(module, version, blobs)
        except ImmutabilityError as e:
            raise VersionPollutionError(e, *self._stored_h1(module, version, h1, mod)) from e
        zip_path.unlink(missing_ok=True)  # in the worker: the loop finds nothing to remove
        return Ingested(module, version, h1, hash_gomod(mod), zip_size, decision, info, mod, data)

    def _scratch(self) -> Path:
        """This process's private directory for zips being ingested (made on first use; one
        left by a killed server is removed then)."""
        if self._scratch_dir is None:
            self._scratch_dir = ScratchDir(Path(tempfile.gettempdir()), _SCRATCH)
        return self._scratch_dir.path

    def close(self) -> None:
        """Remove the scratch directory (a zip still being fetched is abandoned with it)."""
        if self._scratch_dir is not None:
            self._scratch_dir.close()
            self._scratch_dir = None

    def _stored_h1(self, module: str, version: str, h1: str, mod: bytes) -> tuple[str, str]:
        """(stored, upstream) h1: of the blob the upstream changed: the zip's, else go.mod's."""
        if self.storage.exists(module, version, Kind.ZIP):
            # Hashed from the vault's bytes: the same h1: go.sum holds for what the vault served.
            stored = hash_zip(self.storage.get(module, version, Kind.ZIP))
            if stored != h1:
                return stored, h1
        return hash_gomod(self.storage.get(module, version, Kind.MOD)), hash_gomod(mod)


def rejection(verdict: Verdict) -> PolicyRejectedError:
    """The 403 the go command prints for a verdict that is not PASS: what, why, what to do.

    Worded by the rule that decided (license, vulnerability, denied module): proxy/auditor.py.
    """
    from .auditor import rejection as worded

    return worded(verdict)
