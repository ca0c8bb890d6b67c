"""Many agent runs: every task of a directory into RUN_DIR/<task id>/, resumable, with a run summary."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.agent.builtin import INTERRUPTED
from twinbench.agent.run import EVAL_DIR, AgentOptions, grade_run, read_record, run_agent
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
from twinbench.formats import (
    AgentRunRecord,
    EvalResult,
    FormatError,
    TaskDir,
    find_task_dirs,
    load_task,
    write_text_atomic,
)

SUMMARY = "summary.json"
SUMMARY_FORMAT = "twinbench-agent-batch-1"
# memory a unit reserves on a Ray node: the clean room's agent and reference, and a grading's sandboxes
AGENT_UNIT_MEMORY_MB = 4096


class BatchEntry(BaseModel):
    """One task's line in summary.json."""

    task: str
    status: str = Field(
        description="ran, graded (an earlier run's submission, graded now), skipped (finished before), "
        "invalid (bad task, duplicate id or directory), error, interrupted (Ctrl-C during the run), "
        "or pending (not started: the batch was interrupted first)"
    )
    exit_status: str | None = None
    message: str = ""
    score: float | None = None
    steps: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    reference_exposures: list[str] = Field(
        default_factory=list, description="what the broker could not seal on this machine (agent.json has it too)"
    )
    dir: str | None = None


class BatchSummary(BaseModel):
    """RUN_DIR/summary.json: the batch's settings, one entry per task, and totals."""

    format: str = SUMMARY_FORMAT
    tasks_dir: str
    model: str
    agent: str
    started_at: str
    updated_at: str = ""
    tasks: list[BatchEntry] = Field(default_factory=list)
    finished: int = 0
    submitted: int = 0
    mean_score: float | None = None
    cost_usd: float = 0.0
    units: UnitTally = Field(default_factory=UnitTally, description="what the executor ran, retried, failed, skipped")


