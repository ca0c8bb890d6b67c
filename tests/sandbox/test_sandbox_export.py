"""What a build sends out of its sandbox: sanitized modes, the harness's ownership, bounded by the disk limit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import write_executable
from twinbench.formats import Limits
from twinbench.grade.build import build_submission, check_exported_tree
from twinbench.protocols import Sandbox

# 3000 nested directories, beyond Python's recursion limit (bash's `cd` takes quadratic time for this)
DEEP_TREE = 'python3 -c \'import os\nfor _ in range(3000): os.mkdir("d"); os.chdir("d")\'\n'
LIMITS = Limits(disk_mb=64, wall_s=60)
MAKE_EXECUTABLE = "printf '#!/bin/sh\\necho hi\\n' > executable\nchmod 755 executable\n"


def build(tmp_path: Path, sandbox: Sandbox, compile_sh: str):
    source = tmp_path / "src"
    write_executable(source, "#!/bin/sh\n" + compile_sh, "compile.sh")
    return build_submission(source, tmp_path / "build", sandbox, LIMITS, (), ())


def all_entries(root: Path) -> list[Path]:
    return [root, *root.rglob("*")]


def test_setuid_sticky_and_writable_modes_never_reach_the_host(tmp_path: Path, backend: Sandbox) -> None:
    """Regression: the root runner copied the work dir out with every mode bit, so `chmod 6755 executable`
    left a root-owned setuid program on the host, and world-writable or sticky directories crossed as well."""
    record = build(
        tmp_path,
        backend,
        MAKE_EXECUTABLE + "chmod 6755 executable\nmkdir -p open/sticky\nchmod 777 open\nchmod 1777 open/sticky\n"
        "echo data > open/shared\nchmod 2666 open/shared\nln -s /etc/passwd open/link\n",
    )
    assert record.ok, record
    tree = tmp_path / "build" / "tree"
    entries = all_entries(tree)
    assert len(entries) == 7  # the tree, compile.sh, executable, open and its three
    for path in entries:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        assert stat.S_IMODE(info.st_mode) & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | 0o022) == 0, path
        assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid()), path
    assert stat.S_IMODE((tree / "executable").stat().st_mode) == 0o755
    assert stat.S_IMODE(tree.stat().st_mode) == 0o700  # nothing inside is for other users of the host
    assert os.readlink(tree / "open" / "link") == "/etc/passwd"


def test_hard_links_of_a_sparse_file_count_at_their_full_size(tmp_path: Path, backend: Sandbox) -> None:
    """Regression: a 60 MB sparse file and hard links to it took kilobytes in a 64 MB build sandbox, and each
    link was exported as a zero-filled file of its own: about 1 GB on the host. Each copy now counts."""
    record = build(
        tmp_path,
        backend,
        MAKE_EXECUTABLE + "truncate -s 60M sparse\nfor i in $(seq 20); do ln sparse link$i; done\ndu -sk . >&2\n",
    )
    assert not record.ok
    assert "disk limit of 64 MB" in record.reason and "refused" in record.reason, record.reason
    assert record.exit_code == 0  # compile.sh itself succeeded: the export is what failed
    assert not (tmp_path / "build" / "tree").exists()
    on_host = sum(path.stat().st_size for path in (tmp_path / "build").rglob("*") if path.is_file())
    assert on_host < 1 << 20


def test_hard_links_within_the_limit_are_exported_as_copies(tmp_path: Path, backend: Sandbox) -> None:
    record = build(tmp_path, backend, MAKE_EXECUTABLE + "head -c 1000000 /dev/zero > one\nln one two\nln one three\n")
    assert record.ok, record
    tree = tmp_path / "build" / "tree"
    assert [(tree / name).stat().st_nlink for name in ("one", "two", "three")] == [1, 1, 1]
    assert (tree / "three").stat().st_size == 1000000


def test_many_small_files_count_against_the_limit(tmp_path: Path, backend: Sandbox) -> None:
    """An inode bomb costs the host inodes whatever the bytes: every entry counts one block."""
    record = build(tmp_path, backend, MAKE_EXECUTABLE + "mkdir many\ncd many\nseq 20000 | xargs touch\n")
    assert not record.ok and "disk limit of 64 MB" in record.reason, record.reason


def test_a_tree_too_deep_is_the_builds_failure(tmp_path: Path, bwrap: Sandbox) -> None:
    """Regression: the export walked the tree recursively; 3000 nested directories made it a harness error."""
    record = build(tmp_path, bwrap, MAKE_EXECUTABLE + DEEP_TREE)
    assert not record.ok and "nests directories more than" in record.reason, record.reason
    assert not record.reason.startswith("harness")


def test_the_host_checks_the_export_itself(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\n")
    tree.chmod(0o700)
    assert check_exported_tree(tree, 1 << 20) is None
    (tree / "executable").chmod(0o4755)
    assert "mode 4755" in str(check_exported_tree(tree, 1 << 20))
    (tree / "executable").chmod(0o755)
    os.mkfifo(tree / "pipe")
    assert "neither a file" in str(check_exported_tree(tree, 1 << 20))
    (tree / "pipe").unlink()
    (tree / "big").write_bytes(b"x" * 5000)
    assert check_exported_tree(tree, 3 * 4096) is not None  # the tree, executable and big (2 blocks)
    assert check_exported_tree(tree, 4 * 4096) is None
