"""The grader's small file-level rules: the submission's identity and reuse of an earlier build."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from twinbench.formats import BuildRecord
from twinbench.grade.evaluate import _reuse_build
from twinbench.grade.submission import submission_digest, unpack_submission


def make_tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "compile.sh").write_text("#!/bin/sh\n")
    (root / "compile.sh").chmod(0o755)
    (root / "src" / "main.c").write_text("int main(){}\n")
    (root / "link").symlink_to("src/main.c")
    return root


def test_an_archive_digest_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(os.urandom(3 << 20))  # more than one read block
    assert submission_digest(archive) == hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "src" / "main.c").write_text("int main(){return 1;}\n"),
        lambda root: (root / "src" / "main.c").rename(root / "src" / "other.c"),
        lambda root: (root / "compile.sh").chmod(0o644),
        lambda root: ((root / "link").unlink(), (root / "link").symlink_to("compile.sh")),
        lambda root: (root / "new").write_text(""),
        lambda root: (root / "src" / "main.c").write_text("int main(){}\n\n"),
    ],
    ids=["content", "name", "executable bit", "link target", "new empty file", "size"],
)
def test_a_directory_digest_changes_with_what_a_build_sees(tmp_path: Path, change: object) -> None:
    root = make_tree(tmp_path / "sub")
    before = submission_digest(root)
    assert submission_digest(root) == before
    change(root)  # type: ignore[operator]
    assert submission_digest(root) != before


def test_a_directory_digest_ignores_where_the_tree_lies(tmp_path: Path) -> None:
    first = make_tree(tmp_path / "one")
    second = shutil.copytree(first, tmp_path / "two", symlinks=True)
    assert submission_digest(first) == submission_digest(second)
    # a link is hashed as a link, never followed
    (first / "src" / "main.c").write_text("changed")
    (second / "src" / "main.c").write_text("changed")
    assert submission_digest(first) == submission_digest(second)


IDENTITY = {"submission_sha256": "a", "suite_sha256": "b"}


def built(out: Path, record: BuildRecord, identity: dict[str, str] | None = None, tree: bool = True) -> Path:
    build = out / "build"
    build.mkdir(parents=True)
    (build / "build.json").write_text(record.model_dump_json())
    (build / "identity.json").write_text(json.dumps(identity or IDENTITY))
    if tree:
        (build / "tree").mkdir()
    return out


def test_a_build_is_reused_only_for_the_same_submission_and_suite(tmp_path: Path) -> None:
    ok = BuildRecord(ok=True, seconds=2.5)
    assert _reuse_build(built(tmp_path / "same", ok), IDENTITY) == ok
    assert (
        _reuse_build(built(tmp_path / "other", ok, {"submission_sha256": "x", "suite_sha256": "b"}), IDENTITY) is None
    )
    assert _reuse_build(built(tmp_path / "no-tree", ok, tree=False), IDENTITY) is None
    failed = BuildRecord(ok=False, reason="compile.sh failed with exit code 1")
    assert _reuse_build(built(tmp_path / "failed", failed, tree=False), IDENTITY) == failed
    assert _reuse_build(tmp_path / "nothing", IDENTITY) is None
    broken = built(tmp_path / "broken", ok)
    (broken / "build" / "build.json").write_text("{")
    assert _reuse_build(broken, IDENTITY) is None
    unreadable = built(tmp_path / "bad-identity", ok)
    (unreadable / "build" / "identity.json").write_text("not json")
    assert _reuse_build(unreadable, IDENTITY) is None


def test_a_single_top_folder_is_unwrapped_only_when_it_holds_compile_sh(tmp_path: Path) -> None:
    wrapped = make_tree(tmp_path / "w" / "inner")
    source = unpack_submission(tmp_path / "w", tmp_path / "out1")
    assert (source / "compile.sh").is_file() and not (source / "inner").exists()
    assert wrapped.exists()  # the submission itself is never changed
    (tmp_path / "plain" / "only").mkdir(parents=True)
    source = unpack_submission(tmp_path / "plain", tmp_path / "out2")
    assert (source / "only").is_dir()
    # unpacking again replaces what an earlier run left
    (tmp_path / "out2" / "stale").write_text("")
    assert not (unpack_submission(tmp_path / "plain", tmp_path / "out2") / "stale").exists()


def test_a_directory_submission_nested_too_deeply_is_bad_input(tmp_path: Path) -> None:
    from twinbench.formats import FormatError
    from twinbench.grade.submission import remove_tree

    root = tmp_path / "sub"
    deepest = str(root)
    os.mkdir(deepest)
    try:
        for _ in range(1100):
            deepest += "/d"
            os.mkdir(deepest)
        with pytest.raises(FormatError, match="its directory tree is nested too deeply"):
            submission_digest(root)
        with pytest.raises(FormatError, match="its directory tree is nested too deeply"):
            unpack_submission(root, tmp_path / "source")
        assert not (tmp_path / "source").exists()
    finally:
        # pytest's own cleanup of tmp_path recurses, and would fail on this tree for every later run
        remove_tree(root)
        remove_tree(tmp_path / "source")
