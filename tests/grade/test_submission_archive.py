"""Unpacking submission archives on the host: bombs refused early, modes sanitized, non-tar input named."""

from __future__ import annotations

import bz2
import io
import lzma
import os
import stat
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from twinbench.formats import ArchiveLimits, FormatError
from twinbench.grade.submission import ArchiveBomb, remove_tree, sanitize_modes, unpack_submission

MiB = 1 << 20


def write_tar(path: Path, mode: str, members: list[tuple[tarfile.TarInfo, io.IOBase | None]], **kw: object) -> Path:
    with tarfile.open(path, mode, **kw) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, data)
    return path


def disk_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink()) if root.exists() else 0


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda data: zlib.compress(data, wbits=31),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def stream_bomb(path: Path, kind: str, size: int) -> Path:
    """A tar holding one member of `size` zero bytes, written as concatenated compressed streams (valid for
    gzip, bzip2 and xz) of 1 MiB each, so that a 3 GiB bomb takes milliseconds to make."""
    header = tarfile.TarInfo("compile.sh")
    header.size = size
    compress = COMPRESSORS[kind]
    block = compress(bytes(MiB))
    with path.open("wb") as out:
        out.write(compress(header.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(size // MiB):
            out.write(block)
    return path


def test_a_three_gib_bomb_is_refused_under_the_default_limits(tmp_path: Path) -> None:
    # 3 GiB of zeros in a 3 MB file: unpacking must stop before any of it lands on disk
    archive = stream_bomb(tmp_path / "bomb.tar.gz", "gz", 3 << 30)
    assert archive.stat().st_size < 5 * MiB
    with pytest.raises(ArchiveBomb, match="refused: its members declare more than 2048 MiB"):
        unpack_submission(archive, tmp_path / "source")
    assert disk_bytes(tmp_path / "source") == 0


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_a_compression_bomb_is_refused_before_it_is_written(tmp_path: Path, kind: str) -> None:
    archive = stream_bomb(tmp_path / f"bomb.tar.{kind}", kind, 256 * MiB)
    with pytest.raises(ArchiveBomb, match="refused: its members declare more than 64 MiB"):
        unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_mb=64, max_ratio=10**6))
    assert disk_bytes(tmp_path / "source") == 0


def test_a_bomb_below_the_byte_bound_is_caught_by_its_ratio(tmp_path: Path) -> None:
    # eight members of 8 MiB zeros: 64 MiB in all, far below the 2 GiB bound, at a ratio near 1000
    archive = tmp_path / "bomb.tar.gz"
    compress = COMPRESSORS["gz"]
    block = compress(bytes(MiB))
    with archive.open("wb") as out:
        for i in range(8):
            header = tarfile.TarInfo(f"f{i}")
            header.size = 8 * MiB
            out.write(compress(header.tobuf(format=tarfile.GNU_FORMAT)) + block * 8)
    with pytest.raises(ArchiveBomb, match="more than 200 times its compressed size"):
        unpack_submission(archive, tmp_path / "source")
    assert not (tmp_path / "source").exists()  # what was written before the bound (16 MiB) is removed


def test_the_byte_bound_holds_for_incompressible_data(tmp_path: Path) -> None:
    payload = os.urandom(3 * MiB)
    info = tarfile.TarInfo("blob")
    info.size = len(payload)
    archive = write_tar(tmp_path / "big.tar.gz", "w:gz", [(info, io.BytesIO(payload))])
    with pytest.raises(ArchiveBomb, match="its members declare more than 2 MiB"):
        unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_mb=2))
    unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_mb=4))
    assert (tmp_path / "source" / "blob").read_bytes() == payload


def test_many_members_are_refused(tmp_path: Path) -> None:
    members: list[tuple[tarfile.TarInfo, io.IOBase | None]] = []
    for i in range(2001):
        members.append((tarfile.TarInfo(f"d/{i}"), io.BytesIO(b"")))
    archive = write_tar(tmp_path / "many.tar.gz", "w:gz", members)
    with pytest.raises(ArchiveBomb, match="more than 2000 members"):
        unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_members=2000))
    assert not (tmp_path / "source").exists()
    unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_members=2001))
    assert len(list((tmp_path / "source" / "d").iterdir())) == 2001


