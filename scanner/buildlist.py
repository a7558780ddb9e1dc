"""The build list without a Go toolchain: minimal version selection as `go list -m all` does it.

The module graph is read the way cmd/go's modload reads it: the main module's requirements are
the roots; a dependency whose go.mod says go >= 1.17 contributes only its own requirements
(graph pruning), an older one its whole transitive closure. In a pruned main module, roots
that turn out below their selected version are raised and the graph re-read until it is
consistent (this can pull in requirements that were pruned out). Only the main module's (and
go.work's) replace and exclude directives count. go.mod files are fetched concurrently.
"""

from __future__ import annotations

import enum
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from . import semver
from .errors import GoProxyScanError, InputError, NotFoundError, OperationalError
from .gomod import GoMod, Replace, is_directory_path, parse_gomod
from .gowork import Use, parse_gowork, too_old_for, use_dirs
from .modfetch import ModuleSource
from .module import ModuleVersion

Progress = Callable[[int, int], None]
"""progress(done, queued): called from the loading thread as go.mod files arrive."""

DEFAULT_CONCURRENCY = 16


class Pruning(enum.Enum):
    """How much of a module's requirement graph is loaded (cmd/go modPruning)."""

    PRUNED = "pruned"
    UNPRUNED = "unpruned"
    WORKSPACE = "workspace"


def pruning_for_go(go_version: str) -> Pruning:
    """go >= 1.17 modules carry their full needs in their own go.mod (graph pruning)."""
    parts = go_version.split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or "0")
    except (IndexError, ValueError):
        return Pruning.UNPRUNED
    return Pruning.PRUNED if (major, minor) >= (1, 17) else Pruning.UNPRUNED


@dataclass(frozen=True, slots=True)
class Replacement:
    """Where a replaced module's go.mod and code really come from.

    A module replacement has `path` and `version`; a directory replacement has `path` as
    written in go.mod/go.work, version "" and `dir`, the absolute directory.
    """

    path: str
    version: str = ""
    dir: str = ""

    def __str__(self) -> str:
        return f"{self.path} {self.version}" if self.version else self.path


@dataclass(frozen=True, slots=True)
class BuildModule:
    """One line of `go list -m all`."""

    path: str
    version: str
    replace: Replacement | None = None
    indirect: bool = False
    go_version: str = ""
    main: bool = False

    def __str__(self) -> str:
        text = f"{self.path} {self.version}" if self.version else self.path
        return f"{text} => {self.replace}" if self.replace else text

    def to_json(self) -> dict[str, object]:
        """The fields `go list -m -json` prints that need no module download."""
        doc: dict[str, object] = {"Path": self.path}
        if self.version:
            doc["Version"] = self.version
        if self.replace:
            rep: dict[str, object] = {"Path": self.replace.path}
            if self.replace.version:
                rep["Version"] = self.replace.version
            if self.replace.dir:
                rep["Dir"] = self.replace.dir
            doc["Replace"] = rep
        if self.main:
            doc["Main"] = True
        if self.indirect:
            doc["Indirect"] = True
        if self.go_version:
            doc["GoVersion"] = self.go_version
        return doc


