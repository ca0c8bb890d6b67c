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
# The audit's own severities are info, warning and critical; other tools (and older files) write high,
# error, medium or low. Ordered most severe first.
SEVERITY_ORDER = ("critical", "high", "error", "medium", "warning", "low", "info")
# A flag this severe means the score cannot be trusted: the run leaves the ranking unless asked otherwise.
UNRANKED_SEVERITIES = frozenset({"critical", "high"})


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


def severity_rank(severity: str) -> int:
    """Position of a severity in SEVERITY_ORDER (0 = most severe); unknown severities sort last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


class Flag(BaseModel):
    """Why an audit flagged a submission: its most severe finding, and whether that keeps it out of ranking."""

    severity: str
    rule: str
    message: str
    findings: int  # findings above info, this one included

    @property
    def excludes_from_ranking(self) -> bool:
        """A high or critical flag: the score cannot be trusted."""
        return self.severity in UNRANKED_SEVERITIES


class Audit(BaseModel):
    """audit.json beside an eval.json: findings about the submission and its code statistics."""

    model_config = ConfigDict(extra="ignore")

    findings: list[AuditFinding] = Field(default_factory=list)
    flagged: bool = False
    code: dict[str, Any] | None = None
    reference_code: dict[str, Any] | None = None

    def flag(self) -> Flag | None:
        """The flag to show beside the score, or None when the audit did not flag the submission."""
        serious = sorted(
            (finding for finding in self.findings if finding.severity != "info"),
            key=lambda finding: severity_rank(finding.severity),
        )
        if not self.flagged and not any(finding.severity in UNRANKED_SEVERITIES for finding in serious):
            return None
        if not serious:  # flagged with no finding to show: say so rather than invent a severity
            return Flag(severity="warning", rule="audit", message="the audit flagged this submission", findings=0)
        worst = serious[0]
        return Flag(severity=worst.severity, rule=worst.rule, message=worst.message, findings=len(serious))


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

    @property
    def flag(self) -> Flag | None:
        """The audit's flag on this submission, if any."""
        return self.audit.flag() if self.audit is not None else None


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

    def flags(self) -> list[TaskResult]:
        """Readable results the audit flagged, most severe first."""
        flagged = [result for result in self.results if result.error is None and result.flag is not None]
        return sorted(flagged, key=lambda result: severity_rank(result.flag.severity if result.flag else ""))

    def unranked_flag(self) -> TaskResult | None:
        """The most severe result whose flag keeps this run out of the ranking, or None.

        Any flagged result counts, not only the best one per task: a run that tried a wrapper on one
        attempt is not trusted on its others.
        """
        return next((result for result in self.flags() if result.flag and result.flag.excludes_from_ranking), None)


class NoResults(FormatError):
    """None of the run directories holds an eval.json: a wrong path, or a batch that has not graded yet."""


def load_runs(paths: list[Path], *, allow_empty: bool = False) -> list[Run]:
    """Load each RUN_DIR (or a single eval.json); unreadable results become error rows, never exceptions.

    Raises NoResults when no run holds any eval.json, unless `allow_empty` (a live view waiting for a batch).
    """
    for path in paths:
        if not path.exists():
            raise FormatError(f"{path}: no such directory")
    runs = [_load_run(path, label) for path, label in zip(paths, run_labels(paths), strict=True)]
    if not allow_empty and not any(run.results for run in runs):
        raise NoResults(f"no results: no {EVAL_FILE} under {', '.join(str(path) for path in paths)}")
    return runs


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
    """A pandas.DataFrame with one row per test: run, task, submission, id, group, status, seconds, and the
    audit's flag on the submission (`flagged`, and `flag_severity`: its most severe finding, or None).

    pandas is optional. Without twinbench, one eval.json loads in one call too:
    `pd.json_normalize(json.load(open("eval.json")), record_path="tests", meta=["task", "score"])`.
    """
    try:
        pandas = importlib.import_module("pandas")
    except ImportError:
        raise ImportError("results_frame needs pandas: pip install pandas") from None
    paths = [Path(path) for path in run_paths]  # str paths are what a notebook user passes
    columns = ["run", "task", "submission", "id", "group", "status", "seconds", "flagged", "flag_severity"]
    rows: list[tuple[str, str, str, str, str, str, float, bool, str | None]] = []
    for path, label in zip(paths, run_labels(paths), strict=True):
        root = _run_root(path)
        for eval_path in find_eval_files(path):
            try:
                loaded = _read_eval(root, eval_path)
            except _Unreadable:
                continue  # load_runs reports it; a frame of tests has no row for it
            name = _submission_name(loaded.submission, eval_path)
            audit, _ = _read_audit(root, eval_path)
            flag = audit.flag() if audit is not None else None
            severity = flag.severity if flag is not None else None
            rows.extend(
                (label, loaded.task, name, t.id, t.group, t.status.value, t.seconds, flag is not None, severity)
                for t in loaded.tests
            )
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
    result.audit, result.audit_error = _read_audit(root, eval_path)
    return result


def _read_audit(root: Path, eval_path: Path) -> tuple[Audit | None, str | None]:
    """The audit.json beside an eval.json, or None; an unreadable one is a one-line error, not an exception."""
    audit_path = eval_path.parent / AUDIT_FILE
    if not audit_path.is_file():
        return None, None
    shown = _relative(root, audit_path)
    try:
        return Audit.model_validate(_read_json(audit_path, shown)), None
    except _Unreadable as exc:
        return None, str(exc)
    except ValidationError as exc:
        return None, f"{shown}: {_first_error(exc)}"


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
