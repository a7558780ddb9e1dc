"""Request limits of the gateway: a per-identity rate limit answered with 429 and Retry-After."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from .errors import ProxyError

_MAX_KEYS = 1 << 16  # identities (or client addresses) tracked before idle ones are dropped


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