@dataclass(frozen=True)
class BuildList:
    """The selected modules (main modules first, then by path) and the graph that chose them."""

    modules: tuple[BuildModule, ...]
    graph: Mapping[ModuleVersion, tuple[ModuleVersion, ...]]
    mains: tuple[ModuleVersion, ...]
    workspace: bool = False
    main_dirs: tuple[Path, ...] = ()
    work_file: Path | None = None  # the go.work of a workspace (GOWORK may name another file)
    _selected: Mapping[str, str] = field(default_factory=dict, repr=False)
    _replace: Callable[[ModuleVersion], Replacement | None] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def main(self) -> BuildModule:
        return self.modules[0]

    def selected(self, path: str) -> str | None:
        """The selected version of `path` ("" for a main module), None when not in the list."""
        return self._selected.get(path)

    def replacement(self, m: ModuleVersion) -> Replacement | None:
        """The replacement the go command uses for m, any version of the graph (selected or
        not), as `BuildModule.replace` gives it; None when no replace directive applies."""
        return self._replace(m) if self._replace is not None else None

    def why(self, path: str) -> list[ModuleVersion] | None:
        """The shortest requirement chain from a main module to the selected version of path.

        Chains through the main module's direct requirements are preferred: an `// indirect`
        requirement only records a version, it does not say who needs the module.
        """
        version = self.selected(path)
        if version is None:
            return None
        target = ModuleVersion(path, version)
        indirect = {m.path for m in self.modules if m.indirect}
        return self._chain(target, indirect) or self._chain(target, set())

    def _chain(self, target: ModuleVersion, skip_from_main: set[str]) -> list[ModuleVersion] | None:
        parent: dict[ModuleVersion, ModuleVersion | None] = dict.fromkeys(self.mains)
        queue = deque(self.mains)
        while queue:
            m = queue.popleft()
            if m == target:
                chain = [m]
                while (p := parent[chain[-1]]) is not None:
                    chain.append(p)
                return chain[::-1]
            for r in self.graph.get(m, ()):
                if m in self.mains and r.path in skip_from_main:
                    continue
                if r not in parent:
                    parent[r] = m
                    queue.append(r)
        return None


@dataclass(frozen=True, slots=True)
class _Summary:
    """What the graph needs from one module's go.mod."""

    requires: tuple[ModuleVersion, ...]
    pruning: Pruning
    go_version: str


def _version_cmp(v: str, w: str) -> int:
    # A main module's version "" is above every real version (cmd/go cmpVersion).
    if v == w:
        return 0
    if w == "":
        return -1
    if v == "":
        return 1
    return semver.compare(v, w)


class _Graph:
    """mvs.Graph: requirement edges of loaded modules and the max version seen per path."""

    def __init__(self, roots: Iterable[ModuleVersion]) -> None:
        self.roots = list(roots)
        self.edges: dict[ModuleVersion, tuple[ModuleVersion, ...]] = {}
        self.selected: dict[str, str] = {}
        for r in self.roots:
            self._see(r)

    def _see(self, m: ModuleVersion) -> None:
        current = self.selected.get(m.path)
        if current is None or _version_cmp(current, m.version) < 0:
            self.selected[m.path] = m.version

    def require(self, m: ModuleVersion, reqs: tuple[ModuleVersion, ...]) -> None:
        self.edges[m] = reqs
        for r in reqs:
            self._see(r)


@dataclass(frozen=True)
class _Replaces:
    """The replace directives of one go.mod or go.work, by what they replace (the last wins)."""

    file: str
    dir: Path  # local replacement paths are relative to it
    exact: Mapping[ModuleVersion, Replace]
    any_version: Mapping[str, Replace]

    @classmethod
    def of(cls, file: str, directory: Path, replaces: Iterable[Replace]) -> _Replaces:
        exact: dict[ModuleVersion, Replace] = {}
        any_version: dict[str, Replace] = {}
        for r in replaces:
            if r.old_version:
                exact[ModuleVersion(r.old_path, r.old_version)] = r
            else:
                any_version[r.old_path] = r
        return cls(file, directory, exact, any_version)

    def find(self, m: ModuleVersion) -> Replace | None:
        """cmd/go replacement: the one for this version, else the one for every version."""
        return self.exact.get(m) or self.any_version.get(m.path)


@dataclass
class _Workspace:
    """The main modules and the directives only they may give."""

    mains: list[tuple[ModuleVersion, GoMod, Path]]
    work_replaces: _Replaces | None  # go.work's: they win over every module's
    module_replaces: list[_Replaces]  # each main module's, in go.work's `use` order
    excludes: set[ModuleVersion]
    direct: set[str]
    is_workspace: bool
    root: Path  # the go.work directory, or the main module's
    work_file: Path | None = None

    def replacement(self, m: ModuleVersion) -> tuple[Replace, Path] | None:
        """The replace directive for m and the directory its local path is relative to.

        As cmd/go replacementFrom looks it up: go.work's directives first; else the main
        modules', where a later module's wins, and a later module that replaces this very
        version differently from an earlier one is the error go reports for it.
        """
        if self.work_replaces is not None:
            r = self.work_replaces.find(m)
            if r is not None:
                return r, self.work_replaces.dir
        found: tuple[Replace, _Replaces] | None = None
        for source in self.module_replaces:
            r = source.find(m)
            if r is None:
                continue
            if found is not None and r.old_version and _target(found[0]) != _target(r):
                first, where = found
                raise InputError(
                    f"conflicting replacements for {m.path}@{m.version}: "
                    f"{_describe(r, source.dir)} here, "
                    f"{_describe(first, where.dir)} at {where.file}:{first.line}",
                    path=source.file,
                    line=r.line,
                    hint=_CHOOSE_IN_GO_WORK.format(f"{m.path}@{m.version}"),
                )
            found = (r, source)
        return (found[0], found[1].dir) if found is not None else None


