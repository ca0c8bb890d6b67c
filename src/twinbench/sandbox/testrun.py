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


def environment_for(task: Task, case: TestCase) -> dict[str, str]:
    """The complete environment of a test: fixed values, then the task's, then the case's own."""
    env = dict(FIXED_ENV)
    if task.clock:
        library = faketime_library()
        if library is not None:
            env["LD_PRELOAD"] = library
            env["FAKETIME"] = task.clock
            env["FAKETIME_DONT_RESET"] = "1"
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
