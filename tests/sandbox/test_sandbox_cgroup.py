"""Memory and processes bounded per sandbox by the kernel's cgroups, and every cgroup removed after use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CANDIDATE_UID, write_executable
from twinbench.formats import Limits
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, SessionConfig
from twinbench.sandbox.cgroup import PIDS_ALLOWANCE, PREFIX, RLIMIT_ONLY, accounting, sandbox_memory_bytes

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
# memfd pages are no process's address space: RLIMIT_AS never sees them
MEMFD_HOARDER = """#!/usr/bin/python3
import os
held = []
for i in range(40):
    fd = os.memfd_create(f"hoard{i}")
    os.write(fd, b"x" * (50 << 20))
    held.append(fd)
    print("held", (i + 1) * 50, "MB", flush=True)
print("kept it all")
"""


@pytest.fixture
def accounted(backend: Sandbox) -> Sandbox:
    if backend.memory_accounting == RLIMIT_ONLY:
        reason = accounting().reason if backend.name != "unsafe-local" else "unsafe-local uses no cgroup by design"
        pytest.skip(f"{backend.name}: memory is bounded per process only here ({reason})")
    return backend


def our_cgroups() -> list[Path]:
    found = accounting()
    parents = {found.memory_parent, found.pids_parent} - {None}
    mine = f"{PREFIX}{os.getpid()}-"
    return [child for parent in parents if parent for child in parent.iterdir() if child.name.startswith(mine)]


def test_a_candidate_hoarding_memfds_is_killed_at_the_sandboxs_limit(accounted: Sandbox, tmp_path: Path) -> None:
    """Regression: memfds (like /dev/shm and tmpfs files) escape RLIMIT_AS; one process with a 1 GB limit
    held 2.4 GB. The sandbox's cgroup counts them, and the kill is the candidate's crash, for memory."""
    write_executable(tmp_path / "tree", MEMFD_HOARDER)
    limits = Limits(memory_mb=200, wall_s=60)
    with accounted.open(SessionConfig(tree=tmp_path / "tree", disk_mb=64)) as session:
        hoarder = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=limits))
        after = session.run(ExecRequest(argv=["/bin/echo", "next"], env=ENV, limits=limits))
    bound = sandbox_memory_bytes(limits, 64) >> 20
    assert hoarder.signal == 9 and b"kept it all" not in hoarder.stdout, hoarder
    held = [int(line.split()[1]) for line in hoarder.stdout.splitlines()]
    assert held and max(held) <= bound  # the script ran, and stopped at the bound
    assert hoarder.crash_reason is not None and hoarder.crash_reason.startswith("memory limit"), hoarder
    assert hoarder.sandbox_error is None
    assert after.stdout == b"next\n" and after.crash_reason is None  # the sandbox serves the next test


def test_tmpfs_pages_count_against_the_sandbox(accounted: Sandbox, tmp_path: Path) -> None:
    """/dev/shm is memory: what a run keeps there counts with its memfds against the sandbox's one bound."""
    write_executable(tmp_path / "tree", "#!/bin/sh\nhead -c 150000000 /dev/zero > /dev/shm/a && echo shm-ok\n./hoard\n")
    write_executable(tmp_path / "tree", MEMFD_HOARDER, "hoard")
    limits = Limits(memory_mb=200, file_size_mb=512, wall_s=60)
    with accounted.open(SessionConfig(tree=tmp_path / "tree", disk_mb=200)) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=limits))
    held = [int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith(b"held")]
    assert result.stdout.startswith(b"shm-ok\n") and held, result
    # 150 MB of /dev/shm plus the memfds stay under memory + disk + the runner's allowance
    assert 150 + max(held) <= sandbox_memory_bytes(limits, 200) >> 20
    assert result.crash_reason is not None and result.crash_reason.startswith("memory limit"), result


def test_the_pids_limit_binds_the_whole_sandbox(accounted: Sandbox, tmp_path: Path) -> None:
    """The pids cgroup bounds every process of the sandbox, whatever uid it runs as (RLIMIT_NPROC never binds
    uid 0, which a user namespace started by root maps to)."""
    write_executable(
        tmp_path / "tree",
        "#!/usr/bin/python3\nimport os, time\ncount = 0\ntry:\n    while count < 500:\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        count += 1\n"
        "except OSError as exc:\n    print('stopped', count, exc.errno)\n",
    )
    with accounted.open(SessionConfig(tree=tmp_path / "tree")) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=Limits(processes=40)))
    words = result.stdout.split()
    assert words[0] == b"stopped" and int(words[1]) < 40 + PIDS_ALLOWANCE and words[2] == b"11", result
    assert not result.timed_out


def test_cgroups_are_removed_after_use(accounted: Sandbox, tmp_path: Path) -> None:
    write_executable(tmp_path / "tree", "#!/bin/sh\ncat /proc/self/cgroup\n")
    before = our_cgroups()
    with accounted.open(SessionConfig(tree=tmp_path / "tree")) as session:
        results = [session.run(ExecRequest(argv=["./executable"], env=ENV)) for _ in range(3)]
    for result in results:  # the candidate runs inside a cgroup of this harness, in both hierarchies
        assert result.stdout.count(f"/{PREFIX}{os.getpid()}-".encode()) == 2, result.stdout
    assert our_cgroups() == before


def test_processes_of_the_candidate_uid_elsewhere_do_not_count_against_a_sandbox(
    bwrap: Sandbox, tmp_path: Path
) -> None:
    """Regression: RLIMIT_NPROC counts the candidate uid's processes on the whole machine, so a reference
    recorded on a quiet machine failed to start threads when checked beside other sandboxes (miller: Go's
    `pthread_create failed`, exit 2; b3sum: `Resource temporarily unavailable`). Where the sandbox's pids
    cgroup bounds it, processes of the same uid outside the sandbox leave its budget alone."""
    if bwrap.memory_accounting == RLIMIT_ONLY or os.geteuid() != 0:
        pytest.skip(f"no pids cgroup here ({accounting().reason or 'not root'}): RLIMIT_NPROC is the only bound")
    uid = str(CANDIDATE_UID)
    elsewhere = [
        subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "60"])
        for _ in range(6)
    ]
    try:
        write_executable(tmp_path / "tree", "#!/bin/sh\n(echo one) & (echo two) & wait\necho started\n")
        with bwrap.open(SessionConfig(tree=tmp_path / "tree")) as session:
            result = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=Limits(processes=4)))
    finally:
        for process in elsewhere:
            process.kill()
            process.wait()
    assert result.exit_code == 0 and result.stdout.endswith(b"started\n"), result
