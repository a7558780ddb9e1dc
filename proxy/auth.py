"""Gateway authentication: bearer tokens, HTTP basic, client certificates; scopes per route."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from scanner.errors import InputError

from .errors import ProxyError
from .observability import IDENTITY

log = logging.getLogger("go_vault")

TOKEN_PREFIX = "gvt_"
_RELOAD_EVERY = 1.0  # seconds between looks at the token file's mtime (revocation latency)
Stamp = tuple[int, int, int] | None  # a token file's (inode, mtime_ns, size); None: absent


class Access(StrEnum):
    """What a credential may do; each scope includes the ones before it."""

    READ = "read"  # the GOPROXY protocol, /sumdb/, /-/vulndb/
    VERDICTS = "verdicts"  # + /-/verdicts (the scanner's API)
    ADMIN = "admin"  # + /-/admin/ and /-/metrics

    def allows(self, needed: Access) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Access.READ: 0, Access.VERDICTS: 1, Access.ADMIN: 2}


class UnauthorizedError(ProxyError):
    """No credentials, or credentials no token file entry or client CA vouches for: 401."""

    status = 401
    headers = ((b"www-authenticate", b'Basic realm="go-vault", charset="UTF-8"'),)


class ForbiddenError(ProxyError):
    """A known identity whose scope does not cover the route: 403."""

    status = 403


@dataclass(frozen=True, slots=True)
class Identity:
    """Who made a request: `name` goes into every audit event; `via` says how it was proven."""

    name: str
    access: Access
    via: str  # "token", "basic", "mtls" or "open" (auth is off)
    tenant: str | None = None  # the only tenant this identity may use (None: any)


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One line of the token file: the token itself is never stored, only its sha256."""

    name: str
    access: Access
    sha256: str
    created_at: str
    tenant: str | None = None  # bound to /t/<tenant>/ only; None: the root proxy (and all)

    def to_json(self) -> dict[str, str]:
        out = {
            "name": self.name,
            "scope": self.access.value,
            "sha256": self.sha256,
            "created_at": self.created_at,
        }
        if self.tenant:
            out["tenant"] = self.tenant
        return out


