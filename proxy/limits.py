"""Gateway limits: path length, per-identity rate (429 + Retry-After), concurrent ingests (503)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from types import TracebackType

from .errors import BadRequestError, ProxyError

_MAX_KEYS = 1 << 16  # identities (or client addresses) tracked before idle ones are dropped
# A path element becomes a file or object name in the vault: file systems stop at 255 bytes,
# and no real module path or version comes near either bound.
MAX_PATH = 2048
MAX_ELEMENT = 255


def check_path(path: str) -> None:
    """Refuse (400) a request path no vault could hold, before it reaches storage or upstream."""
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
