"""`collection build` and `collection check` end to end with the real figlet and a tiny budget."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers_paths import TEST_DATA
from twinbench.agent.batch import find_tasks
from twinbench.collection import (
    BuildSettings,
    CheckSettings,
    build_collection,
    check_task,
    load_manifest,
    rebuild_reason,
)
from twinbench.collection.build import STAMP_FILE
from twinbench.collection.install import installed_version
from twinbench.formats import Expectation, Suite, dump_suite, load_suite, load_task, save_task
from twinbench.sandbox import get_sandbox
from twinbench.testgen import CaseSpec, record_reference

pytestmark = pytest.mark.slow

MANIFEST = """\
format: twinbench-collection-1
name: tiny
defaults: {budget_s: 60, max_tests: 60, seed: 3}
tasks:
  - {id: figlet, package: figlet, version: "2.2.5-3+b1", binary: figlet, language: C,
     testgen: {runs: 1500, upstream_tests: false}}
  - {id: pinned-elsewhere, package: figlet, version: "0.0-1", binary: figlet, language: C}
  - {id: "yes", package: coreutils, version: "COREUTILS", binary: "yes", language: C, budget_s: 10,
     testgen: {runs: 40, upstream_tests: false}}
"""


def twinbench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # wide enough that table cells are not cut
    return subprocess.run(
        [sys.executable, "-m", "twinbench.cli", *args], capture_output=True, text=True, timeout=900, env=env
    )


@dataclass
class Built:
    directory: Path
    first: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    directory = tmp_path_factory.mktemp("collection")
    (directory / "collection.yaml").write_text(MANIFEST.replace("COREUTILS", installed_version("coreutils") or "?"))
    return Built(directory, twinbench("collection", "build", str(directory), "-j", "2"))


def test_build_makes_compact_tasks_and_records_failures(built: Built) -> None:
    result = built.first
    assert result.returncode == 1, result.stdout + result.stderr  # two tasks failed, the other was built
    assert "figlet 2.2.5-3+b1 is installed, the manifest pins 0.0-1" in result.stdout
    assert "1 built, 0 unchanged, 2 failed" in result.stdout
    # `yes` never ends and prints without end: testgen's timeouts and output caps make it a failed row
    # (no suite worth keeping), never a crash of the build
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ yes "))
    assert "│ failed │" in row and ("testgen kept no tests" in row or "validity gate failed" in row), row
    assert (built.directory / ".failed" / "yes" / "task.yaml").is_file()
    root = built.directory / "figlet"
    task_dir = load_task(root)
    assert task_dir.suite_path == root / "tests" / "suite.jsonl.gz"
    assert not (root / "tests" / "suite.jsonl").exists()
    assert len(load_suite(task_dir.suite_path)) > 20
    assert json.loads((root / STAMP_FILE).read_text())["installed_version"] == "2.2.5-3+b1"
    # no coverage build: sized from its Debian source package
    size = task_dir.task.size
    assert size is not None and size.method == "source-package" and size.size_class == "small"
    assert size.source.startswith("source package figlet 2.2.5-") and size.files_by_role == {"own": 11}
    # a collection directory is a tasks directory as agent batch reads it; build leftovers are not tasks
    assert [path.name for path in find_tasks(built.directory)] == ["figlet"]


def test_a_second_build_skips_unchanged_tasks(built: Built) -> None:
    again = twinbench("collection", "build", str(built.directory / "collection.yaml"), "--only", "figlet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 built, 1 unchanged, 0 failed" in again.stdout


def test_a_task_built_without_a_size_gets_one_when_skipped(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built.directory, copy)
    task = load_task(copy / "figlet").task
    save_task(task.model_copy(update={"size": None}), copy / "figlet")
    again = twinbench("collection", "build", str(copy), "--only", "figlet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 built, 1 unchanged, 0 failed" in again.stdout
    assert load_task(copy / "figlet").task.size == task.size
    info = json.loads(twinbench("collection", "info", str(copy), "--json").stdout)
    figlet = next(row for row in info if row["id"] == "figlet")
    assert figlet["size_method"] == "source-package" and figlet["size_class"] == "small"


def test_a_changed_entry_or_reference_rebuilds(built: Built, tmp_path: Path) -> None:
    manifest = load_manifest(built.directory)
    assert rebuild_reason(manifest.task("figlet"), built.directory) is None
    changed = tmp_path / "collection.yaml"
    changed.write_text(MANIFEST.replace("seed: 3", "seed: 4"))
    assert rebuild_reason(load_manifest(changed).task("figlet"), built.directory) == "its manifest entry changed"
    copy = tmp_path / "copy"
    shutil.copytree(built.directory, copy)
    stamp = copy / "figlet" / STAMP_FILE
    stamp.write_text(stamp.read_text().replace("2.2.5-3+b1", "2.2.5-2"))
    reason = rebuild_reason(manifest.task("figlet"), copy)
    assert reason == "the installed figlet is 2.2.5-3+b1, built with 2.2.5-2"
    # planned for a rebuild, not skipped: a sandbox that cannot start makes it fail at once, the old task kept
    results = build_collection(
        manifest, copy / "collection.yaml", copy, BuildSettings(sandbox="no-such"), 1, ["figlet"]
    )
    assert [(r.id, r.status) for r in results] == [("figlet", "failed")]
    assert "unknown sandbox backend 'no-such'" in results[0].reason
    assert load_task(copy / "figlet").suite_path.is_file()
    # --force plans an unchanged task too (a new generator), and a failed rebuild keeps the finished task
    stamp.write_text(stamp.read_text().replace("2.2.5-2", "2.2.5-3+b1"))
    assert rebuild_reason(manifest.task("figlet"), copy) is None
    suite_before = load_task(copy / "figlet").suite_path.read_bytes()
    forced = build_collection(
        manifest, copy / "collection.yaml", copy, BuildSettings(sandbox="no-such"), 1, ["figlet"], force=True
    )
    assert [(r.id, r.status) for r in forced] == [("figlet", "failed")]
    assert load_task(copy / "figlet").suite_path.read_bytes() == suite_before


def test_check_passes_a_sound_task_and_says_what_info_shows(built: Built) -> None:
    result = twinbench(
        "collection",
        "check",
        str(built.directory),
        "--only",
        "figlet",
        "--drift-sample",
        "10",
        "--wrapper-sample",
        "10",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all tasks pass" in result.stdout and "flagged" in result.stdout
    info = json.loads(twinbench("collection", "info", str(built.directory), "--json").stdout)
    figlet = next(row for row in info if row["id"] == "figlet")
    assert figlet["built"] and figlet["tests"] > 20 and figlet["imitation_scores"]["stub"] <= 0.1
    assert next(row for row in info if row["id"] == "pinned-elsewhere")["problem"] == "not built"


def copy_with_suite(built: Built, tmp_path: Path, change: str) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(built.directory, copy)
    suite_path = load_task(copy / "figlet").suite_path
    suite = load_suite(suite_path)
    if change == "drift":  # one expectation the installed figlet does not meet
        first = suite.cases[0]
        expect = first.expect.model_copy(update={"stdout": first.expect.stdout + b"drifted\n"})
        cases = [first.model_copy(update={"expect": expect}), *suite.cases[1:]]
    elif change == "uninitialized":  # a case recorded before recording filled the heap (figlet reads it)
        damaged = base64.b64decode((TEST_DATA / "damaged_hz_flc.b64").read_text())
        spec = CaseSpec(id="damaged-zip", argv=["-C", "data", "646-es"], files={"data.flc": damaged})
        recorded, _ = record_reference(load_task(copy / "figlet").task, [spec], get_sandbox("bwrap"), repeats=1)
        cases = [*suite.cases, *recorded.cases]
    else:  # a suite the stub passes: exit 0 and no output everywhere
        cases = [case.model_copy(update={"expect": Expectation(exit_code=0)}) for case in suite.cases]
    dump_suite(Suite(cases=cases), suite_path)
    return copy


def test_check_catches_a_drifted_expectation(built: Built, tmp_path: Path) -> None:
    copy = copy_with_suite(built, tmp_path, "drift")
    manifest = load_manifest(copy)
    found = check_task(manifest.task("figlet"), copy, CheckSettings(drift_sample=1000, wrapper_sample=5))
    assert not found.ok
    assert found.drift is not None and found.drift.drifted == [
        load_suite(load_task(copy / "figlet").suite_path).cases[0].id
    ]
    assert any(problem.startswith("drift: 1 of") for problem in found.problems), found.problems


def test_check_finds_a_case_recording_would_drop_now(built: Built, tmp_path: Path) -> None:
    """Drift re-records its sample as testgen records: a case kept before a hygiene check existed (figlet
    reading heap it never wrote) is a problem, with the command that drops it."""
    copy = copy_with_suite(built, tmp_path, "uninitialized")
    found = check_task(load_manifest(copy).task("figlet"), copy, CheckSettings(drift_sample=1000, wrapper_sample=5))
    assert found.drift is not None and not found.drift.drifted
    assert found.drift.dropped["damaged-zip"].startswith("gold_uninitialized"), found.drift.dropped
    assert any("would be dropped now (damaged-zip: gold_uninitialized" in p for p in found.problems), found.problems


def test_check_fails_a_suite_shallow_imitations_pass(built: Built, tmp_path: Path) -> None:
    copy = copy_with_suite(built, tmp_path, "stub")
    result = twinbench("collection", "check", str(copy), "--only", "figlet", "--drift-sample", "5", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["tasks"][0]["validity"]["stub"] == 1.0
    assert any("validity gate failed: stub 1.000" in problem for problem in found["tasks"][0]["problems"])


def test_check_reports_a_task_not_built_and_the_size_budget(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built.directory, copy)
    manifest = (copy / "collection.yaml").read_text()
    (copy / "collection.yaml").write_text(manifest.replace("name: tiny", "name: tiny\nmax_bytes: 1000"))
    result = twinbench("collection", "check", str(copy), "--only", "pinned-elsewhere")
    assert result.returncode == 1
    assert "not built" in result.stdout and "OVER the budget" in result.stdout


def test_a_cached_coverage_build_of_the_installed_source_version_is_reused(tmp_path: Path) -> None:
    """figlet 2.2.5-3+b1 (a binNMU) is built from source 2.2.5-3: the cached build of 2.2.5-3 serves it."""
    from twinbench.audit.audit import COVERAGE_BUILDS_DIR
    from twinbench.collection.build import cached_coverage_build
    from twinbench.reference.coverage import BUILD_JSON

    if not (COVERAGE_BUILDS_DIR / "figlet" / BUILD_JSON).is_file():
        pytest.skip("no coverage build of figlet in the cache (twinbench coverage-build --debian figlet)")
    entry = load_manifest(write_manifest(tmp_path)).task("figlet").model_copy(update={"coverage": True})
    lines: list[str] = []
    found = cached_coverage_build(entry, BuildSettings(coverage_cache=COVERAGE_BUILDS_DIR), lines.append)
    assert found == (COVERAGE_BUILDS_DIR / "figlet").resolve()
    assert lines == []  # nothing was built


def test_a_coverage_build_in_the_package_directory_serves_a_command_of_another_name(tmp_path: Path) -> None:
    """`coverage-build --debian ripgrep -o CACHE/ripgrep` (the README's convention) serves the task of rg."""
    from twinbench.audit.audit import COVERAGE_BUILDS_DIR
    from twinbench.collection.build import cached_coverage_build
    from twinbench.collection.manifest import TaskEntry
    from twinbench.reference.coverage import BUILD_JSON

    if not (COVERAGE_BUILDS_DIR / "ripgrep" / BUILD_JSON).is_file() or installed_version("ripgrep") is None:
        pytest.skip("no coverage build of ripgrep in the cache (TWINBENCH_HEAVY_BUILDS=1 makes one)")
    entry = TaskEntry.model_validate(
        {"id": "ripgrep", "package": "ripgrep", "version": installed_version("ripgrep"), "binary": "rg",
         "language": "Rust", "budget_s": 60, "seed": 1, "max_tests": 10, "coverage": True}
    )  # fmt: skip
    lines: list[str] = []
    found = cached_coverage_build(entry, BuildSettings(coverage_cache=COVERAGE_BUILDS_DIR), lines.append)
    assert found == (COVERAGE_BUILDS_DIR / "ripgrep").resolve()
    assert lines == []  # nothing was built


def write_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "collection.yaml"
    path.write_text(MANIFEST)
    return path
