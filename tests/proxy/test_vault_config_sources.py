"""A bad setting stops go-vault with exit 2 and names where the value came from: the config
file and line, the GO_VAULT_* variable, GOPROXY or the flag; a misspelt variable is refused."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import OTHER_VARIABLES, load_config
from scanner.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def serve_refused(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`go-vault serve ARGS` that must stop before it listens: its stderr (exit 2 asserted)."""
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "serve"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")}
    proc = subprocess.Popen(
        [*cli, "--listen", "127.0.0.1:0", "--storage", str(tmp_path / "vault"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **(env or {})},
        start_new_session=True,  # a server that did start goes with its workers
    )
    try:
        _, err = proc.communicate(timeout=120)  # only so that a start fails, not stalls
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def refusal(file: Path | None = None, **kwargs: object) -> str:
    with pytest.raises(InputError) as refused:
        load_config(file, **kwargs)  # type: ignore[arg-type]
    return str(refused.value)


def test_a_bad_log_level_is_an_input_error_not_a_crash(tmp_path: Path) -> None:
    """It was `ValueError: Unknown level: 'LOUD'`, 'a bug: please report it', exit 3."""
    config = tmp_path / "vault.yml"
    config.write_text("# quiet, please\nlog_level: loud\n")
    err = serve_refused(tmp_path, "--config", str(config))
    assert err == (
        f"error: {config}:2: log_level: 'loud' is not one of debug, info, warning, error"
    )
    err = serve_refused(tmp_path, env={"GO_VAULT_LOG_LEVEL": "loud"})
    assert err.startswith("error: GO_VAULT_LOG_LEVEL: log_level: 'loud' is not one of debug")
    assert load_config(env={"GO_VAULT_LOG_LEVEL": "WARNING"}).log_level == "warning"


def test_an_upstream_that_is_no_url_is_an_input_error(tmp_path: Path) -> None:
    """It exited 3 (an operational failure) from deep in the gateway, naming no source."""
    err = serve_refused(tmp_path, "--upstream", "ftp://x")
    assert err.startswith("error: --upstream: upstream: 'ftp://x' is not an http(s):// or file://")
    config = tmp_path / "vault.yml"
    config.write_text('storage: /srv/vault\nupstream: "https://a.example,ftp://x"\n')
    err = serve_refused(tmp_path, "--config", str(config))
    assert err.startswith(f"error: {config}:2: upstream: 'ftp://x' is not an http(s)://"), err
    assert "e.g. upstream: https://proxy.golang.org" in err
    assert refusal(env={"GOPROXY": "ftp://x,direct"}).startswith("GOPROXY: upstream: 'ftp://x'")
    ok = "https://a.example/go,direct|file:///srv/mirror|off"
    assert load_config(env={}, flags={"upstream": ok}).upstream == ok


def test_a_misspelt_variable_is_refused_with_the_name_it_resembles(tmp_path: Path) -> None:
    """GO_VAULT_OFLINE=true started a server that was not offline."""
    err = serve_refused(tmp_path, env={"GO_VAULT_OFLINE": "true"})
    assert (
        err == "error: GO_VAULT_OFLINE: unknown go-vault variable (did you mean GO_VAULT_OFFLINE?)"
    )
    assert "did you mean GO_VAULT_TOKEN?" in refusal(env={"GO_VAULT_TOKN": "t"})
    assert "did you mean" not in refusal(env={"GO_VAULT_XYZZY": "1"})


def test_every_go_vault_variable_the_project_names_is_accepted() -> None:
    """The variables read outside the config (GO_VAULT_URL, the S3 and bundle ones…) and every
    one the docs, deploy files and code name are not mistaken for typos."""
    named: set[str] = set()
    for top in ("README.md", "action.yml", "docs", "deploy", "proxy", "scanner", "tests"):
        root = REPO / top
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and path.suffix in (".md", ".py", ".yml", ".yaml", "", ".toml"):
                named |= set(re.findall(r"GO_VAULT_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8")))
    named.discard("GO_VAULT_OFLINE")  # this file's typo
    named -= {n for n in named if n.startswith(("GO_VAULT_TOKN", "GO_VAULT_XYZZY"))}
    assert {"GO_VAULT_URL", "GO_VAULT_ADMIN_TOKEN", "GO_VAULT_S3_ENDPOINT"} <= named
    for var in sorted(named | OTHER_VARIABLES):
        try:
            load_config(env={var: ""})  # a value a setting may refuse; the name it must not
        except InputError as e:
            assert "unknown go-vault variable" not in str(e), var


