"""The Auditor: license detection + the shared policy on every module version before it is served.

Two pieces. `LicenseAuditor` is the judge the ingest hook calls: scanner.licenses.detect_zip then
scanner.policy.evaluate (exactly what `judge_zip` and `goproxy-scan` run), with detection results
cached by `h1:` so a policy change re-evaluates without re-scanning. `AuditGate` sits in the
gateway around the whole judge chain (license auditor, wrapped by proxy.vulndb's VulnAuditor): it
stores every verdict beside the module, turns refusals into the 403 the go command prints,
re-judges stored versions whose verdict no longer matches the policy in force (reload, approval,
expired exception), writes one audit event per decision and counts them in the metrics.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from scanner.errors import InputError, OperationalError
from scanner.licenses import (
    FileLicenses,
    LicenseMatch,
    LicenseReport,
    TemplateIndex,
    default_index,
    detect_zip,
)
from scanner.policy import ModuleFacts, Policy, allowlist_policy, evaluate, load_policy
from scanner.verdict import Decision, Verdict

from .errors import MAX_BODY_BYTES, PolicyRejectedError
from .exceptions import ApprovalStore
from .verdicts import REQUEST, S3VerdictStore, VerdictStore

if TYPE_CHECKING:
    from .config import VaultConfig
    from .ingest import Auditor
    from .observability import AuditLog, Metrics
    from .rollback import StateFile
    from .storage import Storage
    from .workers import Workers

log = logging.getLogger("go_vault")

VERDICT_HEADER = b"x-go-module-verdict"
STATE_DIR = ".auditor"  # inside a filesystem vault (a leading dot is never a module path)
_INFORMATIVE = {"license.allowed", "exception.applied", "exception.expired"}
RELOAD_NAME = "policy-reload.json"  # admin reload requests, in the vault's state
_RELOADS = "go_vault_policy_reload"  # marks a SIGHUP handler installed by install_sighup
_APPROVALS_EVERY = 1.0  # seconds between looks at the approvals file (another process writes it)


class ReviewMode(StrEnum):
    """What REVIEW_REQUIRED does at download time."""

    REFUSE = "refuse"  # 403 until an exception is approved
    SERVE = "serve"  # served, with X-Go-Module-Verdict and a warning event


def _utc(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Effective:
    """The policy in force (file + approvals) and its digest, computed once per change."""

    policy: Policy
    digest: str


class PolicySource:
    """The policy file (or allow-list) plus the vault's approvals; `reload()` re-reads the file."""

    def __init__(self, load: Callable[[], Policy], approvals: ApprovalStore | None = None) -> None:
        self._load = load
        self.approvals = approvals
        self._lock = threading.Lock()
        self._base = load()
        self._seen: tuple[Any, ...] | None = None
        self._effective = Effective(self._base, self._base.digest)
        self._checked = 0.0

    def reload(self) -> Effective:
        """Read the policy again; a broken file raises and the old policy stays in force."""
        base = self._load()
        with self._lock:
            self._base, self._seen = base, None
        return self.effective(force=True)

    def due(self) -> bool:
        """Whether the next `effective()` looks at the approvals file again."""
        return time.monotonic() - self._checked >= _APPROVALS_EVERY

    def refresh_now(self) -> Effective:
        """`effective(force=True)`: after an approval through this process (blocking I/O)."""
        return self.effective(force=True)

    def effective(self, *, force: bool = False) -> Effective:
        clock = time.monotonic()
        if not force and clock - self._checked < _APPROVALS_EVERY:
            return self._effective
        with self._lock:
            self._checked = clock
            try:
                approvals = self.approvals.all() if self.approvals else ()
            except OperationalError as e:
                # The shared document is unreachable or broken: the approvals last read stay
                # in force (the next look retries) rather than failing every download.
                log.warning("approvals not re-read, keeping the last ones: %s", e)
                return self._effective
            if self._seen is None or approvals != self._seen[1] or self._seen[0] is not self._base:
                extra = tuple(a.exception() for a in approvals)
                policy = replace(self._base, exceptions=(*self._base.exceptions, *extra))
                self._effective = Effective(policy, policy.digest)
                self._seen = (self._base, approvals)
            return self._effective


