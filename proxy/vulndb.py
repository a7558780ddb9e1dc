"""go-vault and the Go vulnerability database: the `/-/vulndb/` mirror and the vuln auditor.

The mirror serves a database built by `goproxy-scan vulndb build` (or copied from vuln.go.dev) in
the layout govulncheck reads (`govulncheck -db http://proxy/-/vulndb`). The auditor wraps the
license auditor: it adds the known vulnerabilities of each new module version to its verdict and
refuses the version (403) when the policy's `vulnerabilities:` section fails it. At download time
nothing is known about the code that will use the module, so every match counts as `required`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from scanner.module import ModuleVersion
from scanner.policy import load_policy
from scanner.verdict import Decision, Reason, Verdict
from scanner.vulndb.database import load_index
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.match import match_modules
from scanner.vulndb.policy import VulnPolicy, evaluate_vulns, vuln_policy
from scanner.vulndb.reach import MainUses, reach_all

from .config import VaultConfig
from .errors import NotInProxyError
from .ingest import Auditor

PREFIX = "/-/vulndb/"
# Only the files of the served layout: no directory listings, no paths outside the database.
_ENDPOINT = re.compile(
    r"^(?:index/(?:db|modules|vulns)|ID/[A-Z][A-Z0-9]*-[0-9A-Za-z-]+)\.json(?:\.gz)?$"
)


@dataclass(frozen=True, slots=True)
class VulnDBFile:
    path: Path
    size: int
    content_type: str


def vulndb_file(root: Path | None, endpoint: str) -> VulnDBFile:
    """The file answering `/-/vulndb/<endpoint>`; NotInProxyError (404) for anything else.

    `.json.gz` goes out as application/gzip without Content-Encoding: govulncheck unzips the
    body itself, and an http client that saw Content-Encoding would unzip it first.
    """
    if root is None:
        raise NotInProxyError(
            "this go-vault does not mirror a vulnerability database",
            hint="start it with --vulndb DIR (a directory built by goproxy-scan vulndb build)",
        )
    if not _ENDPOINT.match(endpoint):
        raise NotInProxyError(f"not found: {PREFIX}{endpoint} is not a vulnerability database file")
    path = root / endpoint
    try:
        size = path.stat().st_size
    except OSError:
        raise NotInProxyError(f"not found: {PREFIX}{endpoint}") from None
    gz = endpoint.endswith(".gz")
    return VulnDBFile(path, size, "application/gzip" if gz else "application/json")


class LiveIndex:
    """The index of a database directory, reloaded when `vulndb build` replaces the directory.

    Each call stats index/db.json (build swaps the whole directory, so its inode changes) and
    loads again only when it changed; audits run in worker threads, hence the lock.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._index: VulnIndex | None = None

    def __call__(self) -> VulnIndex:
        with self._lock:
            st = (self.root / "index" / "db.json").stat()
            stamp = (st.st_ino, st.st_mtime_ns)
            if self._index is None or stamp != self._stamp:
                self._index = load_index(self.root.as_uri())
                self._stamp = stamp
            return self._index


class VulnAuditor:
    """An Auditor: the inner (license) verdict plus the module version's known vulnerabilities.

    Failing vulnerabilities turn the decision into REJECT and come first among the reasons, so
    the 403 the go command prints names the advisory; passing ones are kept as facts.
    """

    def __init__(
        self,
        index: VulnIndex | Callable[[], VulnIndex],
        policy: VulnPolicy,
        *,
        inner: Auditor | None = None,
        policy_digest: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.index = index if callable(index) else lambda: index
        self.policy = policy
        self.inner = inner
        self.policy_digest = policy_digest
        self.clock = clock

    def audit(self, module: str, version: str, zip_file: Path | bytes, h1: str) -> Verdict | None:
        verdict = self.inner.audit(module, version, zip_file, h1) if self.inner else None
        matches = match_modules(self.index(), [ModuleVersion(module, version)])
        if not matches:
            return verdict
        now = self.clock()
        findings = evaluate_vulns(self.policy, reach_all(matches, MainUses()), now)
        failing = [f for f in findings if f.fails]
        if verdict is None:
            verdict = Verdict(
                module=module,
                version=version,
                decision=Decision.PASS,
                licenses=(),
                expression="",
                reasons=(),
                policy_digest=self.policy_digest,
                h1=h1,
                detector_version="",
                evaluated_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        reasons = [Reason(f.rule_id, f"{f.reason}; fix: {f.fix_hint}") for f in failing]
        facts = [Reason(f.rule_id, f.reason) for f in findings if not f.fails]
        return replace(
            verdict,
            decision=Decision.REJECT if failing else verdict.decision,
            reasons=(*reasons, *verdict.reasons, *facts),
        )


def vuln_auditor_for(config: VaultConfig, inner: Auditor | None) -> Auditor | None:
    """Wrap `inner` with the vulnerability auditor when the config names a database."""
    if not config.vulndb:
        return inner
    index = LiveIndex(Path(config.vulndb))
    index()  # a broken database stops the start, not the first download
    if config.policy:
        policy = load_policy(config.policy)
        return VulnAuditor(index, vuln_policy(policy), inner=inner, policy_digest=policy.digest)
    return VulnAuditor(index, VulnPolicy(), inner=inner)
