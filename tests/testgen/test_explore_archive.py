"""Seed runs that reached nothing new are archived for the survivor hunt (testgen/explore.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinbench.formats import ReferenceSpec, Task
from twinbench.sandbox import ExecRequest, ExecResult
from twinbench.testgen.explore import MAX_ARCHIVE, CoverageGuide, Explorer
from twinbench.testgen.record import CaseSpec

EDGES = frozenset({("two.gcda", 1, 0), ("two.gcda", 1, 1), ("two.gcda", 2, 0)})


class SameAnswerPool:
    """Every run exits 0 and prints the same line: only the first run of a kind is new."""

    def map(self, jobs: list[tuple[int, ExecRequest]], on_result: Callable[[int, ExecResult], None]) -> None:
        for key, _request in jobs:
            on_result(key, ExecResult(exit_code=0, stdout=b"same\n"))


def explorer() -> Explorer:
    task = Task(id="two", reference=ReferenceSpec(binary="/bin/true"))
    guide = CoverageGuide(binary=Path("/bin/true"), strip_components=0, gcda_files=["two.gcda"])
    pool: Any = SameAnswerPool()
    return Explorer(task, pool, guide, lambda files: EDGES, frozenset())


def test_seed_runs_that_reach_nothing_new_are_kept_with_the_functions_they_ran() -> None:
    """A sweep of every lead byte reaches no edge the first seed did not: coverage drops it, but a mutant on a
    range check's end shows only there. Seed runs are archived (by function, not edge); mutations are not."""
    found = explorer()
    first, sweep, mutated = (
        CaseSpec(id="a", argv=["x"], origin="docs:example"),
        CaseSpec(id="b", argv=["y"], stdin=b"\xc0\x81\n", origin="encodings"),
        CaseSpec(id="c", argv=["z"], origin="mutation"),
    )
    found.run([first, sweep, mutated])
    assert [c.spec.id for c in found.corpus] == ["a"] and not found.reserve
    assert [c.spec.id for c in found.archive] == ["b"]
    assert found.archive[0].features == {("two.gcda", 1, -1), ("two.gcda", 2, -1)}
    assert found.archive[0].status == 0 and found.archive[0].spec.stdin == b"\xc0\x81\n"


def test_the_archive_is_bounded() -> None:
    found = explorer()
    found.run([CaseSpec(id=str(n), argv=[str(n)], origin="docs:example") for n in range(MAX_ARCHIVE + 10)])
    assert len(found.archive) == MAX_ARCHIVE and len(found.corpus) == 1