def test_an_oversized_extended_header_is_refused_without_reading_it(tmp_path: Path) -> None:
    # a pax header claiming 1 GiB: tarfile would read it into memory whole
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 1 << 30
    raw = header.tobuf(format=tarfile.USTAR_FORMAT)
    archive = tmp_path / "pax.tar.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with archive.open("wb") as out:
        out.write(compressor.compress(raw))
        block = bytes(MiB)
        for _ in range(32):
            out.write(compressor.compress(block))
        out.write(compressor.flush())
    with pytest.raises(ArchiveBomb, match="extended header of 1073741824 bytes"):
        unpack_submission(archive, tmp_path / "source")


def test_concatenated_streams_unpack_whole(tmp_path: Path) -> None:
    # pigz and pbzip2 write several compressed streams one after another
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("compile.sh", "b"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    data = buffer.getvalue()
    middle = len(data) // 2
    for name, compress in (
        ("two.tar.gz", lambda d: zlib.compress(d, wbits=31)),
        ("two.tar.bz2", bz2.compress),
        ("two.tar.xz", lzma.compress),
    ):
        archive = tmp_path / name
        archive.write_bytes(compress(data[:middle]) + compress(data[middle:]))
        source = unpack_submission(archive, tmp_path / ("source-" + name))
        assert (source / "b").read_bytes() == b"abc"


def test_setuid_sticky_and_world_writable_modes_never_land(tmp_path: Path) -> None:
    members: list[tuple[tarfile.TarInfo, io.IOBase | None]] = []
    for name, kind, mode in (
        ("open", tarfile.DIRTYPE, 0o1777),
        ("open/suid", tarfile.REGTYPE, 0o6777),
        ("writable", tarfile.REGTYPE, 0o666),
        ("deep/er/file", tarfile.REGTYPE, 0o4755),  # its parents are made implicitly, under any umask
    ):
        info = tarfile.TarInfo(name)
        info.type, info.mode = kind, mode
        info.uid, info.gid = 0, 0
        members.append((info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None))
    archive = write_tar(tmp_path / "modes.tar", "w", members)
    previous = os.umask(0)
    try:
        source = unpack_submission(archive, tmp_path / "source")
    finally:
        os.umask(previous)
    for path in [source, *source.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o7022 == 0, f"{path} has mode {mode:o}"
        assert path.lstat().st_uid == os.geteuid()
    assert stat.S_IMODE((source / "open" / "suid").stat().st_mode) == 0o755


def test_a_directory_submission_is_sanitized_too(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    (submission / "d").mkdir(parents=True)
    (submission / "d" / "tool").write_text("x")
    (submission / "d" / "tool").chmod(0o6777)
    (submission / "d").chmod(0o1777)
    source = unpack_submission(submission, tmp_path / "source")
    assert stat.S_IMODE((source / "d").stat().st_mode) == 0o755
    assert stat.S_IMODE((source / "d" / "tool").stat().st_mode) == 0o755


def test_sanitize_and_remove_walk_trees_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    deepest = str(tmp_path / "d")
    try:
        os.mkdir(deepest)
        for _ in range(1200):
            deepest += "/d"
            os.mkdir(deepest)  # pathlib's mkdir(parents=True) itself recurses
        leaf = deepest + "/f"
        with open(leaf, "w"):
            pass
        os.chmod(leaf, 0o4777)
        sanitize_modes(tmp_path)
        assert stat.S_IMODE(os.stat(leaf).st_mode) == 0o755
    finally:
        # pytest's own cleanup of tmp_path recurses, and would fail on this tree for every later run
        remove_tree(tmp_path / "d")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04" + os.urandom(200),  # a zip
        os.urandom(4096),
        b"",
        b"#!/bin/sh\necho a script, not an archive\n" * 20,
    ],
    ids=["zip", "random", "empty", "text"],
)
def test_non_tar_input_is_named_in_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "submission.zip"
    path.write_bytes(content)
    with pytest.raises(FormatError) as caught:
        unpack_submission(path, tmp_path / "source")
    message = str(caught.value)
    assert "\n" not in message
    accepted = "a directory, or a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz archive"
    assert f"is not a tar archive (accepted: {accepted})" in message


def test_a_truncated_archive_is_a_one_line_error(tmp_path: Path) -> None:
    payload = os.urandom(200_000)
    info = tarfile.TarInfo("compile.sh")
    info.size = len(payload)
    archive = write_tar(tmp_path / "cut.tar.gz", "w:gz", [(info, io.BytesIO(payload))])
    archive.write_bytes(archive.read_bytes()[:50_000])
    with pytest.raises(FormatError, match="cannot be unpacked") as caught:
        unpack_submission(archive, tmp_path / "source")
    assert "\n" not in str(caught.value)


def test_one_line_messages() -> None:
    from twinbench.grade.submission import _one_line

    assert _one_line(OSError("first line\nsecond line")) == "first line"
    assert _one_line(ValueError("  padded  ")) == "padded"
    assert _one_line(EOFError()) == "EOFError"
    assert _one_line(ValueError(" \n ")) == "ValueError"


@pytest.mark.slow
def test_eval_refuses_a_bomb_with_one_line_and_exit_2(tmp_path: Path) -> None:
    from tests.helpers_task import small_figlet_task

    task = small_figlet_task(tmp_path / "task", count=1)
    archive = stream_bomb(tmp_path / "bomb.tar.gz", "gz", 3 << 30)
    run = subprocess.run(
        [sys.executable, "-m", "twinbench.cli", "eval", str(task), str(archive), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: submission archive {archive} refused: its members declare more than 2048 MiB"
    assert disk_bytes(tmp_path / "out") == 0


def test_the_stream_bound_holds_where_no_member_declares_a_size(tmp_path: Path) -> None:
    # pax headers are not files, so they declare nothing: only the bound on the stream itself stops them
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(6):
            info = tarfile.TarInfo(f"f{i}")
            info.pax_headers = {"comment": "x" * (900 << 10)}
            tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "pax.tar"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(ArchiveBomb, match="refused: it unpacks to more than 4 MiB"):
        unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_mb=4))
    assert len(list(unpack_submission(archive, tmp_path / "source", ArchiveLimits(max_mb=6)).iterdir())) == 6


@pytest.mark.parametrize(
    ("name", "kind", "link"),
    [
        ("../escaped", tarfile.REGTYPE, ""),
        ("up", tarfile.SYMTYPE, "../../outside"),
        ("abs", tarfile.SYMTYPE, "/etc/passwd"),
        ("hard", tarfile.LNKTYPE, "../outside"),
        ("dev", tarfile.CHRTYPE, ""),
        ("fifo", tarfile.FIFOTYPE, ""),
    ],
)
def test_members_that_leave_the_tree_or_are_devices_are_refused(
    tmp_path: Path, name: str, kind: bytes, link: str
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    archive = write_tar(tmp_path / "evil.tar", "w", [(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)])
    with pytest.raises(FormatError, match="cannot be unpacked") as caught:
        unpack_submission(archive, tmp_path / "source")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "source").exists()


def test_a_directory_mode_is_0755_even_without_the_final_walk(tmp_path: Path) -> None:
    from twinbench.grade.submission import _sanitizing_filter

    info = tarfile.TarInfo("d")
    info.type, info.mode = tarfile.DIRTYPE, 0o1777
    assert _sanitizing_filter(info, str(tmp_path)).mode == 0o755
    info = tarfile.TarInfo("f")
    info.mode = 0o4777
    assert _sanitizing_filter(info, str(tmp_path)).mode == 0o755


def test_remove_tree_handles_links_files_and_unwritable_directories(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (target / "keep").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    remove_tree(link)
    assert not link.is_symlink() and (target / "keep").is_dir()  # the link goes, never what it points at
    single = tmp_path / "file"
    single.write_text("x")
    remove_tree(single)
    remove_tree(tmp_path / "never-existed")
    tree = tmp_path / "tree"
    (tree / "locked" / "inner").mkdir(parents=True)
    (tree / "locked" / "inner" / "f").write_text("x")
    (tree / "to-target").symlink_to(target, target_is_directory=True)
    (tree / "locked").chmod(0o500)
    remove_tree(tree)
    assert not tree.exists() and not single.exists() and (target / "keep").is_dir()
