"""The room's life: its bounded disk, sweeps of dead rooms, odd harness states, its uids, failed
opens and closing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    nothing_left,
    run,
    uid_processes,
    wait_for,
)

from tests.conftest import REFERENCE_UID
from twinbench.agent.cleanroom import CleanRoom, CleanRoomSettings
from twinbench.formats import ActionResult, TaskDir

pytestmark = CLEAN_ROOM_MARKS


def test_room_disk_is_a_filesystem_of_the_limits_size(jq_task: TaskDir, tmp_path: Path) -> None:
    """Regression: disk use was checked only after each action, so one action wrote 7.5 GB against a 4 GB
    limit, and empty files never showed in the byte count. As root the room's files now live on an ext4
    image of the limit's size: writes past it fail with ENOSPC, inodes run out too, and the reference's
    writes count as well."""
    with CleanRoom(jq_task, CleanRoomSettings(disk_mb=64), log_dir=tmp_path) as room:
        assert room.disk is not None, room.disk_fallback
        result = run(
            room,
            "head -c 200M /dev/zero > /workspace/big; echo big=$?; rm -f /workspace/big; "
            "head -c 40M /dev/zero > /tmp/a; head -c 40M /dev/zero > ~/b; echo split=$?; rm -f /tmp/a ~/b; "
            "mkdir many; cd many; i=0; while : > f$i 2>/dev/null; do i=$((i+1)); done; echo files=$i; cd ..; "
            "rm -rf many; ./executable -n '\"x\" * 100000000' > out.json; echo reference=$?",
        )
        assert "big=1" in result.output and "split=1" in result.output, result.output
        assert "No space left on device" in result.output
        files = int(result.output.split("files=")[1].split()[0])
        assert 1000 < files < 100_000, result.output  # a 64 MB ext4 has some 16,000 inodes
        assert room.disk_used_mb() <= 64
        root = room.root
        assert root is not None
    assert not root.exists()  # unmounted and removed with the room


def test_without_a_bounded_disk_the_room_is_watched_during_actions(
    jq_task: TaskDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no filesystem can be mounted, disk use is walked every few seconds during an action, which is
    killed once the room is over its limit; more files than can be counted count as a full room."""
    from twinbench.agent import cleanroom
    from twinbench.sandbox.disk import BoundedDisk

    monkeypatch.setattr(BoundedDisk, "mount", lambda self: "no loop devices (simulated)")
    monkeypatch.setattr(cleanroom, "DISK_WATCH_INTERVAL_S", 0.5)
    with CleanRoom(jq_task, CleanRoomSettings(disk_mb=32), log_dir=tmp_path) as room:
        assert room.disk is None and room.disk_fallback == "no loop devices (simulated)"
        result = room.execute("for i in $(seq 40); do head -c 4M /dev/zero > f$i; sleep 0.2; done; echo finished")
        assert "went over its disk limit of 32 MB" in result.output and "finished" not in result.output
        assert not (room.workspace / "f40").exists() and result.returncode == -9
        run(room, "rm -f f*")
        monkeypatch.setattr(cleanroom, "MAX_COUNTED_ENTRIES", 100)
        run(room, "touch $(seq 150)")
        assert room.disk_used_mb() > 32


