"""vendor/modules.txt: which module versions a vendored build uses, and their packages.

The format, as `go mod vendor` writes it and the go command reads it:

    ## workspace                                 (only when vendoring a go.work workspace)
    # example.com/a v1.2.0                       a module in the build list
    ## explicit; go 1.21                         required by go.mod; the module's go version
    example.com/a/pkg                            a vendored package of that module
    # example.com/b v1.0.0 => ../b               a replacement (directory or path version)
    # example.com/c => example.com/d v1.1.0      a wildcard replacement, listed at the end

The go command skips lines it does not understand; we report them with their line, because a
hand-edited or truncated modules.txt is exactly what a pre-merge check should point at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InvalidModuleError, ParseError
from .modsyntax import decode
from .module import canonical_version, check_import_path

if TYPE_CHECKING:
    from .gomod import GoMod


@dataclass(frozen=True, slots=True)
class VendoredModule:
    """One `# path version [=> new [version]]` entry with its annotations and packages.

    version is "" for a wildcard replacement;
    replace_version "" with a replace_path means a directory replacement.
    """

    path: str
    version: str
    replace_path: str
    replace_version: str
    explicit: bool
    go_version: str
    packages: tuple[str, ...]
    line: int

    @property
    def replaced(self) -> bool:
        return self.replace_path != ""


@dataclass(frozen=True, slots=True)
class VendorList:
    """A parsed vendor/modules.txt: module entries in file order."""

    path: str
    workspace: bool
    modules: tuple[VendoredModule, ...]

    def build_list(self) -> list[VendoredModule]:
        """The modules that provide packages (what a vendored build uses), once per path."""
        return [m for m in self.modules if m.packages]

    def module_for_package(self, package: str) -> VendoredModule | None:
        for m in self.modules:
            if package in m.packages:
                return m
        return None

    def get(self, path: str) -> VendoredModule | None:
        """The entry with packages for `path`, else any entry for it, else None."""
        found = None
        for m in self.modules:
            if m.path == path:
                if m.packages:
                    return m
                found = found or m
        return found


class _Entry:
    """A module entry while its annotation and package lines are read."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.explicit = False
        self.go_version = ""
        self.packages: list[str] = []


def _module_line(fields: list[str], path: str, lineno: int) -> tuple[str, str, str, str]:
    """(path, version, replace_path, replace_version) of a `# …` line's fields after '#'."""

    def bad(why: str) -> ParseError:
        return ParseError(
            f"malformed module line: {why}",
            path=path,
            line=lineno,
            hint="expected '# module/path version [=> replacement [version]]'; "
            "`go mod vendor` rewrites vendor/modules.txt",
        )

    if not fields:
        raise bad("no module path")
    mod_path, rest = fields[0], fields[1:]
    if not rest:
        # The go command skips such a line and files the packages below it under the module
        # before: a modules.txt it did not write.
        raise bad(f"no version or replacement after {mod_path!r}")
    version = ""
    if rest and rest[0] != "=>":
        version = rest[0]
        # `go mod vendor` writes canonical versions; "v1.0" is a hand edit or a cut-off line,
        # which the go command would later report as inconsistent with go.mod.
        if canonical_version(version) != version:
            raise bad(f"{version!r} is not a canonical semantic version")
        rest = rest[1:]
    replace_path = replace_version = ""
    if rest:
        if rest[0] != "=>" or len(rest) not in (2, 3):
            raise bad(f"cannot read {' '.join(rest)!r} (a replacement is '=> path [version]')")
        replace_path = rest[1]
        if len(rest) == 3:
            replace_version = rest[2]
            if canonical_version(replace_version) != replace_version:
                raise bad(f"{replace_version!r} is not a canonical semantic version")
    return mod_path, version, replace_path, replace_version


