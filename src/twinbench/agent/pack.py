"""Turn an agent's workspace into submission.tar.gz: its sources and compile.sh, nothing it cannot own."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.agent.broker import is_elf

# files of one submission; past these the rest is dropped (and listed), the archive stays gradable
MAX_FILE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_FILES = 100_000
# left out without a note: what the clean room put there, not the agent
_NOT_THE_AGENTS = ""


class PackResult(BaseModel):
    """What went into the archive, and what was left out and why."""

    files: int = 0
    bytes: int = 0
    dropped: list[str] = Field(default_factory=list)


def pack_workspace(workspace: Path, archive: Path, *, client: bytes) -> PackResult:
    """Write `workspace` as a gzipped tar, without following symlinks.

    Left out: special files (fifos, sockets, devices), the empty mount point of the read-only docs, and a
    root `executable` that is the broker client or a compiled binary, since compile.sh must build it.
    """
    result = PackResult()
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for directory, subdirs, names in os.walk(workspace, followlinks=False):
            subdirs.sort()
            here = Path(directory)
            for name in sorted(subdirs) + sorted(names):
                path = here / name
                relative = path.relative_to(workspace).as_posix()
                reason = _reason_to_drop(path, relative, client, result)
                if reason is not None:
                    if reason != _NOT_THE_AGENTS:
                        result.dropped.append(f"{_shorten(relative)}: {_shorten(reason)}")
                    if name in subdirs:
                        subdirs.remove(name)
                    continue
                try:
                    tar.add(path, arcname=relative, recursive=False, filter=_normalise)
                except OSError as exc:
                    result.dropped.append(f"{_shorten(relative)}: unreadable ({exc.strerror or exc})")
                    continue
                if path.is_file() and not path.is_symlink():
                    result.files += 1
                    result.bytes += path.lstat().st_size
    os.replace(partial, archive)
    return result


def _reason_to_drop(path: Path, relative: str, client: bytes, so_far: PackResult) -> str | None:
    try:
        info = path.lstat()
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    if stat.S_ISDIR(info.st_mode):
        if relative == "docs" and not any(path.iterdir()):
            return _NOT_THE_AGENTS  # the empty mount point of the read-only docs
        return None
    if stat.S_ISLNK(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if relative == "executable":
        if info.st_size == len(client) and path.read_bytes() == client:
            return _NOT_THE_AGENTS  # the broker client the room started with
        if is_elf(path):
            return "a compiled binary; compile.sh must build ./executable"
    if info.st_size > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES >> 20} MiB"
    if so_far.files >= MAX_FILES:
        return f"more than {MAX_FILES} files"
    if so_far.bytes + info.st_size > MAX_TOTAL_BYTES:
        return f"the submission would exceed {MAX_TOTAL_BYTES >> 20} MiB"
    return None


def _shorten(text: str, limit: int = 200) -> str:
    # an agent can make paths thousands of characters long; agent.json keeps each note readable
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


def _normalise(member: tarfile.TarInfo) -> tarfile.TarInfo:
    # the sandbox's uids mean nothing elsewhere; modes keep only permission bits (no setuid)
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    member.mode &= 0o777
    return member
