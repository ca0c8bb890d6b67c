"""`twinbench collection info`: one row per task of a built collection, read from its files (nothing runs)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from twinbench.collection.manifest import Manifest, TaskEntry
from twinbench.formats import FormatError, TestgenReport, load_suite, load_task
from twinbench.testgen.pipeline import TESTGEN_REPORT


class TaskInfo(BaseModel):
    """What a task is and how good its suite is, as its files say."""

    id: str
    language: str
    package: str
    version: str
    programbench: str | None = None
    built: bool = False
    problem: str = ""
    tests: int | None = None
    line_coverage: float | None = Field(default=None, description="percent of the reference's own lines")
    core_share: float | None = None
    imitation_scores: dict[str, float] = Field(default_factory=dict)
    lines_of_code: int | None = None
    size_class: str | None = None
    size_method: str | None = Field(default=None, description="coverage-build or source-package")
    bytes: int = 0


def task_info(entry: TaskEntry, collection_dir: Path) -> TaskInfo:
    """The row of one task; a task not built or unreadable says why in `problem`."""
    info = TaskInfo(
        id=entry.id,
        language=entry.language.value,
        package=entry.package,
        version=entry.version,
        programbench=entry.programbench,
    )
    root = collection_dir / entry.id
    if not (root / "task.yaml").is_file():
        info.problem = "not built"
        return info
    try:
        task_dir = load_task(root)
        info.tests = len(load_suite(task_dir.suite_path))
    except FormatError as exc:
        info.problem = str(exc)
        return info
    info.built = True
    info.bytes = sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())
    if task_dir.task.size is not None:
        info.lines_of_code = task_dir.task.size.lines_of_code
        info.size_class = task_dir.task.size.size_class
        info.size_method = task_dir.task.size.method
    try:
        report = TestgenReport.model_validate_json((root / "tests" / TESTGEN_REPORT).read_bytes())
    except (OSError, ValidationError):
        info.problem = f"no readable tests/{TESTGEN_REPORT}"
        return info
    info.line_coverage = report.coverage.percent if report.coverage else None
    info.core_share = report.core_share
    info.imitation_scores = dict(report.validity.scores) if report.validity else {}
    return info


def collection_info(manifest: Manifest, collection_dir: Path) -> list[TaskInfo]:
    """A row per task of the manifest, in manifest order."""
    return [task_info(entry, collection_dir) for entry in manifest.tasks]
