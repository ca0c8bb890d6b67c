"""One agent run: clean room → agent → submission.tar.gz → (optionally) eval, all recorded in agent.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.agent.builtin import (
    INTERRUPTED,
    INTERRUPTED_MESSAGE,
    AgentConfigError,
    AgentOutcome,
    BuiltinAgent,
    load_config,
)
from twinbench.agent.cleanroom import CLIENT_SOURCE, CleanRoom, CleanRoomSettings, CleanRoomUnavailable
from twinbench.agent.mini import load_mini_config, run_mini
from twinbench.agent.models import ModelError, model_for
from twinbench.agent.pack import pack_workspace
from twinbench.formats import DEFAULT_DISK_LIMIT_MB, AgentRunRecord, FormatError, RunStats, TaskDir, write_text_atomic
from twinbench.grade import EvalOptions, evaluate
from twinbench.sandbox import SandboxUnavailable, get_sandbox
from twinbench.sandbox.rooms import REFERENCE_CLIENT, WORKSPACE

RECORD = "agent.json"
TRAJECTORY = "trajectory.json"
SUBMISSION = "submission.tar.gz"
REFERENCE_CALLS = "reference_calls.jsonl"
EVAL_DIR = "eval"
HARNESS_ERROR = "HarnessError"


class AgentKind(StrEnum):
    """Which agent loop drives the model."""

    builtin = "builtin"
    mini = "mini"


class AgentOptions(BaseModel):
    """Everything `twinbench agent run` can be told; None limits mean the agent config's own."""

    model: str
    agent: AgentKind = AgentKind.builtin
    api_base: str | None = None
    config: Path | None = None
    step_limit: int | None = Field(default=None, ge=0)
    # finite: `--wall-limit inf` is no limit the agents can compute with (0 is how to say none)
    cost_limit: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    wall_limit_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    action_timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    disk_limit_mb: int = Field(default=DEFAULT_DISK_LIMIT_MB, ge=16)
    then_eval: bool = False
    eval_workers: int = Field(default=max(1, os.cpu_count() or 1), ge=1)
    sandbox: str = "bwrap"


def check_options(options: AgentOptions) -> None:
    """What can be checked before a clean room opens: the model's name and the agent's config file.

    Raises ModelError or AgentConfigError with one line, so a typo costs no room and no model call.
    """
    model_for(options.model, api_base=options.api_base)
    if options.agent is AgentKind.mini:
        load_mini_config(options.config)
    else:
        load_config(options.config)


class RunOutputError(Exception):
    """OUT cannot take this run; the message says why in one line."""


class RunOutputExists(RunOutputError):
    """OUT already holds a run; the message says how to replace it."""


