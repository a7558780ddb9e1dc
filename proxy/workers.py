"""The bounded worker pool that keeps blocking work (hashing, zip checks, file I/O) off the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Workers:
    """`await workers.run(fn, *args)` runs fn in a thread, at most `size` at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        if self._limiter is None:
            # Made on first use: a limiter belongs to the running event loop.
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
