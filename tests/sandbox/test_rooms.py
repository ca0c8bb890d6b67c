"""How sandboxes hide a reference's package, and how the reference's own sandbox is assembled."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from twinbench.agent.broker import is_dynamic, package_binaries
from twinbench.demo import DEMO_TASK
from twinbench.formats import load_task
from twinbench.reference import hidden_paths_for
from twinbench.sandbox.bwrap import hiding_args, system_binds
from twinbench.sandbox.launcher import ensure_dropper, ensure_launcher
from twinbench.sandbox.rooms import DROPPER, REFERENCE_DIR, ReferenceRoom, RoomLayout, reference_command, reference_path


def _mounts(args: list[str]) -> dict[str, str]:
    """target -> how it is hidden ('tmpfs' or the bound source)."""
    found: dict[str, str] = {}
    index = 0
    while index < len(args):
        if args[index] == "--tmpfs":
            found[args[index + 1]] = "tmpfs"
            index += 2
        elif args[index] in ("--ro-bind", "--bind"):
            found[args[index + 2]] = args[index + 1]
            index += 3
        else:
            index += 1
    return found


def test_a_directory_the_package_owns_whole_is_one_tmpfs_and_shared_ones_are_hidden_file_by_file() -> None:
    hidden = hidden_paths_for(load_task(DEMO_TASK).task.reference)
    _, bound = system_binds()
    mounts = _mounts(hiding_args(hidden, (), bound))
    # figlet's docs are figlet's alone: one mount instead of one per file
    assert mounts["/usr/share/doc/figlet"] == "tmpfs"
    assert not any(target.startswith("/usr/share/doc/figlet/") for target in mounts)
    # toilet's fonts share /usr/share/figlet: figlet's fonts are hidden one by one, toilet's stay
    assert mounts["/usr/share/figlet/standard.flf"] == "/dev/null"
    assert "/usr/share/figlet" not in mounts
    assert mounts[str(Path("/usr/bin/figlet").resolve())] == "/dev/null"


def test_shallow_system_directories_are_never_replaced_whole(tmp_path: Path) -> None:
    _, bound = system_binds()
    everything_in_bin = tuple(Path("/usr/bin").iterdir())
    mounts = _mounts(hiding_args(everything_in_bin, (), bound))
    assert "/usr/bin" not in mounts and "/usr" not in mounts


def test_reference_room_runs_dynamic_binaries_as_root_until_the_dropper_and_keeps_env_off_bwrap(
    tmp_path: Path,
) -> None:
    layout = RoomLayout(
        workspace=tmp_path / "w", tmp=tmp_path / "t", home=tmp_path / "h", docs=None, broker_dir=tmp_path / "b"
    )
    copy = tmp_path / "copy"
    room = ReferenceRoom(
        binary=Path("/usr/bin/jq"), execute_only={Path("/usr/bin/jq"): copy}, dropper=tmp_path / "d.so"
    )
    env = {"LD_PRELOAD": "/usr/lib/faketime.so", "A": "1"}
    argv = reference_command(
        layout,
        room,
        bwrap="bwrap",
        privileged=True,
        uid=5001,
        gid=5000,
        env=env,
        agent_env={"A": "agent's", "LANG": "C", "--bind": "/ /x"},
        limits=load_task(DEMO_TASK).task.limits.test,
        cwd="/workspace",
        argv=["jq", "."],
        seccomp_fd=None,
    )
    settings = {argv[i + 1]: argv[i + 2] for i, item in enumerate(argv) if item == "--setenv"}
    assert settings["LD_PRELOAD"] == f"{DROPPER}:/usr/lib/faketime.so"
    assert settings["TWINBENCH_PRELOAD_REST"] == "/usr/lib/faketime.so"
    assert settings["TWINBENCH_RUN_AS"] == "5001:5000" and settings["A"] == "1"
    # while root, the reference sees none of the agent's variables by name: the dropper restores them
    assert "LANG" not in settings and "--bind" not in settings
    assert sorted(value for key, value in settings.items() if key.startswith("TWINBENCH_AGENT_ENV_")) == [
        "--bind=/ /x",
        "LANG=C",
    ]
    assert "--clearenv" in argv and _mounts(argv)["/usr/bin/jq"] == str(copy)
    launch = argv[argv.index("/run/twinbench/launch") :]
    assert launch[1:3] == ["-1", "-1"]  # the launcher keeps root; the dropper changes uid before main
    without_dropper = reference_command(
        layout,
        room.model_copy(update={"dropper": None}),
        bwrap="bwrap",
        privileged=True,
        uid=5001,
        gid=5000,
        env={"A": "1"},
        agent_env={"A": "agent's", "LANG": "C"},
        limits=load_task(DEMO_TASK).task.limits.test,
        cwd="/workspace",
        argv=["jq"],
        seccomp_fd=None,
    )
    launch = without_dropper[without_dropper.index("/run/twinbench/launch") :]
    assert launch[1:3] == ["5001", "5000"] and "TWINBENCH_RUN_AS" not in without_dropper
    settings = {
        without_dropper[i + 1]: without_dropper[i + 2] for i, item in enumerate(without_dropper) if item == "--setenv"
    }
    assert settings == {"A": "1", "LANG": "C"}  # no root phase: the agent's variables go as they are


def test_package_binaries_are_the_elf_files_of_the_package_only() -> None:
    jq = Path("/usr/bin/jq").resolve()
    found = package_binaries(
        (Path("/usr/bin/jq"), Path("/usr/lib/x86_64-linux-gnu/libjq.so.1"), Path("/usr/share/doc/jq/README")), jq
    )
    assert found == [Path("/usr/lib/x86_64-linux-gnu/libjq.so.1").resolve()]
    assert is_dynamic(jq) and not is_dynamic(Path("/usr/share/doc/jq/README"))


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bubblewrap")
def test_a_reference_whose_dropper_cannot_load_never_runs_as_root(tmp_path: Path) -> None:
    """If the uid dropper were missing, ld.so would only warn and run the program as root: the launcher refuses."""
    launcher = ensure_launcher()
    assert launcher is not None
    broker_dir = tmp_path / "b"
    broker_dir.mkdir()
    shutil.copy(launcher, broker_dir / "launch")
    for name in ("w", "t", "h"):
        (tmp_path / name).mkdir()
    layout = RoomLayout(
        workspace=tmp_path / "w", tmp=tmp_path / "t", home=tmp_path / "h", docs=None, broker_dir=broker_dir
    )
    dropper = ensure_dropper()
    assert dropper is not None
    room = ReferenceRoom(binary=Path("/usr/bin/id"), execute_only={}, dropper=dropper)
    argv = reference_command(
        layout,
        room,
        bwrap="bwrap",
        privileged=True,
        uid=45001,
        gid=45000,
        env={"PATH": "/usr/bin"},
        agent_env={},
        limits=load_task(DEMO_TASK).task.limits.test,
        cwd="/workspace",
        argv=["id", "-u"],
        seccomp_fd=None,
    )
    working = subprocess.run(argv, capture_output=True, text=True, pass_fds=())
    assert working.stdout.strip() == "45001", working.stderr
    bind = argv.index(DROPPER) - 2  # drop "--ro-bind <dropper> DROPPER": the library is missing in the room
    broken = argv[:bind] + argv[bind + 3 :]
    refused = subprocess.run(broken, capture_output=True, text=True)
    assert refused.returncode != 0 and refused.stdout.strip() != "0"


def test_a_reference_kept_in_a_shared_directory_is_moved_out_of_the_agents_view() -> None:
    """Regression: a reference under /tmp was bound at its own path, inside the room's /tmp that the agent
    shares, so bwrap made its parents there (root, 0700) and the reference could not even be started."""
    assert reference_path(Path("/usr/bin/jq")) == Path("/usr/bin/jq")
    for shared in ("/tmp/build/greet", "/workspace/greet", "/home/agent/bin/greet", "/run/twinbench/greet"):
        moved = reference_path(Path(shared))
        assert moved.parent == Path(REFERENCE_DIR) and moved.name.endswith("-greet"), moved
    assert reference_path(Path("/tmp/a/greet")) != reference_path(Path("/tmp/b/greet"))


def test_seccomp_filter_is_built_for_known_machines_only() -> None:
    from twinbench.sandbox.seccomp import filter_program

    for machine in ("x86_64", "aarch64"):
        program = filter_program(machine)
        assert program is not None and len(program) % 8 == 0 and len(program) // 8 < 64
    assert filter_program("sparc64") is None


def test_files_under_a_hidden_directory_get_no_mount_of_their_own() -> None:
    """Regression: a hidden directory became a tmpfs, then each of its files a /dev/null bind on that tmpfs,
    which put every file name back (and cost a mount each)."""
    _, bound = system_binds()
    directory = Path("/usr/share/doc/figlet").resolve()
    # the directory and one of its files: the file list alone would not make the directory "fully hidden"
    first_file = sorted(directory.iterdir())[0]
    mounts = _mounts(hiding_args((directory, first_file), (), bound))
    assert mounts == {str(directory): "tmpfs"}
