"""`go-vault token add`: a token is made only for a name and tenant the gateway can use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def token(tokens: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "token"]
    return subprocess.run(
        [*cli, *args, "--auth-tokens", str(tokens)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # /t/<tenant>/ is one path segment of [a-z0-9-]: these tokens could never be used.
        (["add", "ci", "--tenant", "acme/dev"], "--tenant 'acme/dev' is not a tenant name"),
        (["add", "ci", "--tenant", "Acme"], "--tenant 'Acme' is not a tenant name"),
        # An empty tenant was stored as no tenant: a token for every tenant and the root proxy.
        (["add", "ci", "--tenant", ""], "--tenant '' is not a tenant name"),
        # The name is the identity in the audit log.
        (["add", ""], "'' is not a token name"),
        (["add", "ci\nadmin"], "'ci\\nadmin' is not a token name"),
    ],
    ids=["slash", "upper-case", "empty-tenant", "empty-name", "newline"],
)
def test_a_token_the_gateway_cannot_use_is_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    tokens = tmp_path / "tokens.json"
    done = token(tokens, *args)
    assert done.returncode == 2, done.stderr
    assert f"error: {message}" in done.stderr, done.stderr
    assert not done.stdout and not tokens.exists()  # no secret printed, nothing stored


def test_a_tenant_token_is_still_made(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    done = token(tokens, "add", "acme-ci", "--tenant", "acme-2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gvt_")
    listed = token(tokens, "list")
    assert listed.stdout.split("\t")[:3] == ["acme-ci", "read", "acme-2"]
