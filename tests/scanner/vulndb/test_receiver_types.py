"""A vulnerable method `Session.Run` is called only on a receiver that may be a Session.

An entry GO-2099-0002 for golang.org/x/crypto < v0.1.0 (package ssh, symbol Session.Run). Any
`.Run()` in a file that named `ssh.Session` counted as Session.Run: `cmd.Run()` on an
`exec.Cmd` failed the scan as a call (podman's pkg/machine/ssh.go:61), and the same name
matching made a dependency's or ssh's own `cmd.Run()` the proof that the build calls it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import run_scan_cli, scan_env

from scanner.result import ScanResult, VulnResult
from scanner.vulndb.layout import build_layout

pytestmark = pytest.mark.gocmd

ENTRY = {
    "schema_version": "1.3.1",
    "id": "GO-2099-0002",
    "modified": "2099-01-02T00:00:00Z",
    "published": "2099-01-01T00:00:00Z",
    "summary": "Session.Run runs anything in golang.org/x/crypto/ssh",
    "affected": [
        {
            "package": {"name": "golang.org/x/crypto", "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.1.0"}]}],
            "ecosystem_specific": {
                "imports": [{"path": "golang.org/x/crypto/ssh", "symbols": ["Session.Run"]}]
            },
        }
    ],
}

SSH_GO = """package ssh

import "os/exec"

// Client dials.
type Client struct{}

// Session runs commands.
type Session struct{}

// NewSession opens a session.
func (c *Client) NewSession() (*Session, error) { return &Session{}, nil }

// Run is vulnerable.
func (s *Session) Run(cmd string) error { return nil }

// Local runs a local command: an exec.Cmd's Run, not Session.Run.
func Local() error {
	cmd := exec.Command("true")
	return cmd.Run()
}

// LocalExpr runs one through a method expression on exec.Cmd: not Session.Run either.
func LocalExpr() error {
	run := (*exec.Cmd).Run
	return run(exec.Command("true"))
}
"""

# The brief's case: line 11 runs an exec.Cmd; describe only names the type.
MAIN_EXEC = """package main

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

func local() error {
\tcmd := exec.Command("true")
\treturn cmd.Run()
}

func describe(session *ssh.Session) string { return "session" }

func main() { _ = local(); _ = describe(nil) }
"""

# podman's shape: the Session comes from a method call (type unknown) and is Run on line 20;
# a parameter typed *ssh.Session is Run on line 24.
MAIN_BOTH = """package main

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

func local() error {
\tcmd := exec.Command("true")
\tcmd.Stdout = nil
\treturn cmd.Run()
}

func remote(client *ssh.Client) error {
\tsession, err := client.NewSession()
\tif err != nil {
\t\treturn err
\t}
\treturn session.Run("true")
}

func typed(session *ssh.Session) error {
\treturn session.Run("true")
}

func main() { _ = local(); _ = remote(nil); _ = typed(nil) }
"""

MAIN_UNKNOWN = """package main

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

func local() error { return exec.Command("true").Run() }

func remote(client *ssh.Client) error {
\tsession, _ := client.NewSession()
\treturn session.Run("true")
}

func main() { _ = local(); _ = remote(nil) }

// The file names the type: a .Run of unknown receiver may be Session.Run.
var _ *ssh.Session
"""

# A dependency whose package names ssh.Session but runs only exec.Cmds.
DEP_EXEC = """package dep

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

type runner struct{ cmd *exec.Cmd }

// Run runs a local command.
func Run(s *ssh.Session) error {
\tr := runner{cmd: exec.Command("true")}
\t_ = s
\treturn r.cmd.Run()
}
"""

# A dependency calling ssh.Local, whose body runs an exec.Cmd (not Session.Run).
DEP_LOCAL = """package dep

import "golang.org/x/crypto/ssh"

// Run runs a local command through ssh.Local.
func Run(s *ssh.Session) error { _ = s; return ssh.Local() }
"""

DEP_CALLS = """package dep

import "golang.org/x/crypto/ssh"

// Run runs on the session.
func Run(s *ssh.Session) error { return s.Run("true") }
"""

MAIN_DEP = """package main

import "example.com/dep"

