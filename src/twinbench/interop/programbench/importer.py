"""`twinbench programbench import`: a ProgramBench task (metadata, branch archives, reference) as a twinbench
task directory (layout in task.py)."""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import FormatError, Limits, ReferenceSpec, Task, TaskLimits, save_task
from twinbench.interop.programbench.models import BRANCH_PATTERN, INSTANCE_PATTERN
from twinbench.interop.programbench.task import PB_DIR, TASK_YAML, TESTS_JSON, packaged_tasks_dir, read_spec, read_tests

DOCS_CAP_BYTES = 64 << 20
# ProgramBench gives a branch an hour; a test may start the candidate many times within it
IMPORTED_TEST_LIMITS = Limits(wall_s=3600, cpu_s=600, memory_mb=4096, processes=512, file_size_mb=1024, open_files=1024)


class ImportReport(BaseModel):
    """What `import` did, written to <task>/programbench/import.json."""

    iid: str
    task_dir: str
    branches: list[str] = Field(default_factory=list)
    missing_branches: list[str] = Field(default_factory=list, description="active branches with no archive")
    ignored_branches: list[str] = Field(default_factory=list)
    ignored_tests: int = 0
    reference_sha256: str = ""
    reference_is_gold: bool | None = Field(default=None, description="None: task.yaml lists no eval_clean_hashes")
    docs: list[str] = Field(default_factory=list)


def import_task(
    iid: str,
    output: Path,
    blob_dir: Path | None = None,
    data_dir: Path | None = None,
    reference: Path | None = None,
    rootfs: Path | None = None,
) -> ImportReport:
    """Make a twinbench task from ProgramBench's task.yaml/tests.json, branch archives and a reference."""
    if not re.fullmatch(INSTANCE_PATTERN, iid):
        raise FormatError(f"{iid!r} is not a ProgramBench instance id")
    tasks_root = data_dir if data_dir is not None else packaged_tasks_dir()
    if tasks_root is None:
        raise FormatError("the programbench package is not installed; pass --data DIR (laid out like data/tasks/)")
    source = tasks_root / iid
    if not (source / TASK_YAML).is_file():
        raise FormatError(f"no task {iid} in {tasks_root} (no {iid}/{TASK_YAML})")
    if (reference is None) == (rootfs is None):
        raise FormatError("give exactly one of --reference PATH or --rootfs DIR")
    spec = read_spec(source / TASK_YAML)
    tests = read_tests(source / TESTS_JSON)
    binary = reference if reference is not None else (rootfs / "workspace" / "executable" if rootfs else None)
    if binary is None or not binary.is_file():
        raise FormatError(f"reference {binary} is not a file")
    meta = output / PB_DIR
    branches_dir = meta / "branches"
    branches_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / TASK_YAML, meta / TASK_YAML)
    if (source / TESTS_JSON).is_file():
        shutil.copy2(source / TESTS_JSON, meta / TESTS_JSON)
    report = ImportReport(iid=iid, task_dir=str(output.resolve()))
    for name, branch in tests.branches.items():
        if branch.ignored:
            report.ignored_branches.append(name)
        report.ignored_tests += len(branch.ignored_tests)
        if _copy_branch(name, source, blob_dir, iid, branches_dir / f"{name}.tar.gz"):
            report.branches.append(name)
        elif not branch.ignored:
            report.missing_branches.append(name)
    reference_dir = output / "reference"
    reference_dir.mkdir(exist_ok=True)
    copied = reference_dir / "executable"
    shutil.copy2(binary, copied)
    copied.chmod(0o755)
    report.reference_sha256 = hashlib.sha256(copied.read_bytes()).hexdigest()
    hashes = spec.clean_hashes()
    report.reference_is_gold = report.reference_sha256 in hashes if hashes else None
    report.docs = _copy_docs(output / "docs", blob_dir / iid / "docs" if blob_dir else None, rootfs)
    task = Task(
        id=iid,
        description=f"ProgramBench task {iid}: rebuild {spec.repository or 'the program'} ({spec.language})".strip(),
        reference=ReferenceSpec(binary=str(copied.resolve())),
        docs=report.docs,
        limits=TaskLimits(test=IMPORTED_TEST_LIMITS),
    )
    save_task(task, output)
    (meta / "import.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return report


def _copy_branch(name: str, source: Path, blob_dir: Path | None, iid: str, target: Path) -> bool:
    """The branch archive from the blob dir (<blob>/<iid>/tests/<b>.tar.gz), else packed from an unpacked
    branch in the data dir (<data>/<iid>/tests/<b>/, as the package's fixture ships it)."""
    if re.fullmatch(BRANCH_PATTERN, name) is None:
        return False
    if blob_dir is not None:
        archive = blob_dir / iid / "tests" / f"{name}.tar.gz"
        if archive.is_file():
            shutil.copy2(archive, target)
            return True
    unpacked = source / "tests" / name
    if unpacked.is_dir():
        with tarfile.open(target, "w:gz") as tar:
            for path in sorted(unpacked.rglob("*")):
                if "__pycache__" in path.parts:
                    continue
                tar.add(path, arcname=path.relative_to(unpacked).as_posix(), recursive=False)
        return True
    return False


def _copy_docs(target: Path, blob_docs: Path | None, rootfs: Path | None) -> list[str]:
    """Docs from the blob's <iid>/docs/, or what the cleanroom image shows in /workspace (its executable
    aside), up to 64 MiB; their names relative to docs/."""
    sources: list[Path] = []
    if blob_docs is not None and blob_docs.is_dir():
        sources.append(blob_docs)
    if rootfs is not None and (rootfs / "workspace").is_dir():
        sources.append(rootfs / "workspace")
    copied: list[str] = []
    budget = DOCS_CAP_BYTES
    for root in sources:
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file() or path == root / "executable":
                continue
            size = path.stat().st_size
            if size > budget:
                continue
            relative = path.relative_to(root)
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            budget -= size
            copied.append(relative.as_posix())
    return sorted(set(copied))
