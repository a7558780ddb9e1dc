"""Fixtures for go-vault tests: a counting loopback upstream over a GoProxyTree, gateways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree
from s3server import moto_server  # noqa: F401  (a real S3-compatible server process)
from vaultlab import GatewayFactory, LoopbackUpstream, running_gateway, vault_config


@pytest.fixture
def upstream(goproxy_tree: GoProxyTree) -> Iterator[LoopbackUpstream]:
    """An HTTP GOPROXY on 127.0.0.1 serving `goproxy_tree`, counting requests."""
    lab = LoopbackUpstream(goproxy_tree.root)
    yield lab
    lab.stop()


@pytest.fixture
def gateway(tmp_path: Path, upstream: LoopbackUpstream) -> GatewayFactory:
    """gateway(**config_changes, storage=..., auditor=...) -> context manager of a running one."""

    def make(*, storage: Any = None, auditor: Any = None, **changes: Any) -> Any:
        changes.setdefault("upstream", upstream.url)
        return running_gateway(vault_config(tmp_path, **changes), storage=storage, auditor=auditor)

    return make
