"""What a task directory holds, in a few numbers: for `twinbench task show` and `task list`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from twinbench.formats.errors import FormatError
from twinbench.formats.suite import load_suite
from twinbench.formats.task import TaskDir, load_task
from twinbench.formats.testgen import TestgenReport

TESTGEN_REPORT = Path("tests") / "testgen.json"


class TaskSummary(BaseModel):
    """One task at a glance: its reference, docs, suite size, case classes and the suite's line coverage."""

    id: str
    root: Path
    reference: str
    debian_package: str | None
    docs: int
    tests: int | None  # None: no suite yet (run testgen)
    suite_problem: str = ""  # why the suite could not be read, when it exists but is malformed
    classes: dict[str, int]
    coverage_percent: float | None
    validity_passed: bool | None


def summarize_task(path: Path) -> TaskSummary:
    """The summary of the task at `path`; a missing or malformed task.yaml raises FormatError."""
    task_dir = load_task(path)
    tests: int | None = None
    problem = ""
    if task_dir.suite_path.is_file():
        try:
            tests = len(load_suite(task_dir.suite_path).cases)
        except FormatError as exc:
            problem = str(exc)
    report = testgen_report(task_dir)
    return TaskSummary(
        id=task_dir.task.id,
        root=task_dir.root,
        reference=task_dir.task.reference.binary,
        debian_package=task_dir.task.reference.debian_package,
        docs=len(task_dir.task.docs),
        tests=tests,
        suite_problem=problem,
        classes=report.classes if report else {},
        coverage_percent=report.coverage.percent if report and report.coverage else None,
        validity_passed=report.validity.passed if report and report.validity else None,
    )


def find_task_dirs(directory: Path) -> list[Path]:
    """Task directories directly under `directory` (each holding task.yaml), sorted by name."""
    if not directory.is_dir():
        raise FormatError(f"{directory} is not a directory")
    return sorted(path.parent for path in directory.glob("*/task.yaml"))


def testgen_report(task_dir: TaskDir) -> TestgenReport | None:
    """testgen.json if it is there and readable, else None (a suite made by hand or imported has none; a
    summary is a glance, so a damaged report shows as none too)."""
    try:
        return TestgenReport.model_validate_json((task_dir.root / TESTGEN_REPORT).read_bytes())
    except (OSError, ValidationError):
        return None
