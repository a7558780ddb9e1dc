"""One scan run: the build list, a verdict per module (proxy or local), source rules."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config import ScanConfig
from .errors import GoProxyScanError, InputError, OperationalError
from .goenv import go_environ
from .gomod import GoMod, parse_gomod
from .module import ModuleVersion
from .result import (
    FindingResult,
    ModuleResult,
    RuleInfo,
    RuleKind,
    ScanResult,
    Severity,
    fingerprint_findings,
)
from .verdict import Decision, Reason, Verdict

if TYPE_CHECKING:  # imported lazily at run time: each costs start-up only when used
    from .buildlist import BuildList, BuildModule, Replacement
    from .licenses import LicenseReport, TemplateIndex
    from .modfetch import ModuleSource
    from .modulestxt import VendoredModule, VendorList
    from .policy import Policy
    from .rules.runner import Finding
    from .source import SyntaxProblem

# Rule ids of verdicts the scanner makes itself (not the policy's).
UNAVAILABLE_RULE = "scan.module-unavailable"
CHECKSUM_RULE = "scan.checksum-mismatch"


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analysis of one tree found, before verdicts: used for head and for --base."""

    main: GoMod
    modules: tuple[BuildModule, ...]  # main module excluded
    requires: Mapping[str, tuple[str, ...]]  # "path@version" -> required "path@version" keys
    main_requires: tuple[str, ...]
    optional: frozenset[str]  # module paths used only by tests or tools
    findings: tuple[FindingResult, ...]
    rules: tuple[RuleInfo, ...]
    parse_errors: tuple[str, ...]
    source: ModuleSource | None  # where the build list came from (None: vendor/)
    notes: tuple[str, ...] = field(default=())
    vendor_dir: Path | None = None  # set when the build uses vendor/ (modules judged there)
    # The go.sum files that pin the build (a workspace's: each module's, then go.work.sum).
    sum_files: tuple[Path, ...] = ()
    # Module path -> the go.mod (absolute) and line of the require that names it.
    require_sites: Mapping[str, tuple[Path, int]] = field(default_factory=dict)
    # What the report says of this analysis when it is the --base one (scanner.diff).
    base_notes: tuple[str, ...] = ()
    # Module paths whose packages the main module's code or tests import (module mode).
    imported: frozenset[str] = frozenset()


def module_source(config: ScanConfig, env: Mapping[str, str]) -> tuple[ModuleSource, str]:
    """Where go.mod files and zips come from, and how to say so.

    A file:// --proxy is itself a GOPROXY tree; otherwise the module cache when offline, else
    the job's GOPROXY (which `goproxy-scan env` points at the private proxy in CI).
    """
    from .modfetch import ModCacheSource, source_from_goproxy

    if config.proxy.startswith("file://"):
        return source_from_goproxy(config.proxy), config.proxy
    if config.offline:
        cache = gomodcache(env)
        return ModCacheSource(cache), f"the module cache {cache}"
    return goproxy_source(env)


def goproxy_source(
    env: Mapping[str, str], default: str = "https://proxy.golang.org,direct"
) -> tuple[ModuleSource, str]:
    """The environment's GOPROXY (else `default`) as the go command uses it: the module paths
    GONOPROXY/GOPRIVATE match, which it fetches from version control, come from the module
    cache and are never sent to a proxy."""
    from .goenv import noproxy_patterns
    from .modfetch import ModCacheSource, PrivateRouting, source_from_goproxy

    goproxy = env.get("GOPROXY", "") or default
    source, where = source_from_goproxy(goproxy), f"GOPROXY={goproxy}"
    if private := noproxy_patterns(env):
        cache = gomodcache(env)
        source = PrivateRouting(private, source, ModCacheSource(cache))
        where += f" (GONOPROXY/GOPRIVATE={private}: the module cache {cache})"
    return source, where


def local_source(env: Mapping[str, str]) -> tuple[ModuleSource, str]:
    """The fail-open fallback: the module cache (or the job's file:// GOPROXY, if any)."""
    from .modfetch import ModCacheSource, source_from_goproxy

    goproxy = env.get("GOPROXY", "")
    if goproxy.startswith("file://"):
        return source_from_goproxy(goproxy), goproxy
    cache = gomodcache(env)
    return ModCacheSource(cache), f"the module cache {cache}"


def gomodcache(env: Mapping[str, str]) -> Path:
    if env.get("GOMODCACHE"):
        return Path(env["GOMODCACHE"])
    gopath = env.get("GOPATH", "").split(os.pathsep)[0]
    home = Path(env.get("HOME", str(Path.home())))
    return Path(gopath) / "pkg" / "mod" if gopath else home / "go" / "pkg" / "mod"


def read_gomod(main_dir: Path) -> GoMod:
    path = main_dir / "go.mod"
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        work = main_dir / "go.work"
        if work.is_file():
            # A workspace root is no module (the go command builds nothing there either): the
            # scan runs in one of its modules, with the whole workspace's build list.
            from .gowork import parse_gowork

            uses = [u.path for u in parse_gowork(work.read_bytes(), str(work)).uses]
            raise InputError(
                "a go.work workspace root, not a module (no go.mod here)",
                path=str(work),
                hint=f"scan one of its modules ({', '.join(uses) or 'none listed'}); each scan"
                " uses the workspace's build list",
            ) from e
        raise InputError(
            "no go.mod here", path=str(path), hint="pass the main module's directory"
        ) from e
    return parse_gomod(data, str(path))


def vendor_dir(main_dir: Path, env: Mapping[str, str]) -> Path | None:
    """The vendor/ the go command builds from here, or None when it builds from modules.

    vendor/modules.txt must be there and -mod not overridden. In a go.work workspace (GOWORK
    not off) that is the vendor/ beside go.work (`go work vendor`): the go command ignores a
    workspace module's own vendor/. Outside one, the module's."""
    flags = env.get("GOFLAGS", "").split()
    if any(f in ("-mod=mod", "-mod=readonly") for f in flags):
        return None
    workspace = _workspace_root(main_dir, env)
    vendor = (workspace or main_dir) / "vendor"
    return vendor if (vendor / "modules.txt").is_file() else None


