"""Approved policy exceptions kept in the vault: `go-vault approve` and the admin route add them.

An approval is a policy exception (scanner.policy.LicenseException: module glob, version range,
optional license, reason, approver, expiry) that an operator granted at run time instead of
editing the policy file. The auditor adds the live set to the policy it evaluates, so the
policy digest names them too and every stored verdict is judged again after a change.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from scanner.errors import InputError, OperationalError
from scanner.policy import LicenseException, VersionRange
from scanner.spdx import ExpressionError, normalize

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
            date.fromisoformat(expires)
        except ValueError as e:
            raise InputError(f"expires: {expires!r} is not a date", hint="use YYYY-MM-DD") from e
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


class ApprovalStore:
    """The approvals of one vault, in `<dir>/approvals.json`; thread- and process-safe enough.

    Writes replace the file atomically; readers notice another process's write (the
    `go-vault approve` command against a vault that `go-vault serve` uses) by its mtime.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._approvals: tuple[Approval, ...] = ()

    def all(self) -> tuple[Approval, ...]:
        with self._lock:
            return self._load()

    def add(self, approval: Approval) -> None:
        with self._lock:
            self._write((*self._load(), approval))

    def remove(self, approval_id: str) -> bool:
        with self._lock:
            current = self._load()
            kept = tuple(a for a in current if a.id != approval_id)
            if len(kept) == len(current):
                return False
            self._write(kept)
            return True

    def _load(self) -> tuple[Approval, ...]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._approvals = None, ()
            return ()
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self._stamp:
            try:
                items = json.loads(self.path.read_text("utf-8"))["approvals"]
                self._approvals = tuple(Approval.from_json(a) for a in items)
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise OperationalError(
                    f"the approvals file does not read: {e}",
                    path=str(self.path),
                    hint="restore it from a backup or fix the JSON",
                ) from e
            self._stamp = stamp
        return self._approvals

    def _write(self, approvals: tuple[Approval, ...]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.{threading.get_ident()}")
        body = {"version": 1, "approvals": [a.to_json() for a in approvals]}
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", "utf-8")
        tmp.replace(self.path)
        self._stamp = None  # read back on next use (the mtime may not change within a tick)
        self._approvals = approvals