func main() { _ = dep.Run(nil) }
"""


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("osv")
    (src / "GO-2099-0002.json").write_text(json.dumps(ENTRY))
    out = tmp_path_factory.mktemp("vulndb") / "db"
    build_layout(src, out)
    return out


@pytest.fixture
def env(go_env: dict[str, str], goproxy_tree: GoProxyTree, scan_cache: Path) -> dict[str, str]:
    goproxy_tree.add_module(
        "golang.org/x/crypto",
        "v0.0.1",
        {
            "go.mod": "module golang.org/x/crypto\n\ngo 1.21\n",
            "LICENSE": license_text("MIT"),
            "ssh/ssh.go": SSH_GO,
        },
    )
    return scan_env(go_env, goproxy_tree, scan_cache)


def project(root: Path, tree: GoProxyTree, run_go: Any, main_go: str, dep_go: str = "") -> Path:
    requires = "golang.org/x/crypto v0.0.1\n"
    if dep_go:
        tree.add_module(
            "example.com/dep",
            "v1.0.0",
            {
                "go.mod": "module example.com/dep\n\ngo 1.21\n\n"
                "require golang.org/x/crypto v0.0.1\n",
                "LICENSE": license_text("MIT"),
                "dep.go": dep_go,
            },
        )
        requires = "example.com/dep v1.0.0\n"
    write_files(
        root,
        {"go.mod": f"module example.com/app\n\ngo 1.22\n\nrequire {requires}", "main.go": main_go},
    )
    run_go("mod", "tidy", cwd=root, env_extra={"GOPROXY": tree.url})
    return root


def scan(root: Path, env: dict[str, str], vulndb: Path) -> tuple[Any, VulnResult, dict[str, Any]]:
    """(the process, GO-2099-0002 in the JSON result, its OpenVEX statement)."""
    out = root.parent / "out"
    proc = run_scan_cli(
        [
            "scan",
            ".",
            "--no-source-rules",
            "--vulndb",
            str(vulndb),
            "--format",
            "console",
            "--format",
            f"json={out}/r.json",
            "--format",
            f"openvex={out}/v.vex",
        ],
        env,
        root,
    )
    assert (out / "r.json").is_file(), proc.stdout + proc.stderr
    result = ScanResult.from_json((out / "r.json").read_text())
    (vuln,) = [v for v in result.vulnerabilities if v.id == "GO-2099-0002"]
    (statement,) = json.loads((out / "v.vex").read_text())["statements"]
    return proc, vuln, statement


def lines(vuln: VulnResult) -> list[tuple[str, int]]:
    return [(s.path, s.line) for s in vuln.sites]


def test_run_on_an_exec_cmd_is_not_a_session_run_call(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_EXEC)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vuln.reachability.value == "imported", lines(vuln)
    assert ("main.go", 11) not in lines(vuln)
    # the build's proof: nothing names Session.Run, but a method may be called through an
    # interface, so it is not claimed unaffected either
    assert statement["status"] == "under_investigation", statement


def test_the_reported_site_is_the_receiver_known_to_be_a_session(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_BOTH)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert vuln.reachability.value == "called"
    assert lines(vuln) == [("main.go", 24)]  # not line 20 (unknown), nor line 12
    assert statement["status"] == "affected"
    assert "main.go:24" in statement["status_notes"]
    assert "main.go:12" not in statement["status_notes"]


def test_a_receiver_of_unknown_type_still_counts(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    # `session` comes from client.NewSession(): its type is not told, so its Run may be
    # Session.Run; `exec.Command(...).Run()` is an exec.Cmd's and is never reported
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_UNKNOWN)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert vuln.reachability.value == "called"
    assert lines(vuln) == [("main.go", 13)]
    assert statement["status"] == "affected"


@pytest.mark.parametrize(
    ("dep_go", "status"),
    [
        (DEP_EXEC, "under_investigation"),
        (DEP_LOCAL, "under_investigation"),
        (DEP_CALLS, "affected"),
    ],
    ids=["dep-runs-exec-field", "ssh-local-runs-exec", "dep-runs-session"],
)
def test_the_build_proof_reads_receivers_the_same_way(
    tmp_path: Path,
    env: dict[str, str],
    goproxy_tree: GoProxyTree,
    run_go: Any,
    vulndb: Path,
    dep_go: str,
    status: str,
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_DEP, dep_go)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vuln.reachability.value == "required"  # main imports dep only
    assert statement["status"] == status, statement
    if status == "affected":
        assert "example.com/dep@v1.0.0/dep.go:6" in statement["status_notes"]


# --- a method used as a value: a method value `s.Run`, a method expression `(*ssh.Session).Run`

# A method value on a known Session (line 7), a method expression (line 9) and its
# value-receiver form (line 11): each a use of Session.Run where it is selected.
MAIN_METHOD_VALUES = """package main

