"""The Ray executor on a real three-node cluster on this machine: same results as local, lost nodes and a
killed driver survived. One cluster (a head that runs nothing, two worker nodes) serves the whole module."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_support import make_run, make_tasks, tree

from twinbench.agent import AgentOptions, run_batch
from twinbench.demo import DEMO_AGENT_SCRIPT
from twinbench.executors import (
    SANDBOX_RESOURCE,
    ExecutorKind,
    ExecutorSettings,
    Unit,
    UnitOutcome,
    UnitResources,
    UnitWorkspace,
    drive,
    open_executor,
)
from twinbench.grade.many import grade_many

ray = pytest.importorskip("ray", reason="the Ray executor's tests need twinbench[ray]")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.slow

RAY = ExecutorSettings(kind=ExecutorKind.ray)
LOCAL = ExecutorSettings(kind=ExecutorKind.local, local_workers=2)
WORKER_NODE = {"num_cpus": 2, "resources": {SANDBOX_RESOURCE: 1}}


class OneMachineCluster:
    """A head that runs nothing and worker nodes "a" and "b" on this machine; each node's TMPDIR (where units
    make their scratch dirs) is its own directory under `scratch`, so that a test sees which node runs what."""

    def __init__(self) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="tb-ray-"))  # short: Ray's socket paths live under it
        with self._tmpdir("head"):
            self.cluster = Cluster(
                initialize_head=True,
                head_node_args={
                    "num_cpus": 0,
                    "include_dashboard": False,
                    "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3},
                },
            )
        self.workers: dict[str, Any] = {}
        for name in ("a", "b"):
            with self._tmpdir(name):
                self.workers[name] = self.cluster.add_node(**WORKER_NODE)
        ray.init(address=self.cluster.address, log_to_driver=False)

    @contextlib.contextmanager
    def _tmpdir(self, name: str) -> Iterator[None]:
        """Processes started meanwhile (a node's raylet and its workers) get scratch/<name> as TMPDIR."""
        saved = os.environ.get("TMPDIR")
        (self.scratch / name).mkdir(exist_ok=True)
        os.environ["TMPDIR"] = str(self.scratch / name)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved

    def kill_node(self, name: str) -> None:
        """Kill a worker node at once, as a lost machine: its raylet and every unit running on it."""
        self.cluster.remove_node(self.workers.pop(name), allow_graceful=False)

    def gradings_on(self, name: str) -> set[Path]:
        """Scratch dirs of units on node `name` that have started running tests (or were killed doing so)."""
        return set((self.scratch / name).glob("twinbench-unit-*/out/progress.jsonl"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[OneMachineCluster]:
    made = OneMachineCluster()
    yield made
    ray.shutdown()
    made.cluster.shutdown()
    shutil.rmtree(made.scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """TASKS_DIR, RUN_DIR (four submissions of small figlet tasks) and their grading by the local executor."""
    root = tmp_path_factory.mktemp("gradings")
    tasks = make_tasks(root / "tasks", ["fa", "fb", "fc", "fd"], cases=8)
    run = make_run(root / "run")
    local = root / "local"
    summary = grade_many(tasks, run, local, executor=LOCAL, workers_per_grading=1)
    assert summary.graded == 4
    return tasks, run, local


def _same_gradings(local: Path, other: Path) -> None:
    assert tree(other, skip=("eval-summary.json",)) == tree(local, skip=("eval-summary.json",))
    rows = [json.loads((out / "eval-summary.json").read_text())["tasks"] for out in (local, other)]
    assert tree_rows(rows[0]) == tree_rows(rows[1])


def tree_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Summary rows as what was graded: a grading skipped on resume is the same grading, done earlier."""
    status = {"skipped": "graded"}
    return [
        (
            row["task"],
            status.get(row["status"], row["status"]),
            row["passed"],
            row["total"],
            row["score"],
            row["submission"],
        )
        for row in rows
    ]


def test_gradings_on_ray_give_the_same_files_as_local(
    cluster: OneMachineCluster, gradings: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    tasks, run, local = gradings
    summary = grade_many(tasks, run, tmp_path, executor=RAY, workers_per_grading=1)
    assert summary.graded == 4 and summary.units.executor == "ray" and summary.units.ran == 4
    _same_gradings(local, tmp_path)


def test_a_scripted_agent_batch_on_ray_gives_the_same_files_as_local(
    cluster: OneMachineCluster, tmp_path: Path
) -> None:
    tasks = make_tasks(tmp_path / "tasks", ["ga", "gb"], cases=10)
    options = AgentOptions(model=f"scripted:{DEMO_AGENT_SCRIPT}", then_eval=True, eval_workers=1)
    results = {}
    for name, settings in (("local", LOCAL), ("ray", RAY)):
        summary = run_batch(tasks, options, tmp_path / name, executor=settings)
        messages = [(name, entry.task, entry.message) for entry in summary.tasks]
        assert [(entry.task, entry.status, entry.exit_status) for entry in summary.tasks] == [
            ("ga", "ran", "Submitted"),
            ("gb", "ran", "Submitted"),
        ], messages
        assert summary.units.ran == 2 and summary.units.executor == name
        results[name] = tree(tmp_path / name, skip=("summary.json",))
        for entry in summary.tasks:
            eval_json = json.loads((tmp_path / name / entry.task / "eval" / "eval.json").read_text())
            assert eval_json["submission"] == str((tmp_path / name / entry.task / "submission.tar.gz").resolve())
    # eval.json names each run's own submission, and so differs by its path alone
    for files in results.values():
        for name, content in files.items():
            if name.endswith("eval/eval.json"):
                content.pop("submission")
    assert results["ray"] == results["local"]
    assert any(name.endswith("eval/build/tree/figlet.py") for name in results["ray"])


def test_a_killed_driver_resumes_when_run_again(
    cluster: OneMachineCluster, gradings: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    tasks, run, local = gradings
    out = tmp_path / "out"
    command = [sys.executable, "-m", "twinbench", "eval", str(tasks), str(run), "-o", str(out)]
    command += ["--executor", "ray", "--ray-address", cluster.cluster.address, "--grading-cpus", "1"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        summary = out / "eval-summary.json"
        deadline = time.monotonic() + 90
        while True:
            rows = json.loads(summary.read_text())["tasks"] if summary.exists() else []
            assert driver.poll() is None and time.monotonic() < deadline, (rows, driver.communicate())
            if any(row["status"] == "graded" for row in rows):
                break
            time.sleep(0.05)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    left = [row["task"] for row in json.loads(summary.read_text())["tasks"] if row["status"] != "graded"]
    assert left, "the driver finished before it was killed"
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    units = json.loads(summary.read_text())["units"]
    assert units["skipped"] == 4 - len(left) and units["ran"] == len(left) and units["failed"] == 0, units
    _same_gradings(local, out)


def _killed_once(payload: dict[str, Any], workspace: UnitWorkspace) -> str:
    """Kills its own worker process on the first attempt (a marker file tells) or on every one, else succeeds."""
    marker = Path(payload["marker"])
    if payload["always"] or not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    (workspace.out / "done").write_text("second attempt")
    return "survived"


def test_a_killed_worker_process_is_retried_and_a_unit_lost_every_time_is_an_error(
    cluster: OneMachineCluster, tmp_path: Path
) -> None:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    results: dict[str, Any] = {}
    failures: dict[str, UnitOutcome] = {}
    units = [
        Unit(key="once", function=_killed_once, payload={"marker": str(tmp_path / "once"), "always": False}),
        Unit(
            key="always",
            function=_killed_once,
            payload={"marker": str(tmp_path / "always"), "always": True},
            resources=UnitResources(cpus=1, sandbox=True),
        ),
    ]
    executor = open_executor(RAY)
    tally = drive(
        executor,
        units,
        is_finished=lambda _unit: False,
        on_result=lambda unit, outcome: results.__setitem__(unit.key, outcome.value),
        on_failure=lambda unit, outcome: failures.__setitem__(unit.key, outcome),
        max_attempts=2,
    )
    assert results == {"once": "survived"}
    assert failures["always"].attempt == 2 and "worker process died" in (failures["always"].error or "")
    assert (tally.ran, tally.retried, tally.failed) == (1, 2, 1)


# last: it leaves the cluster one worker node
def test_a_worker_node_killed_mid_run_still_grades_every_unit_correctly(
    cluster: OneMachineCluster, gradings: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    tasks, run, local = gradings
    killed = threading.Event()

    # units killed with an earlier test's driver left their scratch dirs behind
    earlier = cluster.gradings_on("a")

    def kill_when_grading() -> None:  # four units fill both nodes' two CPUs: node a runs two of them
        deadline = time.monotonic() + 60
        while not cluster.gradings_on("a") - earlier and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.kill_node("a")
        killed.set()

    killer = threading.Thread(target=kill_when_grading)
    killer.start()
    try:
        summary = grade_many(tasks, run, tmp_path, executor=RAY, workers_per_grading=1)
    finally:
        killer.join()
    assert killed.is_set()
    assert summary.units.retried >= 1 and summary.units.failed == 0, summary.units
    assert summary.graded == 4 and summary.units.ran == 4
    _same_gradings(local, tmp_path)


TINY_COLLECTION = """\
format: twinbench-collection-1
name: tiny
defaults: {budget_s: 60, max_tests: 40, seed: 3}
tasks:
  - {id: figlet, package: figlet, version: "2.2.5-3+b1", binary: figlet, language: C,
     testgen: {runs: 400, upstream_tests: false}}
  - {id: pinned-elsewhere, package: figlet, version: "0.0-1", binary: figlet, language: C}
"""


def test_a_collection_builds_on_ray_and_only_the_driver_writes_it(cluster: OneMachineCluster, tmp_path: Path) -> None:
    from twinbench.collection import BuildSettings, build_collection, load_manifest
    from twinbench.collection.build import FAILED_DIR, STAMP_FILE
    from twinbench.formats import load_suite, load_task

    (tmp_path / "collection.yaml").write_text(TINY_COLLECTION)
    manifest = load_manifest(tmp_path)
    settings = BuildSettings(workers=1)
    results = build_collection(manifest, tmp_path / "collection.yaml", tmp_path, settings, executor=RAY)
    by_id = {result.id: result for result in results}
    assert by_id["figlet"].status == "ok", by_id["figlet"].reason
    assert by_id["pinned-elsewhere"].status == "failed" and "pins 0.0-1" in by_id["pinned-elsewhere"].reason
    task_dir = load_task(tmp_path / "figlet")
    assert task_dir.suite_path.name == "suite.jsonl.gz" and len(load_suite(task_dir.suite_path)) > 5
    assert (tmp_path / "figlet" / STAMP_FILE).is_file()
    # the workers built in their own scratch dirs: nothing of theirs is left in the collection
    assert not (tmp_path / ".building").exists() or not any((tmp_path / ".building").iterdir())
    assert not (tmp_path / FAILED_DIR / "figlet").exists()
    # a second build finds the task finished and ships nothing
    again = build_collection(manifest, tmp_path / "collection.yaml", tmp_path, settings, executor=RAY)
    assert {result.id: result.status for result in again}["figlet"] == "skipped"
