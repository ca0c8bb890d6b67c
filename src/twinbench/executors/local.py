"""The local executor: units on a thread pool of this machine (each unit's work is in subprocesses anyway)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from twinbench.executors.units import (
    Unit,
    UnitFiles,
    UnitOutcome,
    execute_unit,
    new_scratch,
    remove_scratch,
    short_reason,
)

NOT_STARTED = "interrupted before it started"


class LocalExecutor:
    """`workers` units at a time in threads; inputs are read where they are, outputs handed back as directories."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="twinbench-unit")
        self._stop = threading.Event()
        self._running: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._pending: dict[Future[UnitOutcome], tuple[str, int]] = {}

    def submit(self, unit: Unit, attempt: int) -> None:
        """Queue one attempt on the pool."""
        self._pending[self._pool.submit(self._run, unit, attempt)] = (unit.key, attempt)

    def gather(self) -> Iterator[UnitOutcome]:
        """Outcomes as attempts finish, until none is pending."""
        while self._pending:
            done, _ = wait(list(self._pending), return_when=FIRST_COMPLETED)
            for future in done:
                key, attempt = self._pending.pop(future)
                if future.cancelled():
                    yield UnitOutcome(key=key, attempt=attempt, error=NOT_STARTED, cancelled=True)
                else:
                    yield future.result()

    def interrupt(self) -> int:
        """Cancel queued attempts and set the stop signal that running units watch; returns how many run."""
        self._stop.set()
        for future in self._pending:
            future.cancel()
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        """Shut the pool down; after an interrupt, units still running are left to end on their own."""
        # not `with ThreadPoolExecutor`: leaving it waits for every queued unit, so Ctrl-C would stop nothing
        self._pool.shutdown(wait=not self._stop.is_set(), cancel_futures=True)

    def _run(self, unit: Unit, attempt: int) -> UnitOutcome:
        if self._stop.is_set():  # started in the moment of Ctrl-C: left for the next run, as cancelled ones are
            return UnitOutcome(key=unit.key, attempt=attempt, error=NOT_STARTED, cancelled=True)
        with self._lock:
            self._running.add((unit.key, attempt))
        scratch = new_scratch()
        try:
            value = execute_unit(unit.function, unit.payload, dict(unit.inputs), scratch, self._stop)
        except Exception as exc:  # a unit's exception is that attempt's loss, never the batch's end
            remove_scratch(scratch)
            return UnitOutcome(key=unit.key, attempt=attempt, error=short_reason(exc))
        finally:
            with self._lock:
                self._running.discard((unit.key, attempt))
        files = UnitFiles(directory=scratch / "out", scratch=scratch)
        return UnitOutcome(key=unit.key, attempt=attempt, value=value, files=files)
