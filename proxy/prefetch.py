"""Prefetch: bring a whole build list through the upstream into the vault, with the same checks.

Every module version goes through the gateway's ingest (zip rules, .info/.mod checks, h1:, the
auditor), so a prefetched vault holds exactly what serving on demand would have stored. For a
go.mod or go.work the list is what the go command downloads for it (`needed_modules`): the go.mod
of every module version minimal version selection reads and every selected version, each as
its `replace` directive gives it (a directory replacement: nothing, a module replacement: the
replacement), plus `golang.org/toolchain` when the `go` or `toolchain` line makes the go
command switch to a Go newer than `local_go` (GOTOOLCHAIN=auto). `go-vault sync --modules`
carries the same set, read from the vault (`bundle_modules`).
"""

from __future__ import annotations

import asyncio
import enum
import platform
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scanner.buildlist import BuildList, load_build_list
from scanner.errors import InputError, NotFoundError, utf8_problem
from scanner.gomod import parse_gomod
from scanner.gowork import (
    GoWork,
    compare_go_versions,
    go_release,
    parse_gowork,
    toolchain_go_version,
)
from scanner.modfetch import ModuleSource, source_from_goproxy
from scanner.module import ModuleVersion, sort_module_versions

from .app import Gateway
from .bundle import BundleError, named_modules
from .config import VaultConfig
from .errors import NotInProxyError, PolicyRejectedError, ProxyError, UpstreamError
from .storage import Kind, Storage

TOOLCHAIN = "golang.org/toolchain"
TOOLCHAIN_VERSION = "v0.0.1-{name}.{platform}"  # cmd/go toolchain.Exec: go1.30.0 + linux-amd64

Progress = Callable[[int, int], None]
Toolchains = Callable[[str], Iterable[ModuleVersion]]
"""The golang.org/toolchain versions to bring for a toolchain name such as `go1.30.0`."""


class Outcome(enum.Enum):
    FETCHED = "fetched"
    PRESENT = "already there"
    REJECTED = "rejected"
    MISSING = "not found"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PrefetchResult:
    module: str
    version: str
    outcome: Outcome
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PrefetchSummary:
    results: tuple[PrefetchResult, ...] = field(default_factory=tuple)

    def count(self, outcome: Outcome) -> int:
        return sum(r.outcome is outcome for r in self.results)

    def to_json(self) -> dict[str, object]:
        return {
            "counts": {o.value: self.count(o) for o in Outcome},
            "problems": [
                {
                    "module": r.module,
                    "version": r.version,
                    "outcome": r.outcome.value,
                    "reason": r.reason,
                }
                for r in self.results
                if r.outcome not in (Outcome.FETCHED, Outcome.PRESENT)
            ],
        }


def _go_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}-{arch}"


def switched_toolchain(go: str, toolchain: str, local_go: str | None) -> str | None:
    """The toolchain (`go1.30.0`) the go command switches to for a go.mod or go.work with these
    `go` and `toolchain` lines under GOTOOLCHAIN=auto (cmd/go toolchain.Select), or None when
    `local_go` (a Go version such as 1.27.3) is new enough; None for local_go means any Go.

    The release is scanner.gowork.go_release's (the newer line; `go 1.30` is go1.30.0); the
    toolchain line's own name is kept when it is the one chosen (`go1.30.1-custom`);
    `toolchain default` never switches.
    """
    release = go_release(go, toolchain) if toolchain != "default" else ""
    if not release or (local_go and compare_go_versions(release[2:], local_go) <= 0):
        return None
    if toolchain and toolchain_go_version(toolchain) == release[2:]:
        return toolchain
    return release


def downloaded_modules(built: BuildList) -> set[ModuleVersion]:
    """The module versions the go command downloads for a build list (`go mod download all`):
    the go.mod of every graph node it read and every selected version, each as its replace
    directive gives it: a module replacement is fetched instead, a directory replacement is
    not fetched at all (its requirements are in the graph). Main modules are left out."""
    mains = set(built.mains)
    selected = [ModuleVersion(m.path, m.version) for m in built.modules if not m.main]
    wanted: set[ModuleVersion] = set()
    for mv in (*built.graph, *selected):
        if mv in mains or not mv.version:
            continue
        replacement = built.replacement(mv)
        if replacement is None:
            wanted.add(mv)
        elif replacement.version:
            wanted.add(ModuleVersion(replacement.path, replacement.version))
    return wanted


