"""`collection install --dry-run`, `agent batch --tasks` and the report's size classes (nothing runs in a sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twinbench.agent.batch import find_tasks, select_tasks
from twinbench.collection.install import available_versions, installed_version
from twinbench.demo import DEMO_TASK
from twinbench.formats import (
    BuildRecord,
    EvalResult,
    FormatError,
    TaskSize,
    TestResult,
    TestStatus,
    load_task,
    save_task,
)
from twinbench.report import aggregate_json, load_runs, render_html
from twinbench.report.sizes import scores_by_size, task_sizes


def twinbench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "twinbench.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def manifest(tmp_path: Path, tasks: list[tuple[str, str, str]]) -> Path:
    lines = ["format: twinbench-collection-1", "name: t", "tasks:"]
    for task_id, package, version in tasks:
        lines.append(f'  - {{id: {task_id}, package: {package}, version: "{version}", binary: x, language: C}}')
    path = tmp_path / "collection.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def an_uninstalled_package() -> tuple[str, str]:
    """A package apt's lists offer that is not installed here."""
    for package, versions in available_versions(["cowsay", "hello", "sl", "fortune-mod"]).items():
        if versions and installed_version(package) is None:
            return package, versions[0]
    pytest.skip("apt's lists offer none of the candidate packages (apt-get update?)")


def test_install_dry_run_prints_the_command_and_says_what_it_cannot(tmp_path: Path) -> None:
    figlet = installed_version("figlet")
    assert figlet is not None
    package, version = an_uninstalled_package()
    path = manifest(
        tmp_path,
        [("figlet", "figlet", figlet), ("new", package, version), ("old", "bc", "0.1-1"), ("gone", "no-such-pkg", "1")],
    )
    result = twinbench("collection", "install", str(path), "--dry-run")
    assert result.returncode == 1, result.stdout + result.stderr  # some cannot be installed
    lines = result.stdout.splitlines()
    assert f"figlet={figlet}: installed" in lines
    assert f"{package}={version}: to install" in lines
    assert any(line.startswith("bc=0.1-1: cannot install: apt's lists offer ") for line in lines)
    assert "no-such-pkg=1: cannot install: apt's lists have no such package (apt-get update? another release?)" in lines
    command = f"apt-get install -y --no-install-recommends --allow-downgrades {package}={version}"
    assert lines[-1].endswith(command)
    assert installed_version(package) is None  # a dry run installs nothing


def test_install_dry_run_with_everything_installed(tmp_path: Path) -> None:
    path = manifest(tmp_path, [("figlet", "figlet", installed_version("figlet") or "")])
    result = twinbench("collection", "install", str(tmp_path), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "nothing to install"
    assert path.is_file()


def tasks_dir(tmp_path: Path, sizes: dict[str, int | None]) -> Path:
    """A collection-like directory of copies of the demo task's task.yaml, each with a size (or none)."""
    root = tmp_path / "tasks"
    for task_id, lines in sizes.items():
        task = load_task(DEMO_TASK).task
        # sizes of more than 10,000 lines come from source packages here, the others from coverage builds
        method = "source-package" if lines is not None and lines > 10_000 else "coverage-build"
        size = None if lines is None else TaskSize(lines_of_code=lines, method=method)
        save_task(task.model_copy(update={"id": task_id, "size": size}), root / task_id)
    return root


def test_tasks_selection_takes_ids_and_regular_expressions(tmp_path: Path) -> None:
    paths = find_tasks(tasks_dir(tmp_path, {"bc": 1, "figlet": 1, "fd-find": 1, "lz4": 1}))
    assert [p.name for p in select_tasks(paths, "figlet")] == ["figlet"]
    assert [p.name for p in select_tasks(paths, "f.*")] == ["fd-find", "figlet"]
    assert [p.name for p in select_tasks(paths, "lz4, bc")] == ["bc", "lz4"]


def test_tasks_selection_refuses_bad_or_empty_selections(tmp_path: Path) -> None:
    paths = find_tasks(tasks_dir(tmp_path, {"bc": 1, "figlet": 1}))
    with pytest.raises(FormatError, match="selects none of the 2 tasks"):
        select_tasks(paths, "fig")  # a whole-name match: a prefix is not a task
    with pytest.raises(FormatError, match="not a valid regular expression"):
        select_tasks(paths, "fig(")
    with pytest.raises(FormatError, match="is empty"):
        select_tasks(paths, " , ")


def test_agent_batch_tasks_filter_is_checked_before_anything_runs(tmp_path: Path) -> None:
    root = tasks_dir(tmp_path, {"bc": 1, "figlet": 1})
    model = tmp_path / "model.yaml"
    model.write_text('responses: ["hello"]\n')
    out = tmp_path / "runs"
    result = twinbench("agent", "batch", str(root), "--model", f"scripted:{model}", "-o", str(out), "--tasks", "zz")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--tasks 'zz' selects none of the 2 tasks" in result.stderr
    assert not out.exists()


def test_report_groups_scores_by_size_class(tmp_path: Path) -> None:
    root = tasks_dir(tmp_path, {"bc": 4000, "jq": 20000, "sqlite": 200000, "mystery": None})
    run = tmp_path / "run"
    scores = {"bc": (3, 4), "jq": (1, 4), "sqlite": (0, 4), "mystery": (4, 4)}
    for task_id, (passed, total) in scores.items():
        tests = [
            TestResult(id=f"t{i}", group="g", status=TestStatus.passed if i < passed else TestStatus.failed)
            for i in range(total)
        ]
        result = EvalResult.scored(
            tests, task=task_id, submission="s", build=BuildRecord(ok=True), submission_sha256="0", suite_sha256="0"
        )
        (run / task_id / "eval").mkdir(parents=True)
        (run / task_id / "eval" / "eval.json").write_text(result.model_dump_json())
    (run / "summary.json").write_text(json.dumps({"tasks_dir": str(root), "tasks": []}))
    runs = load_runs([run])
    assert task_sizes(runs) == {"bc": "small", "jq": "medium", "sqlite": "large"}
    rows = {row.size_class: (row.tasks, row.resolved, row.mean_score) for row in scores_by_size(runs, task_sizes(runs))}
    assert rows == {"small": (1, 0, 0.75), "medium": (1, 0, 0.25), "large": (1, 0, 0.0), "unknown": (1, 1, 1.0)}
    by_size = aggregate_json(runs)["by_size"]
    assert [row["size_class"] for row in by_size] == ["small", "medium", "large", "unknown"]
    assert [row["measured_by"] for row in by_size] == [
        {"coverage-build": 1},
        {"source-package": 1},
        {"source-package": 1},
        {},
    ]
    page = render_html(runs)
    assert "By task size" in page and "<td>1 coverage build</td>" in page and "<td>1 source package</td>" in page
