"""Small real tasks for grading tests, cut from the bundled figlet demo task."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from twinbench.demo import DEMO_TASK
from twinbench.formats import Suite, dump_suite, load_suite


def small_figlet_task(directory: Path, count: int = 6, timeout_s: float | None = None, **limits: object) -> Path:
    """A copy of the demo task with its first `count` cases, optionally with tighter limits."""
    shutil.copytree(DEMO_TASK, directory)
    suite = load_suite(directory / "tests" / "suite.jsonl")
    cases = suite.cases[:count]
    if timeout_s is not None:
        cases = [case.model_copy(update={"timeout_s": timeout_s}) for case in cases]
    dump_suite(Suite(cases=cases), directory / "tests" / "suite.jsonl")
    if limits:
        spec = yaml.safe_load((directory / "task.yaml").read_text())
        for scope, values in limits.items():
            spec.setdefault("limits", {}).setdefault(scope, {}).update(values)
        (directory / "task.yaml").write_text(yaml.safe_dump(spec))
    return directory
