"""`twinbench collection build`: every task of a manifest made, generated, gated and compacted, resumably.

`build_task` is the unit of work: plain data in (a manifest entry, the settings, the collection directory),
a `TaskBuildResult` out, never an exception. By default `run_units` runs units side by side on this
machine with a progress line per phase; given executor settings (`--executor ray`), each task is a
`collection_unit` on the executor seam instead: built in the worker's scratch dir and shipped back, so that
only the driver writes the collection directory.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from twinbench.audit.audit import COVERAGE_BUILDS_DIR
from twinbench.collection.compact import compact_task_dir
from twinbench.collection.info import task_info
from twinbench.collection.install import installed_version
from twinbench.collection.manifest import MANIFEST_FILE, Manifest, TaskEntry
from twinbench.collection.size import measure_size
from twinbench.executors import (
    DriveInterrupted,
    ExecutorSettings,
    Unit,
    UnitOutcome,
    UnitResources,
    UnitWorkspace,
    install_files,
    run_on_executor,
)
from twinbench.formats import FormatError, TaskDir, load_task, save_task, write_text_atomic
from twinbench.reference import ReferenceError, resolve_binary
from twinbench.reference.coverage import BUILD_JSON, coverage_build, load_coverage_build
from twinbench.reference.coverage.apt import installed_source
from twinbench.reference.taskgen import create_task
from twinbench.reference.upstream_tests import SOURCE_CACHE
from twinbench.sandbox import SandboxUnavailable, get_sandbox
from twinbench.testgen.generate import TestgenOptions
from twinbench.testgen.pipeline import run_testgen

STAMP_FILE = "collection-stamp.json"
STAGING_DIR = ".building"  # tasks being built, two levels down so that */task.yaml never finds them
FAILED_DIR = ".failed"  # the last failed attempt of each task, kept for reading
GITIGNORE = f"{STAGING_DIR}/\n{FAILED_DIR}/\n"

Status = Literal["ok", "failed", "skipped"]
ProgressCallback = Callable[[str, str, int, int], None]  # task id, phase, done, total
Item = TypeVar("Item")
Result = TypeVar("Result")


class BuildSettings(BaseModel):
    """How tasks are built on this machine (not part of any task's identity)."""

    sandbox: str = "bwrap"
    workers: int = Field(default=1, ge=1, description="sandbox workers for one task's generation")
    coverage_cache: Path = Field(default=COVERAGE_BUILDS_DIR, description="coverage builds, one directory per package")
    coverage_jobs: int = Field(default=2, ge=1)
    source_cache: Path = Field(
        default=SOURCE_CACHE, description="unpacked Debian source packages (sizes of tasks without a coverage build)"
    )


class BuildStamp(BaseModel):
    """<task>/collection-stamp.json: what a finished task was built from; a different entry or reference rebuilds it."""

    entry_sha256: str
    package: str
    installed_version: str
    built_at: str


class TaskBuildResult(BaseModel):
    """One task's outcome: ok, failed (with the reason) or skipped (finished before with the same entry)."""

    id: str
    status: Status
    reason: str = ""
    seconds: float = 0.0
    tests: int | None = None
    line_coverage: float | None = None
    validity: dict[str, float] = Field(default_factory=dict)
    lines_of_code: int | None = None
    size_method: str | None = None


def stamp_path(task_root: Path) -> Path:
    """Where a task's build stamp lives."""
    return task_root / STAMP_FILE


def read_stamp(task_root: Path) -> BuildStamp | None:
    """The task's build stamp, or None when it has none or it cannot be read."""
    try:
        return BuildStamp.model_validate_json(stamp_path(task_root).read_bytes())
    except (OSError, ValidationError):
        return None


def rebuild_reason(entry: TaskEntry, collection_dir: Path) -> str | None:
    """Why the task must be built (no task yet, a changed entry, another installed reference), or None."""
    root = collection_dir / entry.id
    stamp = read_stamp(root)
    if stamp is None:
        return "not built yet"
    if stamp.entry_sha256 != entry.digest():
        return "its manifest entry changed"
    installed = installed_version(entry.package)
    if stamp.installed_version != installed:
        return f"the installed {entry.package} is {installed or 'absent'}, built with {stamp.installed_version}"
    try:
        task_dir = load_task(root)
    except FormatError as exc:
        return f"the task cannot be loaded ({exc})"
    if not task_dir.suite_path.is_file():
        return "it has no suite"
    return None


def build_task(
    entry: TaskEntry,
    settings: BuildSettings,
    collection_dir: Path,
    on_progress: ProgressCallback | None = None,
) -> TaskBuildResult:
    """Build one task into COLLECTION_DIR/<id>: task new, coverage build, testgen, validity gate, compaction.

    Never raises for the task's own problems: a failure is a result with its reason, and the attempt is
    kept in COLLECTION_DIR/.failed/<id>."""
    started = time.monotonic()

    def progress(phase: str, done: int = 0, total: int = 0) -> None:
        if on_progress is not None:
            on_progress(entry.id, phase, done, total)

    staging = collection_dir / STAGING_DIR / entry.id
    try:
        result = _build_staged(entry, settings, staging, progress)
    except (FormatError, ReferenceError, SandboxUnavailable) as exc:
        result = TaskBuildResult(id=entry.id, status="failed", reason=str(exc))
    except Exception as exc:  # a bug or an unforeseen failure of one task must not end the others
        result = TaskBuildResult(id=entry.id, status="failed", reason=f"{type(exc).__name__}: {_one_line(exc)}")
    if result.status == "ok":
        _replace_dir(staging, collection_dir / entry.id)
    elif staging.exists():
        _replace_dir(staging, collection_dir / FAILED_DIR / entry.id)
    return result.model_copy(update={"seconds": round(time.monotonic() - started, 1)})


def _build_staged(
    entry: TaskEntry, settings: BuildSettings, staging: Path, progress: Callable[..., None]
) -> TaskBuildResult:
    """Build the task in its staging directory; a failed step returns a failed result."""

    def failed(reason: str) -> TaskBuildResult:
        return TaskBuildResult(id=entry.id, status="failed", reason=reason)

    installed = installed_version(entry.package)
    if installed is None:
        return failed(f"{entry.package} is not installed (twinbench collection install)")
    if installed != entry.version:
        return failed(f"{entry.package} {installed} is installed, the manifest pins {entry.version}")
    sandbox = get_sandbox(settings.sandbox)
    if staging.exists():
        shutil.rmtree(staging)
    progress("task new")
    task_dir = create_task(entry.id, staging, debian=entry.package, binary=entry.binary)
    task_dir = _apply_entry(task_dir, entry)
    coverage_dir = None
    if entry.coverage:
        progress("coverage build")
        coverage_dir = cached_coverage_build(entry, settings, lambda line: progress(f"coverage: {line[:60]}"))
    options = TestgenOptions(
        budget_s=entry.budget_s,
        runs=entry.testgen.runs,
        seed=entry.seed,
        max_tests=entry.max_tests,
        workers=settings.workers,
        upstream_tests=entry.testgen.upstream_tests,
        base_args=entry.testgen.base_args,
        base_files={name: text.encode("utf-8") for name, text in entry.testgen.files.items()},
    )
    report = run_testgen(
        task_dir, sandbox, options, coverage_dir, lambda phase, done, total: progress(phase, done, total)
    )
    scores = dict(report.validity.scores) if report.validity else {}
    coverage = report.coverage.percent if report.coverage else None
    result = TaskBuildResult(id=entry.id, status="ok", tests=report.kept, line_coverage=coverage, validity=scores)
    if report.kept == 0:
        dropped = ", ".join(f"{why} {count}" for why, count in sorted(report.dropped_by_reason.items()))
        reason = f"testgen kept no tests (dropped: {dropped or 'none'}; {report.executions} runs)"
        return result.model_copy(update={"status": "failed", "reason": reason})
    if report.validity is None or not report.validity.passed:
        shown = ", ".join(f"{name} {score:.3f}" for name, score in scores.items())
        return result.model_copy(update={"status": "failed", "reason": f"validity gate failed ({shown})"})
    progress("measuring the size")
    result = _record_size(entry, settings, coverage_dir, staging, result)
    progress("compacting")
    compact_task_dir(load_task(staging))
    stamp = BuildStamp(
        entry_sha256=entry.digest(),
        package=entry.package,
        installed_version=installed,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_text_atomic(stamp_path(staging), stamp.model_dump_json(indent=2) + "\n")
    return result


def _record_size(
    entry: TaskEntry, settings: BuildSettings, coverage_dir: Path | None, task_root: Path, result: TaskBuildResult
) -> TaskBuildResult:
    """The task's size written into its task.yaml; a size that cannot be measured is said in the result's reason
    and leaves the task without one (it is still a sound task)."""
    measured = measure_size(entry.package, entry.language.value, coverage_dir, settings.source_cache)
    if measured.size is None:
        return result.model_copy(update={"reason": f"no size: {measured.problem}"})
    task = load_task(task_root).task
    save_task(task.model_copy(update={"size": measured.size}), task_root)
    return result.model_copy(update={"lines_of_code": measured.size.lines_of_code, "size_method": measured.size.method})


def _apply_entry(task_dir: TaskDir, entry: TaskEntry) -> TaskDir:
    """The manifest's fixed environment and test limits written into task.yaml."""
    task = task_dir.task
    overrides = entry.testgen.test_limits.model_dump(exclude_none=True)
    if not entry.env and not overrides:
        return task_dir
    limits = task.limits.model_copy(update={"test": task.limits.test.model_copy(update=overrides)})
    save_task(task.model_copy(update={"env": {**task.env, **entry.env}, "limits": limits}), task_dir.root)
    return load_task(task_dir.root)


def _cache_dir(entry: TaskEntry, settings: BuildSettings) -> Path:
    """Where the task's coverage build goes in the cache."""
    command = Path(entry.binary).name
    # the package's own command keeps the conventional directory (/var/tmp/twinbench-coverage/PKG, which the
    # audit looks in); another command of the package gets one of its own
    name = entry.package if command == entry.package else f"{entry.package}.{command}"
    return (settings.coverage_cache / name).resolve()


def _cached_build_dir(entry: TaskEntry, settings: BuildSettings) -> Path | None:
    """The cached coverage build of the task's package and binary at the installed source version, if any:
    in its own directory, or in the package's conventional one (`twinbench coverage-build --debian PKG -o
    CACHE/PKG` of a package whose command has another name, ripgrep's rg)."""
    command = Path(entry.binary).name
    for directory in (_cache_dir(entry, settings), (settings.coverage_cache / entry.package).resolve()):
        if _cached(directory, entry.package, command):
            return directory
    return None


def cached_coverage_build(entry: TaskEntry, settings: BuildSettings, log: Callable[[str], None]) -> Path:
    """The coverage build of the task's package and binary in the cache, made when there is none of the
    installed source version."""
    command = Path(entry.binary).name
    found = _cached_build_dir(entry, settings)
    if found is not None:
        return found
    directory = _cache_dir(entry, settings)
    settings.coverage_cache.mkdir(parents=True, exist_ok=True)
    # one coverage build at a time: each installs build dependencies, and apt holds one lock per machine;
    # a task of the same package that waited here finds the build made meanwhile
    with open(settings.coverage_cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _cached(directory, entry.package, command):
            coverage_build(entry.package, directory, command, log=log, jobs=settings.coverage_jobs)
    return directory


def _cached(directory: Path, package: str, command: str) -> bool:
    """Whether DIRECTORY holds a coverage build of PACKAGE's COMMAND at the installed source version (a
    coverage build records the source version: a binNMU such as bc 1.07.1-3+b1 is built from 1.07.1-3)."""
    source = installed_source(package)
    if source is None or not (directory / BUILD_JSON).is_file():
        return False
    try:
        cached = load_coverage_build(directory)
    except ReferenceError:
        return False  # unreadable: built again
    names = {command}
    try:
        names.add(resolve_binary(command).name)  # an alternatives link: figlet is figlet-figlet
    except ReferenceError:
        pass
    return cached.package == package and cached.version == source[1] and cached.binary.name in names


def run_units(
    unit: Callable[[Item], Result], items: Iterable[Item], jobs: int, on_done: Callable[[Result], None]
) -> list[Result]:
    """Run `unit` on every item, `jobs` at a time on this machine, in input order; `on_done` as each finishes."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="twinbench-collection") as pool:
        futures = [pool.submit(unit, item) for item in items]
        for future in as_completed(futures):
            on_done(future.result())
    return [future.result() for future in futures]


class CollectionUnitPayload(BaseModel):
    """What one task's build needs on a worker: its manifest entry and how to build."""

    entry: TaskEntry
    settings: BuildSettings


def collection_unit(payload: CollectionUnitPayload, workspace: UnitWorkspace) -> TaskBuildResult:
    """One task built in the worker's scratch dir; the finished task (or the failed attempt) goes to
    workspace.out, which the driver installs as COLLECTION/<id> (or COLLECTION/.failed/<id>)."""
    scratch_collection = workspace.scratch / "collection"
    result = build_task(payload.entry, payload.settings, scratch_collection)
    built = scratch_collection / (payload.entry.id if result.status == "ok" else f"{FAILED_DIR}/{payload.entry.id}")
    if built.is_dir():
        shutil.copytree(built, workspace.out, symlinks=True, dirs_exist_ok=True)
    return result


def build_collection(
    manifest: Manifest,
    manifest_file: Path,
    out_dir: Path,
    settings: BuildSettings,
    jobs: int = 1,
    only: list[str] | None = None,
    on_plan: Callable[[list[TaskEntry], list[TaskBuildResult]], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_done: Callable[[TaskBuildResult], None] | None = None,
    executor: ExecutorSettings | None = None,
    force: bool = False,
) -> list[TaskBuildResult]:
    """Build the manifest's tasks (or `only` these ids) into OUT_DIR; finished unchanged tasks are skipped,
    unless `force` (a new generator: the stamp knows the entry and the reference, not twinbench's code).
    A rebuilt task replaces the finished one only when it passes, as a first build does.

    `executor` None runs `jobs` tasks at a time here with per-phase progress; otherwise each task is a
    unit on that executor (local or Ray), retried when its worker is lost."""
    selected = select_entries(manifest, only)
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest_file.resolve() != (out_dir / MANIFEST_FILE).resolve():
        shutil.copyfile(manifest_file, out_dir / MANIFEST_FILE)
    if not (out_dir / ".gitignore").exists():
        (out_dir / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    skipped: list[TaskBuildResult] = []
    todo: list[TaskEntry] = []
    for entry in selected:
        if not force and rebuild_reason(entry, out_dir) is None:
            skipped.append(_skipped(entry, out_dir, settings))
        else:
            todo.append(entry)
    if on_plan is not None:
        on_plan(todo, skipped)
    if executor is None:
        built = run_units(
            lambda entry: build_task(entry, settings, out_dir, on_progress),
            todo,
            jobs,
            on_done or (lambda _result: None),
        )
    else:
        built = _build_on_executor(todo, settings, out_dir, executor, on_done or (lambda _result: None))
    by_id = {result.id: result for result in [*skipped, *built]}
    return [by_id[entry.id] for entry in selected]


def _build_on_executor(
    todo: list[TaskEntry],
    settings: BuildSettings,
    out_dir: Path,
    executor: ExecutorSettings,
    on_done: Callable[[TaskBuildResult], None],
) -> list[TaskBuildResult]:
    """Each task a unit on the executor; the driver alone installs what comes back."""
    results: list[TaskBuildResult] = []
    # a task's generation runs `settings.workers` sandboxes; coverage builds want memory
    resources = UnitResources(cpus=float(settings.workers), memory_mb=2048)
    units = [
        Unit(
            key=entry.id,
            function=collection_unit,
            payload=CollectionUnitPayload(entry=entry, settings=settings),
            resources=resources,
        )
        for entry in todo
    ]

    def installed(unit: Unit, outcome: UnitOutcome) -> None:
        result: TaskBuildResult = outcome.value
        target = out_dir / unit.key if result.status == "ok" else out_dir / FAILED_DIR / unit.key
        if outcome.files is not None:
            install_files(outcome.files, target)
        results.append(result)
        on_done(result)

    def lost(unit: Unit, outcome: UnitOutcome) -> None:
        result = TaskBuildResult(id=unit.key, status="failed", reason=f"harness: {outcome.error}")
        results.append(result)
        on_done(result)

    try:
        # finished tasks were left out by their stamps
        run_on_executor(executor, units, on_result=installed, on_failure=lost)
    except DriveInterrupted:
        raise KeyboardInterrupt from None  # tasks not built stay unbuilt: the next build resumes them
    return results


def _skipped(entry: TaskEntry, collection_dir: Path, settings: BuildSettings) -> TaskBuildResult:
    """The result of a task built before, with the figures its files hold; a task built before sizes were
    measured for every task gets its size now (from the cached coverage build, else the source package)."""
    result = TaskBuildResult(id=entry.id, status="skipped", reason="built before with this entry")
    root = collection_dir / entry.id
    if load_task(root).task.size is None:
        coverage_dir = _cached_build_dir(entry, settings) if entry.coverage else None
        result = _record_size(entry, settings, coverage_dir, root, result)
    info = task_info(entry, collection_dir)
    return result.model_copy(
        update={
            "tests": info.tests,
            "line_coverage": info.line_coverage,
            "validity": info.imitation_scores,
            "lines_of_code": info.lines_of_code,
            "size_method": info.size_method,
        }
    )


def select_entries(manifest: Manifest, only: list[str] | None) -> list[TaskEntry]:
    """The entries named by `only` (all when None); an unknown id is a FormatError."""
    if not only:
        return list(manifest.tasks)
    known = {entry.id for entry in manifest.tasks}
    unknown = [task_id for task_id in only if task_id not in known]
    if unknown:
        raise FormatError(f"no task {', '.join(repr(u) for u in unknown)} in the manifest")
    wanted = set(only)
    return [entry for entry in manifest.tasks if entry.id in wanted]


def _replace_dir(source: Path, target: Path) -> None:
    """Move `source` to `target`, replacing what was there (the old one is moved aside first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # beside the source (in .building/), so that a build killed here never leaves a task-like directory behind
    aside = source.with_name(f"{source.name}.old")
    if aside.exists():
        shutil.rmtree(aside)
    if target.exists():
        target.rename(aside)
    source.rename(target)
    if aside.exists():
        shutil.rmtree(aside)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"