def token_digest(token: str) -> str:
    # A token is 256 random bits, so a plain sha256 cannot be brute-forced; a slow hash
    # (scrypt) would only add latency to every request.
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    """The token file (JSON: {"tokens": [TokenEntry…]}), written atomically, 0600."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # The version of the file (its stamp, see Authenticator) last reported broken. Every
        # gateway of a process shares this TokenFile (proxy/tenants.py with_tenants), so a
        # broken version is logged once, not once per gateway.
        self._report_lock = threading.Lock()
        self._broken = False
        self._broken_stamp: Stamp = None

    def entries(self) -> list[TokenEntry]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except json.JSONDecodeError as e:
            raise InputError(
                f"token file is not JSON: {e.msg} (column {e.colno})",
                path=str(self.path),
                line=e.lineno,
                hint="fix it, or move it aside and add the tokens again with go-vault token add",
            ) from e
        except (OSError, ValueError) as e:
            raise InputError(
                f"token file unreadable: {e}",
                path=str(self.path),
                hint="recreate it with go-vault token add",
            ) from e
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise InputError(
                'token file must be {"tokens": [...]}',
                path=str(self.path),
                hint="fix it, or move it aside and add the tokens again with go-vault token add",
            )
        out = []
        for i, t in enumerate(tokens):
            try:
                out.append(
                    TokenEntry(
                        str(t["name"]),
                        Access(t["scope"]),
                        str(t["sha256"]),
                        t["created_at"],
                        t.get("tenant") or None,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise InputError(
                    f"token file entry malformed: tokens[{i}]: {e}",
                    path=str(self.path),
                    hint="each token needs name, scope (read|verdicts|admin), sha256, created_at",
                ) from e
        return out

    def add(
        self,
        name: str,
        access: Access,
        now: datetime | None = None,
        tenant: str | None = None,
    ) -> tuple[TokenEntry, str]:
        """A new token for `name` (returned once, never stored) and its entry."""
        entries = self.entries()
        if any(e.name == name for e in entries):
            raise InputError(
                f"a token named {name!r} exists", path=str(self.path), hint="revoke it first"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        entry = TokenEntry(name, access, token_digest(token), created, tenant)
        self._write([*entries, entry])
        return entry, token

    def revoke(self, name: str) -> bool:
        entries = self.entries()
        kept = [e for e in entries if e.name != name]
        if len(kept) == len(entries):
            return False
        self._write(kept)
        return True

    def first_broken(self, stamp: Stamp) -> bool:
        """Note that the version `stamp` of the file is broken: whether it is news (to log)."""
        with self._report_lock:
            if self._broken and self._broken_stamp == stamp:
                return False
            self._broken, self._broken_stamp = True, stamp
            return True

    def mended(self) -> bool:
        """Note that the file reads: whether it had been noted broken (to log that it reads)."""
        with self._report_lock:
            was, self._broken = self._broken, False
            return was

    def _write(self, entries: Iterable[TokenEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"tokens": [e.to_json() for e in entries]}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def required_access(path: str) -> Access | None:
    """The scope a route needs (path without the base path); None = open to anyone."""
    if path in ("/-/healthz", "/-/readyz"):
        return None
    if path.startswith("/-/admin/") or path == "/-/metrics":
        return Access.ADMIN
    if path.startswith("/-/verdicts"):
        return Access.VERDICTS
    return Access.READ


class Authenticator:
    """Layer 4a of the gateway: who is asking, and may they use this route.

    Off (everyone is `anonymous` with admin scope, as before) unless a token file or a client
    CA is configured. Credentials, first match wins: `Authorization: Bearer TOKEN`,
    `Authorization: Basic` with the token as password (what the go command sends from .netrc
    or GOAUTH; the user name is ignored), the verified client certificate's subject (mTLS,
    scope `mtls_scope`). The token file is re-read within a second of a change, so a revoked
    token stops working without a restart. Pass the same `TokenFile` to every Authenticator
    of a process that reads it: a broken version of it is then logged once.
    """

    def __init__(
        self,
        token_file: TokenFile | str | None,
        *,
        mtls: bool = False,
        mtls_scope: str = "read",
        admin_token: str | None = None,
        tenant: str | None = None,
    ) -> None:
        self.tenant = tenant  # the tenant this gateway serves (proxy/tenants.py), or None
        if isinstance(token_file, str):
            token_file = TokenFile(token_file) if token_file else None
        self.tokens = token_file
        self.mtls = mtls
        self.mtls_access = Access(mtls_scope)
        self.enabled = self.tokens is not None or mtls
        self._admin_digest = token_digest(admin_token) if admin_token else None
        self._lock = threading.Lock()
        self._by_digest: dict[str, TokenEntry] = {}
        self._stamp: Stamp = (-1, -1, -1)
        self._checked = 0.0
        if self.tokens is not None:
            self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        assert self.tokens is not None
        now = time.monotonic()
        if not force and now - self._checked < _RELOAD_EVERY:
            return
        with self._lock:
            self._checked = now
            # The file is replaced (new inode) on every change: a cheap stat says whether to
            # re-read it, even for two changes within one mtime tick.
            try:
                st = self.tokens.path.stat()
                stamp: Stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp == self._stamp:
                return
            try:
                entries = self.tokens.entries()
            except InputError as e:
                if self._stamp == (-1, -1, -1):
                    raise  # broken at start: the server refuses to start (exit 2)
                # Broken while running (a hand edit, a bad deploy): keep the last good tokens,
                # say so once for this version of the file, read it again when it changes.
                self._stamp = stamp
                if self.tokens.first_broken(stamp):
                    log.error(
                        "%s; the tokens read before it broke stay in force until it reads again",
                        e,
                    )
                return
            if self.tokens.mended():
                log.warning("token file %s reads again: %d tokens", self.tokens.path, len(entries))
            self._by_digest = {e.sha256: e for e in entries}
            self._stamp = stamp

    def identify(self, scope: Mapping[str, Any]) -> Identity | None:
        """The identity the request proves, or None (no credentials); raises on a bad one."""
        header = _header(scope, b"authorization")
        if header is not None:
            kind, _, value = header.partition(" ")
            kind = kind.lower()
            if kind == "bearer":
                return self._token(value.strip(), "token")
            if kind == "basic":
                try:
                    decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError) as e:
                    raise UnauthorizedError("authorization: malformed basic credentials") from e
                _user, _, password = decoded.partition(":")
                return self._token(password, "basic")
            raise UnauthorizedError(
                f"authorization: scheme {kind!r} not supported", hint="use Bearer or Basic"
            )
        if self.mtls:
            subject = client_subject(scope)
            if subject:
                return Identity(subject, self.mtls_access, "mtls")
        return None

    def _token(self, token: str, via: str) -> Identity:
        digest = token_digest(token)
        if self._admin_digest is not None and hmac.compare_digest(digest, self._admin_digest):
            return Identity("admin-token", Access.ADMIN, via)
        if self.tokens is not None:
            self._refresh()
            entry = self._by_digest.get(digest)
            if entry is None:  # maybe added a moment ago: look at the file now
                self._refresh(force=True)
                entry = self._by_digest.get(digest)
            if entry is not None:
                return Identity(entry.name, entry.access, via, entry.tenant)
        raise UnauthorizedError(
            "token not recognised (revoked or mistyped)",
            hint="ask the operator for a token: go-vault token add NAME --scope read",
        )

    def authorize(self, scope: MutableMapping[str, Any], path: str) -> Identity | None:
        """Check the request against the route; the identity is also put in scope["go_vault"]."""
        if not self.enabled:
            return None
        needed = required_access(path)
        if needed is None:
            # An open route (health probes) answers whatever credentials come with it.
            try:
                identity = self.identify(scope)
            except UnauthorizedError:
                return None
        else:
            identity = self.identify(scope)
        if identity is not None:
            scope.setdefault("state", {})["go_vault_identity"] = identity
            IDENTITY.set(identity.name)  # the audit line of a refused request names them too
        if needed is None:
            return identity
        if identity is None:
            raise UnauthorizedError(
                f"{path}: authentication required ({needed.value} scope)",
                hint="GOAUTH/.netrc with a go-vault token, Authorization: Bearer, or a client cert",
            )
        if identity.tenant is not None and identity.tenant != self.tenant:
            where = f"tenant {self.tenant}" if self.tenant else "the root proxy"
            raise ForbiddenError(
                f"{path}: {identity.name} is a token of tenant {identity.tenant}, not of {where}",
                hint=f"use the GOPROXY of /t/{identity.tenant}/",
            )
        if not identity.access.allows(needed):
            raise ForbiddenError(
                f"{path}: {identity.name} has scope {identity.access.value},"
                f" this route needs {needed.value}",
                hint="ask the operator for a token with that scope",
            )
        return identity


def client_subject(scope: Mapping[str, Any]) -> str | None:
    """The verified client certificate's subject, from the ASGI TLS extension (proxy/tls.py)."""
    tls = scope.get("extensions", {}).get("tls")
    if not tls:
        return None
    name = tls.get("client_cert_name")
    return str(name) if name else None


def _header(scope: Mapping[str, Any], wanted: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None
