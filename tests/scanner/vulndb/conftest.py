"""Fixtures for the vulnerability database tests: the shared real Go database, built once."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.module import ModuleVersion
from scanner.vulndb.database import load_index
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.layout import build_layout

TESTDATA = Path(__file__).parent / "testdata"
# In CI the data sits beside the checkout: <repo>/../shared/data/go-vulndb/osv.
OSV_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "go-vulndb" / "osv"


@pytest.fixture(scope="session")
def osv_dir() -> Path:
    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    return OSV_DIR.resolve()


@pytest.fixture(scope="session")
def vulndb_dir(osv_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole shared database in the served layout (index/, ID/)."""
    out = tmp_path_factory.mktemp("vulndb") / "db"
    build_layout(osv_dir, out)
    return out


@pytest.fixture(scope="session")
def full_index(vulndb_dir: Path) -> VulnIndex:
    return load_index(vulndb_dir.as_uri())


@dataclass(frozen=True)
class Project:
    """A fixture project's go.mod as the real go command reads it (`go mod edit -json`)."""

    dir: Path
    modules: list[ModuleVersion]
    go: str
    toolchain: str


@pytest.fixture
def read_project(
    run_go: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[[str], Project]:
    def read(name: str) -> Project:
        project = TESTDATA / name
        gomod: Any = json.loads(run_go("mod", "edit", "-json", cwd=project).stdout)
        return Project(
            project,
            [ModuleVersion(r["Path"], r["Version"]) for r in gomod.get("Require") or ()],
            gomod.get("Go") or "",
            gomod.get("Toolchain") or "",
        )

    return read