_CHOOSE_IN_GO_WORK = "choose one with a replace directive in go.work: go work edit -replace {}=..."


def _target(r: Replace) -> tuple[str, str]:
    return (r.new_path, r.new_version)


def _describe(r: Replace, directory: Path) -> str:
    """A replacement as a message names it: module@version, or the directory as written and
    where that is."""
    if r.new_version:
        return f"{r.new_path}@{r.new_version}"
    resolved = os.path.normpath(directory / r.new_path)
    return r.new_path if r.new_path == resolved else f"{r.new_path} ({resolved})"


class _Loader:
    """Fetches and parses go.mod files once each, on a bounded thread pool."""

    def __init__(
        self,
        ws: _Workspace,
        source: ModuleSource,
        pool: ThreadPoolExecutor,
        progress: Progress | None,
    ) -> None:
        self.ws = ws
        self.source = source
        self.pool = pool
        self.progress = progress
        self.futures: dict[ModuleVersion, Future[_Summary]] = {}
        self.loaded: dict[ModuleVersion, _Summary] = {}
        self.main_summaries = {
            mv: self._summarize(gm, mv) for mv, gm, _dir in ws.mains if ws.is_workspace
        }

    def replacement(self, m: ModuleVersion) -> tuple[Replace, Path] | None:
        return self.ws.replacement(m)

    def _summarize(self, gm: GoMod, m: ModuleVersion) -> _Summary:
        reqs = tuple(
            ModuleVersion(r.path, r.version)
            for r in gm.requires
            if ModuleVersion(r.path, r.version) not in self.ws.excludes
        )
        return _Summary(reqs, pruning_for_go(gm.go), gm.go)

    def _fetch(self, m: ModuleVersion) -> _Summary:
        rep = self.replacement(m)
        if rep is not None and rep[0].new_version == "":
            directory = Path(os.path.normpath(rep[1] / rep[0].new_path))
            name = directory / "go.mod"
            try:
                data = name.read_bytes()
            except OSError as e:
                raise InputError(
                    f"replacement directory {rep[0].new_path} has no go.mod ({e.strerror})",
                    module=m.path,
                    version=m.version,
                    hint=f"fix the replace directive or create {name}",
                ) from e
            return self._summarize(parse_gomod(data, str(name), lax=True), m)
        actual = ModuleVersion(rep[0].new_path, rep[0].new_version) if rep else m
        data = self.source.gomod(actual.path, actual.version)
        gm = parse_gomod(data, f"{actual}/go.mod", lax=True)
        if not gm.module:
            raise InputError(
                "parsing go.mod: missing module line",
                module=actual.path,
                version=actual.version,
                hint="the proxy serves a broken .mod file for this version",
            )
        if gm.module not in (m.path, actual.path):
            replaced = f"(replaced by {actual}): " if rep else ""
            raise InputError(
                f"{replaced}parsing go.mod: module declares its path as {gm.module} "
                f"but was required as {m.path}",
                module=m.path,
                version=m.version,
                hint="require the module by the path its go.mod declares, or replace it",
            )
        return self._summarize(gm, m)

    def submit(self, m: ModuleVersion) -> Future[_Summary]:
        fut = self.futures.get(m)
        if fut is None:
            if m in self.main_summaries:
                fut = Future()
                fut.set_result(self.main_summaries[m])
            else:
                fut = self.pool.submit(self._fetch, m)
            self.futures[m] = fut
        return fut

    def read_graph(
        self, pruning: Pruning, roots: list[ModuleVersion], graph_roots: list[ModuleVersion]
    ) -> _Graph:
        """cmd/go readModGraph: load summaries from the roots as far as pruning allows."""
        graph = _Graph(graph_roots)
        if pruning is not Pruning.WORKSPACE:
            graph.require(graph_roots[0], tuple(roots))
        seen: set[tuple[ModuleVersion, Pruning]] = set()
        pending: dict[Future[_Summary], list[tuple[ModuleVersion, Pruning]]] = {}
        loaded: dict[ModuleVersion, _Summary] = {}
        errors: dict[ModuleVersion, GoProxyScanError] = {}

        def enqueue(m: ModuleVersion, p: Pruning) -> None:
            if m.version == "none" or (m, p) in seen:
                return
            seen.add((m, p))
            pending.setdefault(self.submit(m), []).append((m, p))

        def drain() -> None:
            while pending:
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in finished:
                    for m, p in pending.pop(fut):
                        try:
                            summary = fut.result()
                        except NotFoundError as e:
                            errors[m] = e
                            continue
                        except OperationalError as e:
                            # The source cannot be reached: every other fetch would wait out
                            # the same failure. Stop here (the queued fetches are dropped).
                            errors[m] = e
                            raise self._graph_error(graph, graph_roots, errors) from None
                        except GoProxyScanError as e:
                            errors[m] = e
                            continue
                        if m not in loaded:
                            loaded[m] = summary
                            graph.require(m, summary.requires)
                        nxt = Pruning.UNPRUNED if p is Pruning.UNPRUNED else summary.pruning
                        if p is not Pruning.PRUNED or summary.pruning is Pruning.UNPRUNED:
                            for r in summary.requires:
                                enqueue(r, nxt)
                self._report()

        for m in roots:
            enqueue(m, pruning)
        drain()

        if pruning is Pruning.WORKSPACE:
            # Dependencies of the main modules raised above what a main module asked for are
            # loaded at their selected versions, until nothing new appears.
            has_deps_in_all = {m.path for m in roots}
            seen_ws: set[ModuleVersion] = set()
            while True:
                needs: set[ModuleVersion] = set()
                for p in sorted(has_deps_in_all):
                    m = ModuleVersion(p, graph.selected[p])
                    if m not in seen_ws:
                        needs.add(m)
                        continue
                    for r in graph.edges.get(m, ()):
                        s = ModuleVersion(r.path, graph.selected[r.path])
                        if _version_cmp(s.version, r.version) > 0 and s not in seen_ws:
                            needs.add(s)
                if not needs:
                    break
                for m in sorted(needs):
                    enqueue(m, Pruning.WORKSPACE)
                    seen_ws.add(m)
                    has_deps_in_all.add(m.path)
                drain()

        if errors:
            raise self._graph_error(graph, graph_roots, errors)
        self.loaded = loaded
        return graph

    def complete(self, graph: _Graph) -> None:
        """Read the go.mod of every selected module not read yet; failures leave it unknown."""
        wanted = [ModuleVersion(p, v) for p, v in graph.selected.items() if v]
        futures = {m: self.submit(m) for m in wanted if m not in self.loaded}
        for m, fut in futures.items():
            try:
                self.loaded[m] = fut.result()
            except GoProxyScanError:
                continue

    def _report(self) -> None:
        if self.progress is not None:
            done = sum(1 for f in self.futures.values() if f.done())
            self.progress(done, len(self.futures))

    @staticmethod
    def _graph_error(
        graph: _Graph, roots: list[ModuleVersion], errors: Mapping[ModuleVersion, GoProxyScanError]
    ) -> GoProxyScanError:
        # Name the first failing module the way the go command does: by the requirement
        # chain that leads to it from the main module.
        parent: dict[ModuleVersion, ModuleVersion | None] = dict.fromkeys(roots)
        queue = deque(roots)
        failing: ModuleVersion | None = None
        while queue:
            m = queue.popleft()
            if m in errors:
                failing = m
                break
            for r in graph.edges.get(m, ()):
                if r not in parent:
                    parent[r] = m
                    queue.append(r)
        if failing is None:
            failing = min(errors)
        chain = [failing]
        while (p := parent.get(chain[-1])) is not None:
            chain.append(p)
        err = errors[failing]
        via = " requires ".join(str(m) for m in reversed(chain[1:]) if m.version)
        if via:
            err.message = f"{via} requires {failing}: {err.message}"
        return err


