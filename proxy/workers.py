"""The bounded worker pool that keeps blocking work (hashing, zip checks, file I/O) off the loop."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_QUEUED, _RUNNING, _DROPPED = range(3)


class _Job(Generic[T]):
    __slots__ = ("args", "context", "done", "fn", "future", "loop", "state", "waiter")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], args: tuple[Any, ...]
    ) -> None:
        self.loop, self.fn, self.args = loop, fn, args
        self.context = contextvars.copy_context()
        self.future: asyncio.Future[T] = loop.create_future()
        self.state = _QUEUED  # under Workers._lock
        self.done = False  # on the loop's thread: the thread has finished with it
        self.waiter: asyncio.Future[None] | None = None

    def settle(self, value: Any, error: BaseException | None) -> None:
        """On the loop's thread: the outcome to the caller, if it still waits for one."""
        self.done = True
        if not self.future.done():
            if error is None:
                self.future.set_result(value)
            else:
                self.future.set_exception(error)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class Workers:
    """`await workers.run(fn, *args)` runs fn in a thread, at most `size` at a time.

    What anyio.to_thread.run_sync gave, without its per-call cost (a checkpoint, a capacity
    limiter and cancel scopes: about a tenth of a cold ingest's time on the loop):
    - fn runs in a copy of the caller's context (proxy.observability.IDENTITY, verdicts.REQUEST);
    - a caller cancelled while fn runs waits for fn to return, then is cancelled, so its
      `finally` never races the thread (over a file, say); one cancelled before fn started is
      cancelled at once, and fn never runs.
    Threads start as work arrives, up to `size`, and end after `idle_seconds` idle. They are
    daemon threads: one stuck in I/O does not hold the process up at exit.
    """

    def __init__(self, size: int, idle_seconds: float = 10.0) -> None:
        self.size = size
        self._idle_seconds = idle_seconds
        self._jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for a job
        self._queued = 0  # jobs no thread has taken yet

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        job: _Job[T] = _Job(asyncio.get_running_loop(), fn, args)
        with self._lock:
            self._jobs.put(job)
            self._queued += 1
            start = self._queued > self._idle and self._threads < self.size
            if start:
                self._threads += 1
        if start:
            threading.Thread(target=self._work, name="go-vault-worker", daemon=True).start()
        try:
            return await job.future
        except asyncio.CancelledError:
            with self._lock:
                dropped = job.state == _QUEUED
                if dropped:
                    job.state = _DROPPED
            if not dropped:
                await _finished(job)
            raise

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if self._queued == 0:
                        self._threads -= 1
                        return
                continue
            with self._lock:
                self._idle -= 1
                self._queued -= 1
                run = job.state == _QUEUED
                job.state = _RUNNING if run else job.state
            if not run:
                continue
            value: Any = None
            error: BaseException | None = None
            try:
                value = job.context.run(job.fn, *job.args)
            except BaseException as e:  # to the caller, as the call itself would raise it
                error = e
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                job.loop.call_soon_threadsafe(job.settle, value, error)
            del job, value, error  # not kept alive while this thread waits for the next


async def _finished(job: _Job[Any]) -> None:
    """Wait, through further cancellations, until the thread is done with `job`."""
    while not job.done:
        job.waiter = job.loop.create_future()
        try:
            await job.waiter
        except asyncio.CancelledError:
            continue
