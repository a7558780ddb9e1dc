"""Gateway limits: path length, rate (429), concurrent ingests (503), body size and time."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .errors import BadRequestError, ProxyError

_MAX_KEYS = 1 << 16  # identities (or client addresses) tracked before idle ones are dropped
# A path element becomes a file or object name in the vault: file systems stop at 255 bytes,
# and no real module path or version comes near either bound.
MAX_PATH = 2048
MAX_ELEMENT = 255


def check_path(path: str) -> None:
    """Refuse (400) a request path no vault could hold, before it reaches storage or upstream."""
    if len(path) <= MAX_ELEMENT and path.isascii():
        return  # every real request: an ASCII path shorter than the element bound
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH:
        raise BadRequestError(
            f"request path is {size} bytes, over {MAX_PATH}", hint="no module path is that long"
        )
    longest = max((len(e.encode("utf-8", "surrogatepass")) for e in path.split("/")), default=0)
    if longest > MAX_ELEMENT:
        raise BadRequestError(
            f"a request path element is {longest} bytes, over {MAX_ELEMENT}",
            hint="module path elements and versions are shorter",
        )


class TooManyRequestsError(ProxyError):
    """An identity over its request rate: 429 with Retry-After (seconds until one is allowed)."""

    status = 429

    def __init__(self, message: str, retry_after: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
        self.headers = ((b"retry-after", str(retry_after).encode()),)


class RateLimiter:
    """A token bucket per key: `rate` requests a second, up to `burst` at once.

    Keyed by identity name when authentication is on, else by client address, so one noisy
    client cannot starve the others. `rate` 0 turns the limit off.
    """

    def __init__(
        self, rate: float, burst: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst or max(1, math.ceil(rate * 2)))
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str) -> None:
        """Take one request from `key`'s bucket, or raise TooManyRequestsError."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= _MAX_KEYS and key not in self._buckets:
                    self._buckets.clear()  # crude, but bounded; full buckets lose nothing
                self._buckets[key] = (tokens - 1.0, now)
                return
            self._buckets[key] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        raise TooManyRequestsError(
            f"rate limit: {key} is over {self.rate:g} requests/s",
            wait,
            hint=f"retry after {wait} s, or ask the operator to raise rate_limit",
        )


class IngestBusyError(ProxyError):
    """Every ingest slot stayed taken for the whole wait: 503 with Retry-After."""

    status = 503
    headers = ((b"retry-after", b"5"),)


class IngestSlots:
    """At most `limit` ingests at once (0: no cap); a request waits up to `wait` s for a slot.

    Stored versions never take a slot; one ingest shared by many requests takes one.
    """

    def __init__(self, limit: int, wait: float = 10.0) -> None:
        self.limit = limit
        self.wait = wait
        self._sem = asyncio.Semaphore(limit) if limit > 0 else None

    async def __aenter__(self) -> None:
        if self._sem is None:
            return
        try:
            await asyncio.wait_for(self._sem.acquire(), self.wait)
        except TimeoutError as e:
            raise IngestBusyError(
                f"{self.limit} module downloads already in progress for {self.wait:g} s",
                hint="retry in a few seconds; the operator can raise max_ingests",
            ) from e

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sem is not None:
            self._sem.release()


class RequestTooLargeError(ProxyError):
    """A request body over the cap (GOPROXY requests have none; admin/verdict POSTs are small)."""

    status = 413


class RequestTimeoutError(ProxyError):
    """A request body that stalled between chunks longer than the server allows."""

    status = 408


_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class RequestLimits:
    """ASGI wrapper: request bodies capped (413) and not trickled (408), for either server.

    GET/HEAD (all the go command sends) may carry no body at all; other methods up to
    `max_body` bytes. The declared Content-Length is refused before the app runs; a chunked body
    is counted as it arrives and refused, through the gateway's error handler, once over.
    """

    def __init__(self, app: Any, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the wrapped gateway's attributes (tests, lifespan)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = 0 if scope["method"] in _BODYLESS else self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _refuse(send, 413, _too_large(scope, declared, cap))
            return
        received = 0
        done = False

        async def limited() -> Any:
            nonlocal received, done
            if done:  # the body is in: later receives wait for a disconnect, unbounded
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError as e:
                raise RequestTimeoutError(
                    f"request body stalled for {self.body_timeout:g} s",
                    hint="send the body without pauses",
                ) from e
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise RequestTooLargeError(_too_large(scope, received, cap))
                done = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server already refuses a malformed length
    return None


def _too_large(scope: Any, size: int, cap: int) -> str:
    method = scope["method"]
    if cap == 0:
        return f"{method} {scope['path']}: a {method} request carries no body (got {size} bytes)"
    return (
        f"{method} {scope['path']}: request body of {size} bytes is over {cap} "
        "(split the request, or ask the operator to raise max_body)"
    )


async def _refuse(send: Any, status: int, message: str) -> None:
    body = message.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def with_deadlines(base: type[Any], header_timeout: float, send_timeout: float) -> type[Any]:
    """A uvicorn httptools protocol class whose connections cannot be held open by a slow peer.

    uvicorn itself only times out idle keep-alive connections: a client that opens a connection
    and sends nothing, trickles its headers, or stops reading a response (the write buffer stays
    full) would hold a connection, a task and its buffers forever. Here the request line and
    headers must arrive within `header_timeout` of the connection (or of the request's first
    byte), and a paused write must resume within `send_timeout`; otherwise the connection closes.
    """

    class DeadlineProtocol(base):  # type: ignore[misc]
        _header_timer: asyncio.TimerHandle | None = None
        _send_timer: asyncio.TimerHandle | None = None

        def _close_slow(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def _arm_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._close_slow)

        def _disarm(self, name: str) -> None:
            timer: asyncio.TimerHandle | None = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timer()  # a connection that never sends a request line

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_timer()

        def on_headers_complete(self) -> None:
            self._disarm("_header_timer")
            super().on_headers_complete()

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._send_timer is None:
                self._send_timer = self.loop.call_later(send_timeout, self._close_slow)

        def resume_writing(self) -> None:
            self._disarm("_send_timer")
            super().resume_writing()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm("_header_timer")
            self._disarm("_send_timer")
            super().connection_lost(exc)

    DeadlineProtocol.__name__ = f"Deadline{base.__name__}"
    return DeadlineProtocol