class DetectionCache:
    """License reports by `h1:` (the exact bytes), in memory and, given a directory, on disk."""

    def __init__(self, directory: Path | None, max_entries: int = 200_000) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self._reports: dict[str, LicenseReport] = {}

    def _path(self, h1: str) -> Path | None:
        if self.directory is None:
            return None
        name = h1.removeprefix("h1:").replace("/", "_").replace("+", "-").rstrip("=")
        return self.directory / name[:2] / f"{name}.json"

    def get(self, h1: str, detector: str) -> LicenseReport | None:
        report = self._reports.get(h1)
        if report is not None:
            return report
        path = self._path(h1)
        if path is None:
            return None
        try:
            report = report_from_json(json.loads(path.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if report.detector_version != detector:
            return None  # a newer detector may see more: detect again
        self._remember(h1, report)
        return report

    def put(self, h1: str, report: LicenseReport) -> None:
        self._remember(h1, report)
        path = self._path(h1)
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(report.to_json(), sort_keys=True), "utf-8")
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a cache that cannot be written only costs time

    def _remember(self, h1: str, report: LicenseReport) -> None:
        if len(self._reports) >= self.max_entries:
            self._reports.pop(next(iter(self._reports)))
        self._reports[h1] = report


def report_from_json(data: dict[str, Any]) -> LicenseReport:
    """A LicenseReport back from its `to_json()` (the detection cache's file)."""
    files = tuple(
        FileLicenses(
            path=str(f["path"]),
            matches=tuple(
                LicenseMatch(
                    license_id=str(m["license_id"]),
                    confidence=float(m["confidence"]),
                    start_line=int(m["start_line"]),
                    end_line=int(m["end_line"]),
                    exact=bool(m["exact"]),
                    nearest=m.get("nearest"),
                    kind=str(m.get("kind", "text")),
                )
                for m in f["matches"]
            ),
            notice=bool(f.get("notice", False)),
        )
        for f in data["files"]
    )
    return LicenseReport(
        files, str(data["expression"]), data.get("declared"), str(data["detector_version"])
    )


class LicenseAuditor:
    """The ingest hook's judge: detect (cached by h1:) and evaluate by the policy in force."""

    def __init__(
        self,
        policies: PolicySource,
        *,
        detections: DetectionCache | None = None,
        index: TemplateIndex | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policies = policies
        self.detections = detections or DetectionCache(None)
        self.index = index
        self.clock = clock

    def audit(self, module: str, version: str, zip_file: Path | bytes, h1: str) -> Verdict:
        from scanner.licenses import detector_version

        detector = detector_version()
        report = self.detections.get(h1, detector) if h1 else None
        if report is None:
            report = detect_zip(zip_file, module, version, index=self.index or default_index())
            if h1:
                self.detections.put(h1, report)
        facts = ModuleFacts(module=module, version=version, h1=h1, licenses=report)
        return evaluate(self.policies.effective().policy, facts, self.clock())


def state_dir(config: VaultConfig) -> Path:
    """The auditor's local directory for a vault: detections by h1 (and, on a filesystem vault,
    verdicts and approvals too).

    Inside a filesystem vault (`<vault>/.auditor`); for object storage, a local directory per
    storage URL under $XDG_CACHE_HOME/go-vault: only the detection cache lives there (each
    replica keeps its own); verdicts and approvals are objects in the bucket.
    """
    spec = config.storage.removeprefix("file://")
    if "://" not in spec:
        return Path(spec) / STATE_DIR
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "go-vault" / "auditor" / hashlib.sha256(spec.encode()).hexdigest()[:16]


def reload_signal(config: VaultConfig) -> StateFile:
    """`policy-reload.json` in the vault: the last admin reload request and its generation."""
    from .rollback import state_file

    return state_file(config.storage, RELOAD_NAME)


def _reload_request(data: bytes | None) -> dict[str, Any]:
    """A reload request document; one that does not read counts as none (generation 0)."""
    try:
        asked = json.loads(data or b"{}")
    except ValueError:
        return {}
    if not isinstance(asked, dict) or not isinstance(asked.get("generation", 0), int):
        return {}
    return asked


def approval_store(config: VaultConfig) -> ApprovalStore:
    """The vault's approvals: `<vault>/.auditor/approvals.json`, or an object on S3.

    On S3 the approvals an earlier release kept in this replica's local state directory are
    merged into the bucket's document once (then the local file is renamed `.migrated`).
    """
    if not config.storage.startswith("s3://"):
        return ApprovalStore(state_dir(config))
    from .exceptions import FILE_NAME, Approval
    from .rollback import state_file

    store = ApprovalStore(state_file(config.storage, FILE_NAME))
    local = state_dir(config) / FILE_NAME
    try:
        items = json.loads(local.read_text("utf-8"))["approvals"]
        old = tuple(Approval.from_json(a) for a in items)
    except FileNotFoundError:
        return store  # nothing to move (or another process of this replica just moved it)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(
            f"{local}: the local approvals do not read ({e}); they were not moved to S3",
            hint="fix or remove the file, then start again",
        ) from e
    store.merge(old)  # by id: a second mover adds nothing
    with contextlib.suppress(FileNotFoundError):
        local.replace(local.with_name(FILE_NAME + ".migrated"))
    return store


def auditor_from_config(config: VaultConfig) -> LicenseAuditor | None:
    """The license auditor for `go-vault serve --policy FILE | --license-whitelist IDS`."""
    if config.policy is None and config.license_whitelist is None:
        return None
    review_mode(config)  # a bad setting stops the start
    path, whitelist = config.policy, config.license_whitelist

    def load() -> Policy:
        return load_policy(path) if path else allowlist_policy(whitelist or "")

    state = state_dir(config)
    cache = Path(config.spdx_cache_dir) if config.spdx_cache_dir else state / "detections"
    policies = PolicySource(load, approval_store(config))
    return LicenseAuditor(policies, detections=DetectionCache(cache), index=default_index())


def review_mode(config: VaultConfig) -> ReviewMode:
    try:
        return ReviewMode(config.review_required)
    except ValueError:
        raise InputError(
            f"review_required: {config.review_required!r} is not refuse or serve",
            hint="refuse: 403 until approved; serve: serve with X-Go-Module-Verdict",
        ) from None


def license_auditor_of(chain: object) -> LicenseAuditor | None:
    """The LicenseAuditor in a judge chain (it may be wrapped by the vulnerability auditor)."""
    while chain is not None:
        if isinstance(chain, LicenseAuditor):
            return chain
        chain = getattr(chain, "inner", None)
    return None


def deciding_rule(verdict: Verdict) -> str:
    """The rule id that made the decision (allowed terms and applied exceptions aside)."""
    for r in verdict.reasons:
        if r.rule_id not in _INFORMATIVE:
            return r.rule_id
    return verdict.reasons[0].rule_id if verdict.reasons else ""


def rejection(verdict: Verdict) -> PolicyRejectedError:
    """The 403 body the go command prints: the reason first, worded by the rule that decided.

    Then the rules' own sentences, the license found, and how to ask for an exception; the
    body stays within the go command's 8 lines / 648 bytes (proxy.errors.plain_body).
    """
    mv = f"{verdict.module}@{verdict.version}"
    deciding = [r for r in verdict.reasons if r.rule_id not in _INFORMATIVE]
    deciding = deciding or list(verdict.reasons)
    rule = deciding[0].rule_id if deciding else "policy"
    found = verdict.expression or "none found"
    if rule.startswith("vuln"):
        head = f"{verdict.decision.value} by policy: known vulnerability; {rule}"
    elif rule.startswith("module."):
        head = f"{verdict.decision.value} by policy: module denied; {rule}"
    else:
        head = f"{verdict.decision.value} by policy: license {found}; {rule}"
    reasons = []
    for r in deciding[:3]:
        message = r.message.removeprefix(f"{mv}: ")
        message, fix_sep, fix = message.partition("; fix: ")
        budget = 200 - len(fix)
        if len(message) > budget:
            message = message[: max(budget - 3, 40)] + "..."
        reasons.append(f"{r.rule_id}: {message}{fix_sep}{fix}")
    found_line = [] if " license " in head else [f"license found: {found}"]
    expired = [
        f"{r.rule_id}: {r.message.removeprefix(f'{mv}: ')[:170]}"
        for r in verdict.reasons
        if r.rule_id == "exception.expired"
    ][:1]
    ask = (
        f"to request a policy exception: go-vault approve {mv} --reason WHY --approver WHO "
        "(the proxy operator runs it)"
    )
    # The go command stops at 648 bytes: the head and the way out always fit, then what
    # matters most, in this order, while there is room.
    room = MAX_BODY_BYTES - 8 - len(f"{mv}: {head}\n{ask}\n".encode())
    if reasons and len(reasons[0].encode()) + 1 > room:
        # The deciding rule's own sentence is never dropped, only shortened.
        reasons[0] = reasons[0].encode()[: max(room - 4, 60)].decode("utf-8", "ignore") + "..."
    kept: dict[str, None] = {}
    for line in [*reasons[:1], *expired, *found_line, *reasons[1:]]:
        if len(line.encode()) + 1 <= room:
            kept[line] = None
            room -= len(line.encode()) + 1
    body = [head, *(x for x in [*reasons, *found_line, *expired] if x in kept), ask]
    return PolicyRejectedError("\n".join(body), module=verdict.module, version=verdict.version)


def verdict_store(storage: Storage, config: VaultConfig) -> VerdictStore:
    """Verdicts beside the vault actually served (a tenant's injected storage, say).

    `<vault>/.auditor/verdicts` in a filesystem vault; objects in the bucket on S3, so every
    replica reads the verdicts the others stored.
    """
    from .storage.fs import FsStorage

    if isinstance(storage, FsStorage):
        return VerdictStore(storage.root / STATE_DIR / "verdicts")
    from .storage.s3 import S3Storage

    if isinstance(storage, S3Storage):
        return S3VerdictStore(storage.loc)
    return VerdictStore(state_dir(config) / "verdicts")


class AuditGate:
    """The Auditor layer of the gateway around a judge chain (see the module docstring).

    It is the Auditor the ingester calls, so a verdict is stored before ingest stores anything;
    `gate()` runs on every artifact request, answering from memory in the common case.
    """

    def __init__(
        self,
        config: VaultConfig,
        chain: Auditor,
        *,
        storage: Storage,
        workers: Workers,
        audit_log: AuditLog,
        metrics: Metrics,
        store: VerdictStore | None = None,
    ) -> None:
        self.chain = chain
        self.storage = storage
        self.workers = workers
        self.audit_log = audit_log
        self.review = review_mode(config)
        self.serve_review = self.review is ReviewMode.SERVE
        self.license = license_auditor_of(chain)
        self.policies = self.license.policies if self.license else None
        self.clock = self.license.clock if self.license else (lambda: datetime.now(UTC))
        if store is None:
            store = verdict_store(storage, config)
        self.store = store
        # verdict and the vulnerability database it was judged with ("" without one)
        self._memory: dict[tuple[str, str], tuple[Verdict, str]] = {}
        self._vulndb = ("", 0.0)  # (modified, when last looked)
        from .vulndb import VulnAuditor

        self._vuln_chain = isinstance(chain, VulnAuditor)
        self._no_opinion: set[tuple[str, str]] = set()  # the chain said None: nothing to gate
        self.decisions = Counter(
            "go_vault_audit_decisions",
            "Auditor decisions on module versions (first judgement and re-judgements)",
            ["decision", "rule"],
            registry=metrics.registry,
        )
        self.refusals = Counter(
            "go_vault_policy_refusals",
            "Requests refused with 403 by the policy, by decision",
            ["decision"],
            registry=metrics.registry,
        )
        self.reloads = Counter(
            "go_vault_policy_reloads",
            "Policy reloads by outcome",
            ["outcome"],
            registry=metrics.registry,
        )
        # Admin reloads reach the other processes sharing the vault through this document.
        self._reload_signal = reload_signal(config) if self.policies is not None else None
        self._follow_lock = threading.Lock()
        self._reload_stamp: object = self  # matches no stamp: the first look reads
        self._reload_seen: int | None = None  # the generation followed; None: not looked yet
        self._reload_looked = time.monotonic()
        if self._reload_signal is not None:
            self._new_reload_request()  # the requests made before this start are done

    # ---- judging ---------------------------------------------------------------------------

    def audit(self, module: str, version: str, zip_file: Path | bytes, h1: str) -> Verdict | None:
        """The ingest hook: judge, store, log. Blocking; the 403 comes from gate() on the .zip."""
        return self._judge(module, version, zip_file, h1, "ingest")

    def _judge(
        self, module: str, version: str, zip_file: Path | bytes, h1: str, trigger: str
    ) -> Verdict | None:
        verdict = self.chain.audit(module, version, zip_file, h1)
        if verdict is None:
            if len(self._no_opinion) >= 500_000:
                self._no_opinion.clear()
            self._no_opinion.add((module, version))
            return None
        epoch = self.vulndb_modified(force=True)
        self.store.put(verdict, epoch)
        self._remember(verdict, epoch)
        rule_id = deciding_rule(verdict)
        self.decisions.labels(verdict.decision.value, rule_id).inc()
        trace_id, client = REQUEST.get()
        self.audit_log.event(
            "audit",
            level="info" if verdict.passed else "warning",
            trace_id=trace_id or None,
            client=client,
            trigger=trigger,
            module=module,
            version=version,
            decision=verdict.decision.value,
            rule_id=rule_id,
            license=verdict.expression,
            h1=verdict.h1,
            policy_digest=verdict.policy_digest,
        )
        return verdict

    def refuses(self, verdict: Verdict) -> bool:
        if verdict.decision is Decision.REJECT:
            return True
        return verdict.decision is Decision.REVIEW_REQUIRED and not self.serve_review

    def fresh(self, verdict: Verdict) -> bool:
        """Whether a stored verdict still says what the policy in force would say."""
        if self.policies is None:
            return True
        if verdict.policy_digest != self.policies.effective().digest:
            return False
        if any(r.rule_id.startswith("exception.") for r in verdict.reasons):
            # Exceptions expire by the day: such a verdict holds for the day it was made.
            return verdict.evaluated_at[:10] == _utc(self.clock())[:10]
        return True

    async def refresh(self) -> None:
        """Look at approvals and the vulnerability database ≤ once a second, in a worker (I/O)."""
        if self.policies is not None and self.policies.due():
            await self.workers.run(self.policies.effective)
        clock = time.monotonic()
        if self._reload_signal is not None and clock - self._reload_looked >= _APPROVALS_EVERY:
            self._reload_looked = clock
            await self.workers.run(self._follow_reloads)
        if self._vuln_chain and time.monotonic() - self._vulndb[1] >= _APPROVALS_EVERY:
            await self.workers.run(self.vulndb_modified)

    def vulndb_modified(self, *, force: bool = False) -> str:
        """The `modified` time of the vulnerability database in the chain, looked at ≤ 1/s.

        A new database (proxy.vulndb.LiveIndex follows rebuilds) makes every verdict stale,
        so a newly published advisory refuses versions that were judged before it.
        """
        from .vulndb import VulnAuditor

        if not isinstance(self.chain, VulnAuditor):
            return ""
        modified, looked = self._vulndb
        clock = time.monotonic()
        if force or clock - looked >= _APPROVALS_EVERY:
            modified = self.chain.index().modified
            if modified != self._vulndb[0]:
                self._no_opinion.clear()  # a new advisory may give them an opinion
            self._vulndb = (modified, clock)
        return modified

    def _remember(self, verdict: Verdict, epoch: str) -> None:
        if len(self._memory) >= 500_000:
            self._memory.pop(next(iter(self._memory)))
        self._memory[(verdict.module, verdict.version)] = (verdict, epoch)

    def known(self, module: str, version: str) -> Verdict | None:
        """A fresh verdict from memory, or None (then `current()` looks further)."""
        entry = self._memory.get((module, version))
        if entry is None or entry[1] != self._vulndb[0] or not self.fresh(entry[0]):
            return None
        return entry[0]

    def current(self, module: str, version: str) -> Verdict | None:
        """The verdict in force for a version: stored if fresh, else judged again from the vault.

        None when nothing is stored for it and the vault does not hold the version (ingest
        judges it then). Blocking: run it in the worker pool.
        """
        verdict = self.known(module, version)
        if verdict is not None:
            return verdict
        self.vulndb_modified()
        found = self.store.get(module, version)
        stored = found[0] if found else None
        if found and found[1] == self.vulndb_modified() and self.fresh(found[0]):
            self._remember(*found)
            return found[0]
        from .storage import Kind

        local = self.storage.local_path(module, version, Kind.ZIP)
        zip_file: Path | bytes | None = local
        if zip_file is None:
            if not self.storage.exists(module, version, Kind.INFO):
                return None
            zip_file = self.storage.get(module, version, Kind.ZIP)
        if stored is not None and stored.h1:
            h1 = stored.h1
        else:
            from scanner.dirhash import hash_zip

            h1 = hash_zip(zip_file)
        return self._judge(module, version, zip_file, h1, "stale" if stored else "first-serve")

    async def gate(self, module: str, version: str) -> None:
        """Layer 6b: refuse a version whose verdict in force says so (403), before serving it."""
        if (module, version) in self._no_opinion:
            return
        await self.refresh()
        verdict = self.known(module, version)
        if verdict is None:
            verdict = await self.workers.run(self.current, module, version)
        if verdict is not None:
            self.check(verdict)

    def check(self, verdict: Verdict) -> None:
        if self.refuses(verdict):
            self.refusals.labels(verdict.decision.value).inc()
            raise rejection(verdict)
        if verdict.decision is Decision.REVIEW_REQUIRED:
            trace_id, client = REQUEST.get()
            self.audit_log.event(
                "audit",
                level="warning",
                trigger="served-under-review",
                trace_id=trace_id or None,
                client=client,
                module=verdict.module,
                version=verdict.version,
                decision=verdict.decision.value,
                rule_id=deciding_rule(verdict),
                license=verdict.expression,
            )

    def headers(self, module: str, version: str) -> list[tuple[bytes, bytes]]:
        entry = self._memory.get((module, version))
        if entry is None:
            return []
        verdict = entry[0]
        rule = deciding_rule(verdict)
        value = verdict.decision.value + (f"; rule={rule}" if rule else "")
        return [(VERDICT_HEADER, value.encode())]

    # ---- operator actions ------------------------------------------------------------------

    def reload_everywhere(self, who: str) -> dict[str, Any]:
        """The admin reload: reload here, then ask every other process sharing the vault to.

        The other workers of `granian --workers N` and the other replicas of an S3 vault see
        the request (a generation counter in the vault's `policy-reload.json`) when they next
        look at the approvals, at most a second before a request they judge. A request that
        cannot be written still leaves this process reloaded; the answer says so.
        """
        digest = self.reload(who)
        answer: dict[str, Any] = {"policy_digest": digest}
        if self._reload_signal is None:
            return answer
        request: dict[str, Any] = {
            "by": who,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "at": _utc(datetime.now(UTC)),
        }

        def bump(data: bytes | None) -> bytes:
            request["generation"] = _reload_request(data).get("generation", 0) + 1
            return (json.dumps(request, sort_keys=True) + "\n").encode()

        try:
            with self._follow_lock:
                self._reload_signal.update(bump)
                self._reload_seen = request["generation"]
        except (OSError, OperationalError) as e:
            answer["warning"] = f"other server processes were not told to reload: {e}"
            self.audit_log.event(
                "policy-reload", level="warning", by=who, pid=os.getpid(), error=answer["warning"]
            )
        return answer

    def _follow_reloads(self) -> None:
        """Reload when another process asked every one to (blocking I/O: in a worker)."""
        if not self._follow_lock.acquire(blocking=False):
            return  # another thread is looking
        try:
            asked = self._new_reload_request()
        finally:
            self._follow_lock.release()
        if asked is not None:
            who = f"{asked.get('by', 'admin')} on {asked.get('host', '?')}:{asked.get('pid', '?')}"
            with contextlib.suppress(Exception):  # reload() wrote the event that says why
                self.reload(who)

    def _new_reload_request(self) -> dict[str, Any] | None:
        """The request in `policy-reload.json` when it is one this process has not followed."""
        assert self._reload_signal is not None
        try:
            stamp = self._reload_signal.stamp()
            if stamp == self._reload_stamp:
                return None
            asked = _reload_request(self._reload_signal.read())
        except (OSError, OperationalError) as e:
            log.warning("policy reload requests not read: %s", e)
            return None
        self._reload_stamp = stamp
        seen, self._reload_seen = self._reload_seen, asked.get("generation", 0)
        return asked if seen is not None and asked.get("generation", 0) != seen else None

    def reload(self, who: str = "SIGHUP") -> str:
        """Re-read the policy; stored verdicts are judged again on next use. Returns the digest.

        Every attempt is a `policy-reload` event; one that fails (the file does not parse)
        says why, and the old policy stays in force.
        """
        if self.policies is None:
            raise InputError("this go-vault has no license policy to reload")
        try:
            effective = self.policies.reload()
        except Exception as e:
            self.reloads.labels("failed").inc()
            self.audit_log.event(
                "policy-reload", level="error", by=who, pid=os.getpid(), error=str(e)
            )
            raise
        from .vulndb import VulnAuditor

        if isinstance(self.chain, VulnAuditor):
            from scanner.vulndb.policy import vuln_policy

            self.chain.policy = vuln_policy(effective.policy)
            self.chain.policy_digest = effective.digest
        self._no_opinion.clear()
        self.reloads.labels("ok").inc()
        self.audit_log.event(
            "policy-reload",
            by=who,
            pid=os.getpid(),  # each server process reloads its own (granian --workers N)
            policy_digest=effective.digest,
            source=effective.policy.source,
        )
        return effective.digest

    def install_sighup(self) -> None:
        """Reload on SIGHUP (main thread of the server process only; else nothing).

        The gateways of one process (the root and each tenant's) each add their reload: the
        handler calls the one installed before it when that is a reload too.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        before = signal.getsignal(signal.SIGHUP)

        def on_hup(sig: int, frame: FrameType | None) -> None:
            # A thread: reading and validating the file must not stall the event loop.
            threading.Thread(target=self._reload_quietly, name="policy-reload").start()
            if callable(before) and getattr(before, _RELOADS, False):
                before(sig, frame)

        setattr(on_hup, _RELOADS, True)
        signal.signal(signal.SIGHUP, on_hup)

    def _reload_quietly(self) -> None:
        # The old policy stays in force; reload() wrote the event that says why.
        with contextlib.suppress(Exception):
            self.reload("SIGHUP")
