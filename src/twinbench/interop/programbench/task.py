"""A ProgramBench task imported into twinbench: a twinbench task dir with a `programbench/` part.

<task>/task.yaml                         twinbench's Task (id = the instance id, reference, limits)
<task>/docs/                             what the cleanroom image shows, where it was available
<task>/reference/executable              the reference program
<task>/programbench/task.yaml            ProgramBench's task.yaml, verbatim
<task>/programbench/tests.json           ProgramBench's tests.json, verbatim
<task>/programbench/branches/<b>.tar.gz  one archive per test branch
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from twinbench.formats import FormatError, TaskDir, first_error, load_task
from twinbench.interop.programbench.models import PBTaskSpec, TestsSpec

PB_DIR = "programbench"
TASK_YAML = "task.yaml"
TESTS_JSON = "tests.json"


class PBTask(BaseModel):
    """An imported task: the twinbench side and ProgramBench's metadata."""

    task_dir: TaskDir
    spec: PBTaskSpec
    tests: TestsSpec

    @property
    def iid(self) -> str:
        """ProgramBench's instance id."""
        return self.task_dir.task.id

    def branch_archive(self, branch: str) -> Path:
        """Where the branch's tests archive is kept."""
        return self.task_dir.root / PB_DIR / "branches" / f"{branch}.tar.gz"


def packaged_tasks_dir() -> Path | None:
    """data/tasks of the installed programbench package, found without importing it."""
    spec = importlib.util.find_spec("programbench")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "tasks"
    return path if path.is_dir() else None


def read_spec(path: Path) -> PBTaskSpec:
    """ProgramBench's task.yaml; one-line FormatError if it is not one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PBTaskSpec.model_validate(data if data is not None else {})
    except OSError as exc:
        raise FormatError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        raise FormatError(f"{path}: not valid YAML") from None
    except ValidationError as exc:
        raise FormatError(f"{path}: {_first_error(exc)}") from None


def read_tests(path: Path) -> TestsSpec:
    """ProgramBench's tests.json (a missing file means no branches, as ProgramBench reads it)."""
    if not path.exists():
        return TestsSpec()
    try:
        return TestsSpec.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise FormatError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            raise FormatError(f"{path}: {_first_error(exc)}") from None
        raise FormatError(f"{path}: not valid JSON") from None


def load_pb_task(path: Path) -> PBTask:
    """An imported task directory; one-line FormatErrors for anything missing or malformed."""
    task_dir = load_task(path)
    meta = task_dir.root / PB_DIR
    if not (meta / TASK_YAML).is_file():
        raise FormatError(f"{task_dir.root} is not an imported ProgramBench task (no {PB_DIR}/{TASK_YAML})")
    return PBTask(task_dir=task_dir, spec=read_spec(meta / TASK_YAML), tests=read_tests(meta / TESTS_JSON))


def _first_error(exc: ValidationError) -> str:
    return first_error(exc, top="top level")
