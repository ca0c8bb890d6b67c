"""Run many requests on several sandbox sessions at once, one session per worker thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from twinbench.protocols import Sandbox
from twinbench.sandbox.types import ExecRequest, ExecResult, SessionConfig

Key = TypeVar("Key")


def run_many(
    sandbox: Sandbox,
    config: SessionConfig,
    jobs: Iterable[tuple[Key, ExecRequest]],
    workers: int,
    on_result: Callable[[Key, ExecResult], None],
) -> None:
    """Run every job; `on_result` is called in the caller's thread, in completion order."""
    pending: queue.Queue[tuple[Key, ExecRequest] | None] = queue.Queue()
    job_count = 0
    for job in jobs:
        pending.put(job)
        job_count += 1
    if job_count == 0:
        return
    workers = max(1, min(workers, job_count))
    for _ in range(workers):
        pending.put(None)
    done: queue.Queue[tuple[Key, ExecResult] | BaseException] = queue.Queue()

    def work() -> None:
        # the session is opened and closed in this thread: bwrap dies with the thread that started it
        try:
            with sandbox.open(config) as session:
                while (job := pending.get()) is not None:
                    key, request = job
                    done.put((key, session.run(request)))
        except BaseException as exc:  # reported to the caller, never lost in a thread
            done.put(exc)

    threads = [threading.Thread(target=work, name=f"twinbench-worker-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    received = 0
    failures: list[BaseException] = []
    while received < job_count and len(failures) < workers:
        item = done.get()
        if isinstance(item, BaseException):
            failures.append(item)
            continue
        received += 1
        on_result(*item)
    for thread in threads:
        thread.join()
    if received < job_count and failures:
        raise failures[0]
