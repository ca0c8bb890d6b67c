"""Clock stage: does the reference's output follow the clock? Then the task gets a frozen clock."""

from __future__ import annotations

from twinbench.formats import Task
from twinbench.protocols import Sandbox
from twinbench.testgen.record import CaseSpec, record_reference

DEFAULT_CLOCK = "2024-01-02 03:04:05"
PROBE_CLOCK = "2031-05-06 07:08:09"


def reads_the_clock(task: Task, specs: list[CaseSpec], sandbox: Sandbox, workers: int) -> bool:
    """Does some case's output follow the clock? Only a case that is stable under each of two frozen times
    and differs between them counts: a flaky case says nothing about the clock."""

    def expectations(clock: str, only: set[str] | None = None) -> dict[str, object]:
        probe_task = task.model_copy(update={"clock": clock})
        subset = [spec for spec in specs if only is None or spec.id in only]
        suite, _ = record_reference(probe_task, subset, sandbox, workers=workers, repeats=1)
        return {case.id: case.expect for case in suite.cases}

    first, other = expectations(DEFAULT_CLOCK), expectations(PROBE_CLOCK)
    # most programs ignore the clock: the confirming runs are only paid for cases that differed
    differing = {key for key in first if key in other and first[key] != other[key]}
    if not differing:
        return False
    first_again, other_again = expectations(DEFAULT_CLOCK, differing), expectations(PROBE_CLOCK, differing)
    return any(first[key] == first_again.get(key) and other[key] == other_again.get(key) for key in differing)


def with_clock_if_read(task: Task, specs: list[CaseSpec], sandbox: Sandbox, workers: int) -> Task:
    """The task, with DEFAULT_CLOCK frozen in when its reference reads the clock (and none was set)."""
    if task.clock is None and specs and reads_the_clock(task, specs, sandbox, workers):
        return task.model_copy(update={"clock": DEFAULT_CLOCK})
    return task
