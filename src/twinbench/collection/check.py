"""`twinbench collection check`: is every task of a built collection still sound on this machine?

Per task: the validity gate (stub, constant and errors-only imitations at most 0.10), a sample of cases
re-recorded on the installed reference (drift: another Debian version, another machine), a wrapper that
execs the reference graded in the grading sandbox (it must score at most 0.10: the package is hidden) and
audited (it must be flagged). For the collection: the size budget of the directory.
"""

from __future__ import annotations

import random
import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.audit import audit_submission
from twinbench.collection.build import FAILED_DIR, STAGING_DIR, run_units, select_entries
from twinbench.collection.install import installed_version
from twinbench.collection.manifest import Manifest, TaskEntry
from twinbench.formats import (
    FormatError,
    Suite,
    TaskDir,
    dump_suite,
    load_suite,
    load_task,
    save_task,
)
from twinbench.grade import EvalOptions, evaluate
from twinbench.protocols import Sandbox
from twinbench.reference import ReferenceError
from twinbench.sandbox import SandboxUnavailable, get_sandbox
from twinbench.testgen.check import check_suite
from twinbench.testgen.rerecord import rerecord_cases
from twinbench.testgen.validity import VALIDITY_THRESHOLD

WRAPPER_SCRIPT = """#!/bin/sh
# A cheat made by `twinbench collection check`: it runs the installed reference. It must score ~0 and be flagged.
set -e
cat > executable <<'WRAP'
#!/bin/sh
exec {binary} "$@"
WRAP
chmod +x executable
"""


class CheckSettings(BaseModel):
    """How much `collection check` runs: sample sizes trade speed for certainty."""

    sandbox: str = "bwrap"
    workers: int = Field(default=2, ge=1)
    drift_sample: int = Field(default=40, ge=0, description="cases re-recorded per task (0: none)")
    wrapper_sample: int = Field(default=100, ge=1, description="cases the reference wrapper is graded on")
    seed: int = 0


class DriftReport(BaseModel):
    """Sampled cases recorded again on the installed reference: those whose expectation no longer matches, and
    those recording would drop now (a hygiene check the suite was recorded without)."""

    sampled: int
    drifted: list[str] = Field(default_factory=list)
    first_reason: str = ""
    dropped: dict[str, str] = Field(default_factory=dict, description="case id -> why recording drops it now")


class TaskCheck(BaseModel):
    """One task's findings; `problems` is empty when the task passes."""

    id: str
    ok: bool = False
    problems: list[str] = Field(default_factory=list)
    tests: int = 0
    installed_version: str | None = None
    validity: dict[str, float] = Field(default_factory=dict)
    drift: DriftReport | None = None
    wrapper_score: float | None = None
    wrapper_flagged: bool | None = None
    seconds: float = 0.0


class CollectionCheck(BaseModel):
    """The whole collection's findings."""

    collection: str
    tasks: list[TaskCheck]
    bytes: int
    max_bytes: int
    ok: bool


