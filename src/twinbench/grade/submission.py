"""A submission: a directory or .tar.gz holding compile.sh, which must build ./executable."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

from twinbench.formats import FormatError

MAX_ARCHIVE_BYTES = 2 << 30


def submission_digest(path: Path) -> str:
    """sha256 of an archive's bytes, or of a directory's names, modes and contents (symlinks not followed)."""
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            relative = full.relative_to(path).as_posix()
            if full.is_symlink():
                digest.update(f"L {relative} -> {os.readlink(full)}\n".encode())
                continue
            executable = "x" if os.access(full, os.X_OK) else "-"
            digest.update(f"F {relative} {executable} {full.stat().st_size}\n".encode())
            with full.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def unpack_submission(path: Path, destination: Path) -> Path:
    """A clean copy of the submission's files in `destination`; archives are checked member by member."""
    if destination.exists():
        shutil.rmtree(destination)
    if path.is_dir():
        shutil.copytree(path, destination, symlinks=True)
    elif path.is_file():
        _extract(path, destination)
    else:
        raise FormatError(f"submission {path} does not exist")
    # an archive with a single top-level directory holding compile.sh is unwrapped, as people tar a folder
    entries = list(destination.iterdir())
    if (
        len(entries) == 1
        and entries[0].is_dir()
        and not entries[0].is_symlink()
        and (entries[0] / "compile.sh").exists()
    ):
        inner = entries[0]
        staging = destination.with_name(destination.name + ".inner")
        inner.rename(staging)
        destination.rmdir()
        staging.rename(destination)
    return destination


def _extract(archive: Path, destination: Path) -> None:
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise FormatError(f"submission archive {archive} is larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    try:
        with tarfile.open(archive, "r:*") as tar:
            destination.mkdir(parents=True)
            # the 'data' filter refuses absolute paths, '..', device files and links leaving the tree
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FormatError(f"submission archive {archive} cannot be unpacked: {exc}") from None