class BatchInterrupted(Exception):
    """Ctrl-C stopped the batch; summary.json says where each task was left, and `summary` holds it."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


def find_tasks(tasks_dir: Path) -> list[Path]:
    """Task directories directly under TASKS_DIR (each holds a task.yaml), sorted by name."""
    found = find_task_dirs(tasks_dir)
    if not found:
        raise FormatError(f"{tasks_dir} holds no task directories (no */task.yaml)")
    return found


def select_tasks(paths: list[Path], selection: str) -> list[Path]:
    """The task directories whose name matches `selection`: comma-separated patterns, each a regular
    expression matched against the whole name (so a plain id selects just that task)."""
    patterns = [part.strip() for part in selection.split(",") if part.strip()]
    if not patterns:
        raise FormatError("--tasks is empty: give task ids or regular expressions, comma-separated")
    try:
        compiled = [re.compile(pattern) for pattern in patterns]
    except re.error as exc:
        raise FormatError(f"--tasks {selection!r}: not a valid regular expression ({exc})") from None
    chosen = [path for path in paths if any(pattern.fullmatch(path.name) for pattern in compiled)]
    if not chosen:
        raise FormatError(f"--tasks {selection!r} selects none of the {len(paths)} tasks")
    return chosen


class AgentUnitPayload(BaseModel):
    """What one agent-run unit needs besides its inputs (task, and for a grading the earlier run)."""

    options: AgentOptions
    grade_only: bool = Field(default=False, description="grade an earlier run's submission, not run the agent")
    private_dirs: tuple[Path, ...] = Field(default=(), description="driver-side dirs hidden from the clean room")
    final_dir: Path = Field(description="where the driver installs this run: RUN_DIR/<task id>")


def agent_unit(payload: AgentUnitPayload, workspace: UnitWorkspace) -> AgentRunRecord:
    """One task of a batch, run where the executor put it: into workspace.out, which the driver installs."""
    task_dir = load_task(workspace.inputs["task"])
    if payload.grade_only:
        shutil.copytree(workspace.inputs["run"], workspace.out, symlinks=True, dirs_exist_ok=True)
        record = grade_run(task_dir, payload.options, workspace.out)
    else:
        # the scratch dir holds the shipped task (tests included): hidden as the driver's own dirs are
        private = (workspace.scratch, *payload.private_dirs)
        record = run_agent(task_dir, payload.options, workspace.out, private_dirs=private, stop=workspace.stop)
    _record_final_submission_path(workspace.out, payload.final_dir)
    return record


def _record_final_submission_path(out: Path, final_dir: Path) -> None:
    """eval.json names the submission it graded: its path once installed, not the scratch dir it was graded in."""
    path = out / EVAL_DIR / "eval.json"
    if not path.is_file():
        return
    result = EvalResult.model_validate_json(path.read_text(encoding="utf-8"))
    graded = Path(result.submission)
    if graded.is_relative_to(out):
        moved = result.model_copy(update={"submission": str(final_dir / graded.relative_to(out))})
        write_text_atomic(path, moved.model_dump_json(indent=2))


def run_batch(
    tasks_dir: Path,
    options: AgentOptions,
    run_dir: Path,
    *,
    selection: str | None = None,
    workers: int = 1,
    executor: ExecutorSettings | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[BatchEntry], None] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
) -> BatchSummary:
    """Run the agent on every task not finished yet, through an executor; summary.json is kept current.

    `workers` is how many runs the local executor runs at once (`executor` chooses another, or Ray). Each
    run happens in a scratch dir of its worker and comes back as data; this process alone writes RUN_DIR,
    replacing a task's directory whole. A run whose worker is lost is retried (`executor.max_attempts`),
    then recorded as an error with the reason. Ctrl-C cancels the tasks not started, tells the running
    ones to stop at their next step (`on_interrupt` gets how many), waits for them to record themselves
    as interrupted and close their clean rooms, writes summary.json and raises BatchInterrupted.
    """
    settings = executor or ExecutorSettings(local_workers=max(1, workers))
    paths = find_tasks(tasks_dir)
    if selection is not None:
        paths = select_tasks(paths, selection)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FormatError(f"cannot use {run_dir} as the run directory: {exc.strerror or exc}") from None
    now = _now()
    summary = BatchSummary(
        tasks_dir=str(tasks_dir.resolve()), model=options.model, agent=options.agent.value, started_at=now
    )
    summary.units.executor = settings.kind.value
    lock = threading.Lock()
    # task ids (and keys of _plan's invalid entries, which cannot collide with them) to entries
    entries: dict[str, BatchEntry] = {}
    ids: dict[str, Path] = {}
    todo: list[TaskDir] = []
    # real directories first, so that a link to one is the duplicate, never the directory itself
    for path in sorted(paths, key=lambda path: (path.is_symlink(), path.name)):
        key, entry, task_dir = _plan(path, run_dir, ids, options)
        entries[key] = entry
        if task_dir is not None:
            todo.append(task_dir)
    # tasks linked in from elsewhere are hidden from every clean room, as TASKS_DIR is
    elsewhere = tuple(sorted({path for path in ids.values() if not path.is_relative_to(tasks_dir.resolve())}))
    private = (tasks_dir.resolve(), run_dir.resolve(), *elsewhere)
    try:
        _write_summary(run_dir, summary, entries, lock)
    except OSError as exc:
        raise FormatError(f"cannot write {run_dir / SUMMARY}: {exc.strerror or exc}") from None
    if on_start is not None:
        on_start(len(paths))
    for entry in entries.values():
        if entry.status not in ("pending", "pending-eval") and on_done is not None:
            on_done(entry)

    units = [_unit(task_dir, entries[task_dir.task.id].status, options, run_dir, private) for task_dir in todo]

    def finish(entry: BatchEntry) -> None:
        with lock:
            entries[entry.task] = entry
        try:
            _write_summary(run_dir, summary, entries, lock)
        except OSError:
            pass  # the task's own agent.json holds its result; the final write reports the failure
        if on_done is not None:
            on_done(entry)

    def installed(unit: Unit, outcome: UnitOutcome) -> None:
        out = run_dir / unit.key
        record: AgentRunRecord = outcome.value
        try:
            if outcome.files is not None:
                install_files(outcome.files, out)
        except OSError as exc:
            finish(BatchEntry(task=unit.key, status="error", message=f"cannot write {out}: {exc}", dir=unit.key))
            return
        if unit.payload.grade_only:
            status = "graded"
        else:
            status = "ran" if record.finished else "interrupted" if record.exit_status == INTERRUPTED else "error"
        finish(_entry_from(record, status, out, run_dir))

    def lost(unit: Unit, outcome: UnitOutcome) -> None:
        message = lost_reason(outcome)
        finish(BatchEntry(task=unit.key, status="error", message=message, dir=unit.key))

    def tallied(tally: UnitTally) -> BatchSummary:
        summary.units = tally.with_plan([entry.status for entry in entries.values()])
        return _write_summary(run_dir, summary, entries, lock)

    try:
        # _plan left the finished ones out
        tally = run_on_executor(settings, units, on_result=installed, on_failure=lost, on_interrupt=on_interrupt)
    except DriveInterrupted as exc:
        raise BatchInterrupted(tallied(exc.tally)) from None
    return tallied(tally)


def _unit(task_dir: TaskDir, status: str, options: AgentOptions, run_dir: Path, private: tuple[Path, ...]) -> Unit:
    """The unit of one task: an agent run, or (pending-eval) the grading of an earlier run's submission."""
    grade_only = status == "pending-eval"
    inputs = {"task": task_dir.root}
    if grade_only:
        inputs["run"] = run_dir / task_dir.task.id
    final_dir = (run_dir / task_dir.task.id).resolve()
    payload = AgentUnitPayload(options=options, grade_only=grade_only, private_dirs=private, final_dir=final_dir)
    # a clean room's agent and reference, plus the grading's sandboxes when it grades right away
    cpus = float(max(1, options.eval_workers)) if (grade_only or options.then_eval) else 1.0
    needs = UnitResources(cpus=cpus, memory_mb=AGENT_UNIT_MEMORY_MB, sandbox=True)
    return Unit(key=task_dir.task.id, function=agent_unit, payload=payload, inputs=inputs, resources=needs)


