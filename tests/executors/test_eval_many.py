"""`twinbench eval TASKS_DIR RUN_DIR` on the local executor: a whole run graded, resumed, filtered and sliced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from batch_support import make_run, make_tasks, tree
from typer.testing import CliRunner

from twinbench.cli import app
from twinbench.demo import DEMO_TASK

CASES = 8


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """TASKS_DIR with fa..fd (3 cases each) and RUN_DIR with their submissions, plus a run of no known task."""
    root = tmp_path_factory.mktemp("batch")
    tasks = make_tasks(root / "tasks", ["fa", "fb", "fc", "fd"], cases=CASES)
    run = make_run(root / "run")
    (run / "ghost" / "submission").mkdir(parents=True)
    return tasks, run


def _eval(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    return result.exit_code, result.output


def test_a_run_is_graded_then_resumed_where_it_stopped(batch: tuple[Path, Path], tmp_path: Path) -> None:
    tasks, run = batch
    out = tmp_path / "out"
    code, output = _eval(str(tasks), str(run), "-o", str(out), "-j", "2", "--grading-cpus", "1")
    assert code == 0, output
    assert "4/5 graded" in output and "ghost: invalid: no task ghost in" in output
    summary = json.loads((out / "eval-summary.json").read_text())
    statuses = {entry["task"]: (entry["status"], entry["passed"]) for entry in summary["tasks"]}
    # what the partial rebuild passes of the demo suite's first CASES cases (the suite is regenerated now and then)
    partial_passes = statuses["fa"][1]
    assert 0 < partial_passes < CASES
    assert statuses == {
        "fa": ("graded", partial_passes),
        "fb": ("graded", 0),
        "fc": ("graded", 0),
        "fd": ("graded", partial_passes),
        "ghost": ("invalid", None),
    }
    assert summary["units"] | {"executor": "local"} == {
        "executor": "local", "total": 5, "skipped": 0, "invalid": 1, "ran": 4, "retried": 0, "failed": 0,
        "interrupted": 0,
    }  # fmt: skip
    first = tree(out / "fa" / "eval")
    eval_json = json.loads((out / "fd" / "eval" / "eval.json").read_text())
    assert eval_json["submission"] == str((run / "fd" / "submission").resolve())
    # a driver killed while fa was in flight: no result for it, and a half-installed copy beside it
    shutil.rmtree(out / "fa" / "eval")
    (out / "fa" / ".eval.in-x1.twinbench-tmp").mkdir()
    code, output = _eval(str(tasks), str(run), "-o", str(out), "-j", "2", "--grading-cpus", "1")
    assert code == 0, output
    units = json.loads((out / "eval-summary.json").read_text())["units"]
    assert (units["ran"], units["skipped"], units["invalid"]) == (1, 3, 1)
    assert tree(out / "fa" / "eval") == first
    assert sorted(path.name for path in (out / "fa").iterdir()) == ["eval"]
    # a different submission for the same task is graded again, not taken for the old one
    other = make_run(tmp_path / "other", {"fb": "partial"})
    code, output = _eval(str(tasks), str(other), "-o", str(out), "--grading-cpus", "1")
    assert code == 0 and json.loads((out / "eval-summary.json").read_text())["units"]["ran"] == 1, output


def test_filter_and_slice_choose_the_tasks(batch: tuple[Path, Path], tmp_path: Path) -> None:
    tasks, run = batch
    code, output = _eval(str(tasks), str(run), "-o", str(tmp_path), "--filter", "^f[abc]$", "--slice", "1:")
    assert code == 0, output
    graded = [entry["task"] for entry in json.loads((tmp_path / "eval-summary.json").read_text())["tasks"]]
    assert graded == ["fb", "fc"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--filter", "f("], "--filter 'f(' is not a regular expression"),
        (["--slice", "1-2"], "--slice '1-2' is not START:END"),
        (["--filter", "nothing-matches"], "is left after --filter/--slice"),
        (["--executor", "spark"], "unknown executor 'spark'; choose local or ray"),
        (["--ray-address", "10.0.0.1:6379"], "--ray-address and --shared-dir go with --executor ray"),
    ],
)
def test_bad_batch_input_is_one_line_and_exit_2(
    batch: tuple[Path, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    tasks, run = batch
    code, output = _eval(str(tasks), str(run), "-o", str(tmp_path), *extra)
    assert code == 2 and message in output and "Traceback" not in output, output
    assert len(output.strip().splitlines()) == 1, output


def test_single_eval_still_takes_a_task_and_refuses_batch_options(tmp_path: Path) -> None:
    code, output = _eval(str(DEMO_TASK), str(tmp_path), "--filter", "x")
    assert code == 2 and "--filter, --slice, --executor and --grading-cpus go with TASKS_DIR RUN_DIR" in output
    (tmp_path / "empty").mkdir()
    code, output = _eval(str(tmp_path / "empty"), str(tmp_path))  # neither a task nor a directory of tasks
    assert code == 2 and "is not a task directory" in output
    make_tasks(tmp_path / "tasks", ["fa"], cases=1)
    code, output = _eval(str(tmp_path / "tasks"), str(tmp_path / "empty"))
    assert code == 2 and "holds no <task>/submission.tar.gz or <task>/submission/" in output
