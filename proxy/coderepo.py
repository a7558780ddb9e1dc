"""A module in a git repository as cmd/go's modfetch codeRepo sees it: versions, .info, .mod, .zip.

Tags `v1.2.3` (or `sub/v1.2.3` for a module in a subdirectory) are versions, `+incompatible`
for v2+ tags of a repository without go.mod, and any other revision (a branch, a commit hash)
resolves to the pseudo-version the go command would form from the highest allowed tag in its
history (retracted tags skipped).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from scanner import semver
from scanner.errors import GoProxyScanError, InvalidModuleError
from scanner.gomod import parse_gomod
from scanner.module import (
    canonical_version,
    check_path_major,
    go_quote,
    path_major_prefix,
    split_path_version,
)
from scanner.modzip import MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE, create_zip_from_files
from scanner.pseudo import (
    is_pseudo_version,
    pseudo_version,
    pseudo_version_base,
    pseudo_version_rev,
    pseudo_version_time,
)

from .gitclone import BareClone, GitError, GitRepos, RevisionNotFound, display_url

_MIN_HASH_DIGITS = 7  # as cmd/go: shorter hex strings are not taken as commit hashes


@dataclass(frozen=True, slots=True)
class Revision:
    """A commit as cmd/go's codehost.RevInfo sees it."""

    name: str  # full hash
    time: datetime
    version: str  # the tag it was asked for by, else the hash
    tags: tuple[str, ...]
    ref: str  # refs/tags/x, refs/heads/x, HEAD or ""

    @property
    def short(self) -> str:
        return self.name[:12]


@dataclass(frozen=True, slots=True)
class RevInfo:
    """A module version resolved from a revision: what `.info` says."""

    version: str
    time: datetime
    origin: dict[str, str]

    def to_json(self) -> bytes:
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = {"Version": self.version, "Time": stamp, "Origin": self.origin}
        return json.dumps(doc, separators=(",", ":")).encode()


def _module_path_of(gomod: bytes) -> str:
    """The path of the `module` line (modfile.ModulePath): "" when there is none."""
    try:
        return parse_gomod(gomod, "go.mod", lax=True).module
    except GoProxyScanError:
        return ""


def _is_major(mpath: str, path_major: str) -> bool:
    if not mpath:
        return False
    _, mpath_major, ok = split_path_version(mpath)
    if not ok:
        return False
    if path_major == "":
        return path_major_prefix(mpath_major) in ("", "v0", "v1")
    if mpath_major == "":
        return False
    return path_major[1:] == mpath_major[1:]


def _origin_tag(tag: str) -> bool:
    c = semver.canonical(tag)
    return c != "" and tag.startswith(c) and not is_pseudo_version(tag)


