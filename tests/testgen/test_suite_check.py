"""`twinbench suite check` and testgen's wall-time cap, run as a user runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.cli.test_cli import twinbench
from tests.helpers_task import small_figlet_task
from twinbench.formats import Suite, dump_suite, load_suite, load_task
from twinbench.protocols import Sandbox
from twinbench.testgen.generate import TestgenOptions
from twinbench.testgen.pipeline import run_testgen


def test_a_suite_of_error_cases_fails_the_check_loudly(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=400)
    suite = load_suite(task / "tests" / "suite.jsonl")
    # a suite of nothing but command-line errors: what a lazy imitation knows from one probe of the reference
    errors = [c for c in suite.cases if c.expect.exit_code != 0 and b"invalid option" in c.expect.stderr]
    assert errors
    dump_suite(Suite(cases=errors), task / "tests" / "suite.jsonl")
    result = twinbench("suite", "check", str(task), "-j", "2", "--json", str(tmp_path / "check.json"))
    assert result.returncode == 1, result.stderr
    assert "VALIDITY GATE FAILED" in result.stderr
    found = json.loads((tmp_path / "check.json").read_text())
    assert found["validity"]["scores"]["errors_only"] > 0.2 and found["classes"].get("core", 0) == 0


def test_mutants_need_a_coverage_build(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=3)
    result = twinbench("suite", "check", str(task), "--mutants", "5")
    assert result.returncode == 2 and "--coverage-build" in result.stderr


def test_budget_is_a_wall_time_cap_including_recording_and_the_gate(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=1)
    phases: list[str] = []
    started = time.monotonic()
    report = run_testgen(
        load_task(task), bwrap, TestgenOptions(budget_s=20, workers=2), on_progress=lambda p, d, t: phases.append(p)
    )
    elapsed = time.monotonic() - started
    # the cap is generation's: the Debian source (upstream tests, samples) is fetched before it, a phase of
    # its own (a first download took brotli's whole 60 s budget and left one case)
    assert phases[0] == "fetching source" and phases.index("probing") > 0
    assert elapsed - report.source_seconds <= 20 * 1.05, (report.source_seconds, report.phase_seconds)
    assert report.seconds <= 20 * 1.05
    assert report.stopped_by == "wall_time" and report.kept > 20
    assert {"probing", "exploring", "recording", "validity gate: errors_only"} <= set(phases)
    assert report.validity is not None and report.validity.passed, report.validity
