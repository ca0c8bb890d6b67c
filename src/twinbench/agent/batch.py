"""Many agent runs: every task of a directory into RUN_DIR/<task id>/, resumable, with a run summary."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.agent.run import AgentOptions, grade_run, read_record, run_agent
from twinbench.formats import AgentRunRecord, FormatError, TaskDir, load_task, write_text_atomic

SUMMARY = "summary.json"
SUMMARY_FORMAT = "twinbench-agent-batch-1"


class BatchEntry(BaseModel):
    """One task's line in summary.json."""

    task: str
    status: str = Field(
        description="ran, graded (an earlier run's submission, graded now), skipped (finished before), "
        "invalid (bad task) or error"
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


def find_tasks(tasks_dir: Path) -> list[Path]:
    """Task directories directly under TASKS_DIR (each holds a task.yaml), sorted by name."""
    if not tasks_dir.is_dir():
        raise FormatError(f"{tasks_dir} is not a directory")
    found = sorted(path.parent for path in tasks_dir.glob("*/task.yaml"))
    if not found:
        raise FormatError(f"{tasks_dir} holds no task directories (no */task.yaml)")
    return found


def run_batch(
    tasks_dir: Path,
    options: AgentOptions,
    run_dir: Path,
    *,
    workers: int = 1,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[BatchEntry], None] | None = None,
) -> BatchSummary:
    """Run the agent on every task not finished yet, `workers` at a time; summary.json is kept current."""
    paths = find_tasks(tasks_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    now = _now()
    summary = BatchSummary(
        tasks_dir=str(tasks_dir.resolve()), model=options.model, agent=options.agent.value, started_at=now
    )
    lock = threading.Lock()
    entries: dict[str, BatchEntry] = {}
    todo: list[TaskDir] = []
    for path in paths:
        entry, task_dir = _plan(path, run_dir, entries, options)
        entries[entry.task] = entry
        if task_dir is not None:
            todo.append(task_dir)
    _write_summary(run_dir, summary, entries, lock)
    if on_start is not None:
        on_start(len(paths))
    for entry in entries.values():
        if entry.status not in ("pending", "pending-eval") and on_done is not None:
            on_done(entry)

    def run_one(task_dir: TaskDir) -> None:
        out = run_dir / task_dir.task.id
        try:
            if entries[task_dir.task.id].status == "pending-eval":
                entry = _entry_from(grade_run(task_dir, options, out), "graded", out, run_dir)
            else:
                if out.exists():
                    shutil.rmtree(out)  # an unfinished attempt: start it over rather than mix two runs
                record = run_agent(task_dir, options, out, private_dirs=(tasks_dir.resolve(), run_dir.resolve()))
                entry = _entry_from(record, "ran" if record.finished else "error", out, run_dir)
        except Exception as exc:  # one task's failure is that task's entry, never the batch's end
            message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            entry = BatchEntry(task=task_dir.task.id, status="error", message=message, dir=task_dir.task.id)
        with lock:
            entries[entry.task] = entry
        _write_summary(run_dir, summary, entries, lock)
        if on_done is not None:
            on_done(entry)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="twinbench-agent") as pool:
        for future in [pool.submit(run_one, task_dir) for task_dir in todo]:
            future.result()
    return _write_summary(run_dir, summary, entries, lock)


def _plan(
    path: Path, run_dir: Path, seen: dict[str, BatchEntry], options: AgentOptions
) -> tuple[BatchEntry, TaskDir | None]:
    """The entry of one task directory and, when it still has to run, the loaded task."""
    try:
        task_dir = load_task(path)
    except FormatError as exc:
        return BatchEntry(task=path.name, status="invalid", message=str(exc)), None
    task_id = task_dir.task.id
    if task_id in seen:
        return BatchEntry(task=f"{path.name}", status="invalid", message=f"duplicate task id {task_id!r}"), None
    out = run_dir / task_id
    record = read_record(out)
    if record is not None and record.finished:
        submitted = record.submission is not None and (out / record.submission).is_file()
        if options.then_eval and record.eval is None and submitted:
            return BatchEntry(task=task_id, status="pending-eval", dir=task_id), task_dir
        return _entry_from(record, "skipped", out, run_dir), None
    return BatchEntry(task=task_id, status="pending", dir=task_id), task_dir


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
