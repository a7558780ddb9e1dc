"""Prefetch: bring a whole build list through the upstream into the vault, with the same checks.

Every module version goes through the gateway's ingest (zip rules, .info/.mod checks, h1:, the
auditor), so a prefetched vault holds exactly what serving on demand would have stored. For a
go.mod or go.work the list is the module graph (every version whose go.mod MVS reads, so an
offline vault can build), plus `golang.org/toolchain` when a `toolchain` or `go` line names a
Go newer than `local_go`.
"""

from __future__ import annotations

import asyncio
import enum
import platform
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scanner import semver
from scanner.buildlist import load_build_list
from scanner.errors import InputError, utf8_problem
from scanner.gomod import parse_gomod
from scanner.gowork import parse_gowork
from scanner.modfetch import source_from_goproxy
from scanner.module import ModuleVersion, sort_module_versions

from .app import Gateway
from .bundle import named_modules
from .config import VaultConfig
from .errors import NotInProxyError, PolicyRejectedError, ProxyError, UpstreamError

TOOLCHAIN = "golang.org/toolchain"

Progress = Callable[[int, int], None]


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


def toolchain_modules(
    gomod_text: str, path: str, local_go: str, platforms: tuple[str, ...]
) -> list[ModuleVersion]:
    """The golang.org/toolchain versions a go.mod's `toolchain` (or `go`) line asks for."""
    mod = parse_gomod(gomod_text, path)
    wanted = mod.toolchain.removeprefix("go") if mod.toolchain else mod.go
    if not wanted or (wanted.count(".") < 2 and not mod.toolchain):
        return []  # `go 1.21` names a language version, not a release to download
    if semver.compare("v" + wanted, "v" + local_go) <= 0:
        return []
    return [ModuleVersion(TOOLCHAIN, f"v0.0.1-go{wanted}.{p}") for p in platforms]


def build_list_of(
    file: Path, upstream: str, *, local_go: str, platforms: tuple[str, ...] = ()
) -> list[ModuleVersion]:
    """What `go-vault prefetch FILE` brings in for a go.mod, go.sum, go.work or list file."""
    platforms = platforms or (_go_platform(),)
    if file.name.endswith((".mod", ".work")):
        workspace = file.name.endswith(".work")
        wanted_name = "go.work" if workspace else "go.mod"
        if file.name != wanted_name:
            # The build list is read from the directory, where the go command looks for
            # go.work and go.mod by these names.
            raise InputError(
                f"only a file named {wanted_name} is read as a "
                f"{'workspace' if workspace else 'module'}: its build list comes from its "
                "directory, as the go command reads it",
                path=str(file),
                hint=f"name the {wanted_name} file, or give a list of 'module version' lines",
            )
        gomods = _workspace_gomods(file) if workspace else [file]
        # A go.mod is that module alone, even inside a go.work that does not use it.
        built = load_build_list(file.parent, source_from_goproxy(upstream), use_workspace=workspace)
        mains = set(built.mains)
        wanted: set[ModuleVersion] = set()
        for node, requires in built.graph.items():
            wanted.update(m for m in (node, *requires) if m.version)
        for bm in built.modules:
            if bm.replace is not None and bm.replace.version:
                wanted.add(ModuleVersion(bm.replace.path, bm.replace.version))
        wanted -= mains
        for gm in gomods:
            wanted.update(toolchain_modules(gm.read_text(), str(gm), local_go, platforms))
        return sort_module_versions(wanted)
    return named_modules(file)


def _workspace_gomods(gowork: Path) -> list[Path]:
    """The go.mod of every `use` of a go.work; a use without one is an error at its line, as
    the go command reports it."""
    try:
        text = gowork.read_bytes().decode("utf-8")
    except OSError as e:
        raise InputError(f"cannot read it: {e.strerror}", path=str(gowork)) from e
    except UnicodeDecodeError as e:
        problem, line = utf8_problem(e)
        raise InputError(problem, path=str(gowork), line=line, hint="save it as UTF-8") from e
    uses = parse_gowork(text, str(gowork)).uses
    if not uses:
        raise InputError(
            "no use directives: the workspace has no modules",
            path=str(gowork),
            hint="add `use ./dir` for each module, or prefetch a go.mod",
        )
    gomods = []
    for use in uses:
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
