"""The task directory: task.yaml, docs/ and tests/."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twinbench.formats.environment import Environment
from twinbench.formats.errors import FormatError, first_error
from twinbench.formats.limits import GradingLimits, Limits
from twinbench.formats.suite import suite_file

TASK_SCHEMA_VERSION = 1


class ReferenceSpec(BaseModel):
    """Where the reference program comes from and which files the candidate must never see."""

    model_config = ConfigDict(extra="forbid")

    debian_package: str | None = None
    binary: str = Field(min_length=1, description="command name on PATH, or an absolute path")
    hidden_paths: list[str] = Field(
        default_factory=list, description="extra absolute paths to hide, beyond the package's own files"
    )


class TaskLimits(BaseModel):
    """Limits for building a submission, for each test run and for a grading as a whole."""

    model_config = ConfigDict(extra="forbid")

    build: Limits = Field(
        default_factory=lambda: Limits(
            wall_s=900, cpu_s=1800, memory_mb=4096, processes=512, file_size_mb=512, disk_mb=2048
        )
    )
    test: Limits = Field(default_factory=Limits)
    grading: GradingLimits = Field(default_factory=GradingLimits)


# size classes by lines of code of the reference's own sources: figlet and bc are small, jq medium, SQLite large
SIZE_CLASS_LIMITS = (("small", 5_000), ("medium", 50_000))


def size_class_of(lines_of_code: int) -> str:
    """small, medium or large by lines of code of the reference's own sources."""
    for name, limit in SIZE_CLASS_LIMITS:
        if lines_of_code < limit:
            return name
    return "large"


SizeMethod = Literal["coverage-build", "source-package"]


class TaskSize(BaseModel):
    """How big the reference is: lines of code of its own sources, the class, and how they were counted.

    `coverage-build`: the sources linked into the instrumented binary (and their headers); `source-package`:
    every own source file of the program's language in its Debian source package, classified as the coverage
    accounting classifies them (a source package holding several programs counts them all)."""

    model_config = ConfigDict(extra="forbid")

    lines_of_code: int = Field(ge=0)
    size_class: str = Field(default="", description="small, medium or large; derived from lines_of_code")
    # sizes written before the method was recorded all came from coverage builds
    method: SizeMethod = "coverage-build"
    source: str = Field(default="", description="what was measured, e.g. 'coverage build of bc 1.07.1-3'")
    files_by_role: dict[str, int] = Field(
        default_factory=dict, description="source files measured, by role (own, vendored, generated, test)"
    )

    @model_validator(mode="after")
    def _derive_class(self) -> TaskSize:
        self.size_class = size_class_of(self.lines_of_code)
        return self


class Task(BaseModel):
    """task.yaml: what the program is, what the agent may read, and how runs are limited."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = TASK_SCHEMA_VERSION
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    reference: ReferenceSpec
    docs: list[str] = Field(default_factory=list)
    limits: TaskLimits = Field(default_factory=TaskLimits)
    env: Environment = Field(default_factory=dict, description="fixed environment added to every test")
    clock: str | None = Field(
        default=None, description="libfaketime FAKETIME value; '2024-01-02 03:04:05' freezes the clock"
    )
    size: TaskSize | None = Field(default=None, description="the reference's size, when a coverage build measured it")

    @model_validator(mode="after")
    def _version(self) -> Task:
        if self.schema_version != TASK_SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported (expected {TASK_SCHEMA_VERSION})")
        return self


class TaskDir(BaseModel):
    """A loaded task directory: the parsed task.yaml plus where it lives."""

    root: Path
    task: Task

    @property
    def suite_path(self) -> Path:
        """The hidden tests: tests/suite.jsonl.gz when the task is compacted, else tests/suite.jsonl."""
        return suite_file(self.root / "tests")

    @property
    def docs_dir(self) -> Path:
        """docs/, what an agent may read."""
        return self.root / "docs"


def load_task(path: Path) -> TaskDir:
    """Load a task directory (or its task.yaml); errors are one-line FormatErrors."""
    root = path.parent if path.name == "task.yaml" else path
    spec_path = root / "task.yaml"
    if not spec_path.is_file():
        raise FormatError(f"{root} is not a task directory (no task.yaml)")
    try:
        data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"{spec_path}: cannot read it ({exc.strerror or exc})") from None
    except RecursionError:
        raise FormatError(f"{spec_path}: not valid YAML (nested too deeply)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{spec_path}: not valid YAML ({first_line})") from None
    if not isinstance(data, dict):
        raise FormatError(f"{spec_path}: expected a mapping at the top level")
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        raise FormatError(f"{spec_path}: {first_error(exc, top='task')}") from None
    _check_docs(root)
    return TaskDir(root=root.resolve(), task=task)


def _check_docs(root: Path) -> None:
    """docs/ is what an agent is shown, mounted as it is: a link (to tests/, to /) would show the agent
    whatever it points at, the hidden suite included."""
    docs = root / "docs"
    if docs.is_symlink():
        raise FormatError(f"{docs}: must be a directory of the task, not a symbolic link")
    if docs.exists() and not docs.is_dir():
        raise FormatError(f"{docs}: must be a directory")


def save_task(task: Task, root: Path) -> None:
    """Write task.yaml into a task directory."""
    root.mkdir(parents=True, exist_ok=True)
    data = task.model_dump(mode="json")
    if data.get("size") is None:  # tasks without a measured size keep the task.yaml they always had
        data.pop("size", None)
    (root / "task.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
