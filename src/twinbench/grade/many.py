"""Many gradings at once: every `<task>/submission.tar.gz` (or `<task>/submission/`) of a run dir, as units.

ProgramBench lays a run out as RUN_DIR/<task>/submission.tar.gz; each one is graded against
TASKS_DIR/<task> into OUT/<task>/eval/ (OUT defaults to RUN_DIR, where `agent run --then-eval` puts its
grading too), through an executor. The driver alone writes OUT; OUT/eval-summary.json says how each
task went and how many units ran, were retried, failed and were skipped.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.executors import (
    DriveInterrupted,
    ExecutorSettings,
    Unit,
    UnitOutcome,
    UnitResources,
    UnitTally,
    UnitWorkspace,
    install_files,
    lost_reason,
    run_on_executor,
)
from twinbench.formats import EvalResult, FormatError, load_task, suite_digest, write_text_atomic
from twinbench.grade.evaluate import EvalOptions, evaluate
from twinbench.grade.submission import submission_digest
from twinbench.sandbox import get_sandbox

EVAL_SUBDIR = "eval"
SUMMARY = "eval-summary.json"
SUMMARY_FORMAT = "twinbench-eval-batch-1"
SUBMISSION_ARCHIVE = "submission.tar.gz"
SUBMISSION_DIR = "submission"


class GradingEntry(BaseModel):
    """One task's line in eval-summary.json."""

    task: str
    status: str = Field(
        description="graded, skipped (graded before for this very submission and suite), invalid (no such task, "
        "a bad task or submission), error (harness errors in the grading, or every attempt lost), "
        "or pending (not done: the batch was interrupted first)"
    )
    message: str = ""
    submission: str = ""
    passed: int | None = None
    total: int | None = None
    score: float | None = None
    build_ok: bool | None = None
    seconds: float | None = None
    dir: str | None = Field(default=None, description="the grading's directory, relative to OUT")


class GradingSummary(BaseModel):
    """OUT/eval-summary.json: the batch's inputs, one entry per task, totals and the executor's tally."""

    format: str = SUMMARY_FORMAT
    tasks_dir: str
    run_dir: str
    started_at: str
    updated_at: str = ""
    tasks: list[GradingEntry] = Field(default_factory=list)
    graded: int = 0
    mean_score: float | None = None
    units: UnitTally = Field(default_factory=UnitTally)