def find_upwards(start: Path, name: str) -> Path | None:
    """The file `name` in `start` or the nearest parent that has one (go.mod, go.work)."""
    for d in (start, *start.parents):
        if (d / name).is_file():
            return d / name
    return None


def workspace_enabled(env: Mapping[str, str]) -> bool:
    """Whether the go command looks for go.work here: not with GOWORK=off."""
    return env.get("GOWORK", "") != "off"


def find_gowork(start: Path, env: Mapping[str, str]) -> Path | None:
    """The go.work the go command uses in `start` (cmd/go FindGoWork), None for none.

    GOWORK=off: none; unset, empty or `auto`: the nearest go.work in start or a parent;
    otherwise GOWORK is the file itself (any name), which must be an absolute path.
    """
    value = env.get("GOWORK", "")
    if value == "off":
        return None
    if value in ("", "auto"):
        return find_upwards(start, "go.work")
    if not os.path.isabs(value):
        raise InputError(
            f"invalid GOWORK={value}: not an absolute path",
            hint="set GOWORK to the go.work file's absolute path, to off, or leave it empty",
        )
    return Path(value)


def _read_main(gomod_path: Path) -> GoMod:
    try:
        data = gomod_path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {gomod_path}: {e.strerror}", path=str(gomod_path)) from e
    return parse_gomod(data, str(gomod_path))


