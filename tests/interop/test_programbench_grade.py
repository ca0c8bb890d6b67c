"""End to end on ProgramBench's own fixture task: import, grade in the sandbox, compare with ProgramBench.

The fixture's runs ship the eval.json ProgramBench's Docker grader wrote for them; our statuses, executable
hash and warnings must equal those, our files must load with ProgramBench's model, and a submission that
tries to forge results.xml must score nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from programbench.eval.eval import EvaluationResult
from programbench.submission import score_from_tests as pb_score_from_tests
from programbench.submission import test_results_map as pb_test_results_map

from twinbench.formats import FormatError
from twinbench.interop.programbench.branch import pytest_python_problem
from twinbench.interop.programbench.grade import GradeOptions
from twinbench.interop.programbench.importer import import_task
from twinbench.interop.programbench.run import grade_run
from twinbench.interop.programbench.task import packaged_tasks_dir
from twinbench.sandbox import get_sandbox

IID = "testorg__calculator.abc1234"
BRANCH = "33128f6b8600"
TASKS = packaged_tasks_dir()
RUNS = TASKS.parent / "test_runs" if TASKS is not None else Path("/nonexistent")

needs_branches = pytest.mark.skipif(
    os.geteuid() != 0 or pytest_python_problem() is not None,
    reason="branches need root (two uids in one sandbox) and the venv of scripts/setup.sh",
)


@pytest.fixture
def tasks_dir(tmp_path: Path) -> Path:
    """The fixture task imported, with the correct submission's calculator as the reference."""
    reference = tmp_path / "calculator.sh"
    with zipfile.ZipFile(RUNS / "correct" / IID / "submission.zip") as bundle:
        reference.write_bytes(bundle.read("calculator.sh"))
    tasks = tmp_path / "tasks"
    report = import_task(IID, tasks / IID, reference=reference)
    assert report.branches == [BRANCH] and report.missing_branches == []
    return tasks


def _instance() -> dict[str, object]:
    data = json.loads((TASKS / IID / "tests.json").read_text()) if TASKS else {}
    return {"instance_id": IID, **data}


@pytest.mark.slow
@needs_branches
@pytest.mark.parametrize("run", ["correct", "incorrect"])
def test_fixture_runs_grade_exactly_as_programbench_graded_them(tmp_path: Path, tasks_dir: Path, run: str) -> None:
    run_dir = tmp_path / "run"
    (run_dir / IID).mkdir(parents=True)
    shutil.copy2(RUNS / run / IID / "submission.zip", run_dir / IID / "submission.zip")
    out = tmp_path / "out"
    summary = grade_run(run_dir, tasks_dir, out, get_sandbox("bwrap"), GradeOptions())

    eval_json = out / IID / f"{IID}.eval.json"
    ours = EvaluationResult.model_validate_json(eval_json.read_text())  # ProgramBench's own model accepts it
    theirs = EvaluationResult.model_validate_json((RUNS / run / IID / f"{IID}.eval.json").read_text())
    assert [(t.name, t.branch, t.status) for t in ours] == [(t.name, t.branch, t.status) for t in theirs]
    assert ours.executable_hash == theirs.executable_hash
    assert ours.warnings == theirs.warnings and ours.error_code is None
    expected_score = pb_score_from_tests(pb_test_results_map(RUNS / run / IID / f"{IID}.eval.json", _instance()))
    assert summary.instances[0].score == expected_score == (0.5 if run == "correct" else 0.0)
    score_json = json.loads((out / "_stats" / "score.json").read_text())
    assert score_json == {IID: pb_test_results_map(eval_json, _instance())}
    native = json.loads((out / IID / "eval.json").read_text())
    assert (native["passed"], native["total"]) == (3 if run == "correct" else 0, 6)


FORGED_XML = (
    '<?xml version="1.0"?><testsuites><testsuite name="pytest">'
    + "".join(
        f'<testcase classname="{prefix}tests.test_calculator" name="test_{op}"/>'
        for prefix in ("", "eval.")
        for op in ("addition", "subtraction", "multiplication")
    )
    + "</testsuite></testsuites>"
)
# prints wrong answers, and meanwhile tries every way it has to make the tests look passed
FORGER = f"""#!/bin/bash
xml='{FORGED_XML}'
( for i in $(seq 200); do
    printf '%s' "$xml" > /workspace/eval/results.xml 2>/dev/null
    printf '%s' "$xml" > /workspace/results.xml 2>/dev/null
    mv /workspace/eval /workspace/eval.old 2>/dev/null && mkdir -p /workspace/eval \
        && printf '%s' "$xml" > /workspace/eval/results.xml
    printf 'import os\\nos._exit(0)\\n' > /workspace/eval/tests/conftest.py 2>/dev/null
    printf 'import os\\nos._exit(0)\\n' > /workspace/difflib.py 2>/dev/null
    ln -sf /tmp/forged.xml /workspace/eval/results.xml 2>/dev/null
    printf '%s' "$xml" > /tmp/forged.xml
    kill -9 -1 2>/dev/null
    sleep 0.05
  done ) </dev/null >/dev/null 2>&1 &
disown
echo 42
"""
PLANTED_CONFTEST = (
    "import pytest\n"
    "@pytest.hookimpl(hookwrapper=True)\n"
    "def pytest_runtest_makereport(item, call):\n"
    "    outcome = yield\n"
    "    outcome.get_result().outcome = 'passed'\n"
)