def needed_modules(
    file: Path,
    source: Callable[[], ModuleSource],
    *,
    local_go: str | None,
    toolchains: Toolchains,
) -> list[ModuleVersion]:
    """What the go command needs to build FILE, a go.mod, go.work, go.sum or list file.

    A go.mod or go.work: `downloaded_modules` of its build list, read through `source()`
    (called only then: a list file is read, and its mistakes reported, without one), plus
    `toolchains(name)` for each toolchain its (and, for a go.work, its modules') go/toolchain
    lines switch to beyond `local_go` (None: any). A go.sum or list file: the versions it
    names. Raises InputError for a file the go command would refuse, and what `source`
    raises for a go.mod it cannot give (NotFoundError, OperationalError).
    """
    if not file.name.endswith((".mod", ".work")):
        return named_modules(file)
    workspace = file.name.endswith(".work")
    _require_go_name(file, workspace)
    lines: list[tuple[str, str]] = []
    gomods = [file]
    if workspace:
        work = _read_gowork(file)
        gomods = _workspace_gomods(file, work)
        lines.append((work.go, work.toolchain))
    # A go.mod is that module alone, even inside a go.work that does not use it.
    built = load_build_list(file.parent, source(), use_workspace=workspace)
    wanted = downloaded_modules(built)
    for gomod in gomods:
        mod = parse_gomod(gomod.read_bytes(), str(gomod))
        lines.append((mod.go, mod.toolchain))
    for go, toolchain in lines:
        name = switched_toolchain(go, toolchain, local_go)
        if name is not None:
            wanted.update(toolchains(name))
    return sort_module_versions(wanted)


def build_list_of(
    file: Path, upstream: str, *, local_go: str, platforms: tuple[str, ...] = ()
) -> list[ModuleVersion]:
    """What `go-vault prefetch FILE` brings in (`needed_modules` read through `upstream`), the
    toolchain for each of `platforms` (default: this machine's)."""
    platforms = platforms or (_go_platform(),)

    def toolchains(name: str) -> list[ModuleVersion]:
        return [
            ModuleVersion(TOOLCHAIN, TOOLCHAIN_VERSION.format(name=name, platform=p))
            for p in platforms
        ]

    return needed_modules(
        file, lambda: source_from_goproxy(upstream), local_go=local_go, toolchains=toolchains
    )


class VaultSource:
    """The vault's stored artifacts as a scanner ModuleSource (what the build list reads)."""

    def __init__(self, storage: Storage, label: str) -> None:
        self.storage = storage
        self.label = label

    def _get(self, path: str, version: str, kind: Kind) -> bytes:
        try:
            return self.storage.get(path, version, kind)
        except NotFoundError as e:
            raise NotFoundError(
                f"not in the vault ({self.label})", module=path, version=version
            ) from e

    def list_versions(self, path: str) -> list[str]:
        return self.storage.list(path)

    def info(self, path: str, version: str) -> bytes:
        return self._get(path, version, Kind.INFO)

    def gomod(self, path: str, version: str) -> bytes:
        return self._get(path, version, Kind.MOD)

    def zip(self, path: str, version: str) -> bytes:
        return self._get(path, version, Kind.ZIP)

    def latest(self, path: str) -> bytes:
        raise NotFoundError(f"no @latest in the vault ({self.label})", module=path)


def bundle_modules(file: Path, storage: Callable[[], Storage], label: str) -> list[ModuleVersion]:
    """What `go-vault sync --modules FILE` carries: `needed_modules` of FILE read from the vault
    `storage()` (opened only for a go.mod or go.work; `label` names it in messages), with every
    stored golang.org/toolchain version (any platform) of a toolchain its lines ask for,
    whatever Go the other side has.

    A go.mod the build list needs that the vault lacks is a BundleError naming it.
    """

    def toolchains(name: str) -> list[ModuleVersion]:
        prefix = TOOLCHAIN_VERSION.format(name=name, platform="")
        stored = storage().list(TOOLCHAIN)
        return [ModuleVersion(TOOLCHAIN, v) for v in stored if v.startswith(prefix)]

    def source() -> ModuleSource:
        return VaultSource(storage(), label)

    try:
        return needed_modules(file, source, local_go=None, toolchains=toolchains)
    except NotFoundError as e:
        raise BundleError(
            f"its build list needs a module version the vault lacks: {e}",
            path=str(file),
            hint=f"bring them in first: go-vault prefetch {file}",
        ) from e


def _require_go_name(file: Path, workspace: bool) -> None:
    """The build list is read from the directory, where the go command looks for go.work and
    go.mod by these names: another name is an InputError."""
    wanted_name = "go.work" if workspace else "go.mod"
    if file.name != wanted_name:
        raise InputError(
            f"only a file named {wanted_name} is read as a "
            f"{'workspace' if workspace else 'module'}: its build list comes from its "
            "directory, as the go command reads it",
            path=str(file),
            hint=f"name the {wanted_name} file, or give a list of 'module version' lines",
        )


