"""A clean-room action is bounded as a whole by a cgroup of its own, like a grading sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinbench.agent.cleanroom import CleanRoom, CleanRoomSettings
from twinbench.formats import Limits, TaskDir
from twinbench.sandbox.cgroup import PREFIX, RLIMIT_ONLY, accounting

HOARD = (
    "python3 -c 'import os\nheld = []\nfor i in range(40):\n"
    '    fd = os.memfd_create(str(i)); os.write(fd, bytes(50 << 20)); held.append(fd); print("held", i, flush=True)\n'
    'print("kept it all")\''
)


def test_an_action_hoarding_memfds_is_killed_and_its_cgroup_removed(figlet_task: TaskDir, tmp_path: Path) -> None:
    """Regression: memfds escape RLIMIT_AS, so an action could hold gigabytes past its memory limit."""
    if accounting().kind == RLIMIT_ONLY:
        pytest.skip(f"no cgroup accounting here: {accounting().reason}")
    limits = Limits(wall_s=60, cpu_s=60, memory_mb=256, processes=256, open_files=256, file_size_mb=64)
    parent = accounting().memory_parent
    assert parent is not None
    mine = f"{PREFIX}{os.getpid()}-"
    with CleanRoom(figlet_task, CleanRoomSettings(limits=limits), log_dir=tmp_path) as room:
        hoard = room.execute(HOARD)
        where = room.execute("cat /proc/self/cgroup")
    assert "kept it all" not in hoard.output and "held 0" in hoard.output, hoard.output
    assert "went over the memory limit" in hoard.output, hoard.output
    assert where.output.count(f"/{mine}") == 2, where.output  # memory and pids
    assert not [child for child in parent.iterdir() if child.name.startswith(mine)]
