"""`twinbench programbench import / eval / derive` as a user runs them: real commands, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from twinbench.interop.programbench.branch import pytest_python_problem
from twinbench.interop.programbench.task import packaged_tasks_dir

IID = "testorg__calculator.abc1234"
TASKS = packaged_tasks_dir()
RUNS = TASKS.parent / "test_runs" if TASKS is not None else Path("/nonexistent")


def twinbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PROGRAMBENCH_BLOB_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "twinbench", "programbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=env,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody__nothing.0000000", "--reference", "/bin/true"], "no task nobody__nothing.0000000"),
        ([IID], "give exactly one of --reference PATH or --rootfs DIR"),
        ([IID, "--rootfs", "/nonexistent"], "reference /nonexistent/workspace/executable is not a file"),
        (["a/../b", "--reference", "/bin/true"], "is not a ProgramBench instance id"),
    ],
)
def test_import_errors_are_one_line_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = twinbench("import", *args, "-o", str(tmp_path / "task"))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_eval_of_a_missing_run_dir_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    result = twinbench("eval", str(tmp_path / "missing"), "--tasks", str(tmp_path / "tasks"))
    if pytest_python_problem() is not None or os.geteuid() != 0:
        assert result.returncode == 3
    else:
        assert result.returncode == 2 and "is not a run directory" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or pytest_python_problem() is not None,
    reason="branches need root (two uids in one sandbox) and the venv of scripts/setup.sh",
)
def test_import_eval_and_derive_on_the_fixture(tmp_path: Path) -> None:
    reference = tmp_path / "calculator.sh"
    with zipfile.ZipFile(RUNS / "correct" / IID / "submission.zip") as bundle:
        reference.write_bytes(bundle.read("calculator.sh"))
    imported = twinbench("import", IID, "--reference", str(reference), "-o", str(tmp_path / "tasks" / IID))
    assert imported.returncode == 0, imported.stderr
    assert "branches: 1 imported, 0 ignored" in imported.stdout
    run = tmp_path / "run"
    (run / IID).mkdir(parents=True)
    shutil.copy2(RUNS / "correct" / IID / "submission.zip", run / IID)
    graded = twinbench("eval", str(run), "--tasks", str(tmp_path / "tasks"), "--total", "200")
    assert graded.returncode == 0, graded.stderr
    assert f"{IID}: 3/6 = 0.500" in graded.stdout
    assert "mean score 0.0025, resolved 0.0%, near-resolved 0.0% (1/200 tasks graded)" in graded.stdout
    assert json.loads((run / "_stats" / "score.json").read_text())[IID]
    assert not (run / IID / "work").exists()
    again = twinbench("eval", str(run), "--tasks", str(tmp_path / "tasks"), "--total", "200")
    assert f"{IID}: 3/6 = 0.500 in 0.0s (graded before; --force grades again)" in again.stdout
    derived = twinbench("derive", str(tmp_path / "tasks" / IID))
    assert derived.returncode == 0, derived.stderr
    # the fixture's tests.json names tests without the eval. prefix pytest gives them: none is in the XML
    assert "(0 cases from 3 tests)" in derived.stdout and "left out 3: not in the JUnit XML" in derived.stdout