def _plan(
    path: Path, run_dir: Path, ids: dict[str, Path], options: AgentOptions
) -> tuple[str, BatchEntry, TaskDir | None]:
    """The key, the entry of one task directory and, when it still has to run, the loaded task.

    Entries of valid tasks are keyed by task id; those of invalid directories by their name and a
    slash, which no task id holds, so that a broken directory `a/` never stands in for task `a`.
    `ids` maps each valid task id to its resolved directory, and is added to here.
    """
    invalid_key = f"{path.name}/"
    try:
        task_dir = load_task(path)
    except FormatError as exc:
        return invalid_key, BatchEntry(task=path.name, status="invalid", message=str(exc)), None
    task_id = task_dir.task.id
    if task_id in ids:
        first = ids[task_id]
        why = (
            f"the same directory as {first.name} (a link to it); skipped"
            if first == task_dir.root
            else f"duplicate task id {task_id!r} (also in {first.name})"
        )
        return invalid_key, BatchEntry(task=path.name, status="invalid", message=why), None
    ids[task_id] = task_dir.root
    out = run_dir / task_id
    record = read_record(out)
    if record is not None and record.finished:
        submitted = record.submission is not None and (out / record.submission).is_file()
        if options.then_eval and record.eval is None and submitted:
            return task_id, BatchEntry(task=task_id, status="pending-eval", dir=task_id), task_dir
        return task_id, _entry_from(record, "skipped", out, run_dir), None
    return task_id, BatchEntry(task=task_id, status="pending", dir=task_id), task_dir


def _entry_from(record: AgentRunRecord, status: str, out: Path, run_dir: Path) -> BatchEntry:
    return BatchEntry(
        task=record.task,
        status=status,
        exit_status=record.exit_status,
        message=record.message,
        score=record.score,
        steps=record.stats.steps,
        cost_usd=record.stats.cost_usd,
        seconds=record.stats.seconds,
        reference_exposures=record.reference_exposures,
        dir=out.relative_to(run_dir).as_posix(),
    )


def _write_summary(
    run_dir: Path, summary: BatchSummary, entries: dict[str, BatchEntry], lock: threading.Lock
) -> BatchSummary:
    with lock:
        summary.tasks = [entries[name] for name in sorted(entries)]
        done = [entry for entry in summary.tasks if entry.status in ("ran", "graded", "skipped")]
        summary.finished = len(done)
        summary.submitted = sum(entry.exit_status == "Submitted" for entry in done)
        scores = [entry.score for entry in done if entry.score is not None]
        summary.mean_score = round(sum(scores) / len(scores), 4) if scores else None
        summary.cost_usd = round(sum(entry.cost_usd for entry in done), 6)
        summary.updated_at = _now()
        write_text_atomic(run_dir / SUMMARY, json.dumps(summary.model_dump(mode="json"), indent=2) + "\n")
        return summary.model_copy(deep=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
