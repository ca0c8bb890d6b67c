"""`programbench derive` on a task in ProgramBench's format written here: single-call tests become native
cases that twinbench's own grader passes for the reference and fails for a wrong program; the rest are
left out with their reasons."""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
from pathlib import Path

import pytest

from twinbench.formats import load_suite, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.interop.programbench.branch import pytest_python_problem
from twinbench.interop.programbench.derive import derive_suite
from twinbench.interop.programbench.importer import import_task
from twinbench.interop.programbench.task import load_pb_task
from twinbench.sandbox import get_sandbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or pytest_python_problem() is not None,
        reason="branches need root (two uids in one sandbox) and the venv of scripts/setup.sh",
    ),
]

IID = "own__upper.0000001"
BRANCH = "a1b2c3d4e5f6"
REFERENCE = """#!/bin/bash
case "$1" in
  --out) echo made > "$2" ;;
  --fail) echo "bad option" >&2; exit 3 ;;
  *) tr a-z A-Z < "$1"; tr a-z A-Z ;;
esac
"""
TESTS = """
import subprocess

EXE = "/workspace/executable"

def test_file_and_stdin(tmp_path):
    (tmp_path / "in.txt").write_text("abc\\n")
    result = subprocess.run([EXE, str(tmp_path / "in.txt")], cwd=tmp_path, input=b"xyz\\n", capture_output=True)
    assert result.stdout == b"ABC\\nXYZ\\n"

def test_writes_a_file(tmp_path):
    subprocess.run([EXE, "--out", "made.txt"], cwd=tmp_path, check=True)
    assert (tmp_path / "made.txt").read_text() == "made\\n"

def test_error_status(tmp_path):
    result = subprocess.run([EXE, "--fail"], cwd=tmp_path, capture_output=True)
    assert result.returncode == 3

def test_two_calls(tmp_path):
    subprocess.run([EXE, "--out", "a"], cwd=tmp_path, check=True)
    subprocess.run([EXE, "--out", "b"], cwd=tmp_path, check=True)

def test_wrong_on_the_reference(tmp_path):
    result = subprocess.run([EXE, "--fail"], cwd=tmp_path, capture_output=True)
    assert result.returncode == 0

def test_in_the_workspace():
    assert subprocess.run(["./executable", "--fail"], capture_output=True).returncode == 3
"""
RUN_SH = '#!/bin/bash\ncd "$(dirname "$0")/.."\npython3 -m pytest eval/tests --junitxml=eval/results.xml\n'
NAMES = ["file_and_stdin", "writes_a_file", "error_status", "two_calls", "wrong_on_the_reference", "in_the_workspace"]


def _task(tmp_path: Path) -> Path:
    data = tmp_path / "data" / IID
    data.mkdir(parents=True)
    (data / "task.yaml").write_text("repository: own/upper\ncommit: abc\nlanguage: bash\n")
    tests = [f"eval.tests.test_upper.test_{name}" for name in NAMES]
    (data / "tests.json").write_text(json.dumps({"branches": {BRANCH: {"tests": tests}}}))
    blob = tmp_path / "blob" / IID / "tests"
    blob.mkdir(parents=True)
    with tarfile.open(blob / f"{BRANCH}.tar.gz", "w:gz") as tar:
        for name, text in (("eval/run.sh", RUN_SH), ("eval/tests/test_upper.py", textwrap.dedent(TESTS))):
            payload = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(payload), 0o755
            tar.addfile(info, io.BytesIO(payload))
    reference = tmp_path / "upper.sh"
    reference.write_text(REFERENCE)
    reference.chmod(0o755)
    task = tmp_path / "task"
    import_task(IID, task, blob_dir=tmp_path / "blob", data_dir=tmp_path / "data", reference=reference)
    return task


def _submission(directory: Path, program: str) -> Path:
    directory.mkdir()
    (directory / "program.sh").write_text(program)
    (directory / "compile.sh").write_text("#!/bin/bash\ncp program.sh executable && chmod +x executable\n")
    return directory


def test_single_call_tests_become_cases_that_grade_like_the_reference(tmp_path: Path) -> None:
    task_dir = _task(tmp_path)
    report = derive_suite(load_pb_task(task_dir), task_dir / "tests" / "suite.jsonl")
    prefix = f"{IID}/{BRANCH}/eval.tests.test_upper.test_"
    assert report.cases == 3 and report.tests_seen == 6
    assert report.left_out == {
        f"{prefix}two_calls": "runs ./executable 2 times",
        f"{prefix}wrong_on_the_reference": "failure against the reference",
        f"{prefix}in_the_workspace": "runs in /workspace, whose files are the program's own tree",
    }
    suite = load_suite(task_dir / "tests" / "suite.jsonl")
    by_source = {case.source.rsplit("_", 1)[-1]: case for case in suite.cases}
    stdin_case = suite.cases[0]
    assert (stdin_case.argv, stdin_case.files, stdin_case.stdin) == (["in.txt"], {"in.txt": b"abc\n"}, b"xyz\n")
    assert stdin_case.expect.stdout == b"ABC\nXYZ\n"
    assert by_source["file"].expect.files == {"made.txt": b"made\n"}
    assert by_source["status"].expect.exit_code == 3 and by_source["status"].expect.stderr == b"bad option\n"

    sandbox = get_sandbox("bwrap")
    task = load_task(task_dir)
    right = evaluate(task, _submission(tmp_path / "right", REFERENCE), tmp_path / "out-right", sandbox, EvalOptions())
    wrong_program = REFERENCE.replace("tr a-z A-Z ;;", "cat ;;")
    wrong = evaluate(
        task, _submission(tmp_path / "wrong", wrong_program), tmp_path / "out-wrong", sandbox, EvalOptions()
    )
    assert (right.passed, right.total) == (3, 3)
    assert (wrong.passed, wrong.total) == (2, 3)
