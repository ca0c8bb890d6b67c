"""`twinbench programbench eval`: grade a ProgramBench-layout run and write both tools' result files.

OUT/<iid>/<iid>.eval.json   ProgramBench's EvaluationResult (loads with its own model)
OUT/<iid>/eval.json         twinbench's EvalResult over the counted tests (active branches, not ignored)
OUT/_stats/score.json       {iid: {"branch/test": passed}}, as `programbench submit package` writes it
OUT/summary.json            the headline: mean score, resolved %, near-resolved %, over every task
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

import twinbench
from twinbench.formats import (
    BuildRecord,
    EvalResult,
    FormatError,
    TestResult,
    TestStatus,
    write_text_atomic,
)
from twinbench.interop.programbench.branch import BranchOutcome
from twinbench.interop.programbench.grade import GradeOptions, find_submission, grade_instance
from twinbench.interop.programbench.models import (
    Headline,
    PBEvaluationResult,
    PBTestResult,
    counted_results,
    headline,
    score_from_tests,
)
from twinbench.interop.programbench.task import PB_DIR, TESTS_JSON, PBTask, load_pb_task
from twinbench.protocols import Sandbox

STATUS_MAP = {
    "passed": TestStatus.passed,
    "failure": TestStatus.failed,
    "error": TestStatus.failed,
    "skipped": TestStatus.not_run,
    "system_error": TestStatus.error,
    "not_run": TestStatus.not_run,
}


class InstanceSummary(BaseModel):
    """One task's line in summary.json."""

    iid: str
    score: float
    passed: int
    total: int
    error_code: str | None = None
    seconds: float = 0.0
    resumed: bool = Field(default=False, description="kept from an earlier grading of the same submission")


class RunSummary(BaseModel):
    """summary.json of a graded run."""

    headline: Headline
    instances: list[InstanceSummary] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict, description="instance dirs not graded, and why")
    seconds: float = 0.0


def load_tasks(tasks_dir: Path) -> tuple[dict[str, PBTask], dict[str, str]]:
    """Imported tasks under `tasks_dir` by instance id, and the dirs that are not tasks with the reason."""
    if not tasks_dir.is_dir():
        raise FormatError(f"{tasks_dir} is not a directory of imported tasks")
    tasks: dict[str, PBTask] = {}
    problems: dict[str, str] = {}
    for path in sorted(tasks_dir.iterdir()):
        if not path.is_dir():
            continue
        try:
            task = load_pb_task(path)
        except FormatError as exc:
            problems[path.name] = str(exc)
            continue
        tasks[task.iid] = task
    return tasks, problems


