"""Compacting a task directory for a repository: the suite gzip-compressed, input files stored once by hash."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from twinbench.formats import COMPACT_SUITE_FILE, SUITE_FILE, BlobStore, TaskDir, dump_suite, load_suite
from twinbench.formats.suite import BLOB_DIR, prune_blobs


class CompactionReport(BaseModel):
    """Sizes before and after compaction."""

    cases: int
    bytes_before: int
    bytes_after: int
    blobs: int


def compact_task_dir(task_dir: TaskDir) -> CompactionReport:
    """Rewrite the task's suite as tests/suite.jsonl.gz with files in tests/files/<sha256>; drop suite.jsonl
    and blobs no case references. The suite loads to the same cases before and after."""
    tests = task_dir.root / "tests"
    source = task_dir.suite_path
    blob_dir = tests / BLOB_DIR
    before = source.stat().st_size + _blob_bytes(blob_dir)
    suite = load_suite(source)
    target = tests / COMPACT_SUITE_FILE
    dump_suite(suite, target, BlobStore(blob_dir))
    if load_suite(target) != suite:  # never drop the original for a copy that differs
        raise ValueError(f"{target}: the compacted suite does not load to the same cases")
    plain = tests / SUITE_FILE
    if plain.exists():
        plain.unlink()
    blobs = prune_blobs(blob_dir, suite)
    return CompactionReport(
        cases=len(suite),
        bytes_before=before,
        bytes_after=target.stat().st_size + _blob_bytes(blob_dir),
        blobs=blobs,
    )


def _blob_bytes(blob_dir: Path) -> int:
    return sum(blob.stat().st_size for blob in blob_dir.iterdir()) if blob_dir.is_dir() else 0
