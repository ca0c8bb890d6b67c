"""The clock a graded program sees: frozen at the task's instant when task.yaml sets one, real otherwise."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import write_executable
from twinbench.formats import ReferenceSpec, Task, TestCase
from twinbench.protocols import Sandbox
from twinbench.sandbox import SessionConfig
from twinbench.sandbox.testrun import environment_for, faketime_library, request_for

FROZEN_AT = "2024-01-02 03:04:05"
FROZEN_EPOCH = 1704164645  # FROZEN_AT in UTC, the fixed TZ of every test


def task_with(clock: str | None) -> Task:
    return Task(id="clock", reference=ReferenceSpec(binary="date"), clock=clock)


CASE = TestCase.model_validate({"id": "t", "expect": {"exit_code": 0}})


def test_the_environment_sets_faketime_only_when_the_task_has_a_clock() -> None:
    real = environment_for(task_with(None), CASE)
    assert "FAKETIME" not in real and "LD_PRELOAD" not in real
    if faketime_library() is None:
        pytest.skip("libfaketime is not installed")
    frozen = environment_for(task_with(FROZEN_AT), CASE)
    assert frozen["FAKETIME"] == FROZEN_AT and frozen["LD_PRELOAD"] == faketime_library()


@pytest.mark.skipif(faketime_library() is None, reason="libfaketime is not installed (scripts/setup.sh installs it)")
def test_a_graded_program_sees_the_clock_the_task_asks_for(tmp_path: Path, bwrap: Sandbox) -> None:
    # two readings of the clock, from two processes: equal only when the clock is frozen
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\ndate +%s.%N\ndate +%s.%N\n")
    with bwrap.open(SessionConfig(tree=tree)) as session:
        frozen = session.run(request_for(task_with(FROZEN_AT), CASE)).stdout.split()
        host_before = time.time()
        real = session.run(request_for(task_with(None), CASE)).stdout.split()
        host_after = time.time()
    assert len(frozen) == 2 and frozen[0] == frozen[1] and int(float(frozen[0])) == FROZEN_EPOCH
    assert len(real) == 2 and real[0] != real[1]
    assert host_before - 1 <= float(real[0]) <= float(real[1]) <= host_after + 1
