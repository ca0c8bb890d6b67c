"""Bounded disks for long-lived sandboxes, and the sweep of what a killed harness left behind.

A clean room lives for hours and its agent writes where it likes: a check of disk use after each action
comes too late (one action can write tens of GB) and an inode bomb never shows in a byte count. As root,
each room therefore gets a filesystem of its own: a sparse ext4 image of the limit's size on a loop
device. Writes past it fail with ENOSPC, as on any full disk, and its inodes are finite too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

OWNER_FILE = ".twinbench-owner"
# the prefixes of the harness's temporary directories that hold a room's files or the reference's copies
SWEPT_PREFIXES = ("twinbench-room-", "twinbench-reference-")
COMMAND_TIMEOUT_S = 60.0


class BoundedDisk:
    """An ext4 image of `size_mb` mounted at `root/disk`; `mount()` says why not when it cannot be made."""

    def __init__(self, root: Path, size_mb: int) -> None:
        self.root = root
        self.size_mb = size_mb
        self.image = root / "disk.img"
        self.path = root / "disk"

    def mount(self) -> str | None:
        """Make and mount the filesystem; None on success, else the reason in one line. Whatever happens
        here, unmount_all() on the room undoes it: the mount table, not a flag, says what is mounted."""
        if os.geteuid() != 0:
            return "mounting a filesystem needs root"
        for tool in ("mkfs.ext4", "mount", "umount"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        self.path.mkdir(mode=0o711, exist_ok=True)
        with self.image.open("wb") as image:
            image.truncate(self.size_mb << 20)  # sparse: costs nothing until written
        made = _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", str(self.image)])
        if made is not None:
            self.image.unlink(missing_ok=True)
            return f"mkfs.ext4 failed: {made}"
        refused = _run(["mount", "-o", "loop,nosuid,nodev,noatime", str(self.image), str(self.path)])
        if refused is not None:
            self.image.unlink(missing_ok=True)
            return f"cannot mount a loop device: {refused}"
        shutil.rmtree(self.path / "lost+found", ignore_errors=True)
        self.path.chmod(0o711)
        return None

    def used_mb(self) -> float:
        """Megabytes in use on the filesystem."""
        stats = os.statvfs(self.path)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize / (1 << 20)


def free_mb(directory: Path) -> float:
    """Megabytes free for unprivileged use on the filesystem of `directory`."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize / (1 << 20)


def mark_owner(directory: Path) -> int:
    """Claim a temporary directory for this process: an owner file, locked for as long as the returned
    descriptor stays open (close it when the directory is gone). The kernel drops the lock when the process
    dies, however it dies, so a later harness can tell a directory left behind from one in use: a pid
    could not, since another harness may live in another pid namespace or reuse the number."""
    # The file is locked under a private name and only then renamed to OWNER_FILE: a sweep running between
    # an open and a flock of OWNER_FILE itself would find it unlocked, take it for a dead owner's and
    # delete the directory this process is just claiming (seen under load as a room vanishing at birth).
    claiming = directory / f"{OWNER_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(claiming, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        os.rename(claiming, directory / OWNER_FILE)
    except BaseException:
        os.close(fd)
        claiming.unlink(missing_ok=True)
        raise
    return fd


def sweep_stale(temp_dir: Path | None = None, prefixes: tuple[str, ...] = SWEPT_PREFIXES) -> list[Path]:
    """Remove the rooms and reference copies (or other directories named by `prefixes`) of harnesses that are
    gone (killed with -9, say): unmount their disks, then delete them. A directory whose owner file is still
    locked, or that has none, is left alone."""
    base = temp_dir or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [path for path in base.iterdir() if path.name.startswith(prefixes)]
    except OSError:
        return removed
    for directory in candidates:
        try:
            fd = os.open(directory / OWNER_FILE, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            # ours now: a harness starting at this moment cannot claim a directory it did not make
            if unmount_all(directory):
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
        finally:
            os.close(fd)
    return removed


def unmount_all(directory: Path) -> bool:
    """Unmount every filesystem mounted at or under `directory`, deepest first; False if one stays."""
    for mount_point in sorted(_mounts_under(directory), key=lambda path: len(path.parts), reverse=True):
        if _run(["umount", str(mount_point)]) is not None:
            _run(["umount", "-l", str(mount_point)])
    return not _mounts_under(directory)


def _mounts_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) > 4:
                target = Path(parts[4].replace("\\040", " "))
                if target == directory or directory in target.parents:
                    found.append(target)
    return found


def _run(argv: list[str]) -> str | None:
    """Run a system tool; None on success, else its last line of complaint."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode == 0:
        return None
    complaint = (result.stderr or result.stdout).strip().splitlines()
    return complaint[-1] if complaint else f"exit status {result.returncode}"
