"""How a test case becomes a sandbox request: the fixed environment shared by recording and grading."""

from __future__ import annotations

from pathlib import Path

from twinbench.formats import Limits, Task, TestCase
from twinbench.sandbox.types import ExecRequest

EXECUTABLE = "./executable"
FIXED_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "TZ": "UTC",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
FAKETIME_LIBRARIES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


def faketime_library() -> str | None:
    """libfaketime's preload library, if installed."""
    for candidate in FAKETIME_LIBRARIES:
        if Path(candidate).exists():
            return candidate
    return None


def clock_environment(clock: str | None) -> dict[str, str]:
    """The variables that freeze a program's clock at `clock` through libfaketime; none without a clock or
    without libfaketime."""
    library = faketime_library() if clock else None
    if clock is None or library is None:
        return {}
    return {"LD_PRELOAD": library, "FAKETIME": clock, "FAKETIME_DONT_RESET": "1"}


def environment_for(task: Task, case: TestCase) -> dict[str, str]:
    """The complete environment of a test: fixed values, the frozen clock, then the task's, then the case's."""
    env = dict(FIXED_ENV)
    env.update(clock_environment(task.clock))
    env.update(task.env)
    env.update(case.env)
    return env


def request_for(task: Task, case: TestCase, limits: Limits | None = None) -> ExecRequest:
    """The sandbox request that runs one test case as ./executable."""
    base = limits or task.limits.test
    effective = base.model_copy(update={"wall_s": case.timeout_s})
    return ExecRequest(
        argv=[EXECUTABLE, *case.argv],
        env=environment_for(task, case),
        stdin=case.stdin,
        files=case.files,
        collect=sorted(case.expect.files),
        limits=effective,
    )
