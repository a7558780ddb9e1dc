"""Single-flight: concurrent callers for one key share one running call (one upstream fetch)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """`await flight.do(key, fn)` runs `fn()` once per key at a time; the others await its result.

    The call runs as its own task, so a client that disconnects (cancelling its request) neither
    cancels the fetch for the others nor leaves half-done work behind.
    """

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Task[T]] = {}

    def running(self, key: Hashable) -> bool:
        return key in self._calls

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        return await asyncio.shield(self.start(key, fn))

    def start(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        """The call running for `key`, started with `fn()` if none is. Await it shielded
        (`do`), or not at all: its failure then goes unheard but is not reported as lost."""
        task = self._calls.get(key)
        if task is None:

            async def run() -> T:
                return await fn()

            task = asyncio.ensure_future(run())
            self._calls[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return task

    def _done(self, key: Hashable, task: asyncio.Task[T]) -> None:
        self._calls.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: a call nobody awaited is not an asyncio error
