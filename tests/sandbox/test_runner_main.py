"""The in-sandbox runner run in-process (no bwrap, no root needed), and the border's contracts it defines."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import write_executable
from twinbench.formats import Limits
from twinbench.sandbox import ExecRequest, SessionConfig, UnsafeLocalSandbox, runner_main
from twinbench.sandbox.launcher import LAUNCHER_SOURCE, ensure_launcher
from twinbench.sandbox.runner_main import LAUNCH_FIELDS, Runner, RunnerConfig, empty_dir, launch_argv


def config_for(root: Path, tree: Path | None, launcher: str | None) -> RunnerConfig:
    """A runner that keeps all its state under `root`, as unsafe-local's does."""
    (root / "tmp").mkdir(parents=True)
    return RunnerConfig(
        uid=None,
        gid=None,
        tree=str(tree) if tree else None,
        master=str(root / "master"),
        work=str(root / "work"),
        home=str(root / "home"),
        scratch_dirs=[str(root / "tmp")],
        keep=[],
        export=None,
        export_owner=None,
        disk_bytes=64 << 20,
        workdir_mode="copy",
        cleanup="process_group",
        one_shot=False,
        env_overrides={"HOME": str(root / "home"), "TMPDIR": str(root / "tmp")},
        launcher=launcher,
        new_ipc=False,
        noatime_mount=None,
        cgroup_fds=[],
        cpus=[],
    )


def request(argv: list[str], stdin: bytes = b"", collect: list[str] | None = None) -> dict[str, object]:
    return {
        "argv": argv,
        "env": {"PATH": "/usr/bin:/bin"},
        "stdin": base64.b64encode(stdin).decode(),
        "files": {"in/x.txt": base64.b64encode(b"input").decode()},
        "collect": collect or [],
        "limits": Limits().model_dump(),
    }


@pytest.mark.parametrize("launcher", ["python-fork", "compiled"])
def test_the_runner_runs_a_request_in_process(tmp_path: Path, launcher: str) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, '#!/bin/sh\ncat in/x.txt; cat; echo "$HOME" > out.txt; touch "$TMPDIR/litter"\nexit 3\n')
    built = ensure_launcher() if launcher == "compiled" else None
    if launcher == "compiled" and built is None:
        pytest.skip("no C compiler to build the launcher")
    config = config_for(tmp_path / "state", tree, str(built) if built else None)
    runner = Runner(config)
    runner.setup()
    try:
        response = runner.handle(request(["./executable"], b"+stdin", ["out.txt", "nothing"]))
    finally:
        runner.cleanup()
    assert response["exit_code"] == 3 and base64.b64decode(response["stdout"]) == b"input+stdin"
    assert base64.b64decode(response["files"]["out.txt"]) == config["home"].encode() + b"\n"
    assert response["files"]["nothing"] is None
    assert response.get("crash_reason") is None and not response.get("restart")
    assert os.listdir(tmp_path / "state" / "tmp") == []  # cleaned after the run, not before the next
    assert not Path(config["work"]).exists()


def test_launch_argv_and_launcher_c_agree_on_positions() -> None:
    """The launcher reads its arguments by position: the C enum must name LAUNCH_FIELDS in the same order."""
    source = LAUNCHER_SOURCE.read_text(encoding="utf-8")
    enum = re.search(r"enum \{(.*?)\};", source, re.S)
    assert enum is not None
    names = re.findall(r"ARG_(\w+)", enum.group(1))
    assert names == [*LAUNCH_FIELDS, "ARGV0"]
    assert "ARG_UID = 1," in enum.group(1)
    argv = launch_argv(
        "/launch",
        uid=7,
        gid=8,
        limits={"cpu_s": 2.5, "memory_mb": 1, "file_size_mb": 2, "open_files": 9, "processes": 10},
        workdir="/w",
        program="/bin/echo",
        argv=["echo", "hi"],
        new_ipc=True,
        cgroup_fds=(5, 6),
        cpus=(0, 3),
    )
    by_name = dict(zip(LAUNCH_FIELDS, argv[1:], strict=False))
    assert by_name == {
        "UID": "7",
        "GID": "8",
        "CPU_S": "2",
        "AS_BYTES": str(1 << 20),
        "FSIZE_BYTES": str(2 << 20),
        "NOFILE": "9",
        "NPROC": "10",
        "NEW_IPC": "1",
        "CGROUP_FDS": "5,6",
        "CPUS": "0,3",
        "WORKDIR": "/w",
        "PROGRAM": "/bin/echo",
    }
    assert argv[len(LAUNCH_FIELDS) + 1 :] == ["echo", "hi"]


