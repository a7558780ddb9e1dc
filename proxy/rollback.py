"""Semantic-version rollback: hide bad versions from @v/list and @latest, pin @latest, undo.

The state is one small JSON document kept in the vault (a file beside a filesystem vault's
modules, an object in an S3 bucket), so every replica sharing the vault applies the same
rollbacks. Each change appends an event to the document's history (who, when, why) and is
written to the audit log by the command that made it.

Semantics, as the go command sees them:
- a rolled-back version is left out of `@v/list` and `@latest`, and a direct request for its
  `.info`, `.mod` or `.zip` answers 403 with the reason (the go command prints the body);
- a pin fixes `@latest` to one version and hides newer versions from `@v/list` (the go command
  resolves `@latest` from the list when it has releases), while they stay downloadable by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scanner import semver
from scanner.errors import GoProxyScanError, InputError, InvalidModuleError, OperationalError
from scanner.module import (
    canonical_version,
    check,
    check_path,
    check_path_major,
    go_quote,
    path_major_prefix,
    split_path_version,
)

from .errors import NotInProxyError, ProxyError, StorageError
from .storage import Kind, Storage

if TYPE_CHECKING:
    from .app import Gateway, Request, Response, Route

log = logging.getLogger("go_vault")

STATE_NAME = "rollbacks.json"
STATE_DIR = ".go-vault"  # inside a filesystem vault (a leading dot is never a module path)
RELOAD_EVERY = 1.0  # seconds a gateway reuses the state before looking for another writer's


class RolledBackError(ProxyError, OperationalError):
    """A direct request for a rolled-back version: 403 and the operator's reason."""

    status = 403


@dataclass(frozen=True, slots=True)
class Rollback:
    """One hidden version and why."""

    module: str
    version: str
    reason: str
    by: str
    at: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Pin:
    """`@latest` of `module` fixed to `version`."""

    module: str
    version: str
    reason: str
    by: str
    at: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ModuleRollbacks:
    """What applies to one module: its hidden versions and its pin."""

    hidden: dict[str, Rollback]
    pin: Pin | None

    def visible(self, version: str) -> bool:
        """Whether `version` may appear in @v/list or answer @latest."""
        if canonical_version(version) in self.hidden:
            return False
        return self.pin is None or semver.compare(version, self.pin.version) <= 0

    def refusal(self, module: str, version: str) -> RolledBackError | None:
        rb = self.hidden.get(canonical_version(version))
        if rb is None:
            return None
        return RolledBackError(
            f"version rolled back by {rb.by or 'the operator'} on {rb.at[:10]}: {rb.reason}",
            module=module,
            version=version,
            hint="use an earlier version; go get MODULE@latest picks the previous good release",
        )


@dataclass(frozen=True, slots=True)
class RollbackState:
    """The whole document: live rollbacks, pins and the history of changes."""

    rollbacks: tuple[Rollback, ...] = ()
    pins: tuple[Pin, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    by_module: dict[str, ModuleRollbacks] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, ModuleRollbacks] = {}
        for rb in self.rollbacks:
            entry = index.setdefault(rb.module, ModuleRollbacks({}, None))
            entry.hidden[rb.version] = rb
        for pin in self.pins:
            entry = index.get(pin.module, ModuleRollbacks({}, None))
            index[pin.module] = replace(entry, pin=pin)
        object.__setattr__(self, "by_module", index)

    def is_rolled_back(self, module: str, version: str) -> bool:
        entry = self.by_module.get(module)
        return entry is not None and version in entry.hidden

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rollbacks": [r.to_json() for r in self.rollbacks],
            "pins": [p.to_json() for p in self.pins],
            "history": list(self.history),
        }

    @classmethod
    def from_json(cls, data: bytes | None, where: str) -> RollbackState:
        """The document `data` (none: the empty state); OperationalError naming `where` when it
        does not read."""
        if not data:
            return cls()
        try:
            return cls.parse(data)
        except (ValueError, TypeError, AttributeError) as e:
            raise OperationalError(
                f"the rollback state does not read: {e}",
                path=where,
                hint="restore it from a backup or fix the JSON",
            ) from e

    @classmethod
    def parse(cls, data: bytes) -> RollbackState:
        """The document `data`, every field of its rollbacks and pins text (a bundle's too); else
        ValueError, TypeError or AttributeError saying what is wrong. Versions are not checked:
        a vault's document may hold one recorded before check_versions was, which undo removes."""
        doc = json.loads(data)
        state = cls(
            tuple(Rollback(**r) for r in doc.get("rollbacks", ())),
            tuple(Pin(**p) for p in doc.get("pins", ())),
            tuple(doc.get("history", ())),
        )
        items: list[Rollback | Pin] = [*state.rollbacks, *state.pins]
        for item in items:
            if not all(isinstance(x, str) for x in (item.module, item.version, item.reason)):
                raise TypeError("a module, version or reason is not text")
            if not (isinstance(item.by, str) and isinstance(item.at, str)):
                raise TypeError(f"{item.module}@{item.version}: by and at are not text")
        return state


