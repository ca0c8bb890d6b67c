"""evaluate() end to end on a three-test task of its own, checked field by field (one real sandbox each)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import twinbench
from tests.conftest import write_executable, write_submission
from tests.helpers_task import small_figlet_task
from twinbench.formats import Suite, TestCase, TestStatus, dump_suite, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.grade.submission import submission_digest
from twinbench.protocols import Sandbox

PROGRAM = """#!/bin/sh
case "$1" in
  echo) echo "$2";;
  bad) echo "bad option" >&2; exit 2;;
  write) printf content > out.txt;;
esac
"""


def three_test_task(directory: Path) -> Path:
    task = small_figlet_task(directory, count=1)
    cases = [
        TestCase.model_validate(
            {"id": "echo", "group": "a", "argv": ["echo", "hi"], "expect": {"exit_code": 0, "stdout": "hi\n"}}
        ),
        TestCase.model_validate(
            {"id": "bad", "group": "b", "argv": ["bad"], "expect": {"exit_code": 2, "stderr": "bad option\n"}}
        ),
        TestCase.model_validate(
            {
                "id": "write",
                "group": "a",
                "argv": ["write"],
                "expect": {"exit_code": 0, "files": {"out.txt": "content"}},
            }
        ),
    ]
    dump_suite(Suite(cases=cases), task / "tests" / "suite.jsonl")
    return task


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return three_test_task(tmp_path_factory.mktemp("rules") / "task")


def test_a_correct_submission_resolves_and_every_field_is_written(task: Path, tmp_path: Path, bwrap: Sandbox) -> None:
    submission = write_submission(tmp_path / "sub", PROGRAM)
    out = tmp_path / "out"
    started: list[int] = []
    seen: list[str] = []
    result = evaluate(
        load_task(task),
        submission,
        out,
        bwrap,
        EvalOptions(workers=1),
        on_start=started.append,
        on_progress=lambda t: seen.append(t.id),
    )
    assert started == [3] and seen == ["echo", "bad", "write"]  # round-robin over groups a, b
    assert [t.id for t in result.tests] == ["echo", "bad", "write"]  # results in suite order
    assert [t.status for t in result.tests] == [TestStatus.passed] * 3
    assert (result.score, result.passed, result.total, result.resolved, result.near_resolved) == (1.0, 3, 3, True, True)
    assert result.task == "figlet" and result.submission == str(submission.resolve())
    assert result.sandbox == "bwrap" and result.workers == 1 and result.seconds > 0 and result.stopped == ""
    assert result.twinbench_version == twinbench.__version__
    assert result.submission_sha256 == submission_digest(submission.resolve())
    assert result.build.ok and result.build.exit_code == 0 and result.build.reason == ""
    on_disk = json.loads((out / "eval.json").read_text())
    assert on_disk == json.loads(result.model_dump_json())
    assert ET.parse(out / "junit.xml").getroot()[0].get("tests") == "3"
    journal = (out / "progress.jsonl").read_text().splitlines()
    assert json.loads(journal[0]) == {
        "identity": {"submission_sha256": result.submission_sha256, "suite_sha256": result.suite_sha256}
    }
    assert sorted(json.loads(line)["id"] for line in journal[1:]) == ["bad", "echo", "write"]
    assert (out / "build" / "tree" / "executable").is_file() and (out / "source" / "program").is_file()
    # a second run resumes everything: nothing runs, the build is reused, the result is the same
    seen.clear()
    again = evaluate(
        load_task(task),
        submission,
        out,
        bwrap,
        EvalOptions(workers=1),
        on_start=started.append,
        on_progress=lambda t: seen.append(t.id),
    )
    assert started == [3, 0] and seen == [] and again.tests == result.tests
    assert (out / "progress.jsonl").read_text().splitlines() == journal


def test_each_difference_fails_its_own_test(task: Path, tmp_path: Path, bwrap: Sandbox) -> None:
    wrong = (
        PROGRAM.replace('echo "$2"', 'echo "$2!"').replace("exit 2", "exit 3").replace("printf content", "printf other")
    )
    result = evaluate(
        load_task(task), write_submission(tmp_path / "sub", wrong), tmp_path / "out", bwrap, EvalOptions(workers=2)
    )
    reasons = {t.id: t.reason for t in result.tests}
    assert reasons == {
        "echo": "stdout differs from line 1",
        "bad": "exit code 3, expected 2",
        "write": "file out.txt differs",
    }
    assert result.score == 0 and not result.resolved and result.counts["failed"] == 3


def test_a_build_that_fails_leaves_every_test_not_run(task: Path, tmp_path: Path, bwrap: Sandbox) -> None:
    submission = tmp_path / "sub"
    write_executable(submission, "#!/bin/sh\nexit 1\n", "compile.sh")
    result = evaluate(load_task(task), submission, tmp_path / "out", bwrap, EvalOptions(workers=1))
    assert [(t.status, t.reason) for t in result.tests] == [(TestStatus.not_run, "build failed")] * 3
    assert result.build.reason == "compile.sh failed with exit code 1" and result.build.exit_code == 1
    assert not (tmp_path / "out" / "progress.jsonl").exists()