def test_the_compiled_launcher_runs_what_launch_argv_builds(tmp_path: Path) -> None:
    launcher = ensure_launcher()
    if launcher is None:
        pytest.skip("no C compiler to build the launcher")
    limits = runner_main.LaunchLimits(cpu_s=5, memory_mb=512, file_size_mb=1, open_files=64, processes=4096)
    argv = launch_argv(
        str(launcher),
        uid=None,
        gid=None,
        limits=limits,
        workdir=str(tmp_path),
        program="/bin/sh",
        argv=["sh", "-c", "pwd; ulimit -n; ulimit -f"],
    )
    done = subprocess.run(argv, capture_output=True, text=True, pass_fds=(), check=False)
    assert done.stdout.split() == [str(tmp_path), "64", str((1 << 20) // 512)]  # dash counts 512-byte blocks, done


def test_emptying_a_deep_unreadable_tree_needs_no_recursion(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    deep = root
    for _ in range(3000):
        deep = deep / "d"
    # made from the top with relative steps: the full path is longer than PATH_MAX
    os.makedirs(root)
    fd = os.open(root, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    (root / "locked").mkdir()
    (root / "locked" / "inner").mkdir()
    (root / "locked" / "inner").chmod(0)
    (root / "locked").chmod(0)
    (root / ".twinbench").mkdir()
    empty_dir(str(root), {".twinbench"})
    assert os.listdir(root) == [".twinbench"]


def test_leftovers_that_cannot_be_removed_are_the_runs_crash_and_the_next_run_starts_fresh(tmp_path: Path) -> None:
    """A run that leaves what the runner cannot remove is recorded as crashed (never a harness error), and the
    next request gets a new runner. An immutable file (as root, on a filesystem that has the attribute) is
    such a thing for unsafe-local, whose runs are the caller's own user."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr")
    probe = tmp_path / "probe"
    probe.write_text("")
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable attribute")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    tree = tmp_path / "tree"
    write_executable(
        tree, '#!/bin/sh\nls "$TMPDIR"; touch "$TMPDIR/stuck"; chattr +i "$TMPDIR/stuck"; echo "$TMPDIR"\n'
    )
    with UnsafeLocalSandbox().open(SessionConfig(tree=tree)) as session:
        first = session.run(ExecRequest(argv=["./executable"], env={"PATH": "/usr/bin:/bin"}))
        stuck = Path(first.stdout.decode().split()[-1]) / "stuck"
        try:
            second = session.run(ExecRequest(argv=["./executable"], env={"PATH": "/usr/bin:/bin"}))
        finally:
            for path in (stuck, Path(second.stdout.decode().split()[-1]) / "stuck"):
                subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    assert first.crash_reason is not None and "cannot be removed" in first.crash_reason, first
    assert first.restart and first.sandbox_error is None
    # a new runner with a new, empty scratch dir: `ls` printed nothing before the path
    lines = second.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0] != str(stuck.parent)


def test_unsafe_local_removes_a_deep_tree_its_dead_runner_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a runner killed mid-run cleans nothing, and the session's shutil.rmtree(ignore_errors=True)
    of its scratch dir gave up on a tree deeper than the recursion limit, leaving it in the host's /tmp."""
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(host_tmp))
    tree = tmp_path / "tree"
    write_executable(
        tree,
        '#!/bin/sh\npython3 -c \'import os\nos.chdir(os.environ["TMPDIR"])\n'
        'for _ in range(1100): os.mkdir("d"); os.chdir("d")\'\nkill -9 $PPID\n',
    )
    with UnsafeLocalSandbox().open(SessionConfig(tree=tree)) as session:
        result = session.run(ExecRequest(argv=["./executable"], env={"PATH": "/usr/bin:/bin"}))
        (scratch,) = host_tmp.iterdir()
        assert result.sandbox_error is not None and (scratch / "tmp" / "d" / "d").is_dir()
    assert list(host_tmp.iterdir()) == []