def check_task(entry: TaskEntry, collection_dir: Path, settings: CheckSettings) -> TaskCheck:
    """Check one built task; its problems are data, never exceptions."""
    started = time.monotonic()
    found = TaskCheck(id=entry.id)
    try:
        _check_into(found, entry, collection_dir / entry.id, settings)
    except (FormatError, ReferenceError, SandboxUnavailable) as exc:
        found.problems.append(str(exc))
    except Exception as exc:  # one task's surprise must not hide the others' findings
        found.problems.append(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
    found.ok = not found.problems
    found.seconds = round(time.monotonic() - started, 1)
    return found


def _check_into(found: TaskCheck, entry: TaskEntry, root: Path, settings: CheckSettings) -> None:
    if not (root / "task.yaml").is_file():
        found.problems.append(f"not built ({root} has no task.yaml)")
        return
    task_dir = load_task(root)
    suite = load_suite(task_dir.suite_path)
    found.tests = len(suite)
    found.installed_version = installed_version(entry.package)
    if found.installed_version != entry.version:
        found.problems.append(
            f"{entry.package} {found.installed_version or 'is not installed'}"
            f"{' is installed' if found.installed_version else ''}; the suite was recorded with {entry.version}"
        )
        return  # every other check needs the pinned reference
    sandbox = get_sandbox(settings.sandbox)
    gate = check_suite(task_dir, sandbox, settings.workers).validity
    found.validity = dict(gate.scores)
    if not gate.passed:
        high = ", ".join(f"{name} {score:.3f}" for name, score in gate.scores.items() if score > gate.threshold)
        found.problems.append(f"validity gate failed: {high} above {gate.threshold:.2f}")
    found.drift = recorded_drift(task_dir, suite, sandbox, settings)
    if found.drift.drifted:
        found.problems.append(
            f"drift: {len(found.drift.drifted)} of {found.drift.sampled} re-recorded cases differ "
            f"({found.drift.drifted[0]}: {found.drift.first_reason})"
        )
    if found.drift.dropped:
        first_id, first = next(iter(found.drift.dropped.items()))
        found.problems.append(
            f"{len(found.drift.dropped)} of {found.drift.sampled} re-recorded cases would be dropped now "
            f"({first_id}: {first}); twinbench suite check {root} --rerecord drops them"
        )
    found.wrapper_score, found.wrapper_flagged = wrapper_findings(task_dir, suite, sandbox, settings)
    if found.wrapper_score > VALIDITY_THRESHOLD:
        found.problems.append(f"a wrapper of the installed reference scores {found.wrapper_score:.3f}")
    if not found.wrapper_flagged:
        found.problems.append("the audit does not flag a wrapper of the installed reference")


def sample_cases(suite: Suite, count: int, seed: int) -> Suite:
    """`count` cases of the suite chosen with a fixed seed, in suite order (the whole suite when it is smaller)."""
    if count >= len(suite):
        return suite
    chosen = set(random.Random(seed).sample(range(len(suite)), count))
    return Suite(cases=[case for index, case in enumerate(suite.cases) if index in chosen])


def recorded_drift(task_dir: TaskDir, suite: Suite, sandbox: Sandbox, settings: CheckSettings) -> DriftReport:
    """Record a sample of cases again on the installed reference, as testgen records (repeated runs, the heap
    filled on the last, the host probe), and compare each with its recorded expectation."""
    sample = sample_cases(suite, settings.drift_sample, settings.seed)
    if not sample.cases:
        return DriftReport(sampled=0)
    found = rerecord_cases(task_dir, sample, sandbox, settings.workers)
    report = DriftReport(sampled=len(sample), drifted=list(found.drifted), dropped=found.dropped)
    if found.drifted:
        report.first_reason = next(iter(found.drifted.values()))
    return report


def wrapper_findings(task_dir: TaskDir, suite: Suite, sandbox: Sandbox, settings: CheckSettings) -> tuple[float, bool]:
    """The score of a submission that execs the installed reference (graded on a sample), and whether the
    audit flags it."""
    binary = task_dir.task.reference.binary
    with tempfile.TemporaryDirectory(prefix="twinbench-wrapper-") as scratch:
        work = Path(scratch)
        submission = work / "submission"
        submission.mkdir()
        (submission / "compile.sh").write_text(WRAPPER_SCRIPT.format(binary=shlex.quote(binary)), encoding="utf-8")
        sampled_dir = _task_with_suite(task_dir, sample_cases(suite, settings.wrapper_sample, settings.seed), work)
        result = evaluate(sampled_dir, submission, work / "eval", sandbox, EvalOptions(workers=settings.workers))
        flagged = audit_submission(submission, task_dir).flagged
    return result.score, flagged


def _task_with_suite(task_dir: TaskDir, suite: Suite, work: Path) -> TaskDir:
    """A copy of the task (task.yaml only) whose suite is `suite`."""
    root = work / "task"
    save_task(task_dir.task, root)
    dump_suite(suite, root / "tests" / "suite.jsonl")
    return load_task(root)


def collection_bytes(collection_dir: Path) -> int:
    """Bytes of every file of the collection as the repository holds it (build leftovers excluded)."""
    total = 0
    for path in collection_dir.rglob("*"):
        relative = path.relative_to(collection_dir).parts
        if relative[0] in (STAGING_DIR, FAILED_DIR):
            continue
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def check_collection(
    manifest: Manifest,
    collection_dir: Path,
    settings: CheckSettings,
    only: list[str] | None = None,
    on_done: Callable[[TaskCheck], None] | None = None,
) -> CollectionCheck:
    """Check every task (or `only` these) and the collection's size budget."""
    entries = select_entries(manifest, only)
    tasks = run_units(
        lambda entry: check_task(entry, collection_dir, settings), entries, 1, on_done or (lambda _found: None)
    )
    size = collection_bytes(collection_dir)
    return CollectionCheck(
        collection=manifest.name,
        tasks=tasks,
        bytes=size,
        max_bytes=manifest.max_bytes,
        ok=all(task.ok for task in tasks) and size <= manifest.max_bytes,
    )
