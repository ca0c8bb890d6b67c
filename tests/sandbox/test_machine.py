"""The fixed machine: every run sees one CPU and the same /sys and /proc facts, whatever the host has."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbench.demo import DEMO_TASK
from twinbench.formats import Limits, load_task
from twinbench.grade.build import build_submission
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, SessionConfig
from twinbench.sandbox.machine import MEMORY_KB, CpuPicker, cpu_list, machine_files
from twinbench.sandbox.rooms import LAUNCHER, ReferenceRoom, RoomLayout, reference_command
from twinbench.sandbox.runner_main import LAUNCH_FIELDS

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
# what a program can learn about the machine: the affinity mask (nproc, Go, Rust), glibc's get_nprocs and
# get_nprocs_conf (getconf, Python's os.cpu_count, 7-Zip), /proc/cpuinfo and /proc/meminfo
MACHINE_PROBE = (
    "nproc; getconf _NPROCESSORS_ONLN; getconf _NPROCESSORS_CONF; grep -c ^processor /proc/cpuinfo; "
    "python3 -c 'import os; print(os.cpu_count())'; grep ^MemTotal /proc/meminfo; cat /sys/devices/system/cpu/online"
)
FIXED_MACHINE = f"1\n1\n1\n1\n1\nMemTotal:        {MEMORY_KB} kB\n0\n"


@pytest.fixture(params=["first", "last"])
def host_cpus(request: pytest.FixtureRequest) -> Iterator[int]:
    """The harness restricted to one of the host's CPUs, as `taskset -c N` would: a different host each time."""
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[0] if request.param == "first" else allowed[-1]
    os.sched_setaffinity(0, {chosen})
    try:
        yield chosen
    finally:
        os.sched_setaffinity(0, allowed)


def probe(backend: Sandbox, cpus: int = 1) -> list[str]:
    with backend.open(SessionConfig(machine_cpus=cpus)) as session:
        results = [session.run(ExecRequest(argv=["/bin/sh", "-c", MACHINE_PROBE], env=ENV)) for _ in range(2)]
    return [result.stdout.decode() for result in results]


def test_every_run_sees_the_same_one_cpu_machine(backend: Sandbox) -> None:
    """Regression: 7-Zip printed `Threads:2` on the 2-core recording machine, an expectation no grading
    machine with another core count could meet."""
    outputs = probe(backend)
    if not backend.isolated:
        # pinned like the others, but the host's /sys and /proc files are the runs' own here
        assert [output.splitlines()[0] for output in outputs] == ["1", "1"]
        return
    assert outputs == [FIXED_MACHINE, FIXED_MACHINE]


def test_the_machine_is_the_same_whichever_host_cpus_the_harness_has(host_cpus: int, bwrap: Sandbox) -> None:
    assert probe(bwrap) == [FIXED_MACHINE, FIXED_MACHINE]


def test_a_probe_machine_reports_its_own_cpu_count(bwrap: Sandbox) -> None:
    """The host-dependence probe asks for a 2-CPU machine: the files say so even on a 1-CPU host."""
    lines = probe(bwrap, cpus=2)[0].splitlines()
    assert lines[1:5] == ["2", "2", "2", "2"] and lines[-1] == "0-1"
    assert lines[0] == str(min(2, len(os.sched_getaffinity(0))))


def test_machine_files_describe_the_cpu_count() -> None:
    assert cpu_list(1) == "0" and cpu_list(4) == "0-3"
    files = machine_files(3)
    assert files["/sys/devices/system/cpu/possible"] == "0-2\n"
    assert files["/proc/cpuinfo"].count("processor\t:") == 3
    assert [line.split()[0] for line in files["/proc/stat"].splitlines()[:4]] == ["cpu", "cpu0", "cpu1", "cpu2"]


def test_parallel_sandboxes_are_spread_over_the_host_cpus() -> None:
    picker = CpuPicker()
    allowed = sorted(os.sched_getaffinity(0))
    picks = [picker.pick(1) for _ in range(len(allowed))]
    assert sorted(cpu for pick in picks for cpu in pick) == allowed
    assert picker.pick(len(allowed) + 3) == tuple(allowed)  # never more CPUs than the harness has