def _single_module(gomod_path: Path) -> _Workspace:
    gm = _read_main(gomod_path)
    if not gm.module:
        raise InputError("no module directive", path=str(gomod_path), hint="add `module <path>`")
    mv = ModuleVersion(gm.module, "")
    excludes = {ModuleVersion(x.path, x.version) for x in gm.excludes}
    replaces = _Replaces.of(str(gomod_path), gomod_path.parent, gm.replaces)
    direct = {r.path for r in gm.requires if not r.indirect}
    return _Workspace(
        [(mv, gm, gomod_path.parent)], None, [replaces], excludes, direct, False, gomod_path.parent
    )


def _workspace(gowork_path: Path) -> _Workspace:
    """The main modules of go.work and their directives, refused where the go command refuses
    them (cmd/go loadModFile and makeMainModules), each error at the go.work line to fix."""
    try:
        data = gowork_path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {gowork_path}: {e.strerror}", path=str(gowork_path)) from e
    gw = parse_gowork(data, str(gowork_path))
    base = gowork_path.parent
    mains: list[tuple[ModuleVersion, GoMod, Path]] = []
    used_by: dict[str, Use] = {}
    for use, directory in use_dirs(gw):
        gm = _read_used(gowork_path, use, directory)
        first = used_by.setdefault(gm.module, use)
        if first is not use:
            raise InputError(
                f"module {gm.module} appears multiple times in workspace "
                f"(use {first.path} on line {first.line}, use {use.path} here)",
                path=str(gowork_path),
                line=use.line,
                hint="remove one of the use directives, or give one module another path",
            )
        too_old = too_old_for(gw, gm.go)
        if too_old is not None:
            raise InputError(
                f"module {use.path} listed in go.work {too_old}",
                path=str(gowork_path),
                line=use.line,
                hint=f"raise go.work's go line: run `go work use` in {base}",
            )
        mains.append((ModuleVersion(gm.module, ""), gm, directory.resolve()))
    _check_module_replaces(gw.replaces, mains)
    excludes = {ModuleVersion(x.path, x.version) for _mv, gm, _d in mains for x in gm.excludes}
    direct = {r.path for _mv, gm, _d in mains for r in gm.requires if not r.indirect}
    return _Workspace(
        mains,
        _Replaces.of(str(gowork_path), base, gw.replaces),
        [_Replaces.of(gm.path, d, gm.replaces) for _mv, gm, d in mains],
        excludes,
        direct,
        True,
        base,
        gowork_path,
    )