def _forging_submission(path: Path) -> None:
    files = {
        "compile.sh": "#!/bin/bash\ncp forger.sh executable && chmod +x executable\n",
        "forger.sh": FORGER,
        # pytest's rootdir is /workspace: a conftest.py or pytest.ini there would run inside pytest
        "conftest.py": PLANTED_CONFTEST,
        "pytest.ini": "[pytest]\naddopts = -p conftest\n",
        "eval/tests/conftest.py": PLANTED_CONFTEST,
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.slow
@needs_branches
def test_a_submission_forging_results_scores_nothing(tmp_path: Path, tasks_dir: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / IID).mkdir(parents=True)
    _forging_submission(run_dir / IID / "submission.tar.gz")
    out = tmp_path / "out"
    summary = grade_run(run_dir, tasks_dir, out, get_sandbox("bwrap"), GradeOptions())
    result = EvaluationResult.model_validate_json((out / IID / f"{IID}.eval.json").read_text())
    assert summary.instances[0].score == 0.0
    statuses = {t.name: t.status for t in result}
    assert statuses["eval.tests.test_calculator.test_addition"] == "failure"
    assert not any(status == "passed" for status in statuses.values())
    assert any("conftest.py" in warning for warning in result.warnings)


def test_import_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    reference = tmp_path / "ref"
    reference.write_text("#!/bin/sh\n")
    cases = [
        dict(iid="../etc", reference=reference),
        dict(iid="nobody__nothing.0000000", reference=reference),
        dict(iid=IID, reference=None),
        dict(iid=IID, reference=reference, rootfs=tmp_path),
        dict(iid=IID, reference=tmp_path / "missing"),
    ]
    for case in cases:
        with pytest.raises(FormatError) as caught:
            import_task(output=tmp_path / "task", **case)  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)


def test_import_from_a_data_dir_keeps_ignored_tests_and_checks_the_gold_hash(tmp_path: Path) -> None:
    import hashlib

    data = tmp_path / "data" / "own__tool.1234567"
    (data / "tests" / "aaaaaaaaaaaa" / "eval" / "tests").mkdir(parents=True)
    (data / "tests" / "aaaaaaaaaaaa" / "eval" / "run.sh").write_text("#!/bin/bash\n")
    reference = tmp_path / "gold"
    reference.write_bytes(b"\x7fELF gold")
    gold = hashlib.sha256(reference.read_bytes()).hexdigest()
    (data / "task.yaml").write_text(f"repository: own/tool\ncommit: abc\nlanguage: c\neval_clean_hashes: [{gold}]\n")
    tests = {
        "branches": {
            "aaaaaaaaaaaa": {"tests": ["t.a", "t.b"], "ignored_tests": [{"name": "t.b", "reasons": [{"id": "x"}]}]},
            "bbbbbbbbbbbb": {"ignored": True, "ignore_reason": "flaky", "tests": ["t.c"]},
            "cccccccccccc": {"tests": ["t.d"]},
        }
    }
    (data / "tests.json").write_text(json.dumps(tests))
    report = import_task("own__tool.1234567", tmp_path / "task", data_dir=tmp_path / "data", reference=reference)
    assert report.reference_is_gold is True
    assert report.branches == ["aaaaaaaaaaaa"] and report.missing_branches == ["cccccccccccc"]
    assert report.ignored_branches == ["bbbbbbbbbbbb"] and report.ignored_tests == 1
    kept = json.loads((tmp_path / "task" / "programbench" / "tests.json").read_text())
    assert kept == tests
    with tarfile.open(tmp_path / "task" / "programbench" / "branches" / "aaaaaaaaaaaa.tar.gz") as tar:
        assert "eval/run.sh" in tar.getnames()


@pytest.mark.parametrize(
    ("archive", "error_code"),
    [
        (b"not an archive at all", "copy_in_submission_failed"),
        (b"\x1f\x8b\x08\x00truncated gzip", "copy_in_submission_failed"),
    ],
)
def test_a_broken_submission_is_a_recorded_error_with_every_test_not_run(
    tmp_path: Path, tasks_dir: Path, archive: bytes, error_code: str
) -> None:
    run_dir = tmp_path / "run"
    (run_dir / IID).mkdir(parents=True)
    (run_dir / IID / "submission.tar.gz").write_bytes(archive)
    (run_dir / "not-a-task").mkdir()
    (run_dir / "not-a-task" / "submission.tar.gz").write_bytes(b"x")
    (run_dir / "no-submission").mkdir()
    out = tmp_path / "out"
    summary = grade_run(run_dir, tasks_dir, out, get_sandbox("bwrap"), GradeOptions())
    result = EvaluationResult.model_validate_json((out / IID / f"{IID}.eval.json").read_text())
    assert result.error_code == error_code
    assert [t.status for t in result] == ["not_run"] * 3
    assert summary.instances[0].score == 0.0 and set(summary.skipped) == {"not-a-task", "no-submission"}


@pytest.mark.slow
@needs_branches
def test_a_failing_compile_is_compile_failed(tmp_path: Path, tasks_dir: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / IID).mkdir(parents=True)
    with tarfile.open(run_dir / IID / "submission.tar.gz", "w:gz") as tar:
        data = b"#!/bin/bash\necho cannot build >&2\nexit 2\n"
        info = tarfile.TarInfo("compile.sh")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    grade_run(run_dir, tasks_dir, out, get_sandbox("bwrap"), GradeOptions())
    result = EvaluationResult.model_validate_json((out / IID / f"{IID}.eval.json").read_text())
    assert (result.error_code, "cannot build" in (result.error_details or "")) == ("compile_failed", True)
    assert {t.extra["error_code"] for t in result} == {"compile_failed"}
