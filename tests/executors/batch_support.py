"""Batches for the executor tests: small figlet tasks, a ProgramBench-style run dir, and comparing outputs."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import yaml
from helpers_task import small_figlet_task

from twinbench.demo import DEMO_SUBMISSIONS

# task name -> the demo submission its run holds; fd's is a directory, the others archives
RUN_LAYOUT = {"fa": "partial", "fb": "stub", "fc": "reference-wrapper", "fd": "partial"}
# what changes from one run to the next of the same work: timings, and the times inside archives
TIMING_KEYS = {"seconds", "started_at", "updated_at", "submission_sha256", "wall_s_used", "time"}


def make_tasks(directory: Path, names: list[str], cases: int) -> Path:
    """TASKS_DIR with one small figlet task per name (its id is its name)."""
    for name in names:
        task = small_figlet_task(directory / name, cases)
        spec = yaml.safe_load((task / "task.yaml").read_text())
        spec["id"] = name
        (task / "task.yaml").write_text(yaml.safe_dump(spec))
    return directory


def make_run(directory: Path, layout: dict[str, str] = RUN_LAYOUT) -> Path:
    """RUN_DIR as ProgramBench lays it out: <task>/submission.tar.gz, or <task>/submission/ for fd."""
    for name, submission in layout.items():
        source = DEMO_SUBMISSIONS[submission]
        run = directory / name
        run.mkdir(parents=True)
        if name == "fd":
            (run / "submission").mkdir()
            for path in source.iterdir():
                (run / "submission" / path.name).write_bytes(path.read_bytes())
                (run / "submission" / path.name).chmod(path.stat().st_mode)
            continue
        with tarfile.open(run / "submission.tar.gz", "w:gz") as tar:
            for path in sorted(source.iterdir()):
                tar.add(path, arcname=path.name)
    return directory


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_timings(item) for key, item in value.items() if key not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(item) for item in value]
    return value


def comparable(path: Path) -> Any:
    """A file's content with timings left out: JSON without timing keys (JSON lines sorted: they arrive in any
    order), archives as their members' names and bytes, junit.xml without time attributes."""
    if path.is_symlink():
        return ("link", str(path.readlink()))
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            return sorted(
                (member.name, tar.extractfile(member).read() if member.isfile() else member.type)  # type: ignore[union-attr]
                for member in tar.getmembers()
            )
    if path.suffix == ".json":
        return _without_timings(json.loads(path.read_text()))
    if path.suffix == ".jsonl":
        return sorted(
            json.dumps(_without_timings(json.loads(line)), sort_keys=True) for line in path.read_text().splitlines()
        )
    if path.name == "junit.xml":
        import re

        return re.sub(r' time="[0-9.]+"', "", path.read_text())
    return path.read_bytes()


def tree(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every file under root (relative path -> comparable content), leaving out names in `skip`."""
    return {
        path.relative_to(root).as_posix(): comparable(path)
        for path in sorted(root.rglob("*"))
        if (path.is_file() or path.is_symlink()) and path.name not in skip
    }
