"""The CLI: real commands, one-line errors and exit codes that separate graded from harness failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_submission
from tests.helpers_task import small_figlet_task


def twinbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twinbench.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_eval_grades_and_prints_a_summary(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=4)
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\necho nope\n")
    result = twinbench("eval", str(task), str(submission), "-o", str(tmp_path / "out"), "-j", "2")
    assert result.returncode == 0, result.stderr
    summary = "figlet: 0/4 passed, score 0.000 (behavioral 0.000), resolved no, near-resolved no (build ok;"
    assert summary in result.stdout
    first = json.loads((tmp_path / "out" / "eval.json").read_text())["tests"][0]
    assert f"  t0000 [{first['group']}] failed: {first['reason']}" in result.stdout
    assert json.loads((tmp_path / "out" / "eval.json").read_text())["total"] == 4
    assert first["reason"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "is not a task directory"),
        (lambda d: (d / "task.yaml").write_text("id: [broken"), "not valid YAML"),
        (
            lambda d: small_figlet_task(d / "t").joinpath("tests/suite.jsonl").write_text("{]\n"),
            "suite.jsonl:1",
        ),
    ],
)
def test_bad_task_is_one_line_and_exit_2(tmp_path: Path, setup, message: str) -> None:
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    setup(task_dir)
    target = task_dir / "t" if (task_dir / "t").exists() else task_dir
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\n")
    result = twinbench("eval", str(target), str(submission), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_submission_and_unknown_sandbox(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=1)
    missing = twinbench("eval", str(task), str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unknown = twinbench("eval", str(task), str(tmp_path), "--sandbox", "docker")
    # a typo of the user's: bad input (2), not a harness failure (3)
    assert unknown.returncode == 2 and "unknown sandbox backend 'docker'" in unknown.stderr


@pytest.mark.slow
def test_demo_scores_every_submission_in_its_range(tmp_path: Path) -> None:
    result = twinbench("demo", "-o", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stdout + result.stderr
    scores = {
        name: json.loads((tmp_path / "demo" / name / "eval.json").read_text())["score"]
        for name in ("stub", "partial", "reference-wrapper")
    }
    assert scores["stub"] <= 0.05 and scores["reference-wrapper"] == 0.0
    assert 0.2 < scores["partial"] < 0.9
    assert "partial" in result.stdout and "✓" in result.stdout
    # the scripted agent writes the partial rebuild in a clean room: the same score, through the whole pipeline
    agent = json.loads((tmp_path / "demo" / "agent-scripted" / "agent.json").read_text())
    assert agent["exit_status"] == "Submitted" and agent["score"] == scores["partial"]
    assert "scripted-agent" in result.stdout


def test_task_new_then_testgen_then_eval(tmp_path: Path) -> None:
    task = tmp_path / "figlet"
    created = twinbench("task", "new", "figlet", "--debian", "figlet", "-o", str(task))
    assert created.returncode == 0, created.stderr
    assert (task / "task.yaml").exists() and (task / "cli_model.json").exists() and any((task / "docs").iterdir())
    generated = twinbench("testgen", str(task), "--runs", "300", "--max-tests", "40", "--seed", "1")
    assert generated.returncode == 0, generated.stderr
    assert "tests kept" in generated.stdout and "guided by behavior" in generated.stdout
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\nexec cat\n")
    graded = twinbench("eval", str(task), str(submission), "-o", str(tmp_path / "out"))
    assert graded.returncode == 0 and "passed, score" in graded.stdout


def test_task_new_errors_are_one_line(tmp_path: Path) -> None:
    missing = twinbench("task", "new", "x", "--debian", "no-such-package-here", "-o", str(tmp_path / "x"))
    assert missing.returncode == 2 and "not installed" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    both = twinbench("task", "new", "x", "-o", str(tmp_path / "y"))
    assert both.returncode == 2 and "exactly one of" in both.stderr


def test_audit_flags_the_wrapper_and_clears_the_partial(tmp_path: Path) -> None:
    from twinbench.demo import DEMO_SUBMISSIONS, DEMO_TASK

    flagged = twinbench(
        "audit",
        str(DEMO_SUBMISSIONS["reference-wrapper"]),
        "--task",
        str(DEMO_TASK),
        "-o",
        str(tmp_path / "audit.json"),
    )
    assert flagged.returncode == 1 and "FLAGGED" in flagged.stdout and "critical wrapper" in flagged.stdout
    assert json.loads((tmp_path / "audit.json").read_text())["flagged"] is True
    clean = twinbench("audit", str(DEMO_SUBMISSIONS["partial"]), "--task", str(DEMO_TASK))
    assert clean.returncode == 0 and "clean" in clean.stdout


def test_eval_audit_then_report(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=5)
    from twinbench.demo import DEMO_SUBMISSIONS

    out = tmp_path / "run" / "figlet"
    graded = twinbench("eval", str(task), str(DEMO_SUBMISSIONS["reference-wrapper"]), "-o", str(out), "--audit")
    assert graded.returncode == 0 and (out / "audit.json").exists()
    report = twinbench("report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html"))
    # the audit flags the wrapper critical: its run is listed, not ranked
    assert report.returncode == 0 and "not ranked: run [flagged critical: wrapper on figlet]" in report.stdout
    html = (tmp_path / "report.html").read_text()
    assert "flagged critical: wrapper" in html and "Not ranked: flagged run" in html
    as_json = twinbench("report", str(tmp_path / "run"), "--json")
    row = json.loads(as_json.stdout)["leaderboard"][0]
    assert (row["run"], row["rank"], row["flag"]["rule"]) == ("run", None, "wrapper")


def test_version_and_short_help() -> None:
    """--version prints the version (and the commit in a checkout); -h is --help, at the top and below."""
    twinbench = Path(sys.executable).with_name("twinbench")
    version = subprocess.run([str(twinbench), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("twinbench 0."), version
    for argv in (["-h"], ["eval", "-h"]):
        shown = subprocess.run([str(twinbench), *argv], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and "Usage:" in shown.stdout, shown


def test_module_entry_point_sees_every_sub_app() -> None:
    """Regression: `python -m twinbench.cli` ran before the agent and programbench sub-apps were added."""
    for group in ("agent", "programbench"):
        shown = subprocess.run(
            [sys.executable, "-m", "twinbench.cli", group, "--help"], capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0 and "Usage:" in shown.stdout, shown


@pytest.mark.parametrize(
    ("pair", "message"),
    [("key.txt", "expected NAME=FILE"), ("../key=/etc/hostname", "must stay inside"), ("k=/nope/x", "cannot read")],
)
def test_a_bad_base_file_is_one_line_and_exit_2(tmp_path: Path, pair: str, message: str) -> None:
    task = small_figlet_task(tmp_path / "task", count=1)
    result = twinbench("testgen", str(task), "--runs", "50", "--base-file", pair)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_mutation_run_with_nothing_graded_gives_no_rate_and_no_rebuild_count() -> None:
    from twinbench.cli.testgen import mutation_summary
    from twinbench.formats.testgen import MutationReport

    nothing = MutationReport(
        seed=0, requested=12, built=12, equivalent=0, build_failed=0, killed=0, survived=0, kill_rate=None,
        baseline_cases=0, not_run=12,
    )  # fmt: skip
    line = mutation_summary(nothing)
    assert line.endswith("; none graded (12 not run: the time cap came first)")
    assert "pass on the unmutated rebuild" not in line and "killed" not in line
    graded = nothing.model_copy(
        update={"killed": 3, "survived": 1, "kill_rate": 0.75, "baseline_cases": 40, "not_run": 8}
    )
    assert "killed 3 of 4 = 75.0% (40 cases pass on the unmutated rebuild); 8 not run" in mutation_summary(graded)


def test_a_long_survivor_hunt_is_summed_per_kind_of_input() -> None:
    from twinbench.cli.testgen import hunt_summary
    from twinbench.formats.testgen import HuntRound

    rounds = [HuntRound(source="explored", screened=100, tried=2, killed=1, alive=9)]
    rounds += [HuntRound(source="variations", screened=50, tried=1, killed=0, alive=9) for _ in range(30)]
    rounds += [HuntRound(source="seeds", screened=10, tried=0, killed=0, alive=8)]
    line = hunt_summary(rounds)
    assert line == (
        "survivor hunt: explored 100 screened, 2 recorded, 1 killed, variations (30 rounds) 1500 screened, "
        "30 recorded, 0 killed, seeds 10 screened, 0 recorded, 0 killed; 8 left for the equivalence proofs"
    )
