"""Grading end to end on a real task: build, run, score, results on disk, resume, bad submissions."""

from __future__ import annotations

import json
import os
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import write_executable, write_submission
from tests.helpers_task import small_figlet_task
from twinbench.demo import DEMO_SUBMISSIONS
from twinbench.formats import TestStatus, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.protocols import Sandbox


def grade(task: Path, submission: Path, out: Path, sandbox: Sandbox, **options: object):
    return evaluate(load_task(task), submission, out, sandbox, EvalOptions(workers=2, **options))


def test_partial_submission_scores_and_writes_results(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=30)
    result = grade(task, DEMO_SUBMISSIONS["partial"], tmp_path / "out", bwrap)
    assert result.build.ok and result.total == 30 and 0 < result.passed < 30
    on_disk = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert on_disk["score"] == result.score and len(on_disk["tests"]) == 30
    assert on_disk["submission_sha256"] == result.submission_sha256
    junit = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert junit.find("testsuite").get("tests") == "30"


def test_failed_build_still_writes_eval_json(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=3)
    submission = tmp_path / "sub"
    write_executable(submission, "#!/bin/sh\necho compiling; echo 'error: no compiler' >&2; exit 4\n", "compile.sh")
    result = grade(task, submission, tmp_path / "out", bwrap)
    assert not result.build.ok and result.build.reason == "compile.sh failed with exit code 4"
    assert "no compiler" in result.build.log_tail
    assert [t.status for t in result.tests] == [TestStatus.not_run] * 3 and result.score == 0
    assert json.loads((tmp_path / "out" / "eval.json").read_text())["build"]["ok"] is False


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "submission has no compile.sh"),
        (
            {"compile.sh": "#!/bin/sh\ntrue\n"},
            "compile.sh succeeded but did not produce ./executable"
            " (compile.sh is not executable; it was run with bash)",
        ),
    ],
)
def test_bad_submissions_are_recorded(tmp_path: Path, bwrap: Sandbox, files: dict[str, str], reason: str) -> None:
    task = small_figlet_task(tmp_path / "task", count=2)
    submission = tmp_path / "sub"
    submission.mkdir()
    for name, content in files.items():
        (submission / name).write_text(content)
    result = grade(task, submission, tmp_path / "out", bwrap)
    assert result.build.reason == reason and result.counts["not_run"] == 2


def test_non_executable_compile_sh_is_run_with_bash(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=2)
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\nexit 0\n")
    (submission / "compile.sh").chmod(0o644)
    result = grade(task, submission, tmp_path / "out", bwrap)
    assert result.build.ok and "not executable" in result.build.reason


def test_build_that_never_ends_is_stopped(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=2, build={"wall_s": 2})
    submission = tmp_path / "sub"
    write_executable(submission, "#!/bin/sh\nsetsid sleep 1000 &\nwhile :; do :; done\n", "compile.sh")
    result = grade(task, submission, tmp_path / "out", bwrap)
    assert result.build.timed_out and "did not finish within 2s" in result.build.reason


def test_tar_gz_submission_with_a_top_folder(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=10)
    archive = tmp_path / "sub.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(DEMO_SUBMISSIONS["partial"], arcname="partial")
    from_archive = grade(task, archive, tmp_path / "out", bwrap)
    from_directory = grade(task, DEMO_SUBMISSIONS["partial"], tmp_path / "out2", bwrap)
    assert from_archive.build.ok and from_archive.passed > 0
    assert [t.status for t in from_archive.tests] == [t.status for t in from_directory.tests]


def test_malicious_archive_is_a_format_error(tmp_path: Path, bwrap: Sandbox) -> None:
    from twinbench.formats import FormatError

    task = small_figlet_task(tmp_path / "task", count=1)
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../escaped")
        info.size = 0
        tar.addfile(info)
    with pytest.raises(FormatError, match="cannot be unpacked"):
        grade(task, archive, tmp_path / "out", bwrap)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(100))
    with pytest.raises(FormatError, match="is not a tar archive"):
        grade(task, garbage, tmp_path / "out2", bwrap)


def test_resume_skips_finished_tests_and_force_reruns(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=6)
    out = tmp_path / "out"
    first = grade(task, DEMO_SUBMISSIONS["partial"], out, bwrap)
    journal = out / "progress.jsonl"
    lines = journal.read_text().splitlines()
    # pretend the harness was killed after three tests
    journal.write_text("\n".join(lines[:4]) + "\n{broken")
    seen: list[str] = []
    second = evaluate(
        load_task(task),
        DEMO_SUBMISSIONS["partial"],
        out,
        bwrap,
        EvalOptions(workers=2),
        on_progress=lambda test: seen.append(test.id),
    )
    assert len(seen) == 3 and second.score == first.score
    seen.clear()
    evaluate(
        load_task(task),
        DEMO_SUBMISSIONS["partial"],
        out,
        bwrap,
        EvalOptions(workers=2, force=True),
        on_progress=lambda test: seen.append(test.id),
    )
    assert len(seen) == 6


def test_changed_submission_is_not_resumed(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=3)
    out = tmp_path / "out"
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\nexit 0\n")
    grade(task, submission, out, bwrap)
    write_submission(submission, "#!/bin/sh\nexit 1\n")
    result = grade(task, submission, out, bwrap)
    assert all("exit code 1" in t.reason for t in result.tests)


def test_non_utf8_and_huge_output_are_recorded(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=2, test={"output_bytes": 10000})
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\nprintf '\\377\\376'\nhead -c 50000000 /dev/urandom\n")
    result = grade(task, submission, tmp_path / "out", bwrap)
    assert all(t.status == TestStatus.failed for t in result.tests)
    assert "exceeded the output limit" in result.tests[0].reason
    json.loads((tmp_path / "out" / "eval.json").read_text())
