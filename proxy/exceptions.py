"""Approved policy exceptions kept in the vault: `go-vault approve` and the admin route add them.

An approval is a policy exception (scanner.policy.LicenseException: module glob, version range,
optional license, reason, approver, expiry) that an operator granted at run time instead of
editing the policy file. The auditor adds the live set to the policy it evaluates, so the
policy digest names them too and every stored verdict is judged again after a change.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from scanner.errors import InputError, OperationalError
from scanner.policy import LicenseException, VersionRange
from scanner.spdx import ExpressionError, normalize

from .rollback import FsStateFile, StateFile

FILE_NAME = "approvals.json"


@dataclass(frozen=True)
class Approval:
    """One granted exception, with who granted it and when (the audit trail)."""

    id: str
    module: str
    versions: str
    reason: str
    approver: str
    expires: str | None  # YYYY-MM-DD; after that day the exception stops applying
    license: str | None = None
    created_at: str = ""

    def exception(self) -> LicenseException:
        return LicenseException(
            module=self.module,
            reason=self.reason,
            approver=self.approver,
            versions=VersionRange.parse(self.versions),
            license=self.license,
            expires=date.fromisoformat(self.expires) if self.expires else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "module": self.module,
            "versions": self.versions,
            "license": self.license,
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Approval:
        return cls(
            id=str(data["id"]),
            module=str(data["module"]),
            versions=str(data.get("versions") or "*"),
            reason=str(data["reason"]),
            approver=str(data["approver"]),
            expires=data.get("expires") or None,
            license=data.get("license") or None,
            created_at=str(data.get("created_at", "")),
        )


def new_approval(
    module: str,
    versions: str | None,
    reason: str,
    approver: str,
    expires: str | None,
    license: str | None = None,
    *,
    now: datetime,
) -> Approval:
    """A checked approval: a bad glob, range, license or date is an InputError naming the field."""
    module = module.strip()
    if not module or "@" in module or " " in module:
        raise InputError(
            f"module: {module!r} is not a module path glob", hint="e.g. example.com/lib or *.corp/*"
        )
    if not reason.strip():
        raise InputError("reason: an exception needs a reason", hint="say why it is acceptable")
    if not approver.strip():
        raise InputError("approver: an exception needs an approver", hint="e.g. legal@example.com")
    text = (versions or "*").strip() or "*"
    VersionRange.parse(text, "versions")
    if expires:
        try:
            last_day = date.fromisoformat(expires)
        except ValueError as e:
            raise InputError(f"expires: {expires!r} is not a date", hint="use YYYY-MM-DD") from e
        if last_day < now.astimezone(UTC).date():
            raise InputError(
                f"expires: {expires} is in the past: the exception would never apply",
                hint="give the last day it should apply, today or later",
            )
    if license:
        try:
            license = normalize(license)
        except ExpressionError as e:
            raise InputError(f"license: {e.message}", hint=e.hint) from e
    return Approval(
        id=uuid.uuid4().hex[:12],
        module=module,
        versions=text,
        reason=reason.strip(),
        approver=approver.strip(),
        expires=expires or None,
        license=license or None,
        created_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


class _DirFile(FsStateFile):
    """`<directory>/approvals.json`: the filesystem vault's layout since the first release."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / name
        self.where = str(self.path)


class ApprovalStore:
    """The approvals of one vault, one small document shared by every process using the vault.

    `<vault>/.auditor/approvals.json` in a filesystem vault, the object
    `<prefix>.go-vault/approvals.json` on S3 (proxy.rollback.state_file): changes are
    read-modify-write under the document's lock or compare-and-swap, so an approval made on one
    replica is never lost to another's; readers notice another process's write by the
    document's stamp (mtime or ETag), looked at on every `all()`.
    """

    def __init__(self, where: Path | StateFile) -> None:
        self.file: StateFile = _DirFile(where, FILE_NAME) if isinstance(where, Path) else where
        self.where = self.file.where
        self._lock = threading.Lock()
        self._stamp: object = None
        self._approvals: tuple[Approval, ...] = ()

    def all(self) -> tuple[Approval, ...]:
        with self._lock:
            stamp = self.file.stamp()
            if stamp is None:
                self._stamp, self._approvals = None, ()
            elif stamp != self._stamp:
                # The stamp is taken before the read: a write in between is read next time.
                self._approvals = self._parse(self.file.read())
                self._stamp = stamp
            return self._approvals

    def add(self, approval: Approval) -> None:
        def change(data: bytes | None) -> bytes:
            current = self._parse(data)
            return _document((*(a for a in current if a.id != approval.id), approval))

        self._update(change)

    def merge(self, approvals: tuple[Approval, ...]) -> int:
        """Add those not yet present (by id); returns how many were added (migration)."""
        added = 0

        def change(data: bytes | None) -> bytes:
            nonlocal added
            current = self._parse(data)
            known = {a.id for a in current}
            new = tuple(a for a in approvals if a.id not in known)
            added = len(new)
            return _document(current + new)

        self._update(change)
        return added

    def remove(self, approval_id: str) -> bool:
        found = False

        def change(data: bytes | None) -> bytes:
            nonlocal found
            current = self._parse(data)
            kept = tuple(a for a in current if a.id != approval_id)
            found = len(kept) != len(current)
            return _document(kept)

        self._update(change)
        return found

    def _update(self, change: Callable[[bytes | None], bytes]) -> None:
        with self._lock:
            self.file.update(change)
            self._stamp = None  # read back on next use (the mtime may not change within a tick)

    def _parse(self, data: bytes | None) -> tuple[Approval, ...]:
        if not data:
            return ()
        try:
            items = json.loads(data)["approvals"]
            return tuple(Approval.from_json(a) for a in items)
        except (ValueError, KeyError, TypeError) as e:
            raise OperationalError(
                f"the approvals document does not read: {e}",
                path=self.where,
                hint="restore it from a backup or fix the JSON",
            ) from e


def _document(approvals: tuple[Approval, ...]) -> bytes:
    body = {"version": 1, "approvals": [a.to_json() for a in approvals]}
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()