def test_rooms_of_a_killed_harness_are_swept(jq_task: TaskDir, tmp_path: Path) -> None:
    """A harness killed with -9 leaves its room (and, as root, a mounted disk) behind; the next room it
    opens sweeps directories whose owner process is gone, and only those."""
    from twinbench.sandbox.disk import OWNER_FILE, BoundedDisk, mark_owner, sweep_stale

    stale = Path(tempfile.mkdtemp(prefix="twinbench-room-"))
    (stale / OWNER_FILE).write_text("999999999:1")
    disk = BoundedDisk(stale, 16)
    assert disk.mount() is None
    (disk.path / "left.txt").write_text("left behind")
    live = Path(tempfile.mkdtemp(prefix="twinbench-room-"))
    live_lock = mark_owner(live)
    unowned = Path(tempfile.mkdtemp(prefix="twinbench-reference-"))
    try:
        removed = sweep_stale()
        assert stale in removed and not stale.exists()
        assert live.exists() and unowned.exists() and live not in removed
        assert not any(str(stale) in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
    finally:
        os.close(live_lock)
        for directory in (live, unowned):
            shutil.rmtree(directory, ignore_errors=True)


def test_a_sweep_during_a_claim_leaves_the_claimed_directory_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the owner file was created, then locked; a sweep of another harness between the two
    found it unlocked and deleted the room being opened (an agent batch's run ended in HarnessError under
    load). Here the sweep runs at the claim's first lock, the worst moment."""
    from twinbench.sandbox import disk

    claimed = tmp_path / "twinbench-room-claimed"
    claimed.mkdir()
    real_flock = disk.fcntl.flock
    swept: list[list[Path]] = []

    def flock_after_a_sweep(fd: int, operation: int) -> None:
        if not swept:
            swept.append(disk.sweep_stale(tmp_path))
        real_flock(fd, operation)

    monkeypatch.setattr(disk.fcntl, "flock", flock_after_a_sweep)
    owner = disk.mark_owner(claimed)
    try:
        assert swept == [[]] and claimed.is_dir()
        assert sorted(path.name for path in claimed.iterdir()) == [disk.OWNER_FILE]
        monkeypatch.setattr(disk.fcntl, "flock", real_flock)
        assert disk.sweep_stale(tmp_path) == [] and claimed.is_dir()
    finally:
        os.close(owner)
    assert disk.sweep_stale(tmp_path) == [claimed] and not claimed.exists()


def test_a_sweep_from_another_pid_namespace_leaves_live_rooms_alone(jq_room: CleanRoom) -> None:
    """Regression: liveness was a pid and its start time, which mean nothing in another pid namespace, so a
    harness in a container swept a live room (broker socket included). The owner file is now locked for
    the room's life, and the kernel drops the lock only when its owner is gone."""
    assert jq_room.root is not None
    sweep = "from twinbench.sandbox.disk import sweep_stale; print(sweep_stale())"
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", sweep],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(jq_room.root) not in result.stdout and jq_room.root.is_dir()
    assert run(jq_room, "./executable -n '6 * 7'").output == "42\n"


def test_a_harness_started_with_its_stdio_closed_still_sandboxes(tmp_path: Path) -> None:
    """Regression: with fds 0-2 closed, the seccomp filter's memfd became fd 0, which subprocess then
    replaced with the action's stdin, so bwrap read /dev/null as its filter and every action failed."""
    script = tmp_path / "closed_stdio.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys
            from twinbench.agent.cleanroom import CleanRoom
            from twinbench.demo import DEMO_TASK
            from twinbench.formats import load_task
            result = open(sys.argv[1], "w")
            with CleanRoom(load_task(DEMO_TASK)) as room:
                for fd in (0, 1, 2):
                    os.close(fd)
                output = room.execute("./executable hi | head -1; echo rc=$?").output
            result.write(output)
            result.close()
            """
        )
    )
    result_path = tmp_path / "result.txt"
    subprocess.run([sys.executable, str(script), str(result_path)], timeout=120, check=True)
    assert result_path.read_text().splitlines() == [" _     _ ", "rc=0"], result_path.read_text()


def test_the_room_uids_are_not_the_grading_uid(jq_room: CleanRoom) -> None:
    """Regression: the agent ran as the grading sandbox's candidate uid, so RLIMIT_NPROC (counted per uid) let
    an agent's processes fail tests graded beside it (agent batch --then-eval)."""
    from twinbench.sandbox import candidate_uid

    assert candidate_uid() not in (jq_room.agent_uid, jq_room.reference_uid)
    assert jq_room.agent_uid != jq_room.reference_uid


def room_mounts() -> set[str]:
    """Mount points of clean-room disks on this machine."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split()[4] for line in lines if "twinbench-room-" in line}


def test_a_room_that_fails_to_open_leaves_nothing_behind(jq_task: TaskDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a failure after the disk was mounted (a TMPDIR too long for the broker's socket path, say)
    left the loop mount and the room's directory behind, because close() never ran."""
    from twinbench.agent.broker import ReferenceBroker

    def refuse(self: ReferenceBroker) -> None:
        raise OSError("AF_UNIX path too long")

    monkeypatch.setattr(ReferenceBroker, "start", refuse)
    # this room's own directory, whatever rooms other tests (other workers) open meanwhile
    made: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    room = CleanRoom(jq_task)
    with pytest.raises(OSError, match="AF_UNIX path too long"):
        room.open()
    monkeypatch.undo()
    rooms = [path for path in made if Path(path).name.startswith("twinbench-room-")]
    assert len(rooms) == 1 and not Path(rooms[0]).exists(), rooms
    assert room.root is None and room.disk is None
    assert not [mount for mount in room_mounts() if mount.startswith(rooms[0])]


def test_closing_the_room_removes_its_files_and_stops_the_reference(jq_task: TaskDir, tmp_path: Path) -> None:
    """close() kills a reference still running, removes the room's directories, the socket and the copies."""
    room = CleanRoom(jq_task, log_dir=tmp_path)
    room.open()
    assert room.layout is not None and room.broker is not None
    root = room.workspace.parent
    socket_path = room.broker.socket_path
    copies = list(room.broker.room.execute_only.values())
    assert root.is_dir() and socket_path.is_socket() and len(copies) == 2  # jq and libjq
    box: dict[str, ActionResult] = {}
    command = "./executable -n 'last(repeat(1))'; echo \"client=$?\""
    thread = threading.Thread(target=lambda: box.update(result=room.execute(command, timeout_s=60)))
    thread.start()
    try:
        assert wait_for(lambda: uid_processes(REFERENCE_UID))
    finally:
        room.close()
        thread.join(60)
    assert box["result"].output.strip().endswith("client=137"), box["result"].output
    assert not root.exists() and not socket_path.exists()
    assert not [copy for copy in copies if copy.exists() or copy.parent.exists()]
    assert wait_for(lambda: nothing_left(room))
    with pytest.raises(RuntimeError):
        room.execute("true")
