"""`go-vault prefetch --policy`: what serve would refuse is counted and named, with exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from goproxytree import GoProxyTree
from test_auditor import publish, write_policy

WANTED = ("example.com/mit", "example.com/gpl", "example.com/odd")


def prefetch(tmp_path: Path, tree: GoProxyTree, *args: str, **env: str) -> tuple[int, Any, str]:
    listing = tmp_path / "modules.txt"
    listing.write_text("".join(f"{m} v1.0.0\n" for m in WANTED))
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "prefetch"]
    proc = subprocess.run(
        [*cli, str(listing), "--storage", str(tmp_path / "vault"), "--upstream", tree.url, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env},
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


def published(tmp_path: Path) -> tuple[GoProxyTree, Path]:
    tree = GoProxyTree(tmp_path / "upstream")
    for path, kind in zip(WANTED, ("mit", "gpl", "unknown"), strict=True):
        publish(tree, path, kind)
    return tree, write_policy(tmp_path / "policy.yml", unknown="review")


def rejected(summary: Any) -> dict[str, str]:
    return {p["module"]: p["reason"] for p in summary["problems"] if p["outcome"] == "rejected"}


def test_a_rejected_version_is_counted_and_named_and_exits_1(tmp_path: Path) -> None:
    """A REJECT was counted as fetched, with exit 0: the summary said '0 rejected'. The version
    is stored (its .info and .mod serve minimal version selection), but serve refuses its zip,
    and so does a prefetch that brings it in, or finds it there, under a policy."""
    tree, policy = published(tmp_path)
    code, summary, err = prefetch(tmp_path, tree, "--policy", str(policy))
    assert code == 1, err
    assert summary["counts"]["fetched"] == 1 and summary["counts"]["rejected"] == 2, summary
    reasons = rejected(summary)
    assert reasons["example.com/gpl"].startswith("REJECT by policy: license GPL-3.0-only")
    # REVIEW_REQUIRED is refused until approved (review_required: refuse, the default).
    assert reasons["example.com/odd"].startswith("REVIEW_REQUIRED by policy")
    assert "1 fetched, 0 already there, 2 rejected" in err
    assert "example.com/gpl@v1.0.0: rejected: REJECT by policy: license GPL-3.0-only" in err

    code, again, err = prefetch(tmp_path, tree, "--policy", str(policy))
    assert code == 1, err
    assert again["counts"]["already there"] == 1 and set(rejected(again)) == set(reasons)


def test_review_required_served_is_fetched_and_no_policy_judges_nothing(tmp_path: Path) -> None:
    tree, policy = published(tmp_path)
    code, summary, err = prefetch(
        tmp_path, tree, "--policy", str(policy), GO_VAULT_REVIEW_REQUIRED="serve"
    )
    assert code == 1, err
    assert set(rejected(summary)) == {"example.com/gpl"}
    assert summary["counts"]["fetched"] == 2

    (tmp_path / "vault").rename(tmp_path / "judged")
    code, summary, err = prefetch(tmp_path, tree)
    assert code == 0, err
    assert summary["counts"]["fetched"] == 3 and not summary["problems"]
