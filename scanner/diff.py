"""The pre-merge diff: mark modules and findings as new, changed or existing against a git base."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .config import ScanConfig
from .errors import GoProxyScanError, InputError, OperationalError, ParseError
from .goenv import go_environ
from .gomod import parse_gomod
from .result import ScanResult, Status
from .scan import Analysis, analyse, read_gomod, replacement_text

if TYPE_CHECKING:
    from .modfetch import ModuleSource


def _git(args: list[str], cwd: Path) -> str:
    git = shutil.which("git")
    if git is None:
        raise OperationalError("git is not installed", hint="--base needs git on PATH")
    # Inside a git hook GIT_INDEX_FILE (and GIT_DIR) point at the hook's repository state;
    # passed on, they would make `git worktree add` write the base tree into that index.
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_INDEX_FILE", "GIT_DIR")}
    proc = subprocess.run(
        [git, *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )
    if proc.returncode != 0:
        raise InputError(
            f"git {' '.join(args)} failed: {proc.stderr.strip()}",
            path=str(cwd),
            hint="--base takes a git ref that exists here (fetch it first in CI: "
            "`git fetch origin main`, or actions/checkout with fetch-depth: 0)",
        )
    return proc.stdout.strip()


def base_analysis(
    config: ScanConfig, env: Mapping[str, str], source: ModuleSource | None = None
) -> Analysis | None:
    """The same analysis on the base tree, checked out in a temporary git worktree.

    None when the main module did not exist at the base (everything is then new).
    """
    main_dir = config.main_dir.resolve()
    root = Path(_git(["rev-parse", "--show-toplevel"], main_dir))
    commit = _git(["rev-parse", "--verify", "--quiet", f"{config.base}^{{commit}}"], main_dir)
    relative = main_dir.relative_to(root.resolve())
    with tempfile.TemporaryDirectory(prefix="goproxy-scan-base-") as tmp:
        tree = Path(tmp) / "base"
        _git(["worktree", "add", "--detach", "--quiet", str(tree), commit], root)
        try:
            base_dir = tree / relative
            if not (base_dir / "go.mod").is_file():
                return None
            # The head's source-rule cache: unchanged files are not parsed again for the base.
            from .rules.cache import default_cache_dir

            cache_dir = config.cache_dir or default_cache_dir(main_dir)
            base_config = replace(config, main_dir=base_dir, base="", cache_dir=cache_dir)
            shown = (relative / "go.mod").as_posix()
            try:
                try:
                    read_gomod(base_dir)
                except ParseError as e:
                    if e.path != str(base_dir / "go.mod"):
                        raise
                    e.message = _in_repository(e.message, tree)
                    return _unparsable_base(base_config, shown, e, config.base)
                return analyse(base_config, go_environ(env), source=source)
            except GoProxyScanError as e:
                _at_base(e, tree, config.base)
                raise
        finally:
            # Remove the worktree even if the analysis failed, so the repository stays clean.
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=root,
                capture_output=True,
                check=False,
            )
            subprocess.run(["git", "worktree", "prune"], cwd=root, capture_output=True, check=False)


def _unparsable_base(base_config: ScanConfig, shown: str, error: ParseError, ref: str) -> Analysis:
    """The base of a go.mod that does not parse there: no dependencies, so every module of the
    head is new and judged (a PR that fixes a broken go.mod can pass); its source findings are
    still read, so an unchanged file's findings stay existing."""
    from .scan import _source_findings

    where = f"{shown}:{error.line}" if error.line else shown
    note = (
        f"{where} at base '{ref}' does not parse ({error.message}):"
        " every dependency is counted as new"
    )
    findings, rules, parse_errors = _source_findings(base_config)
    return Analysis(
        main=parse_gomod(b"", shown, lax=True),
        modules=(),
        requires={},
        main_requires=(),
        optional=frozenset(),
        findings=findings,
        rules=rules,
        parse_errors=parse_errors,
        source=None,
        notes=(note,),
        base_notes=(note,),
    )


def _at_base(error: GoProxyScanError, tree: Path, ref: str) -> None:
    """An error of the base's analysis names its file as in the repository, at the base: the
    temporary worktree it was read in is gone when the message is read."""
    if error.path is None:
        return
    path = Path(error.path)
    for top in (tree, tree.resolve()):
        if path.is_absolute() and path.is_relative_to(top):
            error.path = path.relative_to(top).as_posix()
            error.message = f"at base '{ref}': {_in_repository(error.message, tree)}"
            error.args = (error.message,)
            return


def _in_repository(text: str, tree: Path) -> str:
    """`text` with the temporary worktree's paths written as in the repository ("svc/go.mod"
    for "/tmp/goproxy-scan-base-x/base/svc/go.mod"): a message may quote a path of its own."""
    for top in {str(tree.resolve()), str(tree)}:
        text = text.replace(top + "/", "")
    return text


def mark_against_base(head: ScanResult, base: Analysis | None, base_ref: str) -> ScanResult:
    """Modules: same path@version and replacement existing, another version or replacement
    changed, else new; findings by fingerprint. Only new and changed items can fail the scan."""
    # A replace directive added, removed or retargeted changes the bytes the build uses as
    # much as another version does.
    base_versions: dict[str, tuple[str, str]] = {}
    fingerprints: set[str] = set()
    if base is not None:
        base_versions = {m.path: (m.version, replacement_text(m.replace)) for m in base.modules}
        fingerprints = {f.fingerprint for f in base.findings}
    modules: dict[str, tuple[Status, str]] = {}
    for m in head.modules:
        previous = base_versions.get(m.path)
        if previous is None:
            modules[m.key] = (Status.NEW, "")
        elif previous == (m.version, m.replace):
            modules[m.key] = (Status.EXISTING, "")
        else:
            version, replaced_by = previous
            was = f"{version} => {replaced_by}" if replaced_by else version
            modules[m.key] = (Status.CHANGED, was)
    findings = {
        f.fingerprint: Status.EXISTING if f.fingerprint in fingerprints else Status.NEW
        for f in head.findings
    }
    marked = head.with_status(modules, findings, base_ref)
    if base is not None and base.base_notes:
        marked = replace(marked, notes=(*marked.notes, *base.base_notes))
    return marked
