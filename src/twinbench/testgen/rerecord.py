"""`twinbench suite check --rerecord`: an existing suite re-recorded with today's recording hygiene.

A suite keeps the expectations it was recorded with. When recording learns a new check (a reference that
reads memory it never wrote, a crash message, a fact of the host), suites recorded before it may hold cases
that no rebuild can pass; re-recording every case on the installed reference finds them, and the suite is
written again without them. A case whose re-recorded expectation differs is drift (another version or
machine), not a hygiene finding: then nothing is written, since the stored expectations may be the right ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel, Field

from twinbench.formats import (
    BlobStore,
    Suite,
    TaskDir,
    TestCase,
    TestgenReport,
    ValidityReport,
    dump_suite,
    load_suite,
    testgen_report,
)
from twinbench.formats.suite import BLOB_DIR, COMPACT_SUITE_FILE, prune_blobs
from twinbench.protocols import Sandbox
from twinbench.testgen.pipeline import DOC_TEXT_LIMIT, TESTGEN_REPORT, doc_texts
from twinbench.testgen.record import drop_kinds, record_reference, spec_of

# more runs than testgen's first recording: a case that varies now and then (threads racing to print) got
# through three runs once; each re-recording is another chance to see it vary
RERECORD_REPEATS = 6


class Rerecording(BaseModel):
    """What re-recording a suite found, and whether the suite was written again."""

    cases: int
    kept: int
    dropped: dict[str, str] = Field(default_factory=dict, description="case id -> hygiene reason")
    drifted: dict[str, str] = Field(default_factory=dict, description="case id -> what differs from the suite")
    written: bool = False


def rerecord_suite(
    task_dir: TaskDir,
    sandbox: Sandbox,
    workers: int,
    on_progress: Callable[[], None] | None = None,
    write: bool = True,
    repeats: int = RERECORD_REPEATS,
) -> Rerecording:
    """Record every case of the task's suite again, as testgen records (`repeats` runs, the heap filled on the
    last, the host probe, crash messages the docs do not quote); with `write` and no drift, write the suite
    (in its own format) without the cases recording now drops, and list them in testgen.json."""
    suite = load_suite(task_dir.suite_path)
    found = rerecord_cases(task_dir, suite, sandbox, workers, on_progress, repeats)
    if write and found.dropped and not found.drifted:
        kept = Suite(cases=[case for case in suite.cases if case.id not in found.dropped])
        _write_suite(task_dir, kept)
        _note_drops(task_dir, found.dropped, len(kept))
        found.written = True
    return found


def rerecord_cases(
    task_dir: TaskDir,
    suite: Suite,
    sandbox: Sandbox,
    workers: int,
    on_progress: Callable[[], None] | None = None,
    repeats: int = RERECORD_REPEATS,
) -> Rerecording:
    """Record `suite`'s cases (the task's, or a sample of it) again and compare; nothing is written."""
    docs_text = "\n".join(text[:DOC_TEXT_LIMIT] for text in doc_texts(task_dir))
    specs = [spec_of(case) for case in suite.cases]
    recorded, report = record_reference(
        task_dir.task,
        specs,
        sandbox,
        workers,
        repeats=repeats,
        on_progress=on_progress,
        docs_text=docs_text,
        host_probe=True,
    )
    again = {case.id: case for case in recorded.cases}
    found = Rerecording(cases=len(suite), kept=len(suite) - len(report.dropped), dropped=report.dropped)
    for case in suite.cases:
        if case.id in again and (difference := _difference(case, again[case.id])) is not None:
            found.drifted[case.id] = difference
    return found


def _difference(stored: TestCase, recorded: TestCase) -> str | None:
    """The first part of the expectation that recording now gives differently, or None."""
    if recorded.compare != stored.compare:
        return "the streams compared (recording now ignores what varies differently)"
    if recorded.expect.exit_code != stored.expect.exit_code:
        return f"exit code {recorded.expect.exit_code}, the suite expects {stored.expect.exit_code}"
    for stream in ("stdout", "stderr"):
        if getattr(recorded.expect, stream) != getattr(stored.expect, stream):
            return f"{stream} differs"
    if recorded.expect.files != stored.expect.files:
        return "an output file differs"
    return None


def _write_suite(task_dir: TaskDir, suite: Suite) -> None:
    """Write the suite where it was, compacted (content-addressed files) when it was, without the blobs no
    remaining case holds."""
    path = task_dir.suite_path
    if path.name != COMPACT_SUITE_FILE:
        dump_suite(suite, path)
        return
    blob_dir = path.parent / BLOB_DIR
    dump_suite(suite, path, BlobStore(blob_dir))
    prune_blobs(blob_dir, suite)


def _note_drops(task_dir: TaskDir, dropped: dict[str, str], kept: int) -> None:
    """testgen.json counts the cases re-recording dropped like the ones generation dropped."""

    def drop(report: TestgenReport) -> None:
        report.dropped.update(dropped)
        report.dropped_by_reason = dict(sorted((Counter(report.dropped_by_reason) + drop_kinds(dropped)).items()))
        report.kept = kept
        report.origins = {case_id: origin for case_id, origin in report.origins.items() if case_id not in dropped}

    _update_report(task_dir, drop)


def note_check(task_dir: TaskDir, classes: dict[str, int], core_share: float | None, validity: ValidityReport) -> None:
    """After a rewritten suite is checked: its classes and the gate's scores in testgen.json are this suite's."""

    def checked(report: TestgenReport) -> None:
        report.classes, report.core_share, report.validity = classes, core_share, validity

    _update_report(task_dir, checked)


def _update_report(task_dir: TaskDir, change: Callable[[TestgenReport], None]) -> None:
    """Apply `change` to testgen.json; a suite made by hand or imported has no report to keep in step."""
    report = testgen_report(task_dir)
    if report is not None:
        change(report)
        (task_dir.root / "tests" / TESTGEN_REPORT).write_text(report.model_dump_json(indent=2), encoding="utf-8")