def _workspace_root(main_dir: Path, env: Mapping[str, str]) -> Path | None:
    """The directory of the go.work the go command uses in main_dir (GOWORK: off, a file, or
    the nearest go.work in main_dir or a parent), if any."""
    from .buildlist import find_gowork

    gowork = find_gowork(main_dir.resolve(), env)
    return gowork.parent if gowork is not None else None


def _workspace_dirs(root: Path) -> tuple[Path, ...]:
    """The directories go.work in `root` uses."""
    from .gowork import parse_gowork

    gowork = root / "go.work"
    try:
        data = gowork.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {gowork}: {e.strerror}", path=str(gowork)) from e
    return tuple((root / use.path).resolve() for use in parse_gowork(data, str(gowork)).uses)


def analyse(
    config: ScanConfig, env: Mapping[str, str], *, source: ModuleSource | None = None
) -> Analysis:
    """Build list and source findings of the tree in `config.main_dir` (no verdicts)."""
    main = read_gomod(config.main_dir)
    vendor = vendor_dir(config.main_dir, env)
    if vendor is not None:
        return _analyse_vendor(config, main, vendor)
    from .buildlist import load_build_list

    def load(source: ModuleSource) -> BuildList:
        return load_build_list(config.main_dir, source, env=env)

    notes: list[str] = []
    if source is None:
        source, where = module_source(config, env)
        try:
            build_list = load(source)
        except OperationalError as e:
            # CI points GOPROXY at the private proxy too: when it is down, --fail-open reads
            # the go.mod files from the module cache instead, and says so.
            if not config.fail_open:
                fallback = (
                    "download the modules first (go mod download), or give --proxy file://TREE"
                    if config.offline or config.proxy.startswith("file://")  # local already
                    else "--fail-open reads the module cache"
                )
                hint = "; ".join(filter(None, [e.hint, fallback]))
                raise OperationalError(
                    e.message, path=e.path, module=e.module, version=e.version, hint=hint
                ) from e
            source, where = local_source(env)
            notes.append(f"{e}; --fail-open: modules read from {where}")
            build_list = load(source)
        else:
            notes.append(f"modules read from {where}")
    else:
        build_list = load(source)
    modules = tuple(m for m in build_list.modules if not m.main)
    selected = {m.path: f"{m.path}@{m.version}" for m in modules}
    requires = {
        f"{m.path}@{m.version}": _edges(build_list, m.path, m.version, selected) for m in modules
    }
    main_requires = tuple(sorted({selected[r.path] for r in main.requires if r.path in selected}))
    findings, rules, parse_errors = _source_findings(config)
    optional, imported = _optional_modules(config.main_dir, build_list)
    return Analysis(
        main=main,
        modules=modules,
        requires=requires,
        main_requires=main_requires,
        optional=optional,
        imported=imported,
        findings=findings,
        rules=rules,
        parse_errors=parse_errors,
        source=source,
        notes=tuple(notes),
        sum_files=_sum_files(config.main_dir, build_list),
        require_sites=_require_sites(config.main_dir, main, _others(config, build_list.main_dirs)),
    )


def _others(config: ScanConfig, workspace_dirs: Sequence[Path]) -> list[tuple[Path, GoMod]]:
    """The go.mod of each workspace module other than the scanned one, by directory."""
    here = config.main_dir.resolve()
    return [(d.resolve(), read_gomod(d)) for d in workspace_dirs if d.resolve() != here]


def _require_sites(
    main_dir: Path, main: GoMod, others: Sequence[tuple[Path, GoMod]]
) -> dict[str, tuple[Path, int]]:
    """Module path -> (go.mod, line) of the require that names it, where findings point.

    The scanned go.mod's own line first; a module only another workspace module (`others`,
    in go.work's `use` order) requires points at that module's go.mod. When several of them
    require it, the first gives the line (any of them would do: each has to change to drop it).
    """
    sites = {r.path: (main_dir.resolve() / "go.mod", r.line) for r in main.requires}
    for d, gomod in others:
        for r in gomod.requires:
            sites.setdefault(r.path, (d / "go.mod", r.line))
    return sites


def _sum_files(main_dir: Path, build_list: BuildList) -> tuple[Path, ...]:
    """go.sum of the main module; in a workspace, each module's and go.work.sum, as go reads."""
    if not build_list.workspace:
        return (main_dir / "go.sum",)
    sums = tuple(d / "go.sum" for d in build_list.main_dirs)
    work = build_list.work_file
    return sums if work is None else (*sums, work.with_name(work.name + ".sum"))


def _analyse_vendor(config: ScanConfig, main: GoMod, vendor: Path) -> Analysis:
    """The build list as vendor/modules.txt records it; code and licenses from vendor/ (the
    module's, or the workspace's beside go.work)."""
    from .buildlist import BuildModule, Replacement
    from .modulestxt import inconsistencies, parse_modules_txt

    listing = parse_modules_txt((vendor / "modules.txt").read_bytes(), str(vendor / "modules.txt"))
    workspace_dirs = _workspace_dirs(vendor.parent) if listing.workspace else ()
    problems = [] if listing.workspace else inconsistencies(listing, main)
    if problems:
        # The go command refuses to build from it: judging it would judge another build.
        raise InputError(
            "inconsistent vendoring: " + "; ".join(text for _line, text in problems),
            path=main.path,
            line=next((line for line, _text in problems if line), None),
            hint="run `go mod vendor` to sync vendor/, or set GOFLAGS=-mod=mod to scan the"
            " build list without it",
        )
    _check_vendored_packages(config.main_dir, vendor, listing.build_list())
    # go.mod's `// indirect`, as `go list -m` reports it: modules.txt marks every requirement
    # `## explicit` since go 1.17, the indirect ones too. In a workspace, any module's go.mod.
    others = _others(config, workspace_dirs)
    gomods = [main, *(gomod for _dir, gomod in others)]
    direct = {r.path for gomod in gomods for r in gomod.requires if not r.indirect}
    modules = []
    # Only modules that provide vendored packages are built: a requirement with no package in
    # vendor/ and a replace directive's own line have no code there to judge.
    for v in listing.build_list():
        replace_to = None
        if v.replace_path:
            directory = (
                # relative to go.mod's directory, or in a workspace to go.work's
                "" if v.replace_version else str((vendor.parent / v.replace_path).resolve())
            )
            replace_to = Replacement(v.replace_path, v.replace_version, directory)
        modules.append(
            BuildModule(
                path=v.path,
                version=v.version,
                replace=replace_to,
                indirect=v.path not in direct,
                go_version=v.go_version,
            )
        )
    keys = {m.path: f"{m.path}@{m.version}" for m in modules}
    # modules.txt keeps no requirement graph: the main module's requirements are what it says.
    main_requires = tuple(sorted({keys[r.path] for r in main.requires if r.path in keys}))
    findings, rules, parse_errors = _source_findings(config)
    return Analysis(
        main=main,
        modules=tuple(modules),
        requires={},
        main_requires=main_requires,
        optional=_vendored_optional(config.main_dir, main, vendor, listing),
        findings=findings,
        rules=rules,
        parse_errors=parse_errors,
        source=None,
        notes=(f"modules read from {_shown(config.main_dir, vendor)}/modules.txt (vendor mode)",),
        vendor_dir=vendor,
        sum_files=(*(d / "go.sum" for d in workspace_dirs), vendor.parent / "go.work.sum")
        if workspace_dirs
        else (config.main_dir / "go.sum",),
        require_sites=_require_sites(config.main_dir, main, others),
    )


