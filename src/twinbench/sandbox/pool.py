"""Run many requests on several sandbox sessions at once, one session per worker thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from twinbench.protocols import Sandbox
from twinbench.sandbox.types import ExecRequest, ExecResult, SessionConfig

Key = TypeVar("Key")


class SessionPool:
    """`workers` sandbox sessions kept open across batches; each is owned by the thread that opened it."""

    def __init__(self, sandbox: Sandbox, config: SessionConfig, workers: int) -> None:
        self._pending: queue.Queue[tuple[Any, ExecRequest] | None] = queue.Queue()
        self._done: queue.Queue[tuple[Any, ExecResult] | BaseException] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, args=(sandbox, config), name=f"twinbench-worker-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        self._alive = len(self._threads)
        for thread in self._threads:
            thread.start()

    def _work(self, sandbox: Sandbox, config: SessionConfig) -> None:
        # opened and closed in this thread: bwrap dies with the thread that started it
        try:
            with sandbox.open(config) as session:
                while (job := self._pending.get()) is not None:
                    key, request = job
                    self._done.put((key, session.run(request)))
        except BaseException as exc:  # reported to the caller, never lost in a thread
            self._done.put(exc)

    def map(
        self,
        jobs: Iterable[tuple[Key, ExecRequest]],
        on_result: Callable[[Key, ExecResult], None],
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Run every job; `on_result` is called in the caller's thread, in completion order.

        When `stop()` turns true after a result, jobs not yet started are dropped; jobs already running finish
        and are reported."""
        count = 0
        for job in jobs:
            self._pending.put(job)
            count += 1
        received = 0
        while received < count:
            if self._alive == 0:
                raise RuntimeError("every sandbox worker failed")
            item = self._done.get()
            if isinstance(item, BaseException):
                self._alive -= 1
                if self._alive == 0:
                    raise item
                continue
            received += 1
            on_result(*item)
            if stop is not None and stop():
                count -= self._drop_pending()

    def _drop_pending(self) -> int:
        """Take every job no worker has started off the queue; how many were taken."""
        dropped = 0
        while True:
            try:
                self._pending.get_nowait()
            except queue.Empty:
                return dropped
            dropped += 1

    def close(self) -> None:
        """Stop the workers; their sessions close and nothing they started survives."""
        for _ in self._threads:
            self._pending.put(None)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_many(
    sandbox: Sandbox,
    config: SessionConfig,
    jobs: Iterable[tuple[Key, ExecRequest]],
    workers: int,
    on_result: Callable[[Key, ExecResult], None],
    stop: Callable[[], bool] | None = None,
) -> None:
    """Run every job on a pool of `workers` sessions (no more sessions than jobs), until `stop()` is true."""
    job_list = list(jobs)
    if not job_list:
        return
    with SessionPool(sandbox, config, min(workers, len(job_list))) as pool:
        pool.map(job_list, on_result, stop)
