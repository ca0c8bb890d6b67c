"""`twinbench suite check` and testgen's wall-time cap, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
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


def test_recording_stops_at_the_cap_by_its_own_pace(tmp_path: Path, bwrap: Sandbox) -> None:
    """Exploration's pace chooses how many cases to keep; when recording turns out slower (a loaded machine),
    the cases that no longer fit are left out as time_cap instead of overrunning the cap."""
    from twinbench.testgen import CaseSpec
    from twinbench.testgen.budget import WallClock
    from twinbench.testgen.generate import record_specs

    task = load_task(small_figlet_task(tmp_path / "task", count=1)).task
    specs = [CaseSpec(id=f"c{n}", argv=[f"word{n}"]) for n in range(64)]
    # one second left of a 100 s cap: less than the 2% kept below it at the end
    clock = WallClock(100.0, started=time.monotonic() - 99.0)
    suite, report = record_specs(task, specs, bwrap, 2, lambda phase, done, total: None, clock=clock)
    assert 0 < len(suite) < len(specs)
    assert len(suite) + len(report.dropped) == len(specs)
    assert {reason.split(":")[0] for reason in report.dropped.values()} == {"time_cap"}
    unlimited, _ = record_specs(task, specs[:20], bwrap, 2, lambda phase, done, total: None, clock=WallClock(None))
    assert len(unlimited) == 20


BRANCHY_C = """#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 0;
    int total = n * 2;
    if (n > 50)
        total = total - 7;
    printf("%d\\n", total);
    return 0;
}
"""


def test_suite_check_marks_mutants_on_lines_no_case_runs(tmp_path: Path, bwrap: Sandbox) -> None:
    from twinbench.formats import ReferenceSpec, Task, save_task
    from twinbench.reference.coverage import BUILD_JSON, CoverageBuild
    from twinbench.testgen import CaseSpec, record_reference
    from twinbench.testgen.check import check_suite

    source = tmp_path / "build" / "branchy"
    source.mkdir(parents=True)
    (source / "branchy.c").write_text(BRANCHY_C)
    (source / "Makefile").write_text("branchy: branchy.c\n\t$(CC) --coverage -O0 -g -o branchy branchy.c\n")
    subprocess.run(["make", "-C", str(source), "branchy"], check=True, capture_output=True)
    build = CoverageBuild(
        package="branchy", version="1", source_dir=source, binary=source / "branchy",
        object_dir_prefix=str(source), strip_components=len(source.parts) - 1,
        gcda_files=["branchy.gcda"], source_files=["branchy.c"],
    )  # fmt: skip
    (tmp_path / "build" / BUILD_JSON).write_text(build.model_dump_json())
    task = Task(id="branchy", reference=ReferenceSpec(binary=str(source / "branchy")))
    save_task(task, tmp_path / "task")
    suite, _ = record_reference(task, [CaseSpec(id=f"n{n}", argv=[str(n)]) for n in (1, 2, 3)], bwrap)
    (tmp_path / "task" / "tests").mkdir()
    dump_suite(suite, tmp_path / "task" / "tests" / "suite.jsonl")
    found = check_suite(load_task(tmp_path / "task"), bwrap, 2, mutants=10, coverage_dir=tmp_path / "build")
    assert found.mutation is not None
    by_line = {m.line: m for m in found.mutation.mutants}
    # line 7 runs only for n > 50: its mutant survives unreached; the doubling on line 5 is reached and killed
    assert by_line[7].status == "survived" and by_line[7].reached is False
    assert by_line[5].status == "killed" and by_line[5].reached is True
    assert found.mutation.unreached == 1
