"""What the code the build compiles proves about a match: the ground of every VEX statement.

A `not_affected` statement is a claim others act on, so it is made only from proof:
NOT_BUILT when the import closure (scanner.vulndb.closure) was read whole and holds no
vulnerable package; NOT_CALLED when it holds one but no package of it names a vulnerable
function, or one of the package's own declarations that reaches it (scanner.vulndb.callers),
and no init code reaches it. Vulnerable methods stay UNKNOWN unless a call is found: an
interface call reaches a method without naming its package. So does the standard library,
whose own imports are not read. CALLED is name matching, as for the main module (a method
call by what the syntax tells of its receiver, scanner.vulndb.reach): an over-approximation
of what runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from .callers import PackageDefs, reaching
from .closure import Closure
from .match import VulnMatch
from .osv import STDLIB, TOOLCHAIN, Package
from .reach import (
    BuildReach,
    Reach,
    ReachableMatch,
    Site,
    _called_sites,
    preferred,
    reachability,
)

_SHOWN_SITES = 3


def _where(sites: Iterable[Site]) -> str:
    shown = sorted(set(sites))
    text = ", ".join(f"{s.path}:{s.line}" for s in shown[:_SHOWN_SITES])
    return text + (f" and {len(shown) - _SHOWN_SITES} more" if len(shown) > _SHOWN_SITES else "")


def _missing(closure: Closure) -> str:
    first, why = next(iter(closure.missing.items()))
    more = len(closure.missing) - 1
    return (
        f"the code of {len(closure.missing)} imported package{'s' if more else ''} was not at "
        f"hand to analyse ({first}: {why}{'; …' if more else ''})"
    )


def _import_path(closure: Closure, module: str, package: str) -> str:
    """A vulnerable package as the build imports it (a replacement keeps the import paths)."""
    prefix = closure.renamed.get(module, module)
    return prefix + package[len(module) :] if package.startswith(module) else package


def _standard(match: VulnMatch, closure: Closure) -> tuple[BuildReach, str]:
    calls: list[tuple[str, Site, bool]] = []
    for package in match.packages:
        if package.path in closure.std and package.symbols:
            calls.extend(_called_sites(package, closure.uses))
    if sites := [site for _, site in preferred(calls)]:
        return BuildReach.CALLED, f"called at {_where(sites)}"
    return (
        BuildReach.UNKNOWN,
        "the standard library's own imports and calls are not analysed, so the vulnerable "
        "code may be compiled through another standard package",
    )


def build_evidence(match: VulnMatch, closure: Closure) -> tuple[BuildReach, str]:
    """The proof for one match, and a note saying what it rests on or what was missing."""
    if match.module == TOOLCHAIN:
        return BuildReach.NOT_BUILT, "the vulnerability is in the go command, not in built code"
    if match.module == STDLIB:
        return _standard(match, closure)
    if not match.packages:
        # Every package of the module is vulnerable: compiling one is enough.
        prefix = _import_path(closure, match.module, match.module)
        built = [p for p in closure.packages if p == prefix or p.startswith(prefix + "/")]
        if built:
            return BuildReach.CALLED, f"{built[0]} is compiled and the whole module is vulnerable"
        if not closure.complete:
            return BuildReach.UNKNOWN, _missing(closure)
        return BuildReach.NOT_BUILT, f"no package of {match.module} is compiled"
    called: list[str] = []
    unknown: list[str] = []
    compiled: list[str] = []
    for package in match.packages:
        path = _import_path(closure, match.module, package.path)
        if path not in closure.packages:
            continue
        compiled.append(path)
        if not package.symbols:
            called.append(f"{path} is compiled and all its code is vulnerable")
            continue
        reach = reaching(closure.defs.get(path, PackageDefs(())), package.symbols)
        if reach.on_init:
            called.append(f"{path} reaches {', '.join(package.symbols)} when it is initialised")
            continue
        sites = preferred(_called_sites(Package(path, tuple(sorted(reach.names))), closure.uses))
        if sites:
            names = sorted({name for name, _ in sites})
            called.append(f"{path}.{', '.join(names)} named at {_where(s for _, s in sites)}")
        elif path in closure.dot_imported:
            unknown.append(f"{path} is imported with `.`, which name matching does not follow")
        elif methods := sorted(n for n in reach.names if "." in n):
            unknown.append(
                f"{path}.{', '.join(methods)}: a method can be called through an interface, "
                "which name matching does not follow"
            )
    if called:
        return BuildReach.CALLED, "; ".join(called)
    if unknown:
        return BuildReach.UNKNOWN, "; ".join(unknown)
    if not closure.complete:
        return BuildReach.UNKNOWN, _missing(closure)
    listed = ", ".join(p.path for p in match.packages)
    if compiled:
        return (
            BuildReach.NOT_CALLED,
            f"{', '.join(compiled)} compiled, but none of the {len(closure.packages)} packages of "
            "the build names a vulnerable symbol or code reaching it",
        )
    return (
        BuildReach.NOT_BUILT,
        f"none of the {len(closure.packages)} packages of the build imports {listed}",
    )


def reach_build(matches: Iterable[VulnMatch], closure: Closure) -> list[ReachableMatch]:
    """Each match with the main module's reachability (the policy's) and the build's proof."""
    out = []
    for match in matches:
        level, note = build_evidence(match, closure)
        main: Reach = reachability(match, closure.main_uses)
        out.append(
            ReachableMatch(
                match,
                Reach(main.level, main.sites, main.symbols, build=level, build_note=note),
            )
        )
    return out


def vulnerable_packages(matches: Iterable[VulnMatch], renamed: dict[str, str]) -> set[str]:
    """The import paths whose declarations build_closure must keep (`detailed`)."""
    out = set()
    for m in matches:
        prefix = renamed.get(m.module, m.module)
        for p in m.packages:
            out.add(prefix + p.path[len(m.module) :] if p.path.startswith(m.module) else p.path)
    return out
