"""Build a submission with its compile.sh in a fresh, network-less sandbox."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from twinbench.formats import BuildRecord, Limits
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, SessionConfig, WorkdirMode
from twinbench.sandbox.machine import host_cpu_count
from twinbench.sandbox.runner_main import EXPORT_BLOCK, MAX_TREE_DEPTH, export_mode, remove_tree
from twinbench.sandbox.testrun import FIXED_ENV

BUILD_SCRIPT = "compile.sh"
# the build record's reason when there is nothing to build: `eval` tells a wrong path by it (exit 2)
NO_BUILD_SCRIPT = f"submission has no {BUILD_SCRIPT}"

LOG_TAIL_CHARS = 3000


def build_submission(
    source: Path,
    build_dir: Path,
    sandbox: Sandbox,
    limits: Limits,
    hidden_paths: tuple[Path, ...],
    private_dirs: tuple[Path, ...],
) -> BuildRecord:
    """Run compile.sh on a copy of `source`; the built tree lands in build_dir/tree, the record in build.json."""
    if build_dir.exists():
        remove_tree(str(build_dir))
    build_dir.mkdir(parents=True)
    record = _run_compile(source, build_dir, sandbox, limits, hidden_paths, private_dirs)
    tree = build_dir / "tree"
    if record.ok:
        refused = check_exported_tree(tree, limits.disk_mb << 20)
        if refused is not None:
            record.ok = False
            record.reason = f"the built tree was refused: {refused}"
    if not record.ok and tree.exists():
        remove_tree(str(tree))  # nothing of a failed build stays on the host
    (build_dir / "build.json").write_text(json.dumps(record.model_dump(mode="json"), indent=2), encoding="utf-8")
    return record


def _run_compile(
    source: Path,
    build_dir: Path,
    sandbox: Sandbox,
    limits: Limits,
    hidden_paths: tuple[Path, ...],
    private_dirs: tuple[Path, ...],
) -> BuildRecord:
    compile_script = source / "compile.sh"
    if not compile_script.exists() and not compile_script.is_symlink():
        return BuildRecord(ok=False, reason=NO_BUILD_SCRIPT)
    if compile_script.is_symlink() or not compile_script.is_file():
        return BuildRecord(ok=False, reason="compile.sh is not a regular file")
    notes = []
    if not os.access(compile_script, os.X_OK):
        notes.append("compile.sh is not executable; it was run with bash")
    config = SessionConfig(
        tree=source,
        workdir_mode=WorkdirMode.copy,
        export_dir=build_dir,
        hidden_paths=hidden_paths,
        private_dirs=private_dirs,
        disk_mb=limits.disk_mb,
        machine_cpus=host_cpu_count(),
    )
    request = ExecRequest(argv=["/bin/bash", "./compile.sh"], env=dict(FIXED_ENV), limits=limits)
    with sandbox.open(config) as session:
        result = session.run(request)
    log = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    record = BuildRecord(
        ok=False,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        seconds=round(result.seconds, 3),
        log_tail=log[-LOG_TAIL_CHARS:],
    )
    tree = build_dir / "tree"
    if result.sandbox_error is not None:
        record.reason = f"harness: {result.sandbox_error}"
    elif result.crash_reason is not None:
        record.reason = f"compile.sh crashed its sandbox: {result.crash_reason}"
    elif result.timed_out:
        record.reason = f"compile.sh did not finish within {limits.wall_s:g}s"
    elif result.exec_error is not None:
        record.reason = f"compile.sh could not be started: {result.exec_error}"
    elif result.exit_code != 0:
        how = f"exit code {result.exit_code}" if result.exit_code is not None else f"signal {result.signal}"
        record.reason = f"compile.sh failed with {how}"
    elif result.export_error is not None:
        record.reason = f"the built tree was refused: {result.export_error}"
    elif not (tree / "executable").exists() and not (tree / "executable").is_symlink():
        record.reason = "compile.sh succeeded but did not produce ./executable"
    else:
        record.ok = True
        record.reason = "; ".join(notes)
    if not record.ok and notes:
        record.reason = f"{record.reason} ({'; '.join(notes)})"
    return record


def check_exported_tree(tree: Path, limit_bytes: int) -> str | None:
    """The host's own check of what a build exported (the runner sanitizes it; this does not trust that):
    only directories, regular files and symlinks, modes as export_mode() leaves them, no deeper than
    MAX_TREE_DEPTH, and within `limit_bytes` counted as the runner counts them. None, or what is wrong."""
    used = 0
    stack = [(str(tree), 0)]
    while stack:
        directory, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            return f"directories nest more than {MAX_TREE_DEPTH} deep"
        try:
            paths = [directory, *(entry.path for entry in os.scandir(directory))]
        except OSError as exc:
            return f"cannot read {directory}: {exc.strerror}"
        for index, path in enumerate(paths):
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            if kind == stat.S_IFDIR and index > 0:
                stack.append((path, depth + 1))  # checked and counted when its own turn comes
                continue
            if kind not in (stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK):
                return f"{path} is neither a file, a directory nor a symlink"
            if kind != stat.S_IFLNK and stat.S_IMODE(info.st_mode) != export_mode(info.st_mode):
                return f"{path} has mode {stat.S_IMODE(info.st_mode):o}"
            size = info.st_size if kind == stat.S_IFREG else 0
            used += max(EXPORT_BLOCK, -(-size // EXPORT_BLOCK) * EXPORT_BLOCK)
        if used > limit_bytes:
            return f"it takes more than the disk limit of {limit_bytes >> 20} MB"
    return None


__all__ = ["build_submission", "check_exported_tree"]