def _check_vendored_packages(
    main_dir: Path, vendor: Path, modules: Iterable[VendoredModule]
) -> None:
    """Each package vendor/modules.txt lists must be in vendor/: the go command cannot build
    one that is gone (import lookup is disabled in vendor mode), and its module would be judged
    on a copy that is not there."""
    listing = _shown(main_dir, vendor / "modules.txt")
    for m in modules:
        missing = [p for p in m.packages if not (vendor / p).is_dir()]
        if missing:
            shown = ", ".join(f"{_shown(main_dir, vendor)}/{p}" for p in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise InputError(
                f"{m.path}@{m.version}: {listing} lists its package"
                f"{'s' if len(missing) > 1 else ''} {', '.join(missing[:3])}{more}, but"
                f" {shown} is missing (the go command cannot find it either: import lookup is"
                " disabled by -mod=vendor)",
                path=listing,
                line=m.line or None,
                hint="run `go mod vendor` to restore vendor/, or set GOFLAGS=-mod=mod to scan"
                " the build list without it",
            )


def _edges(
    build_list: BuildList, path: str, version: str, selected: Mapping[str, str]
) -> tuple[str, ...]:
    # The graph names what each go.mod asked for; edges point at the version MVS selected.
    wanted = build_list.graph.get(ModuleVersion(path, version), ())
    return tuple(sorted({selected[r.path] for r in wanted if r.path in selected}))


def _optional_modules(
    main_dir: Path, build_list: BuildList
) -> tuple[frozenset[str], frozenset[str]]:
    """(modules used only by tests or tools, modules the main module's code or tests import).

    Optional are the modules the main module imports only from tests or names only in `tool`
    lines, and the modules only those need: what the module graph reaches from them but not
    from the modules the main module's non-test code imports (the walk from these does not
    enter the optional ones). A go >= 1.17 go.mod requires every module its packages (and
    tests) need, so the walk from the non-test imports holds all the build compiles. A module
    on it whose go.mod is older (or missing) may import from any module of the build list:
    then only the test and tool imports themselves are optional.
    """
    try:
        from .source import project_imports
    except ImportError:  # source analysis not installed: every module counts as required
        return frozenset(), frozenset()
    from .buildlist import Pruning, pruning_for_go

    use = project_imports(main_dir, build_list)
    direct = frozenset(use.test_only) | frozenset(use.tool_only)
    imported = use.used | use.test_only
    selected = {m.path: m for m in build_list.modules if not m.main}

    def needs(path: str) -> Iterable[str]:
        m = selected[path]
        return (r.path for r in build_list.graph.get(ModuleVersion(path, m.version), ()))

    required = _reach(use.used, needs, selected.keys(), stop=direct)
    if any(
        ModuleVersion(p, selected[p].version) in build_list.graph
        and pruning_for_go(selected[p].go_version) is Pruning.UNPRUNED
        for p in required
    ):
        return direct, imported
    return direct | (_reach(direct, needs, selected.keys()) - required), imported


def _reach(
    roots: Iterable[str],
    needs: Callable[[str], Iterable[str]],
    known: Collection[str],
    *,
    stop: Collection[str] = (),
) -> frozenset[str]:
    """The `known` nodes reachable from `roots` (those in `stop` neither reached nor passed)."""
    seen: set[str] = set()
    pending = [r for r in roots if r in known and r not in stop]
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        pending.extend(n for n in needs(node) if n in known and n not in stop and n not in seen)
    return frozenset(seen)


def _vendored_optional(
    main_dir: Path, main: GoMod, vendor: Path, listing: VendorList
) -> frozenset[str]:
    """The vendored modules used only by tests or tools, as module mode decides it: here the
    vendored packages' own imports say what the main module's non-test packages compile (the
    go command vendors the main module's test and tool imports, not its dependencies' tests).
    """
    try:
        from .source import constraint_allows, parse_header, project_imports, tidy_tag
        from .vulndb.closure import CodeUnavailable, VendorSource
    except ImportError:  # source analysis not installed: every module counts as required
        return frozenset()
    vendored = listing.build_list()
    owner = {p: m.path for m in vendored for p in m.packages}
    tools = [t.path for t in main.tools]
    use = project_imports(main_dir, [m.path for m in vendored], main_path=main.module, tools=tools)
    sites = [s for found in use.sites.values() for s in found]
    code = {s.import_path for s in sites if not s.test}
    tests = {s.import_path for s in sites if s.test} | set(tools)
    source = VendorSource(vendor, listing)

    def needs(package: str) -> Iterable[str]:
        try:
            files = source.read(package).files
        except CodeUnavailable:
            return ()
        paths: list[str] = []
        for shown, data in files:
            parsed = parse_header(shown, data)
            # `go mod vendor` leaves `ignore` files out, as tidy does
            if parsed.build is None or constraint_allows(parsed.build, tidy_tag):
                paths.extend(i.path for i in parsed.imports)
        return paths

    built = _reach(code, needs, owner.keys())
    only_optional = _reach(tests, needs, owner.keys(), stop=built)
    return frozenset(owner[p] for p in only_optional) - {owner[p] for p in built}


def _source_findings(
    config: ScanConfig,
) -> tuple[tuple[FindingResult, ...], tuple[RuleInfo, ...], tuple[str, ...]]:
    if not config.source_rules:
        return (), (), ()
    from .source import confirm_with_go, scan_sources

    scan = scan_sources(config.main_dir, cache_dir=config.cache_dir, jobs=config.jobs or None)
    findings = []
    rules: dict[str, RuleInfo] = {}
    for f in scan.findings:
        severity = Severity.parse(f.severity)
        cwe = _cwe(f.cwe)
        findings.append(
            FindingResult(
                rule_id=f.rule_id,
                severity=severity,
                path=_relative(config.main_dir, f.path),
                line=f.line,
                column=f.column,
                message=f.message,
                cwe=cwe,
                fix=f.fix or "",
                suppressed=bool(f.suppressed),
                suppression_reason=f.suppression_reason or "",
                fingerprint=f.fingerprint,
            )
        )
        rules.setdefault(f.rule_id, _rule_info(f.rule_id, severity, cwe, f))
    parse_errors = tuple(map(_parse_error, confirm_with_go(config.main_dir, scan.parse_errors)))
    if any(not f.fingerprint for f in findings):
        findings = list(fingerprint_findings(findings, _file_lines(config.main_dir, findings)))
    # Reports locate files from the repository root (SARIF, annotations, code quality); the
    # fingerprints stay relative to the module, so a base checked out elsewhere matches.
    prefix = repo_prefix(config.main_dir)
    if prefix:
        findings = [replace(f, path=f"{prefix}/{f.path}") for f in findings]
    return tuple(findings), tuple(rules.values()), parse_errors


def _parse_error(problem: SyntaxProblem) -> str:
    text = f"{problem.path}:{problem.line}:{problem.column}: {problem.message}"
    if problem.go_accepts:
        return text + (
            " (Go accepts this syntax; the analyser's grammar, tree-sitter-go, does not know it"
            " yet: the file was read as far as it parses)"
        )
    return text + " (Go's parser)" if problem.go_accepts is False else text


def _file_lines(main_dir: Path, findings: Iterable[FindingResult]) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for f in findings:
        if f.path not in lines:
            try:
                text = (main_dir / f.path).read_text("utf-8", errors="replace")
            except OSError:
                text = ""
            lines[f.path] = text.splitlines()
    return lines


def _shown(main_dir: Path, path: Path) -> str:
    """A directory as notes show it: from the scanned module (no machine path in results)."""
    return Path(os.path.relpath(path.resolve(), main_dir.resolve())).as_posix()


def _relative(main_dir: Path, path: str | Path) -> str:
    p = Path(path)
    if p.is_absolute():
        with contextlib.suppress(ValueError):
            p = p.resolve().relative_to(main_dir.resolve())
    return p.as_posix()


def _cwe(value: object) -> str:
    if value in (None, "", 0):
        return ""
    text = str(value)
    return text if text.upper().startswith("CWE-") else f"CWE-{text}"


def _rule_info(rule_id: str, severity: Severity, cwe: str, finding: Finding) -> RuleInfo:
    """The rule catalogue's description, or what the finding itself says."""
    try:
        from .rules.catalog import describe

        return describe(rule_id)
    except (ImportError, KeyError):
        pass
    short = finding.message
    help_text = f"{short}. Fix: {finding.fix}" if finding.fix else short
    return RuleInfo(rule_id, RuleKind.SOURCE, rule_id, severity, short, help_text, cwe)


def apply_severities(
    findings: Iterable[FindingResult], overrides: Iterable[tuple[str, str]]
) -> tuple[FindingResult, ...]:
    """The policy's per-rule severities: another level, or "off" to drop the rule."""
    table = dict(overrides)
    out = []
    for f in findings:
        level = table.get(f.rule_id)
        if level == "off":
            continue
        out.append(replace(f, severity=Severity.parse(level)) if level else f)
    return tuple(out)


def judge(
    config: ScanConfig,
    policy: Policy,
    analysis: Analysis,
    env: Mapping[str, str],
    now: datetime,
    pins: Mapping[str, Pin] | None = None,
) -> tuple[dict[str, tuple[Verdict, str, str]], str, list[str]]:
    """A verdict per module: key -> (verdict, source "proxy"|"local", zip sha256).

    Returns the verdicts, the overall verdict source and notes for the report. `pins`: the
    `h1:` go.sum records, by key. A proxy verdict counts only when its `h1:` is that one; a zip
    judged here whose bytes are not the ones go.sum pins is rejected, as the go command
    refuses to build with it.
    """
    pins = pins or {}
    expected_h1 = {key: pin.h1 for key, pin in pins.items()}
    notes: list[str] = []
    modules = [ModuleVersion(m.path, m.version) for m in analysis.modules]
    out: dict[str, tuple[Verdict, str, str]] = {}
    overall = "local"
    source = analysis.source
    if config.proxy.startswith(("http://", "https://")) and not config.offline:
        # requests is imported only when a proxy is asked (start-up of local scans).
        from .proxyclient import ClientOptions, ProxyClient, ProxyUnreachableError

        # The proxy judges the bytes the build uses: a module replacement's, not those of the
        # module it replaces. A directory replacement is in no proxy: judged here.
        asked: dict[ModuleVersion, list[ModuleVersion]] = {}
        for m in analysis.modules:
            if m.replace is None or m.replace.version:
                used = built_from(m)
                asked.setdefault(ModuleVersion(*used), []).append(ModuleVersion(m.path, m.version))
        client_options = ClientOptions(
            token=config.token, retries=config.retries, read_timeout=config.timeout
        )
        try:
            with ProxyClient(config.proxy, client_options) as client:
                answered = client.verdicts(list(asked))
            for used_mv, verdict in answered.items():
                for mv in asked.get(used_mv, ()):
                    want = expected_h1.get(str(mv), "")
                    if want and verdict.h1 and verdict.h1 != want:
                        # The proxy judged other bytes than go.sum names: its verdict does not
                        # apply to this build, so the module is judged here instead.
                        notes.append(
                            f"{used_mv}: the proxy judged {verdict.h1}, go.sum has {want}; "
                            "judged locally"
                        )
                        continue
                    out[str(mv)] = (verdict, "proxy", "")
            overall = "proxy"
            if config.policy_file is not None:
                out, held = _held_to_own_policy(out, policy, now)
                notes.extend(held)
        except ProxyUnreachableError as e:
            if not config.fail_open:
                raise
            overall = "local-fallback"
            source, where = local_source(env)
            notes.append(f"{e.message}; --fail-open: judged locally from {where}")
    elif config.proxy and config.offline and not config.proxy.startswith("file://"):
        notes.append("--offline: the proxy was not asked; judged locally")
    missing = [mv for mv in modules if str(mv) not in out]
    if missing:
        replaced = {m.path: m.replace for m in analysis.modules if m.replace is not None}
        if analysis.vendor_dir is not None and overall != "local-fallback":
            from .modfetch import ModCacheSource

            cache = ModCacheSource(gomodcache(env))
            out.update(
                _judge_vendored(
                    config,
                    policy,
                    missing,
                    analysis.modules,
                    replaced,
                    (analysis.vendor_dir, cache),
                    now,
                )
            )
        else:
            judged = _judge_locally(config, policy, missing, replaced, source, now)
            for key, (verdict, origin, sha) in judged.items():
                pin = pins.get(key)
                if sha and pin is not None and verdict.h1 and verdict.h1 != pin.h1:
                    judged[key] = (_checksum_mismatch(verdict, pin), origin, sha)
            out.update(judged)
        if overall == "proxy":
            notes.append(f"{len(missing)} modules had no proxy verdict and were judged locally")
    return out, overall, notes


def _held_to_own_policy(
    verdicts: dict[str, tuple[Verdict, str, str]], policy: Policy, now: datetime
) -> tuple[dict[str, tuple[Verdict, str, str]], list[str]]:
    """Proxy verdicts judged again by this scan's policy file where the proxy's differs.

    The proxy's policy decides what the go command can download through it, this scan's
    what the repository accepts: each module is held to both, on the licenses the proxy found,
    and the stricter verdict stands (a REJECT of either fails the scan), except that an
    exception granted on the proxy passes. Returns the verdicts and notes that say where the
    two policies disagreed.
    """
    from .policy import ModuleFacts, evaluate

    out = dict(verdicts)
    stricter_here: list[str] = []
    stricter_there: list[str] = []
    digests: set[str] = set()
    approved: list[str] = []
    for key, (theirs, origin, sha) in verdicts.items():
        if origin != "proxy" or theirs.policy_digest == policy.digest:
            continue
        digests.add(theirs.policy_digest)
        facts = ModuleFacts(
            theirs.module, theirs.version, h1=theirs.h1, expression=theirs.expression or None
        )
        ours = evaluate(policy, facts, now)
        ours = replace(ours, licenses=theirs.licenses, detector_version=theirs.detector_version)
        if theirs.passed and any(r.rule_id.startswith("exception.") for r in theirs.reasons):
            # An approval granted on the proxy (go-vault approve) is the organisation's word.
            if not ours.passed:
                approved.append(f"{key} (here {ours.decision.value})")
            continue
        if _RANK[ours.decision] > _RANK[theirs.decision]:
            out[key] = (ours, "local", sha)
            stricter_here.append(f"{key} ({ours.decision.value})")
        elif _RANK[theirs.decision] > _RANK[ours.decision]:
            stricter_there.append(f"{key} ({theirs.decision.value}, here {ours.decision.value})")
    notes = []
    if digests:
        notes.append(
            f"the proxy judged with another policy ({', '.join(sorted(digests))}) than this"
            f" scan's {policy.source or 'policy file'} ({policy.digest}): each module is held"
            " to both, on the licenses the proxy found, and the stricter verdict stands"
        )
    if stricter_here:
        notes.append("this scan's policy is stricter for " + ", ".join(stricter_here))
    if approved:
        notes.append("passed by an exception granted on the proxy: " + ", ".join(approved))
    if stricter_there:
        notes.append(
            "the proxy's policy is stricter for "
            + ", ".join(stricter_there)
            + ": the go command cannot download those through it, whatever this policy allows;"
            " an exception there is the proxy operator's (go-vault approve)"
        )
    return out, notes


_RANK = {Decision.PASS: 0, Decision.REVIEW_REQUIRED: 1, Decision.REJECT: 2}


def _judge_vendored(
    config: ScanConfig,
    policy: Policy,
    modules: Sequence[ModuleVersion],
    vendored: Sequence[BuildModule],
    replaced: Mapping[str, Replacement],
    where: tuple[Path, ModuleSource],
    now: datetime,
) -> dict[str, tuple[Verdict, str, str]]:
    """Judge vendored copies: what the build really compiles, license files included.

    `vendored`: every module in vendor/. A vendored module keeps no go.mod, so a nested one
    (go.opentelemetry.io/otel/sdk in go.opentelemetry.io/otel) is told apart by this list: its
    license files are its own, not its parent's. `where`: vendor/, and the module cache, read
    for a module whose license file `go mod vendor` left behind."""
    from .licenses import detect_dir, detect_zip, load_index
    from .licenses.detect import nested_modules
    from .policy import ModuleFacts, evaluate

    vendor_dir, cache = where
    index = load_index()
    out: dict[str, tuple[Verdict, str, str]] = {}
    for mv in modules:
        nested = nested_modules(mv.path, (m.path for m in vendored))
        report = detect_dir(vendor_dir / mv.path, index=index, skip=nested)
        rep = replaced.get(mv.path)
        if not report.files and rep is not None and rep.dir:
            report = _covering_licenses(config, Path(rep.dir)) or report
        elif not report.files:
            # `go mod vendor` copies, from a module root with no package built, only files whose
            # names begin with LICENSE, COPYING, NOTICE and a few more (case and spelling as
            # written): LICENCE, UNLICENSE or license stay behind. The module's zip, if the
            # cache has it, has them.
            used = ModuleVersion(*_replacement(rep)) if rep is not None else mv
            with contextlib.suppress(GoProxyScanError):
                zipped = detect_zip(cache.zip(used.path, used.version), used.path, used.version)
                report = zipped if zipped.files else report
        verdict = evaluate(policy, ModuleFacts(mv.path, mv.version, licenses=report), now)
        if not report.files and not (rep is not None and rep.dir):  # a directory has no zip
            verdict = replace(verdict, reasons=tuple(map(_vendor_hint, verdict.reasons)))
        out[str(mv)] = (verdict, "local", "")
    return out


def _vendor_hint(reason: Reason) -> Reason:
    if reason.rule_id != "license.none":
        return reason
    return Reason(
        reason.rule_id,
        f"{reason.message} (vendor/ holds what `go mod vendor` copies: the packages built and,"
        " from a module root with none, files named LICENSE*, COPYING*, NOTICE* and the like;"
        " a LICENCE, UNLICENSE or lower-case license file stays behind - with the module in"
        " the module cache, or with GOFLAGS=-mod=mod, its zip is read)",
    )


def _covering_licenses(config: ScanConfig, directory: Path) -> LicenseReport | None:
    """The license files of the nearest directory above `directory` that has any, when it is
    in the scanned repository (or module, outside git): a directory replacement there (./api,
    `replace example.com/app/api => ./api`) is the project's own code, under its license, as
    every file of the repository is. A directory elsewhere has only its own; None then."""
    from .licenses import detect_files
    from .licenses.detect import MAX_LICENSE_BYTES, is_license_file

    directory = directory.resolve()
    top = (_git_root(config.main_dir) or config.main_dir).resolve()
    if top not in directory.parents:
        return None
    for parent in directory.parents:
        found = {}
        with contextlib.suppress(OSError):
            for entry in sorted(parent.iterdir()):
                if entry.is_file() and is_license_file(entry.name):
                    with entry.open("rb") as f:
                        found[entry.name] = f.read(MAX_LICENSE_BYTES)
        if found:
            report = detect_files(found)
            # Named from the module's directory, so a reader finds them ("../../LICENSE").
            up = Path(os.path.relpath(parent, directory)).as_posix()
            files = tuple(replace(f, path=f"{up}/{f.path}") for f in report.files)
            return replace(report, files=files)
        if parent == top:
            break
    return None


# Below this many zips a worker pool costs more (start-up, index load) than it saves.
PARALLEL_MIN = 24


def _judge_locally(
    config: ScanConfig,
    policy: Policy,
    modules: Sequence[ModuleVersion],
    replaced: Mapping[str, Replacement],
    source: ModuleSource | None,
    now: datetime,
) -> dict[str, tuple[Verdict, str, str]]:
    """Fetch each zip here (I/O) and judge them over the CPU cores (license detection)."""
    from .licenses import detect_dir
    from .policy import ModuleFacts, evaluate

    out: dict[str, tuple[Verdict, str, str]] = {}
    # (build-list module, the module whose zip is read: its replacement if any, zip bytes)
    zips: list[tuple[ModuleVersion, ModuleVersion, bytes]] = []
    for mv in modules:
        rep = replaced.get(mv.path)
        rep_path, rep_version = _replacement(rep)
        if rep is not None and not rep_version:
            # A local directory replacement: judge the directory the build uses.
            directory = Path(rep_path)
            if not directory.is_absolute():
                directory = (config.main_dir / directory).resolve()
            report = detect_dir(directory)
            if not report.files:
                report = _covering_licenses(config, directory) or report
            facts = ModuleFacts(mv.path, mv.version, licenses=report)
            out[str(mv)] = (evaluate(policy, facts, now), "local", "")
            continue
        # A module replacement is judged by the bytes the build uses: the replacement's.
        fetch = ModuleVersion(rep_path, rep_version) if rep is not None else mv
        if source is None:
            raise OperationalError(f"{mv}: no module source to read the zip from")
        try:
            zips.append((mv, fetch, source.zip(fetch.path, fetch.version)))
        except GoProxyScanError as e:  # NotFoundError included
            out[str(mv)] = (_unavailable(mv, policy.digest, now, e), "local", "")
    cache = VerdictCache.default(policy.digest)
    todo = []
    for mv, fetch, data in zips:
        sha = hashlib.sha256(data).hexdigest()
        hit = cache.get(sha, fetch, now)
        if hit is not None:
            out[str(mv)] = (hit, "local", sha)
        else:
            todo.append((mv, fetch, data, sha))
    judged = _judge_all(config, policy, [(fetch, data) for _mv, fetch, data, _sha in todo], now)
    for (mv, _fetch, _data, sha), verdict in zip(todo, judged, strict=True):
        cache.put(sha, verdict)
        out[str(mv)] = (verdict, "local", sha)
    return out


def _judge_all(
    config: ScanConfig,
    policy: Policy,
    zips: Sequence[tuple[ModuleVersion, bytes]],
    now: datetime,
) -> list[Verdict]:
    from .licenses import load_index

    jobs = config.jobs or os.cpu_count() or 1
    if jobs > 1 and len(zips) >= PARALLEL_MIN:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            chunk = max(1, len(zips) // (jobs * 4))
            args = zip(*((policy, data, mv, now) for mv, data in zips), strict=True)
            return list(pool.map(_judge_one, *args, chunksize=chunk))
    index = load_index() if zips else None  # once: compiling the templates is the expensive part
    return [_judge_one(policy, data, mv, now, index) for mv, data in zips]


class VerdictCache:
    """Local verdicts by zip SHA-256, policy digest and detector version, on disk.

    The same bytes judged by the same policy with the same detector give the same verdict, so
    a rescan detects licenses only for new zips. Verdicts that involved a policy exception are
    not cached: an exception expires with time.
    """

    def __init__(self, root: Path | None, policy_digest: str, detector: str) -> None:
        self.root = root
        self.tag = hashlib.sha256(f"{policy_digest}\0{detector}".encode()).hexdigest()[:16]

    @classmethod
    def default(cls, policy_digest: str) -> VerdictCache:
        from .licenses import detector_version
        from .licenses.templates import default_cache_dir

        return cls(default_cache_dir() / "verdicts", policy_digest, detector_version())

    def _path(self, sha: str) -> Path | None:
        return None if self.root is None else self.root / sha[:2] / f"{sha}-{self.tag}.json"

    def get(self, sha: str, mv: ModuleVersion, now: datetime) -> Verdict | None:
        path = self._path(sha)
        if path is None:
            return None
        try:
            verdict = Verdict.from_json(path.read_bytes())
        except (OSError, ValueError, KeyError):
            return None  # absent or unreadable: judge again
        if (verdict.module, verdict.version) != (mv.path, mv.version):
            return None
        return replace(verdict, evaluated_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def put(self, sha: str, verdict: Verdict) -> None:
        path = self._path(sha)
        if path is None or any(r.rule_id.startswith("exception.") for r in verdict.reasons):
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(verdict.to_json_text(), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a cache that cannot be written only costs time


def _judge_one(
    policy: Policy,
    data: bytes,
    mv: ModuleVersion,
    now: datetime,
    index: TemplateIndex | None = None,
) -> Verdict:
    """One zip's verdict; in a worker process the license index loads once (its own cache)."""
    from .policy import judge_zip

    verdict: Verdict = judge_zip(policy, data, mv.path, mv.version, now, index=index)
    return verdict


def built_from(m: BuildModule) -> tuple[str, str]:
    """(path, version) whose bytes the build uses, as go.sum names them: a module replacement's.

    A directory replacement has no version: its own (path, version) then, which go.sum lacks.
    """
    if m.replace is not None and m.replace.version:
        return m.replace.path, m.replace.version
    return m.path, m.version


def _replacement(rep: Replacement | None) -> tuple[str, str]:
    """(path, version) of a module replacement, or (directory, "") of a directory one."""
    if rep is None:
        return "", ""
    if rep.version:
        return str(rep.path), str(rep.version)
    return str(rep.dir or rep.path), ""


def _unavailable(mv: ModuleVersion, digest: str, now: datetime, error: Exception) -> Verdict:
    return Verdict(
        module=mv.path,
        version=mv.version,
        decision=Decision.REVIEW_REQUIRED,
        licenses=(),
        expression="",
        reasons=(
            Reason(UNAVAILABLE_RULE, f"the module's zip could not be read to judge it: {error}"),
        ),
        policy_digest=digest,
        h1="",
        detector_version="",
        evaluated_at=now.astimezone(UTC).isoformat(),
    )


def _checksum_mismatch(verdict: Verdict, pin: Pin) -> Verdict:
    """REJECT: the zip read to judge the module is not the one go.sum pins (the go command
    stops with "checksum mismatch ... SECURITY ERROR" at the same bytes)."""
    reason = Reason(
        CHECKSUM_RULE,
        f"checksum mismatch: the module's zip hashes to {verdict.h1}, {pin.where} pins "
        f"{pin.h1}; these are not the bytes go.sum recorded (a changed or tampered download, "
        "or an edited go.sum) - find out which before changing go.sum (`go mod verify` checks "
        "the module cache)",
    )
    return replace(verdict, decision=Decision.REJECT, reasons=(reason, *verdict.reasons))


@dataclass(frozen=True, slots=True)
class Pin:
    """The `h1:` a go.sum records for a module's zip, and where ("go.sum:3")."""

    h1: str
    where: str


class _GoSumHashes:
    """The hashes the build's go.sum files record ("" for what none of them holds)."""

    def __init__(self, files: Iterable[Path]) -> None:
        from .gosum import parse_gosum

        self.sums = [parse_gosum(f.read_bytes(), str(f)) for f in files if f.exists()]

    def h1(self, path: str, version: str) -> str:
        return next((h for s in self.sums if (h := s.h1(path, version))), "")

    def pin(self, path: str, version: str, main_dir: Path) -> Pin | None:
        """The zip's `h1:` and the go.sum line recording it (named from `main_dir`), if any."""
        for s in self.sums:
            if h := s.h1(path, version):
                name = _gomod_display(main_dir, Path(s.path))
                return Pin(h, f"{name}:{s.line_of(path, version)}")
        return None

    def gomod_h1(self, path: str, version: str) -> str:
        return next((h for s in self.sums if (h := s.gomod_h1(path, version))), "")


def load_scan_policy(config: ScanConfig) -> Policy:
    from .policy import default_policy, load_policy

    return load_policy(config.policy_file) if config.policy_file else default_policy()


def run_scan(
    config: ScanConfig, env: Mapping[str, str] | None = None, now: datetime | None = None
) -> ScanResult:
    """The whole scan of `config.main_dir` without --base (see scanner.diff for that)."""
    env = go_environ(os.environ if env is None else env)
    now = now or datetime.now(UTC)
    policy = load_scan_policy(config)
    if config.fail_on is None:
        config = replace(config, fail_on=Severity.parse(policy.source_rules.fail_on))
    analysis = analyse(config, env)
    sums = _GoSumHashes(analysis.sum_files)
    pins = {
        f"{m.path}@{m.version}": pin
        for m in analysis.modules
        if (pin := sums.pin(*built_from(m), config.main_dir)) is not None
    }
    verdicts, overall, notes = judge(config, policy, analysis, env, now, pins)
    if unpinned := _missing_sums(analysis, sums):
        notes.append(_missing_sums_note(config.main_dir, analysis, unpinned))
    scanned_gomod = config.main_dir.resolve() / "go.mod"
    modules = []
    # The digest of the policy that judged the modules (the proxy's, when it did and no policy
    # file of this scan's held them to it too), else this scan's: its source rules judged the
    # code even when the build has no dependencies.
    policy_digest = policy.digest if config.policy_file is not None else ""
    for m in analysis.modules:
        key = f"{m.path}@{m.version}"
        verdict, origin, zip_sha = verdicts[key]
        policy_digest = policy_digest or verdict.policy_digest
        gomod, line = analysis.require_sites.get(m.path, (scanned_gomod, None))
        modules.append(
            ModuleResult(
                path=m.path,
                version=m.version,
                decision=verdict.decision,
                expression=verdict.expression,
                declared=_declared(analysis.source, *built_from(m)),
                license_files=tuple(sorted({f for lf in verdict.licenses for f in lf.files})),
                reasons=verdict.reasons,
                # Only what go.sum pins: the go command verifies the zip against it. A zip's own
                # hash is no pin (zip_sha256 says what was read).
                h1=sums.h1(*built_from(m)),
                zip_sha256=zip_sha,
                gomod_h1=sums.gomod_h1(*built_from(m)),
                indirect=bool(m.indirect),
                optional=m.path in analysis.optional,
                replace=replacement_text(m.replace),
                go_version=m.go_version or "",
                requires=analysis.requires.get(key, ()),
                require_line=line,
                gomod_path="" if gomod == scanned_gomod else _gomod_display(config.main_dir, gomod),
                verdict_source=origin,
            )
        )
    return ScanResult(
        main_module=analysis.main.module,
        tool_version=__version__,
        generated_at=now.astimezone(UTC).replace(microsecond=0).isoformat(),
        fail_on=config.fail_on or Severity.HIGH,
        go_version=analysis.main.go,
        stdlib_version=build_go_release(analysis.main) or _local_go_version(env),
        main_requires=analysis.main_requires,
        gomod_path=_gomod_display(config.main_dir),
        policy_digest=policy_digest or policy.digest,
        verdict_source=overall,
        modules=tuple(modules),
        findings=apply_severities(analysis.findings, policy.source_rules.severities),
        rules=analysis.rules + _license_rules(modules),
        notes=tuple([*analysis.notes, *notes]),
        parse_errors=analysis.parse_errors,
    )


def _missing_sums(analysis: Analysis, sums: _GoSumHashes) -> list[str]:
    """The modules (path@version the build uses) go.sum has no entry for that the go command
    needs one for ("missing go.sum entry"): any with no line at all (not even its go.mod's),
    and those whose packages the main module imports without their zip's `h1:`. In vendor mode
    the go command does not read go.sum; a directory replacement has no checksum."""
    if analysis.vendor_dir is not None:
        return []
    out = []
    for m in analysis.modules:
        if m.replace is not None and not m.replace.version:
            continue
        path, version = built_from(m)
        if sums.h1(path, version):
            continue
        if m.path in analysis.imported or not sums.gomod_h1(path, version):
            out.append(f"{path}@{version}")
    return out


def _missing_sums_note(main_dir: Path, analysis: Analysis, modules: Sequence[str]) -> str:
    files = [_gomod_display(main_dir, f) for f in analysis.sum_files]
    where = files[0] if len(files) == 1 else " / ".join(files)
    exists = any(f.exists() for f in analysis.sum_files)
    return (
        f"{where}{'' if exists else ' does not exist'}: no go.sum entry for "
        f"{', '.join(modules)}; the go command refuses to build without one (missing go.sum"
        " entry): run `go mod tidy` (or `go mod download MODULE`) and commit go.sum. Until"
        " then nothing pins their zips: the SBOM gives them no h1: hash"
    )


def _declared(source: ModuleSource | None, path: str, version: str) -> str:
    """The SPDX expression a module declares in its go.mod (`//go:license`), if any."""
    if source is None:
        return ""
    try:
        gomod = parse_gomod(source.gomod(path, version), f"{path}@{version}/go.mod", lax=True)
    except GoProxyScanError:
        return ""
    return " AND ".join(d.expression for d in gomod.declared_licenses)


def replacement_text(rep: Replacement | None) -> str:
    """A replacement as results show it: `path@version`, or the directory as written."""
    if rep is None:
        return ""
    return f"{rep.path}@{rep.version}" if rep.version else str(rep.path)


def repo_prefix(main_dir: Path) -> str:
    """The module directory relative to its git repository's root ("" at the root or outside)."""
    root = _git_root(main_dir)
    if root is None:
        return ""
    rel = main_dir.resolve().relative_to(root).as_posix()
    return "" if rel == "." else rel


def _gomod_display(main_dir: Path, gomod: Path | None = None) -> str:
    """A go.mod (default: the scanned one) as reports name files: from the repository root,
    or outside git from the scanned module's directory."""
    here = main_dir.resolve()
    base = _git_root(main_dir) or here
    return Path(os.path.relpath(gomod or here / "go.mod", base)).as_posix()


def _git_root(directory: Path) -> Path | None:
    for parent in (directory.resolve(), *directory.resolve().parents):
        if (parent / ".git").exists():
            return parent
    return None


def build_go_release(main: GoMod) -> str:
    """The Go release that builds the module, from its go.mod as the go command picks the
    toolchain for it: the newer of the `toolchain` line and the `go` line as a release version
    (scanner.gowork.go_release). "" with neither.

    The standard library is this version everywhere: the SBOM's stdlib component and the
    vulnerabilities matched against it (scanner.vulndb.match takes the same release), not
    whichever `go` the scanning machine has.
    """
    from .gowork import go_release

    return go_release(main.go, main.toolchain)


def _local_go_version(env: Mapping[str, str]) -> str:
    """`go env GOVERSION` ("" without a go command): for a go.mod with no `go` line, which the
    go command builds with whatever toolchain runs it."""
    import shutil
    import subprocess

    if env.get("GOVERSION"):
        return env["GOVERSION"]
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        return ""
    try:
        proc = subprocess.run(
            [go, "env", "GOVERSION"],
            capture_output=True,
            text=True,
            env=dict(env),
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _license_rules(modules: Iterable[ModuleResult]) -> tuple[RuleInfo, ...]:
    rules: dict[str, RuleInfo] = {}
    for m in modules:
        if m.decision is Decision.PASS:
            continue
        severity = Severity.HIGH if m.decision is Decision.REJECT else Severity.MEDIUM
        for r in m.reasons:
            rules.setdefault(
                r.rule_id,
                RuleInfo(
                    id=r.rule_id,
                    kind=RuleKind.LICENSE,
                    name=r.rule_id,
                    severity=severity,
                    short=f"Dependency policy: {r.rule_id}",
                    help="The policy does not allow this dependency as it is: remove or "
                    "replace it, or ask for a policy exception (module, version range, "
                    "reason, expiry) in the policy file.",
                ),
            )
    return tuple(rules.values())
