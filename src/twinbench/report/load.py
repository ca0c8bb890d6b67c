"""Read graded results: every eval.json under a run directory, with the audit.json beside it."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinbench.formats import EvalResult, FormatError, TestStatus, first_error
from twinbench.formats.result import NEAR_RESOLVED_THRESHOLD

EVAL_FILE = "eval.json"
AUDIT_FILE = "audit.json"
SUMMARY_FILES = ("run.json", "summary.json")
# A directory holding one of these is an evaluation's output: below it are the candidate's own files
# (source/, build/tree/), where a planted eval.json must never be taken for a result.
EVAL_MARKERS = (EVAL_FILE, "progress.jsonl")
ERROR_CHARS = 300


class GroupRate(BaseModel):
    """How many tests of one group passed."""

    group: str
    passed: int
    total: int

    @property
    def rate(self) -> float:
        """Fraction of the group's tests that passed."""
        return self.passed / self.total if self.total else 0.0


class FailingTest(BaseModel):
    """A test that did not pass, with the harness's one-line reason and diff."""

    id: str
    group: str
    status: TestStatus
    reason: str = ""
    diff: str = ""


class AuditFinding(BaseModel):
    """One finding of an audit.json, read loosely: twinbench.audit owns the schema."""

    model_config = ConfigDict(extra="ignore")

    rule: str = ""
    severity: str = "info"
    message: str = ""
    evidence: list[str] = Field(default_factory=list)
    file: str | None = None

    @field_validator("evidence", mode="before")
    @classmethod
    def _as_strings(cls, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [item if isinstance(item, str) else json.dumps(item) for item in items]

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> str:
        return str(value).strip().lower() or "info"


class Audit(BaseModel):
    """audit.json beside an eval.json: findings about the submission and its code statistics."""

    model_config = ConfigDict(extra="ignore")

    findings: list[AuditFinding] = Field(default_factory=list)
    flagged: bool = False
    code: dict[str, Any] | None = None
    reference_code: dict[str, Any] | None = None


class TaskResult(BaseModel):
    """One eval.json of a run (one submission graded on one task), or why it could not be read."""

    task: str
    submission: str
    path: str  # the eval.json, relative to the run directory
    error: str | None = None
    score: float = 0.0
    behavioral_score: float | None = None
    passed: int = 0
    total: int = 0
    resolved: bool = False
    near_resolved: bool = False
    build_ok: bool = False
    build_reason: str = ""
    build_log_tail: str = ""
    seconds: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    groups: list[GroupRate] = Field(default_factory=list)
    failing: list[FailingTest] = Field(default_factory=list)
    audit: Audit | None = None
    audit_error: str | None = None


class Run(BaseModel):
    """One RUN_DIR (say, one model's attempts): its label and every result found under it."""

    label: str
    path: Path
    results: list[TaskResult] = Field(default_factory=list)
    summary: dict[str, Any] | None = None
    summary_error: str | None = None

    def best(self) -> dict[str, TaskResult]:
        """The result that counts for each task: the best-scoring readable one when a run has several."""
        best: dict[str, TaskResult] = {}
        for result in self.results:
            if result.error is None and (result.task not in best or result.score > best[result.task].score):
                best[result.task] = result
        return best

    def errors(self) -> list[TaskResult]:
        """Results that could not be read."""
        return [result for result in self.results if result.error is not None]


def load_runs(paths: list[Path]) -> list[Run]:
    """Load each RUN_DIR (or a single eval.json); unreadable results become error rows, never exceptions."""
    for path in paths:
        if not path.exists():
            raise FormatError(f"{path}: no such directory")
    return [_load_run(path, label) for path, label in zip(paths, run_labels(paths), strict=True)]


def run_labels(paths: list[Path]) -> list[str]:
    """A label per run: its directory name, with parent names added until the labels are unique."""
    parts = [_run_root(path).resolve().parts for path in paths]
    depth = [1] * len(paths)
    while True:
        labels = ["/".join(p[-d:]) or "/" for p, d in zip(parts, depth, strict=True)]
        clashes = {label for label in labels if labels.count(label) > 1}
        grow = [i for i, label in enumerate(labels) if label in clashes and depth[i] < len(parts[i])]
        if not grow:
            return labels
        for i in grow:
            depth[i] += 1


def results_frame(run_paths: Sequence[str | os.PathLike[str]]) -> Any:
    """A pandas.DataFrame with one row per test: run, task, submission, id, group, status, seconds.

    pandas is optional. Without twinbench, one eval.json loads in one call too:
    `pd.json_normalize(json.load(open("eval.json")), record_path="tests", meta=["task", "score"])`.
    """
    try:
        pandas = importlib.import_module("pandas")
    except ImportError:
        raise ImportError("results_frame needs pandas: pip install pandas") from None
    paths = [Path(path) for path in run_paths]  # str paths are what a notebook user passes
    columns = ["run", "task", "submission", "id", "group", "status", "seconds"]
    rows: list[tuple[str, str, str, str, str, str, float]] = []
    for path, label in zip(paths, run_labels(paths), strict=True):
        root = _run_root(path)
        for eval_path in find_eval_files(path):
            try:
                loaded = _read_eval(root, eval_path)
            except _Unreadable:
                continue  # load_runs reports it; a frame of tests has no row for it
            name = _submission_name(loaded.submission, eval_path)
            rows.extend((label, loaded.task, name, t.id, t.group, t.status.value, t.seconds) for t in loaded.tests)
    return pandas.DataFrame(rows, columns=columns)


def find_eval_files(path: Path) -> list[Path]:
    """Every eval.json under a run directory, never looking inside an evaluation's own output."""
    if path.is_file():
        return [path]
    return sorted(_walk_evals(path))


def _walk_evals(root: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        if any(marker in filenames for marker in EVAL_MARKERS):
            dirnames.clear()
            if EVAL_FILE in filenames:
                yield Path(directory) / EVAL_FILE


def _run_root(path: Path) -> Path:
    return path.parent if path.is_file() else path


def _load_run(path: Path, label: str) -> Run:
    root = _run_root(path)
    run = Run(label=label, path=path, results=[_task_result(root, e) for e in find_eval_files(path)])
    for name in SUMMARY_FILES:
        summary_path = root / name
        if summary_path.is_file():
            try:
                loaded = _read_json(summary_path, name)
            except _Unreadable as exc:
                run.summary_error = str(exc)
            else:
                if isinstance(loaded, dict):
                    run.summary = loaded
                else:
                    run.summary_error = f"{name}: not a JSON object"
            break
    return run


def _task_result(root: Path, eval_path: Path) -> TaskResult:
    relative = _relative(root, eval_path)
    try:
        loaded = _read_eval(root, eval_path)
    except _Unreadable as exc:
        return TaskResult(task=_task_guess(eval_path), submission=eval_path.parent.name, path=relative, error=str(exc))
    groups: dict[str, list[int]] = {}
    for test in loaded.tests:
        tally = groups.setdefault(test.group, [0, 0])
        tally[0] += test.status == TestStatus.passed
        tally[1] += 1
    result = TaskResult(
        task=loaded.task,
        submission=_submission_name(loaded.submission, eval_path),
        path=relative,
        score=loaded.score,
        behavioral_score=loaded.behavioral_score,
        passed=loaded.passed,
        total=loaded.total,
        resolved=loaded.resolved,
        near_resolved=loaded.score >= NEAR_RESOLVED_THRESHOLD,
        build_ok=loaded.build.ok,
        build_reason=loaded.build.reason,
        build_log_tail=loaded.build.log_tail,
        seconds=loaded.seconds,
        counts=loaded.counts,
        groups=[GroupRate(group=g, passed=p, total=t) for g, (p, t) in sorted(groups.items())],
        failing=[
            FailingTest(id=t.id, group=t.group, status=t.status, reason=t.reason, diff=t.diff)
            for t in loaded.tests
            if t.status != TestStatus.passed
        ],
    )
    audit_path = eval_path.parent / AUDIT_FILE
    if audit_path.is_file():
        shown = _relative(root, audit_path)
        try:
            result.audit = Audit.model_validate(_read_json(audit_path, shown))
        except _Unreadable as exc:
            result.audit_error = str(exc)
        except ValidationError as exc:
            result.audit_error = f"{shown}: {_first_error(exc)}"
    return result


class _Unreadable(Exception):
    """A results file that cannot be used; the message is one line naming the file."""


def _read_eval(root: Path, eval_path: Path) -> EvalResult:
    """The parsed eval.json; raises _Unreadable with a one-line reason."""
    relative = _relative(root, eval_path)
    try:
        result = EvalResult.model_validate(_read_json(eval_path, relative))
    except ValidationError as exc:
        raise _Unreadable(f"{relative}: {_first_error(exc)}") from None
    # Python's json reads NaN and Infinity, which would poison every mean and chart downstream
    if not 0.0 <= result.score <= 1.0:
        raise _Unreadable(f"{relative}: score: {result.score} is not between 0 and 1")
    return result


def _read_json(path: Path, shown: str) -> Any:
    """Parsed JSON; raises _Unreadable with a one-line error naming the file as `shown`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(one_line(f"{shown}: cannot read ({exc})")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"{shown}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise _Unreadable(f"{shown}: not valid JSON (nested too deeply)") from None


def _first_error(exc: ValidationError) -> str:
    return one_line(first_error(exc))


def one_line(text: str) -> str:
    """Collapse whitespace and cut to a length that fits a table cell."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _task_guess(eval_path: Path) -> str:
    """Best guess at the task of an unreadable eval.json, for display only."""
    try:
        raw = json.loads(eval_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("task"), str):
        return str(raw["task"])
    return eval_path.parent.name


def _submission_name(submission: str, eval_path: Path) -> str:
    """A short name for the submission: its directory or archive name without the archive suffix."""
    name = Path(submission).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or eval_path.parent.name