def parse_modules_txt(data: bytes | str, path: str = "vendor/modules.txt") -> VendorList:
    """Parse vendor/modules.txt; raises ParseError (path, line) on a line it cannot read."""
    text = decode(data)
    workspace = False
    entries: list[tuple[tuple[str, str, str, str], _Entry]] = []
    current: _Entry | None = None
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.strip() == "":
            continue
        if line.startswith("# "):
            fields = line[2:].split()
            ident = _module_line(fields, path, lineno)
            current = _Entry(lineno)
            entries.append((ident, current))
            continue
        if line.startswith("## "):
            annotations = [a.strip() for a in line[3:].split(";")]
            if current is None:
                if annotations == ["workspace"]:
                    workspace = True
                    continue
                raise ParseError(
                    "annotation before the first module line",
                    path=path,
                    line=lineno,
                    hint="'## …' lines follow the '# module version' line they describe",
                )
            for a in annotations:
                if a == "explicit":
                    current.explicit = True
                elif a.startswith("go "):
                    current.go_version = a[3:].strip()
                # Other annotations are reserved by the go command for future use.
            continue
        fields = line.split()
        if current is None or len(fields) != 1:
            raise ParseError(
                f"unexpected line {line.strip()!r}",
                path=path,
                line=lineno,
                hint="package lines hold one import path, below their '# module version' line",
            )
        try:
            check_import_path(fields[0])
        except InvalidModuleError as e:
            raise ParseError(e.message, path=path, line=lineno) from e
        current.packages.append(fields[0])
    modules = tuple(
        VendoredModule(
            path=ident[0],
            version=ident[1],
            replace_path=ident[2],
            replace_version=ident[3],
            explicit=entry.explicit,
            go_version=entry.go_version,
            packages=tuple(entry.packages),
            line=entry.line,
        )
        for ident, entry in entries
    )
    return VendorList(path, workspace, modules)


def inconsistencies(listing: VendorList, gomod: GoMod) -> list[tuple[int, str]]:
    """Where modules.txt disagrees with go.mod, as cmd/go's checkVendorConsistency finds it.

    Each item is (the go.mod line or 0, what disagrees). The go command refuses to build from
    such a vendor/ ("inconsistent vendoring"), so its modules.txt does not say what is built.
    """
    meta = {(m.path, m.version): m for m in listing.modules}
    vendored = {m.path: m.version for m in listing.build_list()}
    # Before go 1.14 modules.txt had no `## explicit` and left out some replacements.
    go = re.match(r"(\d+)(?:\.(\d+))?", gomod.go or "1.0")
    pre114 = go is None or (int(go[1]), int(go[2] or 0)) < (1, 14)
    out: list[tuple[int, str]] = []
    required = {(r.path, r.version) for r in gomod.requires}
    for r in gomod.requires:
        entry = meta.get((r.path, r.version))
        if entry is not None and entry.explicit:
            continue
        if not pre114:
            out.append(
                (
                    r.line,
                    f"{r.path}@{r.version} is required in go.mod but not marked "
                    "explicit in vendor/modules.txt",
                )
            )
        elif vendored.get(r.path, r.version) != r.version:
            out.append(
                (
                    r.line,
                    f"{r.path}@{r.version} is required in go.mod but "
                    f"vendor/modules.txt has {r.path}@{vendored[r.path]}",
                )
            )
    replaced: set[tuple[str, str]] = set()
    for rep in gomod.replaces:
        old = (rep.old_path, rep.old_version)
        if old in replaced:
            continue
        replaced.add(old)
        entry = meta.get(old)
        where = f"{rep.old_path}@{rep.old_version}" if rep.old_version else rep.old_path
        new = f"{rep.new_path} {rep.new_version}".strip()
        if entry is None or not entry.replaced:
            if pre114 and (not rep.old_version or vendored.get(rep.old_path) != rep.old_version):
                continue
            out.append(
                (
                    rep.line,
                    f"{where} is replaced by {new} in go.mod but not marked as "
                    "replaced in vendor/modules.txt",
                )
            )
        elif (entry.replace_path, entry.replace_version) != (rep.new_path, rep.new_version):
            vnew = f"{entry.replace_path} {entry.replace_version}".strip()
            out.append(
                (
                    rep.line,
                    f"{where} is replaced by {new} in go.mod but by {vnew} in vendor/modules.txt",
                )
            )
    for m in listing.modules:
        if m.packages and m.explicit and (m.path, m.version) not in required:
            out.append(
                (
                    0,
                    f"{m.path}@{m.version} is marked explicit in vendor/modules.txt:{m.line} but "
                    "not required in go.mod",
                )
            )
        if m.replaced and not {(m.path, m.version), (m.path, "")} & replaced:
            what = f"{m.path}@{m.version}" if m.version else m.path
            out.append(
                (
                    0,
                    f"{what} is marked as replaced in vendor/modules.txt:{m.line} but not "
                    "replaced in go.mod",
                )
            )
    return out
