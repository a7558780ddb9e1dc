"""Reachability levels on fixture code that calls, imports, or only requires a vulnerable module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.vulndb.index import VulnIndex
from scanner.vulndb.match import VulnMatch, match_modules
from scanner.vulndb.osv import Package
from scanner.vulndb.reach import (
    MainUses,
    Reachability,
    Site,
    _called_sites,
    collect_main_uses,
    reachability,
)

from .conftest import TESTDATA, Project

REACH = TESTDATA / "reach"


def _gin_0001(index: VulnIndex, project: Project) -> VulnMatch:
    matches = match_modules(index, project.modules)
    return next(m for m in matches if m.id == "GO-2020-0001")


@pytest.mark.parametrize(
    ("project", "level", "sites"),
    [
        ("called", Reachability.CALLED, [Site("internal/logs/logs.go", 9, 7)]),
        ("imported", Reachability.IMPORTED, [Site("main.go", 3, 8)]),
        ("required", Reachability.REQUIRED, []),
    ],
)
def test_levels_on_fixture_code(
    full_index: VulnIndex,
    read_project: Callable[[str], Project],
    project: str,
    level: Reachability,
    sites: list[Site],
) -> None:
    fixture = read_project(f"reach/{project}")
    match = _gin_0001(full_index, fixture)
    reach = reachability(match, collect_main_uses(fixture.dir))
    assert reach.level is level
    assert list(reach.sites) == sites
    if level is Reachability.CALLED:
        assert reach.symbols == ("Default",)


def _match(module: str, packages: tuple[Package, ...]) -> VulnMatch:
    return VulnMatch("GO-T", (), "", module, "v1.0.0", "v1.0.1", packages)


def test_symbols_methods_and_whole_packages() -> None:
    site = Site("main.go", 5, 2)
    uses = MainUses.from_facts(
        imports=[("net/http", Site("main.go", 3, 8)), ("example.com/m/sub", Site("a.go", 2, 8))],
        calls=[("net/http", "Server.ListenAndServe", site), ("example.com/m/sub", "Any", site)],
    )
    server = _match("stdlib", (Package("net/http", ("Server.ListenAndServe",)),))
    assert reachability(server, uses).level is Reachability.CALLED
    get_only = _match("stdlib", (Package("net/http", ("Get",)),))
    assert reachability(get_only, uses).level is Reachability.IMPORTED
    # no symbols listed: every symbol of the package is vulnerable
    whole_package = _match("stdlib", (Package("net/http"),))
    assert reachability(whole_package, uses).level is Reachability.CALLED
    # no packages listed: every package of the module is
    whole_module = _match("example.com/m", ())
    assert reachability(whole_module, uses).symbols == ("Any",)
    assert reachability(_match("example.com/other", ()), uses).level is Reachability.REQUIRED
    # a method on a value whose type is unknown ("?.M") matches every T.M of the package
    unknown = MainUses.from_facts(
        imports=[("example.com/m", site)], calls=[("example.com/m", "?.Run", site)]
    )
    engine = _match("example.com/m", (Package("example.com/m", ("Engine.Run", "New")),))
    assert reachability(engine, unknown).symbols == ("Engine.Run",)
    # the toolchain is never reached by built code
    assert reachability(_match("toolchain", ()), uses).level is Reachability.REQUIRED


def test_methods_of_named_types_in_the_standard_library(
    full_index: VulnIndex, read_project: Callable[[str], Project]
) -> None:
    fixture = read_project("reach/method")
    (match,) = [
        m for m in match_modules(full_index, [], go_version=fixture.go) if m.id == "GO-2022-0969"
    ]
    reach = reachability(match, collect_main_uses(fixture.dir))
    assert reach.level is Reachability.CALLED
    assert reach.symbols == ("Server.ListenAndServe",)
    assert reach.sites == (Site("main.go", 10, 16),)


RECEIVERS_GO = """package main

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

type wrap struct{ *ssh.Session }
type holder struct{ cmd *exec.Cmd }

func local() error { cmd := exec.Command("true"); return cmd.Run() }

func other(h holder, c *ssh.Client, cmd string) error {
\th.cmd.Run()
\texec.Command("x").Run()
\t(&exec.Cmd{}).Run()
\tvar v exec.Cmd
\tv.Run()
\tk := new(exec.Cmd)
\tk.Run()
\tw := wrap{}
\tw.Run(cmd)
\ts, _ := c.NewSession()
\ts.Run(cmd)
\tfor _, cmd := range []*exec.Cmd{} {
\t\tcmd.Run()
\t}
\tif cmd := get(); cmd != nil {
\t\tcmd.Run()
\t}
\treturn nil
}

func typed(session *ssh.Session) error { return session.Run("e") }
"""


def test_method_calls_by_what_the_syntax_tells_of_the_receiver(tmp_path: Path) -> None:
    """`.Run()` on a receiver known to be another type is never Session.Run; one of unknown
    type may be (the file names ssh.Session); one known to be a Session is reported first."""
    (tmp_path / "main.go").write_text(RECEIVERS_GO)
    uses = collect_main_uses(tmp_path)
    session_run = Package("golang.org/x/crypto/ssh", ("Session.Run",))
    calls = {(site.line, sure) for _, site, sure in _called_sites(session_run, uses)}
    # 12 and 15-21: exec.Cmds (a variable, a field, a call, a literal, `var`, `new`);
    # 23 an embedding local type, 25 a method's result, 27 a range value, 30 an if's: unknown
    assert calls == {(23, False), (25, False), (27, False), (30, False), (35, True)}
    match = _match("golang.org/x/crypto", (session_run,))
    assert reachability(match, uses).sites == (Site("main.go", 35, 57),)
