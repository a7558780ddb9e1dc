"""Proxy errors: each knows the HTTP status and the text/plain body the go command prints."""

from __future__ import annotations

from scanner.errors import GoProxyScanError, InputError, NotFoundError, OperationalError

# The go command prints at most 8 lines / 648 bytes of an error body and stops at the first
# blank line (cmd/go/internal/web); every body we send fits that, reason first.
MAX_BODY_LINES = 8
MAX_BODY_BYTES = 648


def plain_body(text: str) -> bytes:
    """Trim `text` to what the go command will print: no blank lines, ≤ 8 lines, ≤ 648 bytes."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    body = "\n".join(lines[:MAX_BODY_LINES]).encode("utf-8", "replace")
    if len(body) > MAX_BODY_BYTES - 1:
        # Cut on a character boundary so the client still sees valid UTF-8.
        body = body[: MAX_BODY_BYTES - 4].decode("utf-8", "ignore").encode() + b"..."
    return body + b"\n"


class ProxyError(GoProxyScanError):
    """An error the gateway answers with `status` and a text/plain body (its message)."""

    status: int = 500
    headers: tuple[tuple[bytes, bytes], ...] = ()  # extra response headers (WWW-Authenticate…)

    def body(self) -> bytes:
        return plain_body(str(self))


class BadRequestError(ProxyError, InputError):
    """A malformed request path: bad escaping, bad module path, bad version."""

    status = 400


class NotInProxyError(ProxyError, NotFoundError):
    """No upstream (or, offline, the vault) has the module or version: 404 lets go fall through."""

    status = 404


class MethodNotAllowedError(ProxyError, InputError):
    status = 405


class UpstreamError(ProxyError, OperationalError):
    """Every upstream that could answer failed (refused, 5xx, bad reply): 502."""

    status = 502


class UpstreamTimeoutError(UpstreamError):
    """An upstream did not answer within the connect/read timeout: 504."""

    status = 504


class IngestRefusedError(ProxyError, OperationalError):
    """A module version failed an ingest check (zip rules, .info/.mod mismatch): 502.

    The upstream served something a conforming proxy must not pass on, so it is an upstream
    failure from the client's point of view, not a missing module.
    """

    status = 502


class ImmutabilityError(ProxyError, OperationalError):
    """A second write of a stored blob with different bytes: refused, a security event."""

    status = 502


class PolicyRejectedError(ProxyError, OperationalError):
    """The auditor's verdict for this module version is REJECT (or review required): 403."""

    status = 403


class StorageError(ProxyError, OperationalError):
    """The vault could not be read or written."""

    status = 500
