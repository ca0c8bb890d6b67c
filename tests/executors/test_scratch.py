"""Scratch dirs of units: a unit killed with its process leaves none behind for long, and a Ray worker
of another twinbench refuses to run units."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from twinbench.executors.units import SCRATCH_PREFIX, new_scratch, remove_scratch

KILLED_UNIT = """
import os
from twinbench.executors.units import new_scratch
scratch = new_scratch()
(scratch / "out").mkdir()
(scratch / "out" / "half-written").write_text("x" * 1000)
print(scratch, flush=True)
os._exit(9)  # no finally, no atexit: as a worker killed with -9
"""


@pytest.fixture
def worker_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_next_unit_removes_the_scratch_of_a_killed_one_and_only_that(worker_tmp: Path) -> None:
    """Regression: scratch dirs of Ray units whose worker was killed stayed in the worker's TMPDIR for good."""
    killed = subprocess.run([sys.executable, "-c", KILLED_UNIT], capture_output=True, text=True, check=False)
    assert killed.returncode == 9, killed.stderr
    left = Path(killed.stdout.strip())
    assert left.is_dir() and left.name.startswith(SCRATCH_PREFIX)
    running = new_scratch()
    try:
        assert not left.exists()
        following = new_scratch()  # a unit started while `running` runs leaves it alone
        assert running.is_dir() and following.is_dir()
        remove_scratch(following)
        assert not following.exists()
    finally:
        remove_scratch(running)
    assert sorted(worker_tmp.iterdir()) == []


def test_a_ray_worker_of_another_version_refuses_the_unit(worker_tmp: Path) -> None:
    pytest.importorskip("ray", reason="needs twinbench[ray]")
    from twinbench.executors.ray import WorkerVersionMismatch, run_on_worker, twinbench_version

    def never_run(payload: object, workspace: object) -> None:
        raise AssertionError("a unit ran on a worker of another version")

    older = "twinbench 0.0.1 (Python 3.9)"
    with pytest.raises(WorkerVersionMismatch, match=r"runs twinbench .*, the driver twinbench 0\.0\.1") as caught:
        run_on_worker(never_run, None, {}, older)
    assert "install the same twinbench" in str(caught.value) and twinbench_version() != older
    assert sorted(worker_tmp.iterdir()) == []  # refused before any scratch dir was made
