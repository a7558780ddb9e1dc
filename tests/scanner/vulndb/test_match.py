"""Matching fixture projects against the real Go vulnerability database."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scanner.module import ModuleVersion
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.match import VulnMatch, affects, go_semver, match_modules
from scanner.vulndb.osv import Event, EventKind

from .conftest import Project


def _by_key(matches: list[VulnMatch]) -> dict[tuple[str, str], VulnMatch]:
    return {(m.id, m.module): m for m in matches}


def test_versions_inside_real_ranges_match(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    project = read_project("inside")
    found = _by_key(
        match_modules(
            full_index, project.modules, go_version=project.go, toolchain=project.toolchain
        )
    )
    gin = found[("GO-2020-0001", "github.com/gin-gonic/gin")]
    assert gin.version == "v1.5.0"
    assert gin.fixed == "v1.6.0"
    assert gin.aliases == ("CVE-2020-36567", "GHSA-6vm3-jj99-7229")
    assert "Default" in gin.packages[0].symbols
    # A pseudo-version older than the pseudo-version that fixed it.
    dns = found[("GO-2020-0006", "github.com/miekg/dns")]
    assert dns.fixed == "v1.0.4-0.20180125103619-43913f2f4fbd"
    # +incompatible: below a fixed +incompatible release candidate ...
    assert found[("GO-2021-0072", "github.com/docker/distribution")].fixed == (
        "v2.7.0-rc.0+incompatible"
    )
    # ... and a +incompatible pseudo-version between introduced and fixed.
    patch = found[("GO-2021-0076", "github.com/evanphx/json-patch")]
    assert patch.version == "v3.0.1-0.20180301000000-0123456789ab+incompatible"
    assert patch.fixed == "v3.0.1-0.20180525145409-4c9aadca8f89+incompatible"
    # The standard library at `go 1.19` (v1.19.0): inside [1.19.0-0, 1.19.1).
    http2 = found[("GO-2022-0969", "stdlib")]
    assert (http2.version, http2.fixed) == ("v1.19.0", "v1.19.1")
    # The toolchain is judged too.
    assert any(module == "toolchain" for _, module in found)


def test_withdrawn_entries_are_ignored(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    project = read_project("inside")
    ids = {m.id for m in match_modules(full_index, project.modules)}
    # GO-2022-0617 names every k8s.io/kubernetes version but was withdrawn in 2024.
    assert full_index.entries["GO-2022-0617"].withdrawn
    assert "GO-2022-0617" not in ids
    assert "GO-2020-0001" in ids


def test_fixed_versions_do_not_match(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    project = read_project("outside")
    found = _by_key(
        match_modules(
            full_index, project.modules, go_version=project.go, toolchain=project.toolchain
        )
    )
    for key in [
        ("GO-2020-0001", "github.com/gin-gonic/gin"),
        ("GO-2020-0006", "github.com/miekg/dns"),
        ("GO-2021-0072", "github.com/docker/distribution"),
        ("GO-2021-0076", "github.com/evanphx/json-patch"),
        # toolchain go1.19.1 wins over `go 1.19`
        ("GO-2022-0969", "stdlib"),
    ]:
        assert key not in found, key


def test_stdlib_at_the_go_version(full_index: VulnIndex) -> None:
    def ids(go: str) -> set[str]:
        return {m.id for m in match_modules(full_index, [], go_version=go) if m.module == "stdlib"}

    assert "GO-2022-0969" in ids("1.18.5")
    assert "GO-2022-0969" not in ids("1.18.6")
    assert "GO-2022-0969" in ids("go1.19")
    assert "GO-2022-0969" not in ids("go1.19.1")
    # a release candidate sorts before the release it precedes
    assert "GO-2022-0969" in ids("go1.19rc2")


def test_main_module_and_directory_replacements_are_not_judged(full_index: VulnIndex) -> None:
    assert match_modules(full_index, [ModuleVersion("github.com/gin-gonic/gin", "")]) == []


def test_matches_are_sorted_and_unique(full_index: VulnIndex) -> None:
    mods = [ModuleVersion("github.com/gin-gonic/gin", "v1.5.0")] * 2
    matches = match_modules(full_index, mods)
    keys = [(m.module, m.version, m.id) for m in matches]
    assert keys == sorted(set(keys))


@pytest.mark.parametrize(
    ("go", "want"),
    [
        ("go1.22.3", "v1.22.3"),
        ("1.21", "v1.21.0"),
        ("go1.22rc1", "v1.22.0-rc.1"),
        ("1.20", "v1.20.0"),
        ("devel", ""),
    ],
)
def test_go_semver(go: str, want: str) -> None:
    assert go_semver(go) == want


def test_last_affected_and_open_ranges() -> None:
    # Go's database uses introduced/fixed only; last_affected is OSV's inclusive end.
    rng = [(Event(EventKind.INTRODUCED, "v1.2.0"), Event(EventKind.LAST_AFFECTED, "v1.4.0"))]
    assert not affects(rng, "v1.1.9")
    assert affects(rng, "v1.2.0")
    assert affects(rng, "v1.4.0")
    assert not affects(rng, "v1.4.1")
    assert affects([(Event(EventKind.INTRODUCED, ""),)], "v0.0.0-20200101000000-abcdefabcdef")
    assert affects([], "v9.9.9")


def test_entries_naming_a_module_in_several_blocks(full_index: VulnIndex) -> None:
    def one(module: str, version: str, entry_id: str, go: str = "") -> VulnMatch | None:
        mods = [ModuleVersion(module, version)] if version else []
        found = [m for m in match_modules(full_index, mods, go_version=go) if m.id == entry_id]
        assert len(found) <= 1  # one match per entry and module, never one per block
        return found[0] if found else None

    # GO-2023-1497: [0, 1.3.4) and [1.4.0, 1.4.2) as two blocks
    lib = "github.com/sylabs/scs-library-client"
    assert one(lib, "v1.3.0", "GO-2023-1497").fixed == "v1.3.4"  # type: ignore[union-attr]
    assert one(lib, "v1.4.1", "GO-2023-1497").fixed == "v1.4.2"  # type: ignore[union-attr]
    assert one(lib, "v1.3.5", "GO-2023-1497") is None
    # GO-2023-2185: 1.20.11 fixes the first block but the second block affects it, so the fix
    # hint is the first version neither block affects; packages of both blocks are merged.
    std = one("stdlib", "", "GO-2023-2185", go="1.20.5")
    assert std is not None and std.fixed == "v1.20.12"
    assert {p.path for p in std.packages} == {"path/filepath", "internal/safefilepath"}
    at_fix = one("stdlib", "", "GO-2023-2185", go="1.20.11")
    assert at_fix is not None and at_fix.fixed == "v1.20.12"
    assert {p.path for p in at_fix.packages} == {"path/filepath"}
    # GO-2025-3442: 0.38.17 leaves one block but not the other ([0, 1.0.1))
    comet = one("github.com/cometbft/cometbft", "v0.38.0", "GO-2025-3442")
    assert comet is not None and comet.fixed == "v1.0.1"
