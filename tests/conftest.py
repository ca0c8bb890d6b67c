"""Shared fixtures: real sandboxes, real programs, real files."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbench.agent.cleanroom import CleanRoom
from twinbench.demo import DEMO_TASK
from twinbench.formats import TaskDir, load_task
from twinbench.protocols import Sandbox
from twinbench.sandbox import get_sandbox

# a uid of this test run's own, so that other twinbench runs on the machine never look like our leftovers
# (subprocesses started by the tests inherit it through the environment)
os.environ.setdefault("TWINBENCH_CANDIDATE_UID", str(100000 + os.getpid() % 20000 * 10))
# xdist workers inherit the controller's uid: each worker takes a block of its own (candidate, reference, agent),
# or one worker's live sandboxes look like the other's leftovers
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _worker[2:].isdigit() and "TWINBENCH_WORKER_UID_SET" not in os.environ:
    os.environ["TWINBENCH_CANDIDATE_UID"] = str(
        int(os.environ["TWINBENCH_CANDIDATE_UID"]) + 10 * (int(_worker[2:]) + 1)
    )
    os.environ["TWINBENCH_WORKER_UID_SET"] = "1"
CANDIDATE_UID = int(os.environ["TWINBENCH_CANDIDATE_UID"])
# a clean room's broker runs the reference as the next uid, and its agent as the one after
# (twinbench.agent.cleanroom)
REFERENCE_UID = CANDIDATE_UID + 1
AGENT_UID = CANDIDATE_UID + 2


def write_executable(directory: Path, body: str, name: str = "executable") -> Path:
    """Write a script (shebang included in `body`) and make it executable."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(body).lstrip())
    path.chmod(0o755)
    return path


def write_submission(directory: Path, program: str, extra: dict[str, str] | None = None) -> Path:
    """A submission whose compile.sh installs `program` (a script) as ./executable."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "program").write_text(textwrap.dedent(program).lstrip())
    write_executable(directory, "#!/bin/sh\nset -e\ncp program executable\nchmod +x executable\n", "compile.sh")
    for name, content in (extra or {}).items():
        (directory / name).write_text(content)
    return directory


def candidate_processes() -> list[str]:
    """Processes of the candidate uid (or a clean room's reference or agent uid) still alive on the machine."""
    uids = f"{CANDIDATE_UID},{REFERENCE_UID},{AGENT_UID}"
    result = subprocess.run(["ps", "-u", uids, "-o", "pid=,args="], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(params=["bwrap", "bwrap-userns", "unsafe-local"])
def backend(request: pytest.FixtureRequest) -> Sandbox:
    """Every sandbox backend, for the conformance suite."""
    return get_sandbox(request.param)


@pytest.fixture
def bwrap() -> Sandbox:
    """The default, isolating backend."""
    return get_sandbox("bwrap")


@pytest.fixture(scope="module")
def figlet_task() -> TaskDir:
    """The bundled figlet task."""
    return load_task(DEMO_TASK)


@pytest.fixture(scope="module")
def room(figlet_task: TaskDir) -> Iterator[CleanRoom]:
    """One clean room per test module, for the agent-loop tests; each test cleans the workspace it used."""
    with CleanRoom(figlet_task) as opened:
        yield opened


@pytest.fixture(autouse=True)
def no_leftover_candidates() -> Iterator[None]:
    """No test may leave a candidate process running (as root, candidates run as their own uid)."""
    yield
    # scripts/mutation.sh runs tests in concurrent forks of one process, which share the candidate uid: one
    # fork's live candidates would look like another's leftovers
    if os.geteuid() == 0 and "TWINBENCH_MUTATION_RUN" not in os.environ:
        deadline = time.monotonic() + 3
        while candidate_processes() and time.monotonic() < deadline:
            time.sleep(0.1)  # a sandbox being torn down may take a moment to disappear
        assert candidate_processes() == []