def grade_run(
    run_dir: Path,
    tasks_dir: Path,
    out_dir: Path,
    sandbox: Sandbox,
    options: GradeOptions,
    n_total: int | None = None,
    force: bool = False,
    on_instance: Callable[[InstanceSummary], None] | None = None,
    on_branch: Callable[[BranchOutcome], None] | None = None,
) -> RunSummary:
    """Grade every `<iid>/submission.*` of `run_dir` whose task is in `tasks_dir`; write all result files.
    A task already graded for the same submission (same sha256) without a harness error is kept, unless
    `force`."""
    started = time.monotonic()
    if not run_dir.is_dir():
        raise FormatError(f"{run_dir} is not a run directory")
    tasks, _problems = load_tasks(tasks_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(headline=headline({}, n_total or len(tasks)))
    score_map: dict[str, dict[str, bool]] = {}
    for instance_dir in sorted(path for path in run_dir.iterdir() if path.is_dir() and not path.name.startswith("_")):
        iid = instance_dir.name
        submission = find_submission(instance_dir)
        if submission is None:
            summary.skipped[iid] = "no submission.tar.gz or submission.zip"
            continue
        task = tasks.get(iid)
        if task is None:
            summary.skipped[iid] = f"no imported task {iid} under {tasks_dir}"
            continue
        instance_started = time.monotonic()
        target = out_dir / iid
        target.mkdir(parents=True, exist_ok=True)
        previous = None if force else _finished(target, iid, submission)
        if previous is not None:
            score_map[iid] = counted_results(previous, task.tests)
            line = InstanceSummary(
                iid=iid,
                score=score_from_tests(score_map[iid]),
                passed=sum(score_map[iid].values()),
                total=len(score_map[iid]),
                error_code=previous.error_code,
                resumed=True,
            )
            summary.instances.append(line)
            if on_instance is not None:
                on_instance(line)
            continue
        work = target / "work"
        try:
            result, build = grade_instance(task, submission, work, sandbox, options, on_branch)
        finally:
            # the built tree can be large; what the grade needs of it (hash, logs) is in the result
            shutil.rmtree(work, ignore_errors=True)
        counted = counted_results(result, task.tests)
        score_map[iid] = counted
        write_text_atomic(target / f"{iid}.eval.json", result.model_dump_json(indent=2))
        seconds = time.monotonic() - instance_started
        native = twinbench_result(task, submission, result, build, seconds)
        write_text_atomic(target / "eval.json", native.model_dump_json(indent=2))
        line = InstanceSummary(
            iid=iid,
            score=score_from_tests(counted),
            passed=sum(counted.values()),
            total=len(counted),
            error_code=result.error_code,
            seconds=round(seconds, 3),
        )
        summary.instances.append(line)
        if on_instance is not None:
            on_instance(line)
    stats = out_dir / "_stats"
    stats.mkdir(exist_ok=True)
    write_text_atomic(stats / "score.json", json.dumps(score_map, indent=2, sort_keys=True))
    scores = {line.iid: line.score for line in summary.instances}
    summary.headline = headline(scores, n_total or len(tasks))
    summary.seconds = round(time.monotonic() - started, 3)
    write_text_atomic(out_dir / "summary.json", summary.model_dump_json(indent=2))
    return summary


HARNESS_ERRORS = {"harness_unavailable", "harness_timeout", "sandbox_failed"}


def _finished(target: Path, iid: str, submission: Path) -> PBEvaluationResult | None:
    """The earlier result for this very submission, if it was graded without a harness failure."""
    try:
        native = EvalResult.model_validate_json((target / "eval.json").read_text(encoding="utf-8"))
        result = PBEvaluationResult.model_validate_json((target / f"{iid}.eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if native.submission_sha256 != hashlib.sha256(submission.read_bytes()).hexdigest():
        return None
    codes = {error.error_code for errors in result.test_branch_errors.values() for error in errors}
    return None if codes & HARNESS_ERRORS else result


def twinbench_result(
    task: PBTask, submission: Path, result: PBEvaluationResult, build: BuildRecord, seconds: float
) -> EvalResult:
    """twinbench's eval.json for the tests ProgramBench counts (active branches, ignored tests left out)."""
    active = set(task.tests.active_branches())
    ignored = task.tests.ignored_full_names()
    tests = [
        _native_test(test) for test in result.test_results if test.branch in active and test.full_name not in ignored
    ]
    tests_json = task.task_dir.root / PB_DIR / TESTS_JSON
    suite_digest = hashlib.sha256(tests_json.read_bytes()).hexdigest() if tests_json.is_file() else ""
    return EvalResult.scored(
        tests,
        task=task.iid,
        submission=str(submission),
        submission_sha256=hashlib.sha256(submission.read_bytes()).hexdigest(),
        suite_sha256=suite_digest,
        build=build,
        sandbox="bwrap (programbench branches)",
        seconds=round(seconds, 3),
        twinbench_version=twinbench.__version__,
    )


def _native_test(test: PBTestResult) -> TestResult:
    extra = test.extra
    reason = str(extra.get("message") or extra.get("error_code") or extra.get("error_details") or "")
    if test.status == "skipped":
        reason = f"skipped: {reason}" if reason else "skipped"
    time_value = extra.get("time")
    return TestResult(
        id=test.full_name,
        group=test.branch,
        status=STATUS_MAP[test.status],
        reason=reason.splitlines()[0][:300] if reason else "",
        diff=str(extra.get("text") or "")[-2000:],
        seconds=float(time_value) if isinstance(time_value, int | float) else 0.0,
    )
