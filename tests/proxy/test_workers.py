"""proxy/workers.py: the thread pool behind every blocking call of the gateway."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from proxy.workers import Workers

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_results_errors_and_the_callers_context_come_through() -> None:
    async def main() -> None:
        workers = Workers(2)
        assert await workers.run(pow, 2, 10) == 1024
        with pytest.raises(ZeroDivisionError):
            await workers.run(divmod, 1, 0)
        WHO.set("alice")
        assert await workers.run(WHO.get) == "alice"
        assert await workers.run(threading.current_thread) is not threading.current_thread()

    asyncio.run(main())


def test_no_more_than_size_calls_run_at_once() -> None:
    lock = threading.Lock()
    together = threading.Barrier(3)  # passes only if three calls do run at once
    running, most = 0, 0

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        together.wait(10)
        with lock:
            running -= 1

    async def main() -> None:
        workers = Workers(3)
        await asyncio.gather(*(workers.run(call) for _ in range(21)))

    asyncio.run(main())
    assert most == 3


def test_a_cancelled_caller_waits_for_its_call_to_finish() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def call() -> None:
        started.set()
        release.wait(10)
        finished.set()

    async def main() -> None:
        task = asyncio.create_task(Workers(1).run(call))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        task.cancel()
        await asyncio.sleep(0.01)
        assert not task.done()  # the thread still has the call: its caller waits
        task.cancel()  # and a second cancel does not cut the wait short either
        await asyncio.sleep(0.01)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished.is_set()

    asyncio.run(main())


def test_a_call_cancelled_before_it_started_never_runs() -> None:
    release = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        workers = Workers(1)
        first = asyncio.create_task(workers.run(release.wait, 10))
        second = asyncio.create_task(workers.run(ran.append, "second"))
        await asyncio.sleep(0.01)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second  # at once: the one thread is busy with the first call
        release.set()
        assert await first is True
        assert await workers.run(ran.append, "third") is None

    asyncio.run(main())
    assert ran == ["third"]


def test_idle_threads_end() -> None:
    def ours() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "go-vault-worker"}

    before = ours()  # other tests' pools, which end in their own time

    async def main() -> set[threading.Thread]:
        workers = Workers(4, idle_seconds=0.05)
        await asyncio.gather(*(workers.run(time.sleep, 0.02) for _ in range(4)))
        return ours() - before

    started = asyncio.run(main())
    assert started
    for thread in started:
        thread.join(30)
        assert not thread.is_alive()
