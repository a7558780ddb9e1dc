"""`go-vault prefetch`'s outputs: stdout is the JSON summary alone, the audit log goes to stderr
or `--audit-log FILE`, and stderr names each problem a version has."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from goproxytree import GoProxyTree

BAD = "example.com/o/case"


def prefetch(
    tmp_path: Path, listing: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")}
    return subprocess.run(
        [
            sys.executable, "-c", "from proxy.cli import main; main()", "prefetch", str(listing),
            "--storage", str(tmp_path / "vault"), "--upstream", (tmp_path / "up").as_uri(), *args,
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=300,
        check=False,
    )  # fmt: skip


def published(tmp_path: Path) -> Path:
    """An upstream with one good version and one whose zip holds a.go and A.go; the list of
    both."""
    tree = GoProxyTree(tmp_path / "up")
    tree.add_module("example.com/o/good", "v1.0.0")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for name in ("go.mod", "a.go", "A.go"):
            z.writestr(
                f"{BAD}@v1.0.0/{name}", f"module {BAD}\n" if name == "go.mod" else "package x\n"
            )
    info = json.dumps({"Version": "v1.0.0", "Time": "2024-01-01T00:00:00Z"}).encode()
    tree.add_raw(BAD, "v1.0.0", info=info, mod=f"module {BAD}\n".encode(), zip=zipped.getvalue())
    listing = tmp_path / "modules.txt"
    listing.write_text(f"example.com/o/good v1.0.0\n{BAD} v1.0.0\n")
    return listing


def events(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"ts"')]


def test_stdout_is_the_summary_alone_and_the_audit_log_goes_to_stderr(tmp_path: Path) -> None:
    """`prefetch > out.json` held the ingest events and then the summary: json.load failed."""
    done = prefetch(tmp_path, published(tmp_path))
    assert done.returncode == 3, done.stderr
    summary = json.loads(done.stdout)
    assert summary["counts"]["fetched"] == 1 and summary["counts"]["failed"] == 1
    ingested = {e["module"]: e["decision"] for e in events(done.stderr) if e["event"] == "ingest"}
    assert ingested == {"example.com/o/good": "stored", BAD: "refused"}


def test_the_audit_log_option_and_setting_name_a_file(tmp_path: Path) -> None:
    """`--audit-log FILE` as serve's (appended JSON lines); `-` is stderr here, and so is the
    config's `audit_log` left at its default."""
    listing = published(tmp_path)
    log = tmp_path / "audit.jsonl"
    done = prefetch(tmp_path, listing, "--audit-log", str(log))
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["counts"]["fetched"] == 1
    assert not events(done.stderr)
    assert len([e for e in events(log.read_text()) if e["event"] == "ingest"]) == 2

    again = prefetch(tmp_path, listing, GO_VAULT_AUDIT_LOG=str(log))
    assert again.returncode == 3, again.stderr
    assert json.loads(again.stdout)["counts"]["already there"] == 1 and not events(again.stderr)
    assert len([e for e in events(log.read_text()) if e["event"] == "ingest"]) == 3

    dash = prefetch(tmp_path, listing, "--audit-log", "-", GO_VAULT_AUDIT_LOG=str(log))
    assert json.loads(dash.stdout)["counts"]["already there"] == 1
    assert [e["module"] for e in events(dash.stderr) if e["event"] == "ingest"] == [BAD]


def test_stderr_names_the_problem_of_a_refused_zip(tmp_path: Path) -> None:
    """The line ended at `not a valid module zip (1 problem(s)):`, without the problem."""
    listing = published(tmp_path)
    done = prefetch(tmp_path, listing, GO_VAULT_AUDIT_LOG=str(tmp_path / "audit.jsonl"))
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  {BAD}@v1.0.0: failed: "))
    assert lines[at].endswith("not a valid module zip (1 problem(s)):"), lines[at]
    problem = lines[at + 1]
    assert problem.startswith(f"      {BAD}@v1.0.0/A.go: case-insensitive file name collision")


def test_without_a_go_command_the_toolchains_fetched_are_said(tmp_path: Path) -> None:
    """With no go on PATH the clients' Go was taken as 1.0 without a word: every go line's
    toolchain was wanted, and prefetch failed on golang.org/toolchain with no reason given."""
    GoProxyTree(tmp_path / "up").add_module("example.com/o/good", "v1.0.0")
    gomod = tmp_path / "app" / "go.mod"
    gomod.parent.mkdir()
    gomod.write_text("module example.com/app\n\ngo 1.21\n\nrequire example.com/o/good v1.0.0\n")
    no_go = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "venv" not in p)
    proc = prefetch(tmp_path, gomod, PATH=no_go)
    assert "note: no go command here" in proc.stderr and "--local-go" in proc.stderr
    quiet = prefetch(tmp_path, gomod, "--local-go", "1.27.3", PATH=no_go)
    assert quiet.returncode == 0, quiet.stderr
    assert "no go command" not in quiet.stderr