class StateFile(Protocol):
    """One small document in the vault, read whole and replaced atomically under `update`."""

    where: str

    def read(self) -> bytes | None: ...

    def stamp(self) -> object:
        """Something that changes whenever the document does (cheaper than reading it)."""
        ...

    def update(self, change: Callable[[bytes | None], bytes]) -> None: ...


class FsStateFile:
    """`<vault>/.go-vault/<name>`; `update` holds an flock so two commands cannot interleave."""

    def __init__(self, root: Path, name: str) -> None:
        self.path = root / STATE_DIR / name
        self.where = str(self.path)

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def update(self, change: Callable[[bytes | None], bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = change(self.read())
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def state_file(storage_spec: str, name: str = STATE_NAME) -> StateFile:
    """The document `name` in the vault named by `--storage` (a directory or s3://bucket/prefix)."""
    if storage_spec.startswith("s3://"):
        from .storage.s3 import S3StateFile

        return S3StateFile.from_spec(storage_spec, name)
    return FsStateFile(Path(storage_spec.removeprefix("file://")), name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_versions(module: str, versions: Iterable[str]) -> list[str]:
    """`versions` (blanks dropped), each a canonical version of `module` as the go command
    would take it; else InvalidModuleError naming the version and what a valid one looks like.

    A typo must not be recorded: a rollback of "v1.3.O" hides nothing while the operator
    believes the release is withdrawn, a pin of one makes @latest answer 404 for everyone.
    """
    out = _named(module, versions)
    for v in out:
        try:
            check(module, v)  # a semantic version whose major version fits the path
            _check_canonical(module, v)
        except InvalidModuleError as e:
            raise InvalidModuleError(e.message, module=module, hint=_looks_like(module, v)) from e
    return out


def _named(module: str, versions: Iterable[str]) -> list[str]:
    check_path(module)
    out = [v.strip() for v in versions if v.strip()]
    if not out:
        raise InputError("name at least one version", module=module, hint="e.g. v1.3.0,v1.3.1")
    return out


def _check_canonical(module: str, version: str) -> None:
    why = None
    base = version.removesuffix("+incompatible")
    if canonical_version(version) != version:
        why = f"not canonical, write {canonical_version(version)}"
    elif base != version and check_path_major(base, split_path_version(module)[1]):
        # cmd/go's words (modfetch's coderepo.go; proxy/coderepo.py says the same).
        why = f"+incompatible suffix not allowed: major version {semver.major(base)} is compatible"
    if why is not None:
        raise InvalidModuleError(f"version {go_quote(version)} invalid: {why}", module=module)


def _looks_like(module: str, version: str) -> str:
    major = path_major_prefix(split_path_version(module)[1])
    hint = f"a version of {module} looks like {f'{major}.1.0' if major else 'v1.2.3'}"
    wanted = semver.major(version)
    if not major and wanted not in ("", "v0", "v1"):
        hint += (
            f"; its {wanted} releases are the module {module}/{wanted}, "
            f"or {wanted}.x.y+incompatible where they have no go.mod"
        )
    return hint


def unstored(storage: Storage, module: str, versions: Iterable[str]) -> list[str]:
    """The `versions` of which the vault holds no .info (what marks a version stored)."""
    return [v for v in versions if not storage.exists(module, v, Kind.INFO)]


def not_stored_pin(module: str, version: str) -> InputError:
    """A pin must name a stored version: @latest answers the pinned .info from the vault."""
    return InputError(
        "not in the vault: pinned to it, @latest would answer 404 for everyone",
        module=module,
        version=version,
        hint=f"fetch it first: go-vault prefetch FILE, FILE holding the line '{module} {version}',"
        f" or GOPROXY=<the proxy> go mod download {module}@{version}; then pin it",
    )


def not_stored_warning(module: str, versions: Iterable[str]) -> str:
    """What an operator is told when rolling back versions the vault does not hold yet."""
    named = ", ".join(f"{module}@{v}" for v in versions)
    return (
        f"warning: {named}: not in the vault yet; rolled back all the same "
        "(refused when it is fetched)"
    )


def rolled_back_pin(module: str, version: str) -> InputError:
    """A pin of a rolled-back version fixes nothing: @latest never answers a hidden version."""
    return InputError(
        "rolled back: a pin of it would not apply (@latest never answers a rolled-back version)",
        module=module,
        version=version,
        hint=f"pin another version, or undo the rollback first: go-vault rollback --undo"
        f" {module} {version}",
    )


def pinned_rollback(module: str, version: str) -> InputError:
    """Rolling back the pinned version is refused rather than unpinning on the quiet: removing
    the pin would release the newer versions it holds back into @v/list and @latest."""
    return InputError(
        "pinned as @latest: rolling it back leaves the pin pointing at a hidden version;"
        " nothing rolled back",
        module=module,
        version=version,
        hint=f"pin an earlier good version first (go-vault pin {module} VERSION), or remove the"
        f" pin (go-vault pin --undo {module}, which lets newer versions back into @latest);"
        " then roll it back",
    )


class RollbackStore:
    """Read and change the rollback state of one vault; every change returns its history event."""

    def __init__(self, file: StateFile) -> None:
        self.file = file

    def load(self) -> RollbackState:
        return RollbackState.from_json(self.file.read(), self.file.where)

    def _change(
        self, edit: Callable[[RollbackState], tuple[RollbackState, list[dict[str, Any]]]]
    ) -> list[dict[str, Any]]:
        """`edit` applied under the file's update, the events it returns appended to the history;
        returns them (those of the last call: `update` calls again after a concurrent write)."""
        events: list[dict[str, Any]] = []

        def apply(data: bytes | None) -> bytes:
            state, made = edit(RollbackState.from_json(data, self.file.where))
            events[:] = made
            state = replace(state, history=(*state.history, *made))
            return json.dumps(state.to_json(), indent=1, sort_keys=True).encode() + b"\n"

        self.file.update(apply)
        return events

    def rollback(self, module: str, versions: Iterable[str], reason: str, by: str) -> Any:
        """Hide `versions` of `module`; re-rolling a hidden version keeps its first record."""
        wanted = check_versions(module, versions)
        if not reason.strip():
            raise InputError("a rollback needs --reason", module=module, hint="say what is wrong")
        at = _now()

        def edit(s: RollbackState) -> tuple[RollbackState, list[dict[str, Any]]]:
            pinned = next((p for p in s.pins if p.module == module), None)
            if pinned is not None and pinned.version in wanted:
                raise pinned_rollback(module, pinned.version)
            have = {(r.module, r.version) for r in s.rollbacks}
            new = [Rollback(module, v, reason.strip(), by, at) for v in wanted]
            added = tuple(r for r in new if (r.module, r.version) not in have)
            ev = {"action": "rollback", "module": module, "versions": wanted}
            return replace(s, rollbacks=(*s.rollbacks, *added)), [
                {**ev, "reason": reason.strip(), "by": by, "at": at}
            ]

        return self._change(edit)[0]

    def undo(self, module: str, versions: Iterable[str] | None, by: str) -> Any:
        """Show `versions` of `module` again (all of its rolled-back versions when None).
        Any rolled-back version may be named, also one recorded before check_versions was."""
        check_path(module)
        chosen = None if versions is None else set(_named(module, versions))
        at = _now()

        def edit(s: RollbackState) -> tuple[RollbackState, list[dict[str, Any]]]:
            rolled = [r.version for r in s.rollbacks if r.module == module]
            if not rolled:
                raise InputError(
                    "nothing of this module is rolled back",
                    module=module,
                    hint="see go-vault rollbacks",
                )
            absent = [] if chosen is None else semver.sort_versions(chosen - set(rolled))
            if absent:
                # All or nothing, as a rollback of a list with a typo in it: undoing the
                # rest while a mistyped version is dropped unsaid misleads the operator.
                have = ", ".join(semver.sort_versions(rolled))
                raise InputError(
                    f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not rolled back"
                    f" (rolled back: {have}); nothing undone",
                    module=module,
                    hint=f"name rolled-back versions, or none to undo all: go-vault rollback"
                    f" --undo {module} [VERSION,…]",
                )
            gone = [v for v in rolled if chosen is None or v in chosen]
            kept = tuple(r for r in s.rollbacks if not (r.module == module and r.version in gone))
            ev = {"action": "undo", "module": module, "versions": gone, "by": by, "at": at}
            return replace(s, rollbacks=kept), [ev]

        return self._change(edit)[0]

    def pin(self, module: str, version: str, reason: str, by: str) -> Any:
        (version,) = check_versions(module, [version])
        at = _now()

        def edit(s: RollbackState) -> tuple[RollbackState, list[dict[str, Any]]]:
            if s.is_rolled_back(module, version):
                raise rolled_back_pin(module, version)
            pins = tuple(p for p in s.pins if p.module != module)
            pin = Pin(module, version, reason.strip(), by, at)
            ev = {"action": "pin", **pin.to_json()}
            return replace(s, pins=(*pins, pin)), [ev]

        return self._change(edit)[0]

    def unpin(self, module: str, by: str) -> Any:
        check_path(module)
        at = _now()

        def edit(s: RollbackState) -> tuple[RollbackState, list[dict[str, Any]]]:
            if not any(p.module == module for p in s.pins):
                raise InputError("not pinned", module=module, hint="see go-vault rollbacks")
            pins = tuple(p for p in s.pins if p.module != module)
            return replace(s, pins=pins), [
                {"action": "unpin", "module": module, "by": by, "at": at}
            ]

        return self._change(edit)[0]

    def merge(self, incoming: RollbackState, by: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Another vault's rollbacks and pins (an imported bundle's) added to this one: each
        rollback not recorded here yet and not undone here since it was made (re-importing a
        bundle does not bring back what this vault's operator undid), each pin later than this
        vault's pin of its module. A pin of a version rolled back here (or in `incoming`) is
        left out; a pin of this vault's that a new rollback hides is kept (the rollback wins:
        @latest is the newest version below it) and said. Returns the history events (`by`:
        where the state came from) and what was left out or needs the operator, in words."""
        at = _now()
        skipped: list[str] = []

        def edit(s: RollbackState) -> tuple[RollbackState, list[dict[str, Any]]]:
            skipped.clear()
            have = {(r.module, r.version) for r in s.rollbacks}
            undone: dict[tuple[str, str], str] = {}
            for ev in s.history:
                if ev.get("action") == "undo":
                    for v in ev.get("versions") or ():
                        key = (str(ev.get("module")), str(v))
                        undone[key] = max(undone.get(key, ""), str(ev.get("at", "")))
            added = []
            for r in incoming.rollbacks:
                if (r.module, r.version) in have:
                    continue
                when = undone.get((r.module, r.version), "")
                if when and when >= r.at:
                    skipped.append(
                        f"the bundle's rollback of {r.module}@{r.version} is not recorded:"
                        f" undone here {when}"
                    )
                    continue
                added.append(r)
            rollbacks = (*s.rollbacks, *added)
            hidden = {(r.module, r.version) for r in rollbacks}
            pins = {p.module: p for p in s.pins}
            new_pins = []
            for pin in incoming.pins:
                mine = pins.get(pin.module)
                if mine is not None and (mine.version == pin.version or mine.at >= pin.at):
                    continue
                if (pin.module, pin.version) in hidden:
                    skipped.append(
                        f"the bundle's pin of {pin.module} to {pin.version} is not recorded:"
                        " rolled back here"
                    )
                    continue
                pins[pin.module] = pin
                new_pins.append(pin)
            for r in added:
                mine = pins.get(r.module)
                if mine is not None and mine.version == r.version:
                    skipped.append(
                        f"{r.module} is pinned here to {r.version}, which the bundle rolls back:"
                        " @latest is the newest version below it; pin another"
                        f" (go-vault pin {r.module} VERSION) or go-vault pin --undo {r.module}"
                    )
            modules: dict[str, list[Rollback]] = {}
            for r in added:
                modules.setdefault(r.module, []).append(r)
            events = [
                {
                    "action": "rollback",
                    "module": module,
                    "versions": [r.version for r in rs],
                    "reason": rs[0].reason,
                    "by": by,
                    "at": at,
                }
                for module, rs in modules.items()
            ]
            events.extend({"action": "pin", **p.to_json(), "by": by, "at": at} for p in new_pins)
            return replace(s, rollbacks=rollbacks, pins=tuple(pins.values())), events

        if not (incoming.rollbacks or incoming.pins):
            return [], skipped
        return self._change(edit), skipped


def check_pin(store: RollbackStore, storage: Storage, module: str, version: str) -> None:
    """Refuses a pin of `version` that would fix nothing: a rolled-back version (said first:
    fetching it is refused, so "not in the vault" would send the operator the wrong way), then
    one the vault does not hold. `RollbackStore.pin` checks the first again under the update."""
    if store.load().is_rolled_back(module, version):
        raise rolled_back_pin(module, version)
    if unstored(storage, module, [version]):
        raise not_stored_pin(module, version)


class RollbackGate:
    """The gateway's rollback layer: filters list/@latest and refuses rolled-back versions.

    The state is re-read at most every RELOAD_EVERY seconds (in a worker thread), so a change
    made by `go-vault rollback` or another replica applies within a second without a restart.
    """

    def __init__(self, file: StateFile, reload_every: float = RELOAD_EVERY) -> None:
        self.store = RollbackStore(file)
        self._reload_every = reload_every
        self._state = RollbackState()
        self._checked = float("-inf")
        self._stamp: object = None
        self._read = False  # whether the state has been read once (a missing file reads empty)
        self._reading: asyncio.Future[None] | None = None  # the read under way, if any

    def expire(self) -> None:
        """Re-read the state on the next request (after a change made through this gateway)."""
        self._checked = float("-inf")

    def _refresh(self) -> None:
        try:
            stamp = self.store.file.stamp()
            if stamp != self._stamp or not self._read:
                self._state = self.store.load()
                self._stamp, self._read = stamp, True
        except GoProxyScanError as e:
            if not self._read:
                # Nothing read yet: serving now would un-roll-back everything. The request
                # fails and the next one reads again.
                self._checked = float("-inf")
                log.error("rollback state not read, serving nothing until it is: %s", e)
                raise StorageError(
                    "go-vault cannot read its rollbacks; it serves no modules until it can",
                    hint="ask the operator (the server log says why)",
                ) from e
            # Keep serving with the rollbacks last read: a brief storage hiccup must not turn
            # every request into a 500 (nor silently un-roll-back anything).
            log.warning("rollback state not re-read, keeping the last one: %s", e)

    async def for_module(self, gateway: Gateway, module: str) -> ModuleRollbacks | None:
        """What applies to `module`, from a state no older than the last read started.

        Every request that comes while the state is being read waits for that read, not only
        the one that started it: the requests right after a start were answered from the empty
        state (a rolled-back .zip served, a rolled-back version listed).
        """
        now = time.monotonic()
        if now - self._checked >= self._reload_every:
            self._checked = now
            self._reading = asyncio.ensure_future(gateway.workers.run(self._refresh))
        if self._reading is not None and not self._reading.done():
            # Shielded: one waiter that goes away (its client hung up) cancels only itself.
            await asyncio.shield(self._reading)
        return self._state.by_module.get(module)

    async def filter(self, gateway: Gateway, route: Route, req: Request) -> Response | None:
        """The answer for a route this layer decides, or None to go on to the protocol handlers."""
        rolled = await self.for_module(gateway, route.module)
        if rolled is None:
            return None
        if route.name == "list":
            listed = await gateway.list_versions(route.module, req)
            versions = [v for v in listed.body.decode().split() if rolled.visible(v)]
            listed.body = "".join(v + "\n" for v in versions).encode()
            return listed
        if route.name == "latest":
            return await self._latest(gateway, route.module, rolled, req)
        if route.version is not None:
            refusal = rolled.refusal(route.module, route.version)
            if refusal is not None:
                req.decision = "rolled-back"
                raise refusal
        return None

    async def _latest(
        self, gateway: Gateway, module: str, rolled: ModuleRollbacks, req: Request
    ) -> Response:
        if rolled.pin is not None and rolled.pin.version not in rolled.hidden:
            return await self._info(gateway, module, rolled.pin.version, req)
        with contextlib.suppress(ValueError, KeyError, TypeError, NotInProxyError):
            answer = await gateway.latest(module, req)
            if rolled.visible(json.loads(answer.body)["Version"]):
                return answer
        # The newest visible release, else the newest visible pre-release (the go command's
        # own preference), from upstream's list and the vault's.
        listed = await gateway.list_versions(module, req)
        candidates = [v for v in listed.body.decode().split() if rolled.visible(v)]
        releases = [v for v in candidates if not semver.prerelease(v)]
        if not candidates:
            raise NotInProxyError(
                "every known version is rolled back", module=module, hint="see go-vault rollbacks"
            )
        pick = semver.sort_versions(releases or candidates)[-1]
        return await self._info(gateway, module, pick, req)

    @staticmethod
    async def _info(gateway: Gateway, module: str, version: str, req: Request) -> Response:
        """`version`'s .info as the @latest answer: mutable like @v/list's (no-cache, no etag).
        The .info response itself is immutable for a year; served as @latest, a cache in front
        kept the old answer after the rollback or pin was undone."""
        from .app import latest_response

        info = await gateway.artifact(module, version, Kind.INFO, req, None)
        return latest_response(info.body)


ADMIN_ROUTES = ("/-/admin/rollbacks", "/-/admin/pins")
SHARED_ADMIN = "admin-token"  # the identity name of GO_VAULT_ADMIN_TOKEN (proxy/auth.py)
_JSON_TYPE = "application/json"


async def _read_body(receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _answer(status: int, data: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(data, separators=(",", ":")).encode() + b"\n", _JSON_TYPE


def _who(scope: MutableMapping[str, Any], req: Request, claimed: object = None) -> str:
    """Who made an admin change: the identity the request proved (a token of the token file,
    a client certificate; proxy/auth.py), else the body's "by", else `admin@` the client
    address. The shared admin token names nobody, so "by" may name the person behind it; a
    proved identity is what the history records, whatever the body claims."""
    granted = scope.get("state", {}).get("go_vault_identity")
    name = req.identity or (granted.name if granted is not None else None)
    if name and name != SHARED_ADMIN:
        return str(name)
    if claimed:
        return str(claimed)
    client = scope.get("client")
    return f"admin@{client[0]}" if client else "admin"


async def admin(
    gate: RollbackGate,
    gateway: Gateway,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    path: str,
    req: Request,
) -> tuple[int, bytes, str]:
    """The admin routes, with the admin token of the other /-/admin/ routes:

    GET /-/admin/rollbacks (state + history); POST /-/admin/rollbacks
    {"module", "versions": [...], "reason", "by"}; DELETE /-/admin/rollbacks/{module}[?versions=a,b]
    (undo); POST /-/admin/pins {"module", "version", "reason", "by"}; DELETE /-/admin/pins/{module}.
    Each change is an audit event (`rollback`) and applies on this replica at once; its
    history `by` is the proved identity (`_who`), a body's "by" only with the shared token.
    """
    from .verdicts import ApiError

    req.route = "admin"
    method = req.method
    missing: list[str] = []  # rolled-back versions the vault does not hold yet
    try:
        gateway.verdict_api._admin_only(scope)  # the one admin check (token or mTLS identity)
        store = gate.store
        if path == "/-/admin/rollbacks" and method == "GET":
            state = await gateway.workers.run(store.load)
            return _answer(200, state.to_json())
        who = _who(scope, req)  # a DELETE has no body to name anyone
        if method == "POST" and path in ADMIN_ROUTES:
            try:
                data = json.loads(await _read_body(receive))
                module = str(data["module"])
                by = _who(scope, req, data.get("by"))
                reason = str(data.get("reason", ""))
                if path == "/-/admin/rollbacks":
                    versions = data["versions"]
                    versions = versions.split(",") if isinstance(versions, str) else versions
                    named = check_versions(module, [str(v) for v in versions])
                    missing = await gateway.workers.run(unstored, gateway.storage, module, named)
                    event = await gateway.workers.run(store.rollback, module, named, reason, by)
                else:
                    (version,) = check_versions(module, [str(data["version"])])
                    await gateway.workers.run(check_pin, store, gateway.storage, module, version)
                    event = await gateway.workers.run(store.pin, module, version, reason, by)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ApiError(400, f"bad request body: {e!r}") from e
        elif method == "DELETE" and path.startswith("/-/admin/rollbacks/"):
            module = path.removeprefix("/-/admin/rollbacks/")
            query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
            listed = query["versions"].split(",") if query.get("versions") else None
            event = await gateway.workers.run(store.undo, module, listed, who)
        elif method == "DELETE" and path.startswith("/-/admin/pins/"):
            module = path.removeprefix("/-/admin/pins/")
            event = await gateway.workers.run(store.unpin, module, who)
        else:
            raise ApiError(404, f"no route {method} {path}")
    except ApiError as e:
        return _answer(e.status, {"error": e.message, **e.fields})
    except InputError as e:
        return _answer(400, {"error": str(e)})
    gateway.audit_log.event("rollback", trace_id=req.trace_id, **event)
    gate.expire()
    if missing:
        return _answer(200, {**event, "warning": not_stored_warning(module, missing)})
    return _answer(200, event)