def test_the_reference_room_is_the_same_machine(tmp_path: Path) -> None:
    """The broker's reference sees the machine the suite was recorded on, so an agent's probes match grading."""
    layout = RoomLayout(
        workspace=tmp_path / "w", tmp=tmp_path / "t", home=tmp_path / "h", docs=None, broker_dir=tmp_path / "b"
    )
    room = ReferenceRoom(binary=Path("/usr/bin/jq"), execute_only={Path("/usr/bin/jq"): tmp_path / "copy"})
    argv = reference_command(
        layout,
        room,
        bwrap="bwrap",
        privileged=True,
        uid=5001,
        gid=5000,
        env={},
        agent_env={},
        limits=load_task(DEMO_TASK).task.limits.test,
        cwd="/workspace",
        argv=["jq"],
        seccomp_fd=None,
    )
    bound = {argv[index + 2] for index, item in enumerate(argv) if item == "--ro-bind"}
    assert {"/proc/cpuinfo", "/proc/stat", "/proc/meminfo", "/sys/devices/system/cpu/online"} <= bound
    assert argv.index("--proc") < argv.index("/proc/cpuinfo")  # over procfs, not under it
    launch = dict(zip(LAUNCH_FIELDS, argv[argv.index(LAUNCHER) + 1 :], strict=False))
    assert int(launch["CPUS"]) in os.sched_getaffinity(0)


def test_the_stack_limit_and_arg_max_are_the_machines_not_the_hosts(backend: Sandbox) -> None:
    """Regression: the host's stack limit reached every run, and glibc derives ARG_MAX from it."""
    script = "ulimit -s; getconf ARG_MAX"
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    host = 16 << 20 if hard == resource.RLIM_INFINITY or hard >= 16 << 20 else soft
    resource.setrlimit(resource.RLIMIT_STACK, (host, hard))  # a host whose stack limit is not 8 MiB
    try:
        with backend.open(SessionConfig()) as session:
            result = session.run(ExecRequest(argv=["/bin/sh", "-c", script], env=ENV))
    finally:
        resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))
    assert result.stdout.decode().split() == ["8192", str((8 << 20) // 4)]


def test_a_build_gets_every_cpu_the_harness_has(bwrap: Sandbox, tmp_path: Path) -> None:
    """A submission's build is compared with nothing, so `make -j$(nproc)` may use every core it is allowed."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "compile.sh").write_text(
        "#!/bin/bash\nnproc > built.txt\nprintf '#!/bin/sh\\n' > executable\nchmod +x executable\n"
    )
    (source / "compile.sh").chmod(0o755)
    record = build_submission(source, tmp_path / "build", bwrap, Limits(), (), ())
    assert record.ok, record
    assert (tmp_path / "build" / "tree" / "built.txt").read_text() == f"{len(os.sched_getaffinity(0))}\n"


def test_cache_directories_unused_for_a_week_go_when_a_new_one_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each candidate uid has its own synthetic /etc directory; concurrent harnesses (and the tests) use many
    uids, and the directories had piled up by the hundred."""
    import time

    from twinbench.sandbox.bwrap import synthetic_etc
    from twinbench.sandbox.machine import CACHE_UNUSED_DAYS

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    old = synthetic_etc(50001)["passwd"].parent
    used = synthetic_etc(50002)["passwd"].parent
    week_ago = time.time() - (CACHE_UNUSED_DAYS + 1) * 86400
    for directory in (old, used):
        os.utime(directory, (week_ago, week_ago))
    assert synthetic_etc(50002)["passwd"].read_text().count("sandbox:x:50002") == 1  # a use keeps it
    synthetic_etc(50003)
    assert not old.exists() and used.exists()
    assert sorted(path.name.split("-")[0] for path in (tmp_path / "twinbench").iterdir()) == ["etc", "etc"]


def test_a_cache_directory_of_another_layout_is_not_taken_for_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older twinbench kept the synthetic /etc under plain names in a directory of the same name; binding
    the new names from it made every sandbox fail to start."""
    import hashlib
    import json

    from twinbench.sandbox.bwrap import synthetic_etc, synthetic_etc_files

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = synthetic_etc_files(50001)
    older = (
        tmp_path / "twinbench" / f"etc-{hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]}"
    )
    older.mkdir(parents=True)
    for name, text in files.items():
        (older / name).write_text(text)
    paths = synthetic_etc(50001)
    assert all(path.is_file() for path in paths.values()) and paths["passwd"].read_text() == files["passwd"]
    broken = paths["passwd"].parent
    paths["hosts"].unlink()  # a damaged copy is made again
    assert synthetic_etc(50001)["hosts"].read_text() == files["hosts"] and broken.is_dir()