def _read_used(gowork_path: Path, use: Use, directory: Path) -> GoMod:
    """The go.mod of a module go.work uses; a problem is named at the `use` line."""
    gomod_path = directory / "go.mod"
    cannot = f"cannot load module {use.path} listed in go.work: "
    if not directory.is_dir():
        raise InputError(
            f"{cannot}no directory {directory}",
            path=str(gowork_path),
            line=use.line,
            hint=f"fix the path, or drop it: go work edit -dropuse={use.path}",
        )
    try:
        data = gomod_path.read_bytes()
    except OSError as e:
        raise InputError(
            f"{cannot}{gomod_path}: {e.strerror}",
            path=str(gowork_path),
            line=use.line,
            hint=f"make it a module (go mod init in {directory}), "
            f"or drop it: go work edit -dropuse={use.path}",
        ) from e
    gm = parse_gomod(data, str(gomod_path))
    if not gm.module:
        raise InputError(
            f"{cannot}{gomod_path} has no module directive",
            path=str(gowork_path),
            line=use.line,
            hint=f"add `module <path>` to {gomod_path}",
        )
    return gm


def _check_module_replaces(
    work_replaces: Iterable[Replace], mains: list[tuple[ModuleVersion, GoMod, Path]]
) -> None:
    """Two main modules must not replace one module (version) by different things, unless
    go.work replaces that module itself (cmd/go makeMainModules).

    Relative directories are compared as the directories they name: `../shared/mit` in ws/a
    and `../../shared/mit` in ws/svc/api are one replacement.
    """
    by_work = {r.old_path for r in work_replaces}
    first: dict[tuple[str, str], tuple[tuple[str, str], Replace, GoMod]] = {}
    for _mv, gm, directory in mains:
        for r in gm.replaces:
            if r.old_path in by_work:
                continue
            target = _target(r)
            if not r.new_version and not os.path.isabs(r.new_path):
                target = (os.path.normpath(directory / r.new_path), "")
            key = (r.old_path, r.old_version)
            seen = first.setdefault(key, (target, r, gm))
            if seen[2] is gm or seen[0] == target:
                continue
            old = f"{r.old_path}@{r.old_version}" if r.old_version else r.old_path
            prev, prev_gm = seen[1], seen[2]
            raise InputError(
                f"conflicting replacements for {old}: {_describe(r, directory)} here, "
                f"{_describe(prev, Path(prev_gm.path).parent)} at {prev_gm.path}:{prev.line}",
                path=gm.path,
                line=r.line,
                hint=_CHOOSE_IN_GO_WORK.format(old),
            )


def _check_in_workspace(start: Path, ws: _Workspace) -> None:
    """A directory inside a module that go.work does not use cannot be built (the go command:
    `directory prefix . does not contain modules listed in go.work`): the workspace's build
    list is not that module's, so it is an error, not that list."""
    gomod = find_upwards(start, "go.mod")
    if gomod is None or gomod.parent in {d for _mv, _gm, d in ws.mains}:
        return
    module = f"the module at {gomod.parent}"
    if start != gomod.parent:
        module = f"{start} is in {module}, which"
    raise InputError(
        f"{module} is not one of the modules listed in {ws.work_file}: the workspace's build "
        "list is not its build list",
        hint=f"add it to the workspace (run `go work use .` in {gomod.parent}), "
        "or set GOWORK=off to scan it on its own",
    )