import "golang.org/x/crypto/ssh"

func value() error {
\ts := &ssh.Session{}
\tf := s.Run
\t_ = f
\th := (*ssh.Session).Run
\t_ = h
\tg := ssh.Session.Run
\t_ = g
\treturn nil
}

func main() { _ = value() }
"""

# A method value on a receiver of unknown type (line 8), in a file that names ssh.Session.
MAIN_UNKNOWN_VALUE = """package main

import "golang.org/x/crypto/ssh"

func remote(client *ssh.Client) error {
\tsession, _ := client.NewSession()
\t_ = session
\trun := session.Run
\treturn run("true")
}

func main() { _ = remote(nil) }

// The file names the type: a .Run of unknown receiver may be Session.Run.
var _ *ssh.Session
"""

# Method values and expressions of exec.Cmd's Run, in a file that names ssh.Session: never
# Session.Run.
MAIN_OTHER_VALUES = """package main

import (
\t"os/exec"

\t"golang.org/x/crypto/ssh"
)

func local() error {
\tcmd := exec.Command("true")
\tf := cmd.Run
\tg := (*exec.Cmd).Run
\t_ = g
\treturn f()
}

func describe(session *ssh.Session) string { return "session" }

func main() { _ = local(); _ = describe(nil) }
"""


@pytest.mark.parametrize(
    ("main_go", "sites"),
    [
        (MAIN_METHOD_VALUES, [("main.go", 7), ("main.go", 9), ("main.go", 11)]),
        (MAIN_UNKNOWN_VALUE, [("main.go", 8)]),
    ],
    ids=["value-and-expressions", "value-of-unknown-receiver"],
)
def test_a_method_used_as_a_value_is_called(
    tmp_path: Path,
    env: dict[str, str],
    goproxy_tree: GoProxyTree,
    run_go: Any,
    vulndb: Path,
    main_go: str,
    sites: list[tuple[str, int]],
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, main_go)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert vuln.reachability.value == "called", lines(vuln)
    assert lines(vuln) == sites
    assert statement["status"] == "affected", statement
    assert f"main.go:{sites[0][1]}" in statement["status_notes"]


def test_a_method_value_of_another_type_is_not_a_call(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_OTHER_VALUES)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vuln.reachability.value == "imported", lines(vuln)
    assert statement["status"] == "under_investigation", statement


DEP_VALUE = """package dep

import "golang.org/x/crypto/ssh"

// Run runs on the session through a method value.
func Run(s *ssh.Session) error {
\tf := s.Run
\treturn f("true")
}
"""

DEP_EXPRESSION = """package dep

import "golang.org/x/crypto/ssh"

// Run runs on the session through a method expression.
func Run(s *ssh.Session) error {
\t_ = s
\trun := (*ssh.Session).Run
\treturn run(&ssh.Session{}, "true")
}
"""

# ssh.LocalExpr takes exec.Cmd's Run as a method expression: not Session.Run.
DEP_LOCAL_EXPR = """package dep

import "golang.org/x/crypto/ssh"

// Run runs a local command through ssh.LocalExpr.
func Run(s *ssh.Session) error { _ = s; return ssh.LocalExpr() }
"""


@pytest.mark.parametrize(
    ("dep_go", "status", "site"),
    [
        (DEP_VALUE, "affected", "dep.go:7"),
        (DEP_EXPRESSION, "affected", "dep.go:8"),
        (DEP_LOCAL_EXPR, "under_investigation", ""),
    ],
    ids=["dep-method-value", "dep-method-expression", "ssh-exec-method-expression"],
)
def test_the_build_proof_counts_methods_used_as_values(
    tmp_path: Path,
    env: dict[str, str],
    goproxy_tree: GoProxyTree,
    run_go: Any,
    vulndb: Path,
    dep_go: str,
    status: str,
    site: str,
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, MAIN_DEP, dep_go)
    proc, vuln, statement = scan(root, env, vulndb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vuln.reachability.value == "required"
    assert statement["status"] == status, statement
    if site:
        assert f"example.com/dep@v1.0.0/{site}" in statement["status_notes"], statement
