"""`twinbench suite check --rerecord`: a suite recorded before a hygiene check learns of it afterwards."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.cli.test_cli import twinbench
from tests.helpers_paths import TEST_DATA
from tests.helpers_task import small_figlet_task
from twinbench.collection import compact_task_dir
from twinbench.formats import Suite, dump_suite, load_suite, load_task
from twinbench.protocols import Sandbox
from twinbench.testgen import CaseSpec, record_reference

FIGLET = Path("/usr/bin/figlet")
CASES = 40  # enough for the validity gate that suite check runs after re-recording
pytestmark = pytest.mark.skipif(not FIGLET.exists(), reason="figlet is not installed")


def task_with_a_case_recorded_before_the_heap_check(directory: Path, sandbox: Sandbox) -> Path:
    """The demo task's first cases plus `-C` with a damaged zip, recorded by one plain run the way recording
    did before it filled the heap: figlet prints what memory it never wrote happened to hold."""
    task = small_figlet_task(directory, count=CASES)
    damaged = base64.b64decode((TEST_DATA / "damaged_hz_flc.b64").read_text())
    spec = CaseSpec(id="damaged-zip", argv=["-C", "data", "646-es"], files={"data.flc": damaged})
    recorded, report = record_reference(load_task(task).task, [spec], sandbox, repeats=1)
    assert not report.dropped
    suite = load_suite(task / "tests" / "suite.jsonl")
    dump_suite(Suite(cases=[*suite.cases, *recorded.cases]), task / "tests" / "suite.jsonl")
    return task


def test_rerecording_drops_what_recording_drops_now_and_keeps_the_compact_format(
    tmp_path: Path, bwrap: Sandbox
) -> None:
    task = task_with_a_case_recorded_before_the_heap_check(tmp_path / "task", bwrap)
    compact_task_dir(load_task(task))
    blobs = {blob.name for blob in (task / "tests" / "files").iterdir()}
    result = twinbench("suite", "check", str(task), "--rerecord", "-j", "2")
    assert result.returncode == 0, result.stderr
    assert f"re-recorded {CASES + 1} cases: dropped 1 gold_uninitialized" in result.stdout
    assert "dropped damaged-zip: gold_uninitialized" in result.stdout
    suite = load_suite(task / "tests" / "suite.jsonl.gz")
    assert len(suite) == CASES and "damaged-zip" not in {case.id for case in suite.cases}
    # the damaged file's blob went with its case; the others stay
    left = {blob.name for blob in (task / "tests" / "files").iterdir()}
    assert left < blobs and len(blobs - left) == 1
    report = json.loads((task / "tests" / "testgen.json").read_text())
    assert report["dropped"]["damaged-zip"].startswith("gold_uninitialized") and report["kept"] == CASES
    again = twinbench("suite", "check", str(task), "--rerecord", "-j", "2")
    assert again.returncode == 0 and "dropped none" in again.stdout


def test_drift_leaves_the_suite_as_it_was(tmp_path: Path, bwrap: Sandbox) -> None:
    """An expectation the installed reference no longer gives is another version's, maybe the right one: the
    command says so and writes nothing, not even the hygiene drops."""
    task = task_with_a_case_recorded_before_the_heap_check(tmp_path / "task", bwrap)
    path = task / "tests" / "suite.jsonl"
    suite = load_suite(path)
    first = suite.cases[0]
    changed = first.model_copy(update={"expect": first.expect.model_copy(update={"stdout": b"another version\n"})})
    dump_suite(Suite(cases=[changed, *suite.cases[1:]]), path)
    before = path.read_bytes()
    result = twinbench("suite", "check", str(task), "--rerecord", "-j", "2")
    assert result.returncode == 1
    assert f"1 re-recorded cases differ from the suite ({first.id}: stdout differs)" in result.stdout
    assert path.read_bytes() == before
