"""Audit a submission: cheat detection (reference copies, wrappers, fetches, prebuilt binaries, trajectory) and size."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from twinbench.audit.build_fetch import build_fetch_findings
from twinbench.audit.codestats import CodeStats, code_stats
from twinbench.audit.files import SubmissionFiles, collect_files
from twinbench.audit.fingerprint import ReferenceIndex, build_index
from twinbench.audit.models import AuditReport, Finding, Severity
from twinbench.audit.prebuilt import prebuilt_findings
from twinbench.audit.reference_copy import reference_copy_findings
from twinbench.audit.targets import ReferenceTargets, reference_targets
from twinbench.audit.trajectory import trajectory_findings
from twinbench.audit.wrapper import WrapperRule
from twinbench.formats import FormatError, Task, TaskDir
from twinbench.grade.submission import submission_digest, unpack_submission
from twinbench.reference.coverage import BUILD_JSON, CoverageBuildError, load_coverage_build
from twinbench.reference.coverage.accounting import COUNTED_ROLE, classify_source

# where `twinbench coverage-build` puts a package's instrumented build by convention (scripts/make_demo_task.sh)
COVERAGE_BUILDS_DIR = Path("/var/tmp/twinbench-coverage")
# files above this are read, checked by every rule, then dropped from memory before the next one
KEEP_IN_MEMORY_BYTES = 16 << 20
HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx")


def audit_submission(
    submission: Path,
    task_dir: TaskDir,
    built_tree: Path | None = None,
    trajectory: Path | None = None,
    reference_source: Path | None = None,
) -> AuditReport:
    """Audit a submission (directory or .tar.gz) of a task; nothing is written, archives unpack to a temp dir."""
    if not os.path.lexists(submission):
        raise FormatError(f"submission {submission} does not exist")
    digest = submission_digest(submission)
    if submission.is_dir():
        return _audit_tree(submission, submission, digest, task_dir.task, built_tree, trajectory, reference_source)
    with tempfile.TemporaryDirectory(prefix="twinbench-audit-") as scratch:
        source = unpack_submission(submission, Path(scratch) / "source")
        return _audit_tree(submission, source, digest, task_dir.task, built_tree, trajectory, reference_source)


def write_audit(report: AuditReport, path: Path) -> None:
    """Write an audit report as JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def reference_code_stats(source: Path) -> CodeStats:
    """Code statistics of the reference: a coverage build's linked sources (and their headers), or a source dir."""
    if (source / BUILD_JSON).is_file():
        build = load_coverage_build(source)
        linked = [Path(name) for name in build.source_files]
        # the headers next to the linked sources belong to the same program, unless the build generated them
        # (jq's parser.h) or they are copies: the coverage accounting's classifier decides, as for the sources
        directories = {build.source_dir / name.parent for name in linked}
        headers = [
            relative
            for directory in directories
            if directory.is_dir()
            for path in sorted(directory.iterdir())
            if path.suffix in HEADER_SUFFIXES and path.is_file()
            for relative in [path.relative_to(build.source_dir)]
            if classify_source(build.source_dir, relative.as_posix()) == COUNTED_ROLE
        ]
        return code_stats(build.source_dir, only=[*linked, *headers])
    return code_stats(source)


def default_reference_source(task: Task) -> Path | None:
    """The conventional coverage build of the task's package (/var/tmp/twinbench-coverage/PKG), if there is one."""
    name = task.reference.debian_package or task.id
    candidate = COVERAGE_BUILDS_DIR / name
    return candidate if (candidate / BUILD_JSON).is_file() else None


def _audit_tree(
    submission: Path,
    source: Path,
    digest: str,
    task: Task,
    built_tree: Path | None,
    trajectory: Path | None,
    reference_source: Path | None,
) -> AuditReport:
    targets = reference_targets(task.reference)
    files = collect_files(source, built_tree)
    findings = _file_findings(files, targets)
    if built_tree is not None and not built_tree.is_dir():
        findings.append(
            Finding(
                rule="audit-limits",
                severity=Severity.info,
                message=f"built tree {built_tree} does not exist; only the submission's own files were audited",
            )
        )
    findings += build_fetch_findings(source)
    if trajectory is not None:
        findings += trajectory_findings(trajectory, targets)
    if files.skipped:
        findings.append(
            Finding(
                rule="audit-limits",
                severity=Severity.info,
                message=f"{len(files.skipped)} file(s) were not read (size limits)",
                evidence=files.skipped[:20],
            )
        )
    reference_code: CodeStats | None = None
    if reference_source is not None:
        try:
            reference_code = reference_code_stats(reference_source)
        except CoverageBuildError as error:
            findings.append(Finding(rule="reference-source", severity=Severity.info, message=str(error), evidence=[]))
    order = {Severity.critical: 0, Severity.warning: 1, Severity.info: 2}
    findings.sort(key=lambda finding: (order[finding.severity], finding.rule, finding.file or ""))
    return AuditReport(
        task=task.id,
        submission=str(submission),
        submission_sha256=digest,
        findings=findings,
        code=code_stats(source),
        reference_code=reference_code,
    )


def _file_findings(files: SubmissionFiles, targets: ReferenceTargets) -> list[Finding]:
    wrapper = WrapperRule(targets, files.files)
    findings = wrapper.link_findings(files.links)
    index: ReferenceIndex | None = None
    if targets.elf_files:
        index = build_index([*targets.elf_files, *targets.alternative_elf_files])
    else:
        findings.append(
            Finding(
                rule="reference-copy",
                severity=Severity.info,
                message=f"not checked: no readable ELF file of the reference ({targets.command}) is installed here",
                evidence=[],
            )
        )
    for file in files.files:
        if index is not None:
            findings += reference_copy_findings(file, index, targets)
        findings += wrapper.file_findings(file)
        if file.size > KEEP_IN_MEMORY_BYTES:
            file.forget()
    findings += prebuilt_findings(files.files, files.links)
    return findings