class CodeRepo:
    """One module in one repository (cmd/go codeRepo): all methods block; call under the lock."""

    def __init__(self, repos: GitRepos, clone: BareClone, mod_path: str, code_root: str) -> None:
        self.repos = repos
        self.clone = clone
        self.mod_path = mod_path
        self.code_root = code_root
        prefix, self.path_major, ok = split_path_version(mod_path)
        if not ok:
            raise RevisionNotFound(f"invalid module path {go_quote(mod_path)}", module=mod_path)
        if code_root == mod_path:
            prefix = mod_path
        self.path_prefix = prefix
        self.pseudo_major = path_major_prefix(self.path_major)
        self.code_dir = ""
        if code_root != mod_path:
            if not (prefix == code_root or prefix.startswith(code_root + "/")):
                raise RevisionNotFound(
                    f"repository rooted at {code_root} cannot contain module {mod_path}",
                    module=mod_path,
                )
            self.code_dir = prefix[len(code_root) :].strip("/")
        self._stats: dict[str, Revision] = {}
        self._files: dict[tuple[str, str], bytes | None] = {}
        self._retracted: Callable[[str], bool] | None = None

    # ---- the repository (codehost.gitRepo) -------------------------------------------------

    def _tags(self, prefix: str) -> list[tuple[str, str]]:
        return sorted(
            (ref[len("refs/tags/") :], h)
            for ref, h in self.clone.refs.items()
            if ref.startswith("refs/tags/" + prefix)
        )

    def _tag_sum(self, prefix: str) -> str:
        d = prefix[: prefix.rfind("/") + 1]
        h = hashlib.sha256()
        for name, hash_ in self._tags(prefix):
            if _origin_tag(name.removeprefix(d)):
                h.update(f"{go_quote(name)} {hash_}\n".encode())
        return "t1:" + base64.b64encode(h.digest()).decode()

    def stat(self, rev: str) -> Revision:
        """Resolve a tag, branch, HEAD or hash (prefix) to a commit; RevisionNotFound if none."""
        cached = self._stats.get(rev)
        if cached is None:
            cached = self._stats[rev] = self._stat(rev)
        return cached

    def _stat(self, rev: str) -> Revision:
        refs = self.clone.refs
        ref = hash_ = ""
        version = rev
        hexlike = _MIN_HASH_DIGITS <= len(rev) <= 40 and all(c in "0123456789abcdef" for c in rev)
        if refs.get("refs/tags/" + rev):
            ref = "refs/tags/" + rev
            hash_ = refs[ref]
        elif refs.get("refs/heads/" + rev):
            ref = "refs/heads/" + rev
            hash_ = version = refs[ref]
        elif rev == "HEAD" and refs.get("HEAD"):
            ref, hash_ = "HEAD", refs["HEAD"]
            version = hash_
        elif hexlike:
            for k, h in refs.items():
                if h.startswith(rev):
                    if hash_ and hash_ != h:
                        raise RevisionNotFound(f"ambiguous revision {rev}")
                    if not ref or ref > k:
                        ref = k
                    version = hash_ = h
        else:
            raise RevisionNotFound(f"unknown revision {rev}")
        proc = self.repos.run(
            self.clone,
            "-c",
            "log.showsignature=false",
            "log",
            "--no-decorate",
            "-n1",
            "--format=format:%H %ct",
            "--end-of-options",
            hash_ or rev,
            "--",
            check=False,
        )
        f = proc.stdout.decode().split()
        if proc.returncode != 0 or len(f) < 2:
            raise RevisionNotFound(f"unknown revision {rev}")
        name = f[0]
        if name.startswith(version):
            version = name
        tags = tuple(
            sorted(
                {
                    r[len("refs/tags/") :]
                    for r, h in refs.items()
                    if h == name and r.startswith("refs/tags/")
                }
            )
        )
        if version not in tags:
            version = name
        return Revision(name, datetime.fromtimestamp(int(f[1]), UTC), version, tags, ref)

    def read_file(self, rev: str, file: str, limit: int) -> bytes | None:
        """A file of the tree at `rev`, or None if it is not there (or too large)."""
        info = self.stat(rev)
        key = (info.name, file)
        if key not in self._files:
            proc = self.repos.run(
                self.clone,
                "cat-file",
                "--end-of-options",
                "blob",
                f"{info.name}:{file}",
                check=False,
            )
            ok = proc.returncode == 0 and len(proc.stdout) <= limit
            self._files[key] = proc.stdout if ok else None
        return self._files[key]

    def _recent_tag(self, rev: str, prefix: str, allowed: Callable[[str], bool]) -> str:
        out = self.repos.run(
            self.clone, "for-each-ref", "--format=%(refname)", f"--merged={rev}", "refs/tags/"
        ).stdout.decode()
        highest = ""
        for line in out.splitlines():
            tag = line.strip().removeprefix("refs/tags/")
            if not tag.startswith(prefix) or not allowed(tag):
                continue
            if semver.compare(tag[len(prefix) :], highest) > 0:
                highest = tag[len(prefix) :]
        return prefix + highest if highest else ""

    # ---- the module (modfetch.codeRepo) ----------------------------------------------------

    def _origin(self, info: Revision) -> dict[str, str]:
        origin = {"VCS": "git", "URL": display_url(self.clone.url)}
        if self.code_dir:
            origin["Subdir"] = self.code_dir
        origin["Hash"] = info.name
        if info.ref and info.ref != info.name:
            origin["Ref"] = info.ref
        return origin

    def versions(self) -> list[str]:
        """The @v/list answer: canonical tags for this module, +incompatible where allowed."""
        p = self.code_dir + "/" if self.code_dir else ""
        listed: list[str] = []
        incompatible: list[str] = []
        for tag, _ in self._tags(p):
            v = tag[len(p) :]
            if not v or v != semver.canonical(v) or is_pseudo_version(v):
                continue
            if not check_path_major(v, self.path_major):
                if not self.code_dir and not self.path_major and semver.major(v) > "v1":
                    incompatible.append(v)
                continue
            listed.append(v)
        listed = semver.sort_versions(listed)
        incompatible = semver.sort_versions(incompatible)
        if not incompatible or self.path_major:
            return listed
        if listed and self.read_file(listed[-1], "go.mod", MAX_GO_MOD) is not None:
            return listed
        last_major, last_has_gomod = "", False
        for i, v in enumerate(incompatible):
            major = semver.major(v)
            if major != last_major:
                latest_at_major = [w for w in incompatible[i:] if semver.major(w) == major][-1]
                last_major = major
                last_has_gomod = self.read_file(latest_at_major, "go.mod", MAX_GO_MOD) is not None
            if not last_has_gomod:
                listed.append(v + "+incompatible")
        return listed

    def _is_retracted(self, v: str) -> bool:
        if self._retracted is None:
            self._retracted = lambda _v: False
            versions = [v for v in self.versions() if not v.endswith("+incompatible")]
            if versions:
                releases = [v for v in versions if not semver.prerelease(v)]
                highest = releases[-1] if releases else versions[-1]
                try:
                    gomod = parse_gomod(self.gomod(highest), "go.mod", lax=True)
                    self._retracted = lambda w: gomod.retraction(w) is not None
                except GoProxyScanError:
                    pass
        return self._retracted(v)

    def _rev_of(self, version: str) -> str:
        if not semver.is_valid(version):
            raise RevisionNotFound(f"{version}: syntax error", module=self.mod_path)
        if is_pseudo_version(version):
            return pseudo_version_rev(version)
        version = version.removesuffix("+incompatible")
        return f"{self.code_dir}/{version}" if self.code_dir else version

    def find_dir(self, version: str) -> tuple[str, str, bytes | None]:
        """(rev, directory of the module in the repo, its go.mod if read) — cmd/go findDir."""
        rev = self._rev_of(version)
        file1 = f"{self.code_dir}/go.mod" if self.code_dir else "go.mod"
        gomod1 = self.read_file(rev, file1, MAX_GO_MOD)
        mpath1 = _module_path_of(gomod1) if gomod1 is not None else ""
        found1 = gomod1 is not None and (
            _is_major(mpath1, self.path_major)
            or (self.path_major == "" and mpath1.startswith("gopkg.in/"))
        )
        file2 = ""
        if (
            self.path_major
            and self.code_root != self.mod_path
            and not self.path_major.startswith(".")
        ):
            dir2 = "/".join(p for p in (self.code_dir, self.path_major[1:]) if p)
            file2 = dir2 + "/go.mod"
            gomod2 = self.read_file(rev, file2, MAX_GO_MOD)
            mpath2 = _module_path_of(gomod2) if gomod2 is not None else ""
            found2 = gomod2 is not None and _is_major(mpath2, self.path_major)
            if found1 and found2:
                raise self._missing(f"{file1} and {file2} both claim {self.path_major}", rev)
            if found2:
                return rev, dir2, gomod2
            if gomod2 is not None:
                raise self._missing(f"{file2} has module path {go_quote(mpath2)}", rev)
        if found1:
            return rev, self.code_dir, gomod1
        if gomod1 is not None:
            raise self._missing(f"{file1} has module path {go_quote(mpath1)}", rev)
        if not self.code_dir and (not self.path_major or self.path_major.startswith(".")):
            return rev, "", None
        if file2:
            raise self._missing(f"missing {self.path_prefix}/go.mod and .../{file2}", rev)
        raise self._missing(f"missing {self.path_prefix}/go.mod", rev)

    def _missing(self, what: str, rev: str) -> RevisionNotFound:
        return RevisionNotFound(f"{what} at revision {rev}", module=self.mod_path)

    def stat_version(self, query: str) -> RevInfo:
        """`.info` for a version, a pseudo-version, a branch, a hash or "latest" (HEAD)."""
        if query == "latest":
            info = self.stat("HEAD")
            return self._convert(info, "")
        rev = query
        if semver.is_valid(query):
            rev = self._rev_of(query)
        return self._convert(self.stat(rev), query)

    def _convert(self, info: Revision, stat_vers: str) -> RevInfo:
        result = self._resolve(info, stat_vers)
        origin = self._origin(info)
        v = result.version
        if is_pseudo_version(v) and (v != stat_vers or not v.startswith("v0.0.0-")):
            prefix = self.code_dir + "/" if self.code_dir else ""
            if self.path_major:
                prefix += self.path_major[1:] + "."
            if prefix:
                origin["TagPrefix"] = prefix
            origin["TagSum"] = self._tag_sum(prefix)
            # Key order as cmd/go writes it: VCS, URL, Subdir, Hash, TagPrefix, TagSum, Ref.
            if "Ref" in origin:
                origin["Ref"] = origin.pop("Ref")
        return RevInfo(v, result.time, origin)

    def _can_use_incompatible(self, info: Revision, v: str, stat_vers: str) -> bool:
        if self.code_dir or self.path_major:
            return False
        if self.read_file(info.name, "go.mod", MAX_GO_MOD) is not None:
            return False
        if v and not stat_vers.endswith("+incompatible"):
            major = semver.major(v)
            if self.read_file(info.name, f"{major}/go.mod", MAX_GO_MOD) is not None:
                return False
        return True

    def _check_canonical(self, info: Revision, v: str, stat_vers: str) -> RevInfo:
        self.find_dir(v)
        if v == stat_vers.removesuffix("+incompatible"):
            v = stat_vers
        base = v.removesuffix("+incompatible")
        if not check_path_major(base, self.path_major):
            if self._can_use_incompatible(info, base, stat_vers):
                v = base + "+incompatible"
            elif self.path_major:
                raise self._invalid(
                    v, "module path includes a major version suffix, so major version must match"
                )
            else:
                raise self._invalid(
                    v,
                    "module contains a go.mod file, so module path must match major version "
                    f"({go_quote(self.path_prefix + '/' + semver.major(v))})",
                )
        elif v.endswith("+incompatible"):
            raise self._invalid(
                v,
                f"+incompatible suffix not allowed: major version {semver.major(v)} is compatible",
            )
        if stat_vers and stat_vers == canonical_version(stat_vers):
            stat_base = stat_vers.removesuffix("+incompatible")
            if stat_base != base:
                raise self._invalid(
                    stat_vers, f"resolves to version {v} ({stat_base} is not a tag)"
                )
        return RevInfo(v, info.time, {})

    def _invalid(self, v: str, why: str) -> RevisionNotFound:
        return RevisionNotFound(f"{v}: invalid version: {why}", module=self.mod_path)

    def _tag_to_version(self, tag: str) -> tuple[str, bool]:
        prefix = self.code_dir + "/" if self.code_dir else ""
        if not tag.startswith(prefix) or is_pseudo_version(tag):
            return "", False
        trimmed = tag[len(prefix) :]
        v = semver.canonical(trimmed)
        if not v or not trimmed.startswith(v):
            return "", False
        return v, v == trimmed

    def _resolve(self, info: Revision, stat_vers: str) -> RevInfo:
        if is_pseudo_version(stat_vers):
            result = self._check_canonical(info, stat_vers, stat_vers)
            self._validate_pseudo(info, stat_vers)
            return result
        v, canonical = self._tag_to_version(info.version)
        if canonical:
            try:
                return self._check_canonical(info, v, stat_vers)
            except RevisionNotFound:
                pass
        highest = pseudo_base = ""
        for tag in info.tags:
            v, canonical = self._tag_to_version(tag)
            if stat_vers and v and semver.compare(v, stat_vers) == 0:
                if canonical:
                    return self._check_canonical(info, v, stat_vers)
                pseudo_base = v
            if (
                canonical
                and semver.compare(highest, v) < 0
                and not self._is_retracted(v)
                and (
                    check_path_major(v, self.path_major)
                    or self._can_use_incompatible(info, v, stat_vers)
                )
            ):
                highest = v
        if highest:
            return self._check_canonical(info, highest, stat_vers)

        def allowed(tag: str) -> bool:
            v, _ = self._tag_to_version(tag)
            if not v:
                return False
            if not check_path_major(v, self.path_major) and not self._can_use_incompatible(
                info, v, stat_vers
            ):
                return False
            return not self._is_retracted(v)

        if not pseudo_base:
            prefix = self.code_dir + "/" if self.code_dir else ""
            tag = self._recent_tag(info.name, prefix, allowed)
            if tag:
                pseudo_base, _ = self._tag_to_version(tag)
        pseudo = pseudo_version(self.pseudo_major, pseudo_base, info.time, info.short)
        return self._check_canonical(info, pseudo, stat_vers)

    def _validate_pseudo(self, info: Revision, version: str) -> None:
        try:
            rev = pseudo_version_rev(version)
            if rev != info.short:
                raise self._invalid(
                    version, f"does not match short name of revision ({info.short})"
                )
            if pseudo_version_time(version) != info.time:
                stamp = info.time.strftime("%Y%m%d%H%M%S")
                raise self._invalid(version, f"does not match version-control timestamp ({stamp})")
            base = pseudo_version_base(version.removesuffix("+incompatible"))
        except InvalidModuleError as e:
            raise self._invalid(version, e.message) from e
        if base == "":
            if not self.pseudo_major and semver.major(version) == "v1":
                raise self._invalid(
                    version, "major version without preceding tag must be v0, not v1"
                )
            return
        prefix = self.code_dir + "/" if self.code_dir else ""
        if prefix + base in info.tags:
            raise self._invalid(
                version, f"tag ({prefix + base}) found on revision is already canonical"
            )
        for tag, _ in self._tags(prefix + base):
            if semver.compare(tag[len(prefix) :], base) == 0:
                ancestor = self.repos.run(
                    self.clone, "merge-base", "--is-ancestor", "--", tag, info.name, check=False
                )
                if ancestor.returncode == 0:
                    return
        raise self._invalid(version, f"revision is not a descendent of preceding tag ({base})")

    def gomod(self, version: str) -> bytes:
        """`.mod`: the module's go.mod at that version, or `module <path>` when it has none."""
        if version != canonical_version(version):
            raise RevisionNotFound(f"version {version} is not canonical", module=self.mod_path)
        if is_pseudo_version(version):
            self.stat_version(version)
        rev, d, data = self.find_dir(version)
        if data is None:
            data = self.read_file(rev, f"{d}/go.mod" if d else "go.mod", MAX_GO_MOD)
        return data if data is not None else f"module {self.mod_path}\n".encode()

    def zip(self, version: str) -> bytes:
        """`.zip`: `git archive` of the module's tree, made into a module zip by x/mod/zip rules."""
        if version != canonical_version(version):
            raise RevisionNotFound(f"version {version} is not canonical", module=self.mod_path)
        if is_pseudo_version(version):
            self.stat_version(version)
        rev, subdir, _ = self.find_dir(version)
        info = self.stat(rev)
        args = [
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=zip",
            "--prefix=prefix/",
            "--end-of-options",
            info.name,
        ]
        proc = self.repos.run(self.clone, *args, *([subdir] if subdir else []), check=False)
        if proc.returncode != 0:
            if b"did not match any files" in proc.stderr:
                raise RevisionNotFound(f"no files in {subdir} at {rev}", module=self.mod_path)
            raise GitError(
                f"git archive {display_url(self.clone.url)} {info.name}: "
                + proc.stderr.decode("utf-8", "replace").strip()
            )
        if len(proc.stdout) > MAX_ZIP_FILE:
            raise GitError("downloaded zip file too large", module=self.mod_path, version=version)
        files: dict[str, bytes] = {}
        prefix = f"prefix/{subdir}/" if subdir else "prefix/"
        with zipfile.ZipFile(io.BytesIO(proc.stdout)) as z:
            for entry in z.infolist():
                name = entry.filename
                if not name.startswith(prefix) or name.endswith("/"):
                    continue
                # Symlinks and other irregular files are left out, as modzip.Create does.
                mode = entry.external_attr >> 16
                if entry.create_system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                    continue
                files[name[len(prefix) :]] = z.read(entry)
        if subdir and "LICENSE" not in files:
            # A module in a subdirectory carries the repository's LICENSE (cmd/go does this).
            license_ = self.read_file(rev, "LICENSE", MAX_LICENSE)
            if license_ is not None:
                files["LICENSE"] = license_
        try:
            return create_zip_from_files(self.mod_path, version, files)
        except GoProxyScanError as e:  # a file the go command would refuse too
            raise RevisionNotFound(e.message, module=self.mod_path, version=version) from e
