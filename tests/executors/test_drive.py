"""The driver's loop on the local executor, without Ray: retries, giving up with a reason, resume, Ctrl-C, install."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from twinbench.executors import (
    DriveInterrupted,
    LocalExecutor,
    Unit,
    UnitFiles,
    UnitOutcome,
    UnitWorkspace,
    drive,
    install_files,
)


def counted_unit(payload: dict[str, Any], workspace: UnitWorkspace) -> str:
    """Fails its first `fail_times` attempts (counted in a file), then writes result.txt and returns its text."""
    counter = Path(payload["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= payload["fail_times"]:
        raise RuntimeError(f"lost attempt {attempt}")
    (workspace.out / "result.txt").write_text(payload["text"])
    return str(payload["text"])


def waiting_unit(payload: dict[str, Any], workspace: UnitWorkspace) -> str:
    """Runs until the batch's stop signal, then hands in what it has."""
    Path(payload["started"]).touch()
    if not workspace.stop.wait(30):
        return "never stopped"
    (workspace.out / "partial.txt").write_text("stopped at its next step")
    return "stopped"


def _unit(tmp_path: Path, key: str, fail_times: int = 0) -> Unit:
    payload = {"counter": str(tmp_path / f"{key}.count"), "fail_times": fail_times, "text": f"result of {key}"}
    return Unit(key=key, function=counted_unit, payload=payload)


class Collected:
    """What drive handed back: results installed under `root`, failures with their outcomes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, Any] = {}
        self.failures: dict[str, UnitOutcome] = {}

    def result(self, unit: Unit, outcome: UnitOutcome) -> None:
        assert outcome.files is not None
        install_files(outcome.files, self.root / unit.key)
        self.results[unit.key] = outcome.value

    def failure(self, unit: Unit, outcome: UnitOutcome) -> None:
        self.failures[unit.key] = outcome


def test_a_lost_attempt_is_retried_and_its_result_counts_once(tmp_path: Path) -> None:
    got = Collected(tmp_path / "out")
    units = [_unit(tmp_path, "a", fail_times=1), _unit(tmp_path, "b")]
    tally = drive(LocalExecutor(2), units, is_finished=lambda _u: False, on_result=got.result, on_failure=got.failure)
    assert (tally.total, tally.ran, tally.retried, tally.failed, tally.skipped) == (2, 2, 1, 0, 0)
    assert got.results == {"a": "result of a", "b": "result of b"}
    assert (tmp_path / "out" / "a" / "result.txt").read_text() == "result of a"
    assert (tmp_path / "a.count").read_text() == "2"


def test_a_unit_lost_on_every_attempt_is_recorded_with_its_last_reason(tmp_path: Path) -> None:
    got = Collected(tmp_path / "out")
    retries: list[str] = []
    tally = drive(
        LocalExecutor(1),
        [_unit(tmp_path, "a", fail_times=10), _unit(tmp_path, "b")],
        is_finished=lambda _u: False,
        on_result=got.result,
        on_failure=got.failure,
        on_retry=lambda _unit, outcome: retries.append(outcome.error or ""),
        max_attempts=3,
    )
    assert (tally.ran, tally.retried, tally.failed) == (1, 2, 1)
    assert got.failures["a"].attempt == 3 and got.failures["a"].error == "RuntimeError: lost attempt 3"
    assert retries == ["RuntimeError: lost attempt 1", "RuntimeError: lost attempt 2"]
    assert (tmp_path / "a.count").read_text() == "3" and not (tmp_path / "out" / "a").exists()
    assert got.results == {"b": "result of b"}


def test_finished_units_are_skipped_and_never_run(tmp_path: Path) -> None:
    got = Collected(tmp_path / "out")
    tally = drive(
        LocalExecutor(2),
        [_unit(tmp_path, "done"), _unit(tmp_path, "todo")],
        is_finished=lambda unit: unit.key == "done",
        on_result=got.result,
        on_failure=got.failure,
    )
    assert (tally.total, tally.skipped, tally.ran) == (2, 1, 1)
    assert not (tmp_path / "done.count").exists() and list(got.results) == ["todo"]


def test_ctrl_c_cancels_queued_units_and_lets_running_ones_hand_in_what_they_have(tmp_path: Path) -> None:
    def waiting(key: str) -> Unit:
        return Unit(key=key, function=waiting_unit, payload={"started": str(tmp_path / f"{key}.started")})

    got = Collected(tmp_path / "out")
    running: list[int] = []

    def result(unit: Unit, outcome: UnitOutcome) -> None:
        got.result(unit, outcome)
        if unit.key == "quick":  # Ctrl-C arrives while two units run (one took quick's place) and two are queued
            while len(list(tmp_path.glob("*.started"))) < 2:
                threading.Event().wait(0.01)
            raise KeyboardInterrupt

    units = [waiting("long"), _unit(tmp_path, "quick"), *(waiting(f"queued{index}") for index in range(3))]
    with pytest.raises(DriveInterrupted) as stopped:
        drive(
            LocalExecutor(2),
            units,
            is_finished=lambda _u: False,
            on_result=result,
            on_failure=got.failure,
            on_interrupt=running.append,
        )
    tally = stopped.value.tally
    assert (tally.ran, tally.interrupted, tally.failed) == (3, 2, 0), tally
    assert running == [2]
    assert got.results == {"quick": "result of quick", "long": "stopped", "queued0": "stopped"}
    assert (tmp_path / "out" / "long" / "partial.txt").read_text() == "stopped at its next step"
    assert sorted(path.name for path in tmp_path.glob("*.started")) == ["long.started", "queued0.started"]


def test_install_replaces_an_earlier_attempt_whole_and_clears_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "task"
    (target / "old").mkdir(parents=True)
    (target / "old" / "stale.txt").write_text("from an attempt on a lost node")
    (target / "agent.json").write_text("{}")
    leftover = tmp_path / "runs" / ".task.in-abc.twinbench-tmp"  # a driver killed mid-install
    leftover.mkdir()
    scratch = tmp_path / "scratch"
    (scratch / "out").mkdir(parents=True)
    (scratch / "out" / "agent.json").write_text('{"finished": true}')
    install_files(UnitFiles(directory=scratch / "out", scratch=scratch), target)
    assert sorted(path.name for path in target.iterdir()) == ["agent.json"]
    assert (target / "agent.json").read_text() == '{"finished": true}'
    assert not scratch.exists() and not leftover.exists()
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["task"]


def test_a_tar_from_a_worker_installs_the_same_tree(tmp_path: Path) -> None:
    from twinbench.executors.units import pack_dir

    source = tmp_path / "source"
    (source / "build" / "tree").mkdir(parents=True)
    (source / "build" / "tree" / "executable").write_text("#!/bin/sh\n")
    (source / "build" / "tree" / "executable").chmod(0o755)
    (source / "build" / "tree" / "link").symlink_to("/usr/bin/python3")
    (source / "eval.json").write_text("{}")
    target = tmp_path / "target"
    install_files(UnitFiles(tar=pack_dir(source)), target)
    assert (target / "build" / "tree" / "executable").stat().st_mode & 0o777 == 0o755
    assert (target / "build" / "tree" / "link").readlink() == Path("/usr/bin/python3")
    assert (target / "eval.json").read_text() == "{}"
