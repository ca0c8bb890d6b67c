"""The reference the broker runs is bounded as a whole by a cgroup of its own, like a clean-room action."""

from __future__ import annotations

import os

import pytest

from twinbench.agent.cleanroom import CleanRoom
from twinbench.sandbox.cgroup import PREFIX, RLIMIT_ONLY, accounting


def test_the_reference_runs_in_a_cgroup_of_its_own_that_is_removed_after_the_call(jq_room: CleanRoom) -> None:
    """Regression: the broker's reference had rlimits only, so memfds and /dev/shm escaped its memory bound."""
    if accounting().kind == RLIMIT_ONLY:
        pytest.skip(f"no cgroup accounting here: {accounting().reason}")
    parent = accounting().memory_parent
    assert parent is not None
    mine = f"{PREFIX}{os.getpid()}-"
    # jq reads its own /proc/self/cgroup: the reference process's cgroups, not the action's
    where = jq_room.execute("./executable -R . /proc/self/cgroup; echo; cat /proc/self/cgroup")
    reference_part, _, action_part = where.output.partition("\n\n")
    reference_groups = {line.split(":")[-1] for line in reference_part.splitlines() if f"/{mine}" in line}
    action_groups = {line.split(":")[-1] for line in action_part.splitlines() if f"/{mine}" in line}
    assert len(reference_groups) == 1 and action_groups, where.output  # memory and pids share one name
    assert reference_groups.isdisjoint(action_groups), where.output
    assert not [child for child in parent.iterdir() if child.name.startswith(mine)]