class GradingBatchInterrupted(Exception):
    """Ctrl-C stopped the batch; `summary` says where each task was left (also in eval-summary.json)."""

    def __init__(self, summary: GradingSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


class GradingPayload(BaseModel):
    """What one grading unit needs besides its inputs (`task`, `submission`)."""

    sandbox: str = "bwrap"
    workers: int = Field(default=1, ge=1)
    submission_label: str = Field(description="the submission's path on the driver, recorded in eval.json")


class GradingReply(BaseModel):
    """What a grading unit returns: the result, or why the task or submission could not be graded."""

    result: EvalResult | None = None
    invalid: str | None = None


def grading_unit(payload: GradingPayload, workspace: UnitWorkspace) -> GradingReply:
    """Grade one submission into workspace.out, wherever the executor runs it."""
    submission = workspace.inputs["submission"]
    try:
        task_dir = load_task(workspace.inputs["task"])
        options = EvalOptions(workers=payload.workers)
        result = evaluate(task_dir, submission, workspace.out, get_sandbox(payload.sandbox), options)
    except FormatError as exc:  # the task's or the submission's fault: data, never a retry
        return GradingReply(invalid=str(exc).replace(str(submission), payload.submission_label))
    if result.submission != payload.submission_label:  # a copy shipped to this worker: record the driver's path
        result = result.model_copy(update={"submission": payload.submission_label})
        write_text_atomic(workspace.out / "eval.json", result.model_dump_json(indent=2))
    return GradingReply(result=result)


def find_submissions(run_dir: Path) -> dict[str, Path]:
    """Each task name of RUN_DIR with its submission: <task>/submission.tar.gz, else <task>/submission/."""
    if not run_dir.is_dir():
        raise FormatError(f"{run_dir} is not a directory")
    found: dict[str, Path] = {}
    for entry in sorted(run_dir.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        if (entry / SUBMISSION_ARCHIVE).is_file():
            found[entry.name] = entry / SUBMISSION_ARCHIVE
        elif (entry / SUBMISSION_DIR).is_dir():
            found[entry.name] = entry / SUBMISSION_DIR
    if not found:
        raise FormatError(f"{run_dir} holds no <task>/{SUBMISSION_ARCHIVE} or <task>/{SUBMISSION_DIR}/")
    return found


def select_tasks(names: list[str], pattern: str | None, window: str | None) -> list[str]:
    """The names matching `pattern` (re.search), then the `window` slice "A:B" of them (Python slice rules)."""
    if pattern is not None:
        try:
            matcher = re.compile(pattern)
        except re.error as exc:
            raise FormatError(f"--filter {pattern!r} is not a regular expression: {exc}") from None
        names = [name for name in names if matcher.search(name)]
    if window is not None:
        bounds = window.split(":")
        if len(bounds) != 2 or not all(re.fullmatch(r"-?\d*", bound) for bound in bounds):
            raise FormatError(f"--slice {window!r} is not START:END (e.g. 0:10, :5, 10:)")
        start, end = (int(bound) if bound else None for bound in bounds)
        names = names[start:end]
    return names


def grade_many(
    tasks_dir: Path,
    run_dir: Path,
    out_dir: Path | None = None,
    *,
    executor: ExecutorSettings | None = None,
    sandbox: str = "bwrap",
    workers_per_grading: int = 1,
    pattern: str | None = None,
    window: str | None = None,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[GradingEntry], None] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> GradingSummary:
    """Grade every selected submission of RUN_DIR; resumable: a grading already done for the same submission
    and suite, without harness errors, is skipped (`force` redoes all). Raises FormatError for bad input."""
    settings = executor or ExecutorSettings()
    out_dir = out_dir or run_dir
    if not tasks_dir.is_dir():
        raise FormatError(f"{tasks_dir} is not a directory")
    found = find_submissions(run_dir)
    names = select_tasks(list(found), pattern, window)
    if not names:
        raise FormatError(f"no task of {run_dir} is left after --filter/--slice")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FormatError(f"cannot use {out_dir} for results: {exc.strerror or exc}") from None
    summary = GradingSummary(tasks_dir=str(tasks_dir.resolve()), run_dir=str(run_dir.resolve()), started_at=_now())
    summary.units.executor = settings.kind.value
    entries: dict[str, GradingEntry] = {}
    units: list[Unit] = []
    for name in names:
        entry, unit = _plan(name, tasks_dir, found[name], out_dir, sandbox, workers_per_grading, force)
        entries[name] = entry
        if unit is not None:
            units.append(unit)
    lock = threading.Lock()
    _write_summary(out_dir, summary, entries, lock)
    if on_start is not None:
        on_start(len(names))
    for entry in entries.values():
        if entry.status != "pending" and on_done is not None:
            on_done(entry)

    def finish(entry: GradingEntry) -> None:
        with lock:
            entries[entry.task] = entry
        _write_summary(out_dir, summary, entries, lock)
        if on_done is not None:
            on_done(entry)

    def installed(unit: Unit, outcome: UnitOutcome) -> None:
        reply: GradingReply = outcome.value
        label = unit.payload.submission_label
        if reply.result is None:
            finish(GradingEntry(task=unit.key, status="invalid", message=reply.invalid or "", submission=label))
            return
        target = out_dir / unit.key / EVAL_SUBDIR
        try:
            if outcome.files is not None:
                install_files(outcome.files, target)
        except OSError as exc:
            finish(
                GradingEntry(task=unit.key, status="error", message=f"cannot write {target}: {exc}", submission=label)
            )
            return
        finish(_entry_from(unit.key, reply.result, target.relative_to(out_dir).as_posix()))

    def lost(unit: Unit, outcome: UnitOutcome) -> None:
        message = lost_reason(outcome)
        finish(GradingEntry(task=unit.key, status="error", message=message, submission=unit.payload.submission_label))

    def tallied(tally: UnitTally) -> GradingSummary:
        summary.units = tally.with_plan([entry.status for entry in entries.values()])
        return _write_summary(out_dir, summary, entries, lock)

    try:
        # _plan left the finished ones out
        tally = run_on_executor(settings, units, on_result=installed, on_failure=lost, on_interrupt=on_interrupt)
    except DriveInterrupted as exc:
        raise GradingBatchInterrupted(tallied(exc.tally)) from None
    return tallied(tally)


def _plan(
    name: str, tasks_dir: Path, submission: Path, out_dir: Path, sandbox: str, workers: int, force: bool
) -> tuple[GradingEntry, Unit | None]:
    """The entry of one task and, unless it is done or cannot be graded, its unit."""
    label = str(submission.resolve())
    task_path = tasks_dir / name
    if not (task_path / "task.yaml").is_file():
        return GradingEntry(
            task=name, status="invalid", message=f"no task {name} in {tasks_dir}", submission=label
        ), None
    try:
        task_dir = load_task(task_path)
        identity = (submission_digest(submission), suite_digest(task_dir.suite_path))
    except (FormatError, OSError) as exc:
        return GradingEntry(task=name, status="invalid", message=str(exc), submission=label), None
    target = out_dir / name / EVAL_SUBDIR
    done = None if force else _finished(target, identity)
    if done is not None:
        entry = _entry_from(name, done, target.relative_to(out_dir).as_posix())
        return entry.model_copy(update={"status": "skipped"}), None
    limits = task_dir.task.limits
    needs = UnitResources(
        cpus=float(workers),
        memory_mb=max(limits.build.memory_mb, limits.test.memory_mb),
        sandbox=sandbox != "unsafe-local",
    )
    payload = GradingPayload(sandbox=sandbox, workers=workers, submission_label=label)
    unit = Unit(
        key=name,
        function=grading_unit,
        payload=payload,
        inputs={"task": task_dir.root, "submission": submission.resolve()},
        resources=needs,
    )
    return GradingEntry(task=name, status="pending", submission=label), unit


def _finished(target: Path, identity: tuple[str, str]) -> EvalResult | None:
    """The grading in `target` when it is complete, of this submission and suite, and free of harness errors."""
    try:
        result = EvalResult.model_validate_json((target / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (result.submission_sha256, result.suite_sha256) != identity or _harness_trouble(result):
        return None
    return result


def _harness_trouble(result: EvalResult) -> bool:
    return result.build.reason.startswith("harness:") or bool(result.counts.get("error", 0))


def _entry_from(name: str, result: EvalResult, directory: str) -> GradingEntry:
    return GradingEntry(
        task=name,
        status="error" if _harness_trouble(result) else "graded",
        message=f"{result.counts.get('error', 0)} test(s) hit harness errors" if _harness_trouble(result) else "",
        submission=result.submission,
        passed=result.passed,
        total=result.total,
        score=result.score,
        build_ok=result.build.ok,
        seconds=result.seconds,
        dir=directory,
    )


def _write_summary(
    out_dir: Path, summary: GradingSummary, entries: dict[str, GradingEntry], lock: threading.Lock
) -> GradingSummary:
    with lock:
        summary.tasks = [entries[name] for name in sorted(entries)]
        done = [entry for entry in summary.tasks if entry.status in ("graded", "skipped")]
        summary.graded = len(done)
        scores = [entry.score for entry in done if entry.score is not None]
        summary.mean_score = round(sum(scores) / len(scores), 4) if scores else None
        summary.updated_at = _now()
        write_text_atomic(out_dir / SUMMARY, json.dumps(summary.model_dump(mode="json"), indent=2) + "\n")
        return summary.model_copy(deep=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = [
    "GradingBatchInterrupted",
    "GradingEntry",
    "GradingSummary",
    "find_submissions",
    "grade_many",
    "grading_unit",
]
