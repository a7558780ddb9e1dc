"""Proxy errors: each knows the HTTP status and the text/plain body the go command prints."""

from __future__ import annotations

from scanner.errors import GoProxyScanError, InputError, NotFoundError, OperationalError

# The go command prints at most 8 lines / 648 bytes of an error body and stops at the first
# blank line (cmd/go/internal/web formatErrorDetail, which counts the "\n\t" it puts between
# lines): every body we send fits that, reason first.
MAX_BODY_LINES = 8
MAX_BODY_BYTES = 648
_SEPARATOR = 2  # "\n\t" between printed lines


def plain_body(text: str, hint: str | None = None) -> bytes:
    """`text` trimmed to what the go command prints whole: no blank lines, ≤ 8 lines, ≤ 648
    bytes as it counts them. `hint` (what to do) ends a one-line text in parentheses, else it
    is the last line, kept when lines of the text have to go."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    tail: list[str] = []
    if hint and len(lines) == 1 and _printed([f"{lines[0]} ({hint})"]) <= MAX_BODY_BYTES:
        lines[0] += f" ({hint})"
    elif hint:
        tail = [f"({hint})"]
    kept = lines[:1]
    for i, line in enumerate(lines[1:], 2):
        if not _fits([*kept, line], len(lines) - i, tail):
            break
        kept.append(line)
    if len(kept) < len(lines):
        kept.append(f"... and {len(lines) - len(kept)} more")
    lines = kept
    if _printed(lines + tail) > MAX_BODY_BYTES:
        # Cut on a character boundary so the client still sees valid UTF-8.
        room_bytes = MAX_BODY_BYTES - _printed(tail) - (_SEPARATOR if tail else 0) - 3
        cut = lines[0].encode("utf-8", "replace")[: max(room_bytes, 0)]
        lines = [cut.decode("utf-8", "ignore") + "..."]
    return "\n".join([*lines, *tail]).encode("utf-8", "replace") + b"\n"


def _fits(lines: list[str], left_out: int, tail: list[str]) -> bool:
    """Whether `lines`, a line saying how many were left out (if any) and `tail` fit."""
    shown = [*lines, *([f"... and {left_out} more"] if left_out else []), *tail]
    return len(shown) <= MAX_BODY_LINES and _printed(shown) <= MAX_BODY_BYTES


def _printed(lines: list[str]) -> int:
    """How many bytes the go command counts for these lines."""
    if not lines:
        return 0
    return sum(len(line.encode("utf-8", "replace")) for line in lines) + _SEPARATOR * (
        len(lines) - 1
    )


class ProxyError(GoProxyScanError):
    """An error the gateway answers with `status` and a text/plain body (its message)."""

    status: int = 500
    headers: tuple[tuple[bytes, bytes], ...] = ()  # extra response headers (WWW-Authenticate…)

    def body(self) -> bytes:
        return plain_body(
            f"{self.where}: {self.message}" if self.where else self.message, self.hint
        )


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