def _read_gowork(gowork: Path) -> GoWork:
    """The parsed go.work; unreadable or not UTF-8 is an InputError naming it."""
    try:
        text = gowork.read_bytes().decode("utf-8")
    except OSError as e:
        raise InputError(f"cannot read it: {e.strerror}", path=str(gowork)) from e
    except UnicodeDecodeError as e:
        problem, line = utf8_problem(e)
        raise InputError(problem, path=str(gowork), line=line, hint="save it as UTF-8") from e
    return parse_gowork(text, str(gowork))


def _workspace_gomods(gowork: Path, work: GoWork) -> list[Path]:
    """The go.mod of every `use` of a go.work; a use without one is an error at its line, as
    the go command reports it."""
    if not work.uses:
        raise InputError(
            "no use directives: the workspace has no modules",
            path=str(gowork),
            hint="add `use ./dir` for each module, or prefetch a go.mod",
        )
    gomods = []
    for use in work.uses:
        gomod = gowork.parent / use.path / "go.mod"
        if not gomod.is_file():
            raise InputError(
                f"use {use.path}: no go.mod in {gomod.parent}",
                path=str(gowork),
                line=use.line,
                hint="fix or remove the use directive",
            )
        gomods.append(gomod)
    return gomods


async def _prefetch(
    config: VaultConfig,
    gateway: Gateway,
    modules: list[ModuleVersion],
    concurrency: int,
    progress: Progress | None,
) -> PrefetchSummary:
    limit = asyncio.Semaphore(concurrency)
    done = 0
    trace = uuid.uuid4().hex
    # A circuit breaker: once the upstream has failed this many versions in a row (it is down,
    # or unreachable), the rest are not tried; each would wait out the same timeout.
    breaker = max(3, concurrency)
    in_a_row: list[UpstreamError] = []

    async def one(mv: ModuleVersion) -> PrefetchResult:
        nonlocal done
        async with limit:
            result = await ingest(mv)
        done += 1
        if progress:
            progress(done, len(modules))
        return result

    async def ingest(mv: ModuleVersion) -> PrefetchResult:
        if len(in_a_row) >= breaker:
            reason = (
                f"not tried: the upstream failed {len(in_a_row)} versions in a row "
                f"(the last: {in_a_row[-1].message})"
            )
            return PrefetchResult(mv.path, mv.version, Outcome.FAILED, reason)
        try:
            got = await gateway.ingester.ingest(mv.path, mv.version, trace)
        except UpstreamError as e:
            in_a_row.append(e)
            return PrefetchResult(mv.path, mv.version, Outcome.FAILED, str(e))
        except PolicyRejectedError as e:
            result = PrefetchResult(mv.path, mv.version, Outcome.REJECTED, e.message)
        except NotInProxyError as e:
            result = PrefetchResult(mv.path, mv.version, Outcome.MISSING, e.message)
        except ProxyError as e:
            result = PrefetchResult(mv.path, mv.version, Outcome.FAILED, str(e))
        else:
            refused = await _refusal(gateway, mv)
            if refused is not None:
                result = PrefetchResult(mv.path, mv.version, Outcome.REJECTED, refused)
            else:
                outcome = Outcome.PRESENT if got is None else Outcome.FETCHED
                result = PrefetchResult(mv.path, mv.version, outcome)
        in_a_row.clear()  # the upstream answered
        return result

    try:
        results = await asyncio.gather(*(one(mv) for mv in modules))
    finally:
        await gateway.aclose()
    return PrefetchSummary(tuple(results))


async def _refusal(gateway: Gateway, mv: ModuleVersion) -> str | None:
    """Why serve would refuse the .zip of a stored version (its verdict in force is REJECT, or
    REVIEW_REQUIRED under `review_required: refuse`), or None. Ingest stores such a version
    with its verdict and raises nothing, so that its .info and .mod stay servable."""
    gate = gateway.auditor
    if gate is None:
        return None
    await gate.refresh()
    verdict = gate.known(mv.path, mv.version)
    if verdict is None:
        verdict = await gateway.workers.run(gate.current, mv.path, mv.version)
    if verdict is None or not gate.refuses(verdict):
        return None
    from .auditor import rejection

    return rejection(verdict).message


def prefetch(
    config: VaultConfig,
    modules: list[ModuleVersion],
    *,
    gateway_factory: Callable[[VaultConfig], Gateway],
    concurrency: int = 8,
    progress: Progress | None = None,
) -> PrefetchSummary:
    """Ingest every module version in `modules` (checks and auditor as on first download)."""

    async def run() -> PrefetchSummary:
        # Built inside the loop: the upstream client belongs to it.
        gateway = gateway_factory(config)
        return await _prefetch(config, gateway, modules, concurrency, progress)

    return asyncio.run(run())