def load_build_list(
    main_dir: Path | str,
    source: ModuleSource,
    *,
    use_workspace: bool = True,
    env: Mapping[str, str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    all_go_versions: bool = False,
) -> BuildList:
    """The build list of the module (or go.work workspace) at main_dir: `go list -m all`.

    `all_go_versions` also fetches the go.mod of selected modules that graph pruning left
    unread, so every BuildModule.go_version is filled in (as `go list -m -json` does).

    go.work is the one the go command would use in main_dir: GOWORK in `env` (off, an
    absolute path, or unset/auto for the nearest go.work in main_dir or a parent); none when
    `use_workspace` is False. go.mod is looked for in main_dir and its parents. A main_dir in
    a module that go.work does not use is an InputError (the go command builds nothing there).
    Raises InputError for bad go.mod/go.work files, NotFoundError/OperationalError when a
    needed go.mod cannot be fetched.
    """
    start = Path(main_dir).resolve()
    gowork = find_gowork(start, env or {}) if use_workspace else None
    if gowork is not None:
        ws = _workspace(gowork)
        _check_in_workspace(start, ws)
    else:
        gomod = find_upwards(start, "go.mod")
        if gomod is None:
            raise InputError(
                f"{start}: go.mod file not found in this directory or any parent",
                hint="run in a Go module, or pass its directory",
            )
        ws = _single_module(gomod)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gomod")
    try:
        loader = _Loader(ws, source, pool, progress)
        mains = [mv for mv, _gm, _d in ws.mains]
        if ws.is_workspace:
            graph = loader.read_graph(Pruning.WORKSPACE, mains, mains)
        else:
            graph = _expand_single(loader, ws)
        if all_go_versions:
            loader.complete(graph)
    except BaseException:
        # On an error or Ctrl-C, queued fetches are dropped instead of awaited.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return _assemble(ws, loader, graph, mains)


def _expand_single(loader: _Loader, ws: _Workspace) -> _Graph:
    """cmd/go expandGraph for one main module: re-read until every root is selected."""
    main, gm, _dir = ws.mains[0]
    pruning = pruning_for_go(gm.go)
    roots = [
        ModuleVersion(r.path, r.version)
        for r in gm.requires
        if ModuleVersion(r.path, r.version) not in ws.excludes
    ]
    if pruning is Pruning.UNPRUNED:
        # Raising roots in an unpruned graph never changes the build list.
        return loader.read_graph(pruning, roots, [main])
    # A pruned graph keeps one root per path, at the highest version go.mod lists.
    top: dict[str, str] = {}
    for r in roots:
        if r.path not in top or _version_cmp(top[r.path], r.version) < 0:
            top[r.path] = r.version
    roots = [ModuleVersion(p, v) for p, v in sorted(top.items())]
    while True:
        graph = loader.read_graph(pruning, roots, [main])
        raised = [ModuleVersion(r.path, graph.selected[r.path]) for r in roots]
        if raised == roots:
            return graph
        roots = raised


def _shown_dir(ws: _Workspace, written: str, directory: str) -> str:
    """How `go list -m` shows a directory replacement (cmd/go canonicalizeReplacePath)."""
    if not ws.is_workspace or os.path.isabs(written):
        return written
    # In a workspace, relative to the go.work directory, spelled as a directory path.
    rel = Path(os.path.relpath(directory, ws.root)).as_posix()
    return rel if is_directory_path(rel) else "./" + rel


def _assemble(
    ws: _Workspace, loader: _Loader, graph: _Graph, mains: list[ModuleVersion]
) -> BuildList:
    main_paths = {m.path for m in mains}
    modules: list[BuildModule] = []
    # `go list -m all` sorts a workspace's main modules by path (its roots are sorted);
    # `mains` and `main_dirs` keep go.work's `use` order.
    for mv, gm, _dir in sorted(ws.mains, key=lambda main: main[0].path):
        modules.append(BuildModule(mv.path, "", None, False, gm.go, True))
    for path in sorted(p for p in graph.selected if p not in main_paths):
        version = graph.selected[path]
        mv = ModuleVersion(path, version)
        summary = loader.loaded.get(mv)
        modules.append(
            BuildModule(
                path,
                version,
                _replacement(ws, mv),
                path not in ws.direct,
                summary.go_version if summary else "",
                False,
            )
        )
    return BuildList(
        tuple(modules),
        dict(graph.edges),
        tuple(mains),
        workspace=ws.is_workspace,
        main_dirs=tuple(d for _mv, _gm, d in ws.mains),
        work_file=ws.work_file,
        _selected=dict(graph.selected),
        _replace=lambda m: _replacement(ws, m),
    )


def _replacement(ws: _Workspace, mv: ModuleVersion) -> Replacement | None:
    """The replacement of mv as `go list -m` shows it, None when no directive applies."""
    rep = ws.replacement(mv)
    if rep is None:
        return None
    r, d = rep
    if r.new_version:
        return Replacement(r.new_path, r.new_version)
    directory = os.path.normpath(d / r.new_path)
    return Replacement(_shown_dir(ws, r.new_path, directory), "", directory)