@pytest.mark.parametrize(
    ("file_text", "suffix", "where", "message"),
    [
        ("list_ttl: -5\n", ".yml", ":1", "list_ttl: -5.0 must be 0 or more"),
        ("storage: /v\nlist-ttl: -5\n", ".yml", ":2", "list_ttl: -5.0 must be 0 or more"),
        ('storage = "/v"\nlist_ttl = -5\n', ".toml", ":2", "list_ttl: -5.0 must be 0 or more"),
        ("workers: 0\n", ".yml", ":1", "workers: 0 needs server granian"),
        ("base_path: go\n", ".yml", ":1", "base_path: 'go' must start with '/'"),
        ("tls_key: k.pem\n", ".yml", ":1", "tls_cert and tls_key go together"),
        ("review_required: maybe\n", ".yml", ":1", "review_required: 'maybe' is not refuse"),
        ("list_ttl: soon\n", ".yml", ":1", "list_ttl: 'soon' is not a valid float"),
        ("bogus: 1\n", ".yml", ":1", "unknown setting 'bogus'"),
        ("log_level: info\nsumdb: sum.golang.org\n", ".yml", ":2", "sumdb: 'sum.golang.org' is"),
        ('git = "corp.io/*=git.corp.io:x"\n', ".toml", ":1", "git route 'corp.io/*=git.corp.io"),
    ],
)
def test_a_bad_value_in_a_file_names_the_file_and_line(
    tmp_path: Path, file_text: str, suffix: str, where: str, message: str
) -> None:
    """`list_ttl: -5` said `error: list_ttl: -5.0 must be 0 or more`: which file, which line?"""
    file = tmp_path / f"vault{suffix}"
    file.write_text(file_text)
    assert refusal(file, env={}).startswith(f"{file}{where}: {message}")


def test_a_bad_value_names_its_variable_or_flag_and_the_hint_speaks_its_language(
    tmp_path: Path,
) -> None:
    """A bad `listen:` in a file pointed at `--listen`, a flag the user never passed."""
    assert refusal(env={"GO_VAULT_LIST_TTL": "-5"}) == (
        "GO_VAULT_LIST_TTL: list_ttl: -5.0 must be 0 or more"
    )
    assert refusal(env={}, flags={"max_body": -1}) == "--max-body: max_body: -1 must be 0 or more"
    file = tmp_path / "vault.yml"
    file.write_text("listen: nowhere\n")
    assert refusal(file, env={}) == (
        f"{file}:1: listen: 'nowhere' is not HOST:PORT (e.g. listen: 127.0.0.1:3000)"
    )
    assert refusal(env={"GO_VAULT_LISTEN": "nowhere"}).endswith(
        "(e.g. GO_VAULT_LISTEN=127.0.0.1:3000)"
    )
    assert refusal(env={}, flags={"listen": "nowhere"}).endswith("(e.g. --listen 127.0.0.1:3000)")
    assert refusal(env={"GO_VAULT_SUMDB": "sum.golang.org"}).endswith(
        "(e.g. GO_VAULT_SUMDB='sum.golang.org https://sum.golang.org')"
    )
    # The layer that won is the one named: the flag's good value hides the file's bad one.
    file.write_text("list_ttl: 5\nlisten: nowhere\n")
    assert load_config(file, env={}, flags={"listen": "127.0.0.1:0"}).list_ttl == 5.0