def read_record(out: Path) -> AgentRunRecord | None:
    """OUT/agent.json, or None when it is missing or unreadable (a run that never got far)."""
    try:
        return AgentRunRecord.model_validate_json((out / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def prepare_output(out: Path, *, force: bool) -> None:
    """Make OUT ready: create it, or clear it with force; refuse to mix two runs' files."""
    try:
        if out.exists() and not out.is_dir():
            raise RunOutputExists(f"{out} exists and is not a directory")
        if out.is_dir() and any(out.iterdir()):
            if not force:
                raise RunOutputExists(f"{out} already holds a run; pass --force to replace it")
            if out.is_symlink():
                # --force replaces a run directory, never whatever a link happens to point at
                raise RunOutputExists(f"{out} is a symbolic link; pass the directory it points to, {out.resolve()}")
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunOutputError(f"cannot use {out} for the run: {exc.strerror or exc}") from None


def run_agent(
    task_dir: TaskDir,
    options: AgentOptions,
    out: Path,
    *,
    on_step: Callable[[RunStats], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    private_dirs: tuple[Path, ...] = (),
    stop: threading.Event | None = None,
) -> AgentRunRecord:
    """Run one agent on one task into OUT; every ending is written to OUT/agent.json and returned.

    Harness failures (no bubblewrap, an unusable config) end with exit_status HarnessError and
    finished=False, so that a batch retries them; bad model or config input ends with its own status.
    `private_dirs` are hidden from the clean room on top of the task and OUT (a batch's other tasks).
    `stop` (a batch's Ctrl-C, which only the main thread receives) ends the run at its next step as
    Interrupted, unfinished, with its clean room closed.
    """
    out.mkdir(parents=True, exist_ok=True)
    record = AgentRunRecord(
        task=task_dir.task.id,
        model=options.model,
        agent=options.agent.value,
        exit_status="Running",
        limits=options.model_dump(mode="json", include={"step_limit", "cost_limit", "wall_limit_s"}),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        finished=False,
    )
    _save(out, record)
    phase = on_phase or (lambda _name: None)
    try:
        settings = CleanRoomSettings(disk_mb=options.disk_limit_mb)
        if options.action_timeout_s is not None:
            settings.action_timeout_s = options.action_timeout_s
        with CleanRoom(task_dir, settings, private_dirs=(out.resolve(), *private_dirs), log_dir=out) as room:
            # recorded before the agent starts, so that even an interrupted run says how sealed its room was
            record.reference_exposures = list(room.broker.exposures) if room.broker is not None else []
            _save(out, record)
            phase("agent")
            outcome = _run_loop(task_dir, options, room, out, on_step, stop)
            if outcome.exit_status == INTERRUPTED:
                record.exit_status, record.message, record.stats = INTERRUPTED, INTERRUPTED_MESSAGE, outcome.stats
                _save(out, record)
                return record
            phase("packing")
            packed = pack_workspace(room.workspace, out / SUBMISSION, client=CLIENT_SOURCE.read_bytes())
            outcome.stats.reference_calls = room.broker.calls if room.broker is not None else 0
    except (CleanRoomUnavailable, AgentConfigError) as exc:
        record.exit_status, record.message = HARNESS_ERROR, str(exc)
        _save(out, record)
        return record
    except OSError as exc:
        record.exit_status, record.message = HARNESS_ERROR, f"harness failure: {exc}"
        _save(out, record)
        return record
    except KeyboardInterrupt:
        # the clean room is already closed by its context manager; say so on disk, then stop
        record.exit_status, record.message = INTERRUPTED, INTERRUPTED_MESSAGE
        _save(out, record)
        raise
    except Exception as exc:  # a bug of ours must not take a batch down: record it, let the batch go on
        record.exit_status = HARNESS_ERROR
        record.message = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        _save(out, record)
        return record
    record.exit_status, record.message, record.stats = outcome.exit_status, outcome.message, outcome.stats
    record.limits = outcome.limits or record.limits
    record.submission = SUBMISSION
    record.submission_sha256 = hashlib.sha256((out / SUBMISSION).read_bytes()).hexdigest()
    record.submission_files = packed.files
    record.dropped = packed.dropped
    if options.then_eval:
        phase("eval")
        _evaluate(task_dir, options, out, record)
    record.finished = True
    _save(out, record)
    return record


def _run_loop(
    task_dir: TaskDir,
    options: AgentOptions,
    room: CleanRoom,
    out: Path,
    on_step: Callable[[RunStats], None] | None,
    stop: threading.Event | None,
) -> AgentOutcome:
    if options.agent is AgentKind.mini:
        return run_mini(
            room,
            model_spec=options.model,
            api_base=options.api_base,
            config_path=options.config,
            trajectory_path=out / TRAJECTORY,
            step_limit=options.step_limit,
            cost_limit=options.cost_limit,
            wall_limit_s=options.wall_limit_s,
            action_timeout_s=room.settings.action_timeout_s,
            disk_limit_mb=room.settings.disk_mb,
            stop=stop,
        )
    config = load_config(
        options.config,
        step_limit=options.step_limit,
        cost_limit=options.cost_limit,
        wall_limit_s=options.wall_limit_s,
        action_timeout_s=options.action_timeout_s,
        disk_limit_mb=room.settings.disk_mb,
    )
    try:
        model = model_for(options.model, api_base=options.api_base)
    except ModelError as exc:
        return AgentOutcome(exit_status="ModelError", message=str(exc))
    agent = BuiltinAgent(
        model,
        room,
        config,
        context=_prompt_context(task_dir),
        trajectory_path=out / TRAJECTORY,
        on_step=on_step,
        stop=stop,
    )
    return agent.run()


def _prompt_context(task_dir: TaskDir) -> dict[str, object]:
    docs = sorted(
        path.relative_to(task_dir.docs_dir).as_posix() for path in task_dir.docs_dir.rglob("*") if path.is_file()
    )
    return {
        "task_id": task_dir.task.id,
        "description": task_dir.task.description or f"Rebuild the program {task_dir.task.reference.binary}.",
        "docs": docs,
        "workspace": WORKSPACE,
        "executable": "./executable",
        "reference_client": REFERENCE_CLIENT,
    }


def grade_run(task_dir: TaskDir, options: AgentOptions, out: Path) -> AgentRunRecord:
    """Grade (again) the submission of a finished run whose eval is missing, without rerunning the agent."""
    record = read_record(out)
    if record is None or record.submission is None:
        raise FileNotFoundError(f"{out} holds no finished agent run with a submission")
    record.message = record.message.split("; eval failed:")[0]
    _evaluate(task_dir, options, out, record)
    _save(out, record)
    return record


def _evaluate(task_dir: TaskDir, options: AgentOptions, out: Path, record: AgentRunRecord) -> None:
    try:
        sandbox = get_sandbox(options.sandbox)
        result = evaluate(
            task_dir, out / SUBMISSION, out / EVAL_DIR, sandbox, EvalOptions(workers=options.eval_workers)
        )
    except (FormatError, SandboxUnavailable, OSError) as exc:
        record.message = (record.message + "; " if record.message else "") + f"eval failed: {exc}"
        return
    record.eval = f"{EVAL_DIR}/eval.json"
    record.score = result.score


def _save(out: Path, record: AgentRunRecord) -> None:
    write_text_atomic(out / RECORD, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
