"""The driver's loop over an executor: skip finished units, submit the rest, retry lost attempts, count.

It is the same for every executor, so resuming, retrying and interrupting behave alike locally and on a
cluster. Commands decide what "finished" means (their output dir holds a result) and write results
(`on_result`); the loop only decides what runs and how often.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from pydantic import BaseModel

from twinbench.executors.units import Executor, Unit, UnitOutcome

DEFAULT_MAX_ATTEMPTS = 3


class UnitTally(BaseModel):
    """How many units of a batch ran, were retried, failed and were skipped (summary.json's `units`)."""

    executor: str = "local"
    total: int = 0
    skipped: int = 0  # finished by an earlier run of the batch
    invalid: int = 0  # entries that never became units: a bad task or submission (the command's own count)
    ran: int = 0  # an attempt returned a result this run
    retried: int = 0  # attempts re-run after a lost or failed one (a unit retried twice counts 2)
    failed: int = 0  # every attempt lost: recorded as a harness error with the last reason
    interrupted: int = 0  # cancelled or stopped by Ctrl-C: re-run when the batch is run again

    def with_plan(self, statuses: Collection[str]) -> UnitTally:
        """This tally, its totals taken from the statuses of every entry of the batch (units or not)."""
        self.total = len(statuses)
        self.skipped = sum(status == "skipped" for status in statuses)
        self.invalid = sum(status == "invalid" for status in statuses)
        return self


class DriveInterrupted(Exception):
    """Ctrl-C stopped the batch; `tally` says where it was left."""

    def __init__(self, tally: UnitTally) -> None:
        super().__init__("interrupted")
        self.tally = tally


ResultHandler = Callable[[Unit, UnitOutcome], None]


def drive(
    executor: Executor,
    units: Iterable[Unit],
    *,
    is_finished: Callable[[Unit], bool],
    on_result: ResultHandler,
    on_failure: ResultHandler,
    on_retry: ResultHandler | None = None,
    on_interrupt: Callable[[int], None] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> UnitTally:
    """Run every unit not finished yet on `executor`; return the tally.

    An attempt that ends without a result (its worker died, it raised) is submitted again, up to
    `max_attempts` in all; then `on_failure` gets its last outcome, whose `error` says why. `on_result`
    gets each result as it arrives (the command writes it: the driver is the only writer). Ctrl-C
    cancels what has not started, lets running units stop and hand in what they have, then raises
    DriveInterrupted; a second Ctrl-C stops waiting for them.
    """
    tally = UnitTally(executor=executor.name)
    by_key: dict[str, Unit] = {}
    for unit in units:
        tally.total += 1
        if is_finished(unit):
            tally.skipped += 1
        else:
            by_key[unit.key] = unit

    def settle(outcome: UnitOutcome, retry: bool) -> None:
        unit = by_key[outcome.key]
        if outcome.cancelled:
            tally.interrupted += 1
        elif outcome.error is None:
            tally.ran += 1
            on_result(unit, outcome)
        elif retry and outcome.attempt < max_attempts:
            tally.retried += 1
            if on_retry is not None:
                on_retry(unit, outcome)
            executor.submit(unit, outcome.attempt + 1)
        else:
            tally.failed += 1
            on_failure(unit, outcome)

    try:
        for unit in by_key.values():
            executor.submit(unit, 1)
        for outcome in executor.gather():
            settle(outcome, retry=True)
    except KeyboardInterrupt:
        running = executor.interrupt()
        if on_interrupt is not None:
            on_interrupt(running)
        try:
            for outcome in executor.gather():
                if outcome.error is not None and not outcome.cancelled:
                    outcome = UnitOutcome(key=outcome.key, attempt=outcome.attempt, error=outcome.error, cancelled=True)
                settle(outcome, retry=False)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C stops the waiting; the units still running end on their own
        raise DriveInterrupted(tally) from None
    return tally
