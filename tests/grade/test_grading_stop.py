"""A grading has a wall limit of its own, and stops early when a submission times out on everything."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_submission
from tests.helpers_task import small_figlet_task
from twinbench.formats import GradingLimits, TaskLimits, TestCase, TestResult, TestStatus, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.grade.evaluate import GradingStop, interleave_groups
from twinbench.protocols import Sandbox

LOOP_FOREVER = "#!/bin/sh\nwhile :; do :; done\n"


def verdicts(*statuses: TestStatus) -> list[TestResult]:
    return [TestResult(id=f"t{i}", group="g", status=status) for i, status in enumerate(statuses)]


class FakeClock:
    """A clock the test moves by hand (GradingStop reads time through it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


T, P, F = TestStatus.timeout, TestStatus.passed, TestStatus.failed


@pytest.mark.parametrize(
    ("statuses", "after", "reason"),
    [
        ([T, T, T], 3, "not run: the first 3 tests to finish all timed out"),
        ([T, T], 3, None),  # not yet K
        ([T, P, T, T], 3, None),  # one test finished in time: the submission does not hang on everything
        ([F, T, T, T], 3, None),
        ([T, T, T, T], 0, None),  # 0 turns the rule off
        ([T], 1, "not run: the first 1 tests to finish all timed out"),
    ],
)
def test_early_stop_only_when_every_first_test_timed_out(
    statuses: list[TestStatus], after: int, reason: str | None
) -> None:
    stop = GradingStop(GradingLimits(stop_after_timeouts=after), deadline=1e18)
    for verdict in verdicts(*statuses):
        stop.observe([verdict])
    assert stop.reason == reason


def test_a_decision_to_stop_is_kept() -> None:
    stop = GradingStop(GradingLimits(stop_after_timeouts=2), deadline=1e18)
    stop.observe(verdicts(T, T))
    stop.observe(verdicts(P, P, P))
    assert stop.reason == "not run: the first 2 tests to finish all timed out"


def test_wall_limit_is_read_from_the_clock_at_each_result() -> None:
    clock = FakeClock()
    stop = GradingStop(GradingLimits(wall_s=30, stop_after_timeouts=0), deadline=clock.now + 30, clock=clock)
    stop.observe(verdicts(P))
    clock.now += 29.9
    stop.observe(verdicts(P))
    assert stop.reason is None
    clock.now += 0.1
    stop.observe([])  # reaching the deadline counts even before another result arrives
    assert stop.reason == "not run: the grading reached its wall limit of 30s"


def test_grading_limits_are_validated_with_defaults() -> None:
    limits = TaskLimits()
    assert limits.grading.wall_s == 3600 and limits.grading.stop_after_timeouts == 10
    assert limits.grading.archive.max_mb == 2048
    for bad in ({"wall_s": 0}, {"wall_s": -1}, {"stop_after_timeouts": -1}, {"wall_s": 10**9}, {"unknown": 1}):
        with pytest.raises(ValueError):
            GradingLimits.model_validate(bad)


def test_interleave_groups_samples_every_group_first() -> None:
    def case(case_id: str, group: str) -> TestCase:
        return TestCase.model_validate({"id": case_id, "group": group, "expect": {"exit_code": 0}})

    cases = [case("a1", "a"), case("a2", "a"), case("a3", "a"), case("b1", "b"), case("c1", "c"), case("c2", "c")]
    assert [c.id for c in interleave_groups(cases)] == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert interleave_groups([]) == []


@pytest.mark.slow
def test_a_submission_that_loops_forever_is_stopped_by_the_wall_limit(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=40, timeout_s=1, grading={"wall_s": 4, "stop_after_timeouts": 0})
    submission = write_submission(tmp_path / "sub", LOOP_FOREVER)
    result = evaluate(load_task(task), submission, tmp_path / "out", bwrap, EvalOptions(workers=2))
    # without the limit: 40 tests x 1 s / 2 workers = 20 s; with it, the tests started within 4 s time out
    # and the rest are never started (proved by the counts, not by a wall-time margin that load could break)
    counts = result.counts
    assert counts["not_run"] >= 20 and counts["timeout"] + counts["not_run"] == 40
    skipped = [t for t in result.tests if t.status == TestStatus.not_run]
    assert {t.reason for t in skipped} == {"not run: the grading reached its wall limit of 4s"}
    on_disk = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert on_disk["stopped"] == "not run: the grading reached its wall limit of 4s"
    assert on_disk["score"] == 0 and on_disk["total"] == 40


@pytest.mark.slow
def test_a_submission_that_times_out_on_everything_stops_early(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=40, timeout_s=1, grading={"stop_after_timeouts": 4})
    submission = write_submission(tmp_path / "sub", LOOP_FOREVER)
    result = evaluate(load_task(task), submission, tmp_path / "out", bwrap, EvalOptions(workers=2))
    # the fourth timeout stops it; each of the two workers may already have started its next test, which finishes
    assert 4 <= result.counts["timeout"] <= 6 and result.counts["not_run"] == 40 - result.counts["timeout"]
    assert result.stopped == "not run: the first 4 tests to finish all timed out"
    # a resumed grading sees the same timeouts and stops the same way, without running anything
    seen: list[str] = []
    again = evaluate(
        load_task(task),
        submission,
        tmp_path / "out",
        bwrap,
        EvalOptions(workers=2),
        on_progress=lambda t: seen.append(t.id),
    )
    assert seen == [] and again.counts == result.counts


@pytest.mark.slow
def test_a_partly_working_submission_is_not_stopped(tmp_path: Path, bwrap: Sandbox) -> None:
    # hangs on one feature only (-C, the first two tests of the suite): the first tests to run sample every
    # group, so they are not all timeouts, and every test runs (one worker, so that the order is fixed)
    program = '#!/bin/sh\n[ "$1" = -C ] && while :; do :; done\nexit 0\n'
    task = small_figlet_task(tmp_path / "task", count=12, timeout_s=1, grading={"stop_after_timeouts": 2})
    submission = write_submission(tmp_path / "sub", program)
    result = evaluate(load_task(task), submission, tmp_path / "out", bwrap, EvalOptions(workers=1))
    assert result.counts["not_run"] == 0 and result.stopped == ""
    assert result.counts["timeout"] == sum(1 for t in result.tests if t.group == "option-C") >= 3


@pytest.mark.slow
def test_eval_says_why_tests_were_not_run(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=6, timeout_s=1, grading={"stop_after_timeouts": 1})
    submission = write_submission(tmp_path / "sub", LOOP_FOREVER)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "twinbench.cli",
            "eval",
            str(task),
            str(submission),
            "-o",
            str(tmp_path / "out"),
            "-j",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    # the one worker may have started the next test before the first timeout was judged
    assert re.search(r"^  [45] tests not run: the first 1 tests to finish all timed out$", run.stdout, re.MULTILINE)
