"""Grade a ProgramBench-layout run (`<run>/<iid>/submission.tar.gz` or `submission.zip`) without Docker.

Per task, the steps of ProgramBench's grader: unpack the submission into an empty tree; delete the files
whose sha256 is one of `eval_clean_hashes` and any shipped ./executable; seed a deterministic git repo if
there is none; run ./compile.sh (900 s, no network); hash ./executable; then run every active branch
(branch.py), retrying a branch serially once when pytest-xdist workers crashed and keeping the attempt
with the most usable test cases. Results are written by this process only."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from twinbench.formats import BuildRecord, FormatError, Limits
from twinbench.interop.programbench.branch import BranchLimits, BranchOutcome, run_branch
from twinbench.interop.programbench.junit import JUnitError, complete, crash_count, parse_junit
from twinbench.interop.programbench.models import PBBranchError, PBEvaluationResult, PBTestResult
from twinbench.interop.programbench.task import PBTask
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, SessionConfig, WorkdirMode, candidate_uid

SUBMISSION_NAMES = ("submission.tar.gz", "submission.zip")
SOLUTION_BRANCH = "submission"
MAX_ARCHIVE_BYTES = 2 << 30
LOG_OUTPUT_CHARS = 20000
# ProgramBench's seed_git step: fixed identity and dates, so the same tree gives the same commit
SEED_GIT = (
    "if [ ! -d .git ]; then "
    "GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z' "
    "git -c init.defaultBranch=gold init -q && "
    "git -c user.email=gold@local -c user.name=gold -c commit.gpgsign=false add -A && "
    "GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z' "
    "git -c user.email=gold@local -c user.name=gold -c commit.gpgsign=false commit -q --allow-empty -m gold; "
    "fi"
)
COMPILE = "chmod +x ./compile.sh && ./compile.sh"
BRANCH_RETRIES = 1


class GradeOptions(BaseModel):
    """How a run is graded."""

    workers: int = 1
    branch_limits: BranchLimits = BranchLimits()


class StepFailed(Exception):
    """A compile step failed; carries ProgramBench's error code and the details."""

    def __init__(self, error_code: str, details: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code
        self.details = details


def find_submission(instance_dir: Path) -> Path | None:
    """The instance's submission archive, tar.gz first as ProgramBench reads it."""
    for name in SUBMISSION_NAMES:
        if (instance_dir / name).is_file():
            return instance_dir / name
    return None


def grade_instance(
    task: PBTask,
    submission: Path,
    work_dir: Path,
    sandbox: Sandbox,
    options: GradeOptions,
    on_branch: Callable[[BranchOutcome], None] | None = None,
) -> tuple[PBEvaluationResult, BuildRecord]:
    """Compile the submission and run every active branch; everything that goes wrong is in the result."""
    branches = task.tests.active_branches()
    result = PBEvaluationResult(solution_branch=SOLUTION_BRANCH, test_branches=branches)
    build_dir = work_dir / "build"
    try:
        tree, build = compile_submission(task, submission, build_dir, sandbox, result.log)
        result.executable_hash = _executable_hash(tree / "executable", result.log)
    except StepFailed as failed:
        result.error_code = failed.error_code
        result.error_details = failed.details
        for branch in branches:
            _not_run(result, task, branch, failed.error_code)
        return result, BuildRecord(ok=False, reason=f"{failed.error_code}: {failed.details}"[:500])
    hidden = tuple(Path(path) for path in task.task_dir.task.reference.hidden_paths)
    private = (task.task_dir.root, work_dir)

    def one(branch: str) -> tuple[str, BranchOutcome | None, list[dict[str, Any]]]:
        archive = task.branch_archive(branch)
        if not archive.is_file():
            return branch, None, []
        outcome, log = _run_with_retry(tree, branch, archive, options.branch_limits, hidden, private)
        if on_branch is not None:
            on_branch(outcome)
        return branch, outcome, log

    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        finished = list(pool.map(one, branches))
    for branch, outcome, log in finished:
        result.log.extend(log)
        _merge_branch(result, task, branch, outcome)
    return result, build


def compile_submission(
    task: PBTask, submission: Path, build_dir: Path, sandbox: Sandbox, log: list[dict[str, Any]]
) -> tuple[Path, BuildRecord]:
    """Unpack, clean and build; returns the built tree (build_dir/tree). Raises StepFailed."""
    if build_dir.exists():
        shutil.rmtree(build_dir)
    source = build_dir / "source"
    started = time.monotonic()
    try:
        unpack(submission, source)
    except FormatError as exc:
        _log(log, "copy_in_submission", f"unpack {submission.name}", started, str(exc), 1)
        raise StepFailed("copy_in_submission_failed", str(exc)) from None
    removed = remove_clean_hashes(source, task.spec.clean_hashes())
    _log(log, "remove_hashed_files", "remove files matching eval_clean_hashes", started, "\n".join(removed), 0)
    executable = source / "executable"
    if executable.is_symlink() or executable.exists():
        _remove(executable)
    limits: Limits = task.task_dir.task.limits.build
    config = SessionConfig(
        tree=source,
        workdir_mode=WorkdirMode.copy,
        export_dir=build_dir,
        hidden_paths=tuple(Path(path) for path in task.task_dir.task.reference.hidden_paths),
        private_dirs=(task.task_dir.root,),
        disk_mb=limits.disk_mb,
    )
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"}
    request = ExecRequest(argv=["/bin/bash", "-c", f"{SEED_GIT}\n{COMPILE}"], env=env, limits=limits)
    started = time.monotonic()
    with sandbox.open(config) as session:
        ran = session.run(request)
    output = (ran.stdout + ran.stderr).decode("utf-8", errors="replace")
    returncode = ran.status if ran.status is not None else -1
    _log(log, "compile", COMPILE, started, output[-LOG_OUTPUT_CHARS:], returncode)
    record = BuildRecord(
        ok=False,
        exit_code=ran.exit_code,
        timed_out=ran.timed_out,
        seconds=round(ran.seconds, 3),
        log_tail=output[-3000:],
    )
    if ran.sandbox_error is not None:
        raise StepFailed("compile_failed", f"harness: {ran.sandbox_error}")
    if ran.timed_out:
        raise StepFailed("compile_failed", f"compile.sh did not finish within {limits.wall_s:g}s")
    if returncode != 0:
        raise StepFailed("compile_failed", output.strip()[-2000:])
    tree = build_dir / "tree"
    built = tree / "executable"
    if built.is_symlink():
        target = built.resolve()
        if not target.is_file() or tree.resolve() not in target.parents:
            raise StepFailed("copy_executable_failed", "./executable links outside the built tree")
        built.unlink()
        shutil.copy2(target, built)
    if not built.is_file():
        raise StepFailed("copy_executable_failed", "compile.sh did not produce ./executable")
    record.ok = True
    return tree, record


def unpack(archive: Path, destination: Path) -> None:
    """Unpack a tar (any compression) or zip, as it is (no unwrapping); member paths must stay inside."""
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise FormatError(f"{archive.name} is larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    destination.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            _unzip(archive, destination)
        else:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(destination, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise FormatError(f"{archive.name} cannot be unpacked: {exc}") from None


def _unzip(archive: Path, destination: Path) -> None:
    root = destination.resolve()
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            target = (destination / info.filename).resolve()
            if target != root and root not in target.parents:
                raise ValueError(f"member {info.filename!r} leaves the tree")
            bundle.extract(info, destination)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


def remove_clean_hashes(tree: Path, hashes: list[str]) -> list[str]:
    """Delete regular files whose sha256 is in `hashes` (copies of the gold binary); their relative paths."""
    if not hashes:
        return []
    wanted = set(hashes)
    removed = []
    for root, _dirs, files in os.walk(tree):
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            if _sha256(path) in wanted:
                path.unlink()
                removed.append(path.relative_to(tree).as_posix())
    return sorted(removed)


def _run_with_retry(
    tree: Path,
    branch: str,
    archive: Path,
    limits: BranchLimits,
    hidden: tuple[Path, ...],
    private: tuple[Path, ...],
) -> tuple[BranchOutcome, list[dict[str, Any]]]:
    """Run a branch; when xdist workers crashed, once more with one worker, keeping the attempt with the most
    test cases that did not crash (the earlier one on a tie), as ProgramBench does."""
    log: list[dict[str, Any]] = []
    best: BranchOutcome | None = None
    best_useful = -1
    history: list[tuple[int, int]] = []
    for attempt in range(1 + BRANCH_RETRIES):
        outcome = run_branch(tree, branch, archive, limits, candidate_uid(), hidden, private, serial=attempt > 0)
        _log_branch(log, outcome)
        if outcome.results_xml is None:
            if best is not None:
                break
            best = outcome
            continue
        crashes, total = crash_count(outcome.results_xml)
        history.append((crashes, total))
        if best is None or best.results_xml is None or total - crashes > best_useful:
            best, best_useful = outcome, total - crashes
        if crashes == 0 or (len(history) >= 2 and history[-1] == history[-2]):
            break
    assert best is not None
    return best, log


def _merge_branch(result: PBEvaluationResult, task: PBTask, branch: str, outcome: BranchOutcome | None) -> None:
    spec = task.tests.branches.get(branch)
    if outcome is None:
        _branch_error(result, task, branch, "missing_branch_archive", f"{task.branch_archive(branch)} is missing")
        return
    result.warnings.extend(f"Branch {branch}: {warning}" for warning in outcome.warnings)
    if outcome.error_code is not None:
        _branch_error(result, task, branch, outcome.error_code, outcome.error_details)
        return
    if outcome.results_xml is None:
        details = "eval/results.xml was not written" + (f" ({outcome.error_details})" if outcome.error_details else "")
        _branch_error(result, task, branch, "results_read_failed", details)
        return
    try:
        parsed = parse_junit(outcome.results_xml, branch)
    except JUnitError as exc:
        _branch_error(result, task, branch, "results_parse_failed", str(exc))
        return
    tests, warnings = complete(parsed, branch, spec)
    result.test_results.extend(tests)
    result.warnings.extend(warnings)


def _branch_error(result: PBEvaluationResult, task: PBTask, branch: str, code: str, details: str) -> None:
    result.test_branch_errors.setdefault(branch, []).append(PBBranchError(error_code=code, error_details=details))
    _not_run(result, task, branch, code)


def _not_run(result: PBEvaluationResult, task: PBTask, branch: str, code: str) -> None:
    spec = task.tests.branches.get(branch)
    for name in spec.tests if spec is not None else []:
        result.test_results.append(PBTestResult(name=name, branch=branch, status="not_run", extra={"error_code": code}))


def _executable_hash(path: Path, log: list[dict[str, Any]]) -> str:
    started = time.monotonic()
    digest = _sha256(path)
    _log(log, "hash_executable", "sha256sum ./executable", started, f"{digest}  ./executable\n", 0)
    return digest


def _log_branch(log: list[dict[str, Any]], outcome: BranchOutcome) -> None:
    log.append(
        {
            "step": "run_tests",
            "command": "./eval/run.sh",
            "wall_time": outcome.seconds,
            "output": outcome.output[-LOG_OUTPUT_CHARS:],
            "returncode": outcome.returncode if outcome.returncode is not None else -1,
            "exception_info": outcome.error_details,
            "branch": outcome.branch,
        }
    )
    if outcome.results_xml is not None:
        # the entry ProgramBench's grader replays results from (`from_existing`)
        log.append(
            {
                "step": "results_read",
                "command": "eval/results.xml",
                "wall_time": 0.0,
                "output": outcome.results_xml,
                "returncode": 0,
                "exception_info": "",
                "branch": outcome.branch,
            }
        )


def _log(log: list[dict[str, Any]], step: str, command: str, started: float, output: str, returncode: int) -> None:
    log.append(
        {
            "step": step,
            "command": command,
            "wall_time": time.monotonic() - started,
            "output": output,
            "returncode": returncode,
            "exception_info": "",
        }
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
