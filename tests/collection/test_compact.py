"""Compact suites: suite.jsonl.gz with input files stored once by hash, loaded and graded like suite.jsonl."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from twinbench.collection import compact_task_dir
from twinbench.demo import DEMO_SUBMISSIONS, DEMO_TASK
from twinbench.formats import FormatError, Suite, dump_suite, load_suite, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.protocols import Sandbox


def demo_copy(tmp_path: Path, cases: int | None = None) -> Path:
    """The bundled figlet task (task.yaml and suite only), its suite cut to `cases` cases with files first."""
    root = tmp_path / "figlet"
    (root / "tests").mkdir(parents=True)
    shutil.copy(DEMO_TASK / "task.yaml", root / "task.yaml")
    suite = load_suite(DEMO_TASK / "tests" / "suite.jsonl")
    if cases is not None:
        with_files = [case for case in suite.cases if case.files]
        others = [case for case in suite.cases if not case.files]
        suite = Suite(cases=(with_files[: cases // 2] + others)[:cases])
    dump_suite(suite, root / "tests" / "suite.jsonl")
    return root


def test_compaction_round_trip(tmp_path: Path) -> None:
    root = demo_copy(tmp_path)
    original = load_suite(root / "tests" / "suite.jsonl")
    report = compact_task_dir(load_task(root))
    task_dir = load_task(root)
    assert task_dir.suite_path == root / "tests" / "suite.jsonl.gz"
    assert not (root / "tests" / "suite.jsonl").exists()
    assert load_suite(task_dir.suite_path) == original
    blobs = sorted((root / "tests" / "files").iterdir())
    distinct = {content for case in original.cases for content in case.files.values()}
    assert len(blobs) == report.blobs == len(distinct)
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert report.bytes_after * 2 < report.bytes_before  # the input files (fonts) are most of what is left
    assert b"files_ref" in gzip.decompress(task_dir.suite_path.read_bytes())
    # reproducible: compacting again writes the same bytes (no time stamp in the gzip header)
    first = task_dir.suite_path.read_bytes()
    compact_task_dir(task_dir)
    assert task_dir.suite_path.read_bytes() == first


def test_a_compacted_suite_grades_like_the_original(tmp_path: Path, bwrap: Sandbox) -> None:
    plain = demo_copy(tmp_path / "plain", cases=24)
    compact = demo_copy(tmp_path / "compact", cases=24)
    compact_task_dir(load_task(compact))
    submission = DEMO_SUBMISSIONS["partial"]
    options = EvalOptions(workers=2)
    before = evaluate(load_task(plain), submission, tmp_path / "eval-plain", bwrap, options)
    after = evaluate(load_task(compact), submission, tmp_path / "eval-compact", bwrap, options)
    assert [(r.id, r.status) for r in after.tests] == [(r.id, r.status) for r in before.tests]
    assert 0 < after.passed < after.total  # the partial rebuild passes some cases with input files, not all


def compacted(tmp_path: Path) -> tuple[Path, Path]:
    root = demo_copy(tmp_path, cases=6)
    compact_task_dir(load_task(root))
    blob = sorted((root / "tests" / "files").iterdir())[0]
    return root / "tests" / "suite.jsonl.gz", blob


def test_a_missing_blob_is_a_one_line_error(tmp_path: Path) -> None:
    suite, blob = compacted(tmp_path)
    blob.unlink()
    with pytest.raises(FormatError, match=rf"suite.jsonl.gz:\d+: files_ref\[.*\]: blob .*{blob.name} cannot be read"):
        load_suite(suite)


def test_a_blob_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    suite, blob = compacted(tmp_path)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    with pytest.raises(FormatError, match="is corrupt"):
        load_suite(suite)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id":"a","files_ref":{"x":"sha256:../../../etc/passwd"},"expect":{"exit_code":0}}', "not a 'sha256:"),
        ('{"id":"a","files_ref":["x"],"expect":{"exit_code":0}}', "must be a mapping"),
        (
            '{"id":"a","files":{"x":"inline"},"files_ref":{"x":"sha256:' + "0" * 64 + '"},"expect":{"exit_code":0}}',
            "also given inline",
        ),
    ],
)
def test_malformed_references(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "suite.jsonl.gz"
    path.write_bytes(gzip.compress(line.encode() + b"\n"))
    with pytest.raises(FormatError, match=expected) as caught:
        load_suite(path)
    assert "\n" not in str(caught.value)


def test_a_damaged_gzip_suite_is_a_one_line_error(tmp_path: Path) -> None:
    suite, _ = compacted(tmp_path)
    suite.write_bytes(suite.read_bytes()[:-20])
    with pytest.raises(FormatError, match="not a valid gzip file"):
        load_suite(suite)
