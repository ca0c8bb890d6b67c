"""Grade a submission on a task: build it, run every test in the sandbox, score, write results."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

import twinbench
from twinbench.formats import (
    BuildRecord,
    EvalResult,
    FormatError,
    GradingLimits,
    TaskDir,
    TestCase,
    TestResult,
    TestStatus,
    load_suite,
    suite_digest,
    write_text_atomic,
)
from twinbench.grade.build import build_submission
from twinbench.grade.judge import judge
from twinbench.grade.junit import write_junit
from twinbench.grade.submission import submission_digest, unpack_submission
from twinbench.protocols import Sandbox
from twinbench.reference import hidden_paths_for
from twinbench.sandbox import ExecResult, SessionConfig
from twinbench.sandbox.pool import run_many
from twinbench.sandbox.testrun import request_for

JOURNAL = "progress.jsonl"
PACKAGE_DIR = Path(twinbench.__file__).resolve().parent
ProgressCallback = Callable[[TestResult], None]


class EvalOptions(BaseModel):
    """How one evaluation runs."""

    workers: int = max(1, os.cpu_count() or 1)
    force: bool = False


def evaluate(
    task_dir: TaskDir,
    submission: Path,
    out_dir: Path,
    sandbox: Sandbox,
    options: EvalOptions | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> EvalResult:
    """Build and grade; always writes out_dir/eval.json and junit.xml, resuming finished tests."""
    options = options or EvalOptions()
    started = time.monotonic()
    grading = task_dir.task.limits.grading
    stopper = GradingStop(grading, deadline=started + grading.wall_s)
    suite = load_suite(task_dir.suite_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    submission = submission.resolve()
    identity = {
        "submission_sha256": submission_digest(submission),
        "suite_sha256": suite_digest(task_dir.suite_path),
    }
    finished = {} if options.force else _read_journal(out_dir / JOURNAL, identity)
    hidden = hidden_paths_for(task_dir.task.reference)
    private = (
        task_dir.root,
        out_dir.resolve(),
        PACKAGE_DIR,
        submission if submission.is_dir() else submission.parent,
    )

    build = _reuse_build(out_dir, identity) if not options.force else None
    if build is None:
        source = unpack_submission(submission, out_dir / "source", task_dir.task.limits.grading.archive)
        build = build_submission(source, out_dir / "build", sandbox, task_dir.task.limits.build, hidden, private)
        (out_dir / "build" / "identity.json").write_text(json.dumps(identity), encoding="utf-8")
        finished = {}
    results: dict[str, TestResult] = {}
    if not build.ok:
        for case in suite.cases:
            results[case.id] = TestResult(
                id=case.id, group=case.group, status=TestStatus.not_run, reason="build failed"
            )
    else:
        todo = interleave_groups([case for case in suite.cases if case.id not in finished])
        results.update({case.id: finished[case.id] for case in suite.cases if case.id in finished})
        if on_start is not None:
            on_start(len(todo))
        stopper.observe(list(results.values()))
        if stopper.reason is None:
            _run_tests(
                task_dir,
                todo,
                out_dir,
                sandbox,
                options.workers,
                hidden,
                private,
                identity,
                results,
                on_progress,
                stopper,
            )
        for case in todo:
            if case.id not in results:
                results[case.id] = TestResult(
                    id=case.id, group=case.group, status=TestStatus.not_run, reason=stopper.reason or "not run"
                )

    ordered = [results[case.id] for case in suite.cases]
    result = EvalResult.scored(
        ordered,
        task=task_dir.task.id,
        submission=str(submission),
        build=build,
        sandbox=sandbox.name,
        memory_accounting=sandbox.memory_accounting,
        workers=options.workers,
        seconds=round(time.monotonic() - started, 3),
        twinbench_version=twinbench.__version__,
        stopped=stopper.reason or "",
        **identity,
    )
    write_text_atomic(out_dir / "eval.json", result.model_dump_json(indent=2))
    write_junit(result, out_dir / "junit.xml")
    return result


def _run_tests(
    task_dir: TaskDir,
    cases: list[TestCase],
    out_dir: Path,
    sandbox: Sandbox,
    workers: int,
    hidden: tuple[Path, ...],
    private: tuple[Path, ...],
    identity: dict[str, str],
    results: dict[str, TestResult],
    on_progress: ProgressCallback | None,
    stopper: GradingStop,
) -> None:
    task = task_dir.task
    config = SessionConfig(
        tree=out_dir / "build" / "tree",
        hidden_paths=hidden,
        private_dirs=private,
        disk_mb=task.limits.test.disk_mb,
    )
    by_id = {case.id: case for case in cases}
    journal_path = out_dir / JOURNAL
    fresh = not journal_path.exists() or not results
    with journal_path.open("w" if fresh else "a", encoding="utf-8") as journal:
        if fresh:
            journal.write(json.dumps({"identity": identity}) + "\n")
            for done in results.values():
                journal.write(done.model_dump_json() + "\n")

        def record(case_id: str, observed: ExecResult) -> None:
            verdict = judge(by_id[case_id], observed)
            results[case_id] = verdict
            journal.write(verdict.model_dump_json() + "\n")
            journal.flush()
            stopper.observe([verdict])
            if on_progress is not None:
                on_progress(verdict)

        jobs = ((case.id, request_for(task, case)) for case in cases)
        run_many(sandbox, config, jobs, workers, record, stop=lambda: stopper.reason is not None)


class GradingStop:
    """Decides when a grading stops starting tests: at its wall limit, or when the first tests all time out.

    Tests already running when it decides still finish and count; the ones never started are recorded
    not_run with `reason`. A resumed grading counts the results it resumed from.
    """

    def __init__(self, limits: GradingLimits, deadline: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._deadline = deadline
        self._clock = clock
        self._finished = 0
        self._only_timeouts = True
        self.reason: str | None = None

    def observe(self, verdicts: list[TestResult]) -> None:
        """Count finished tests and decide whether to stop."""
        for verdict in verdicts:
            self._finished += 1
            self._only_timeouts = self._only_timeouts and verdict.status == TestStatus.timeout
        if self.reason is not None:
            return
        if self._clock() >= self._deadline:
            self.reason = f"not run: the grading reached its wall limit of {self._limits.wall_s:g}s"
        elif (
            self._limits.stop_after_timeouts
            and self._only_timeouts
            and self._finished >= self._limits.stop_after_timeouts
        ):
            self.reason = f"not run: the first {self._finished} tests to finish all timed out"


def interleave_groups(cases: list[TestCase]) -> list[TestCase]:
    """The cases in round-robin order over their groups (suite order within a group), so that the first tests
    to run sample every group: a submission that hangs on one feature is not stopped as one that hangs on all."""
    by_group: dict[str, list[TestCase]] = {}
    for case in cases:
        by_group.setdefault(case.group, []).append(case)
    columns = list(by_group.values())
    return [column[row] for row in range(max(map(len, columns), default=0)) for column in columns if row < len(column)]


def _read_journal(path: Path, identity: dict[str, str]) -> dict[str, TestResult]:
    """Tests already graded for this exact submission and suite; harness errors are retried."""
    if not path.exists():
        return {}
    finished: dict[str, TestResult] = {}
    with path.open(encoding="utf-8") as journal:
        lines = journal.read().splitlines()
    if not lines:
        return {}
    try:
        if json.loads(lines[0]).get("identity") != identity:
            return {}
    except (json.JSONDecodeError, AttributeError):
        return {}
    for line in lines[1:]:
        try:
            test = TestResult.model_validate_json(line)
        except ValidationError:
            continue  # a line cut short by a crash is simply run again
        if test.status not in (TestStatus.error, TestStatus.not_run):
            finished[test.id] = test
    return finished


def _reuse_build(out_dir: Path, identity: dict[str, str]) -> BuildRecord | None:
    build_dir = out_dir / "build"
    try:
        if json.loads((build_dir / "identity.json").read_text(encoding="utf-8")) != identity:
            return None
        record = BuildRecord.model_validate_json((build_dir / "build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.ok and not (build_dir / "tree").is_dir():
        return None
    return record


__all__ = ["EvalOptions", "FormatError", "evaluate"]
