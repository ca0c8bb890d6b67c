"""collection.yaml: the tasks of a collection, each a pinned Debian program with its generation settings."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinbench.formats import FormatError
from twinbench.formats.environment import Environment
from twinbench.formats.suite import check_relative_path

MANIFEST_FORMAT = "twinbench-collection-1"
MANIFEST_FILE = "collection.yaml"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# Debian policy: package names are lower case letters, digits, '+', '-' and '.', starting alphanumerically
PACKAGE_PATTERN = r"^[a-z0-9][a-z0-9+.-]+$"
VERSION_PATTERN = r"^[A-Za-z0-9.+~:-]+$"


class Language(StrEnum):
    """The language a task's reference is written in."""

    c = "C"
    cpp = "C++"
    rust = "Rust"
    go = "Go"
    haskell = "Haskell"
    java = "Java"


class TestLimits(BaseModel):
    """Per-task overrides of the limits each test run gets (task.yaml limits.test), for references that need
    more memory or print more than the defaults allow."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    cpu_s: int | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, gt=0)
    file_size_mb: int | None = Field(default=None, gt=0)
    processes: int | None = Field(default=None, gt=0)
    output_bytes: int | None = Field(default=None, gt=0)
    disk_mb: int | None = Field(default=None, gt=0)


class TestgenSettings(BaseModel):
    """Per-task generation settings beyond budget, seed and size."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    runs: int | None = Field(default=None, gt=0, description="an exact run budget instead of the time budget")
    upstream_tests: bool = Field(default=True, description="seed from the Debian source package's own tests")
    base_args: list[str] = Field(
        default_factory=list,
        description="arguments every generated invocation starts with: the mode flag the program needs to run "
        "without a terminal (fzf's --filter, gdu's -n)",
    )
    files: dict[str, str] = Field(
        default_factory=dict,
        description="input files every generated case has (relative path -> text): the state a program reads, "
        "such as a key file, a database or a directory tree",
    )
    test_limits: TestLimits = Field(default_factory=TestLimits)

    @field_validator("files")
    @classmethod
    def _file_names(cls, files: dict[str, str]) -> dict[str, str]:
        return {check_relative_path(name): text for name, text in files.items()}

    @field_validator("base_args")
    @classmethod
    def _arguments(cls, arguments: list[str]) -> list[str]:
        if any("\x00" in argument for argument in arguments):
            raise ValueError("an argument cannot hold a NUL byte")
        return arguments


# settings added after collections were built: left out of an entry's digest while unset, so that entries
# which do not use them keep their digests and are not rebuilt
LATER_TESTGEN_SETTINGS = ("base_args", "files")


class Defaults(BaseModel):
    """What every task inherits unless it sets its own."""

    model_config = ConfigDict(extra="forbid")

    budget_s: float = Field(default=120.0, gt=0, le=24 * 3600)
    seed: int = 1
    max_tests: int = Field(default=400, gt=0, le=100_000)
    coverage: bool = False


class TaskEntry(BaseModel):
    """One task of the manifest, with the defaults already applied."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TASK_ID_PATTERN, max_length=100)
    package: str = Field(pattern=PACKAGE_PATTERN, max_length=100)
    version: str = Field(pattern=VERSION_PATTERN, max_length=200)
    binary: str = Field(min_length=1, max_length=400)
    language: Language
    programbench: str | None = None
    budget_s: float = Field(gt=0, le=24 * 3600)
    seed: int
    max_tests: int = Field(gt=0, le=100_000)
    coverage: bool
    env: Environment = Field(default_factory=dict)
    testgen: TestgenSettings = Field(default_factory=TestgenSettings)
    notes: str = ""

    @field_validator("binary")
    @classmethod
    def _binary(cls, binary: str) -> str:
        if "\x00" in binary or "\n" in binary:
            raise ValueError("binary must be a command name or an absolute path")
        if "/" in binary and not binary.startswith("/"):
            raise ValueError("binary must be a command name or an absolute path, not a relative path")
        return binary

    def digest(self) -> str:
        """sha256 of the entry as built: a change to any setting (defaults included) changes it."""
        data = self.model_dump(mode="json")
        for name in LATER_TESTGEN_SETTINGS:
            if not data["testgen"][name]:
                data["testgen"].pop(name)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class DeferredEntry(BaseModel):
    """A program left for later, and why."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(min_length=1)
    programbench: str | None = None
    reason: str = Field(min_length=1)


class Manifest(BaseModel):
    """A whole collection.yaml, defaults resolved into each task."""

    model_config = ConfigDict(extra="forbid")

    format: str
    name: str = Field(pattern=TASK_ID_PATTERN)
    description: str = ""
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    defaults: Defaults = Field(default_factory=Defaults)
    tasks: list[TaskEntry]
    deferred: list[DeferredEntry] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _inherit(cls, data: Any) -> Any:
        """Fill each task's unset settings from `defaults` before the tasks are validated."""
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        tasks = data.get("tasks")
        if not isinstance(defaults, dict) or not isinstance(tasks, list):
            return data
        inherited = Defaults.model_validate(defaults).model_dump()
        data = dict(data)
        data["tasks"] = [{**inherited, **task} if isinstance(task, dict) else task for task in tasks]
        return data

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != MANIFEST_FORMAT:
            raise ValueError(f"must be {MANIFEST_FORMAT!r}")
        return value

    @field_validator("tasks")
    @classmethod
    def _unique(cls, tasks: list[TaskEntry]) -> list[TaskEntry]:
        seen: set[str] = set()
        for task in tasks:
            # task ids are directory names: two that differ only in case collide on some filesystems
            key = task.id.lower()
            if key in seen:
                raise ValueError(f"duplicate task id {task.id!r}")
            seen.add(key)
        if not tasks:
            raise ValueError("a collection needs at least one task")
        return tasks

    def task(self, task_id: str) -> TaskEntry:
        """The entry of one task id."""
        for entry in self.tasks:
            if entry.id == task_id:
                return entry
        raise KeyError(task_id)


def manifest_path(path: Path) -> Path:
    """The manifest file of a collection directory, or the file itself."""
    return path / MANIFEST_FILE if path.is_dir() else path


def load_manifest(path: Path) -> Manifest:
    """Read a collection.yaml (or the one in a collection directory); any problem is a one-line FormatError."""
    path = manifest_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise FormatError(f"{path}: not valid YAML (nested too deeply)") from None
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(f"{path}: not valid YAML ({first_line})") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path}: expected a mapping at the top level")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise FormatError(f"{path}: {_where(exc, data)}") from None
    except RecursionError:
        raise FormatError(f"{path}: nested too deeply") from None


def _where(exc: ValidationError, data: dict[str, Any]) -> str:
    """The first error on one line, naming the task by id rather than by list position."""
    error = exc.errors()[0]
    parts = [str(part) for part in error["loc"]]
    tasks = data.get("tasks")
    if len(parts) >= 2 and parts[0] == "tasks" and parts[1].isdigit() and isinstance(tasks, list):
        index = int(parts[1])
        entry = tasks[index] if index < len(tasks) else None
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            parts[1] = f"{entry['id']}"
    where = ".".join(parts) or "manifest"
    message = str(error["msg"]).splitlines()[0]
    return f"{where}: {message}"
