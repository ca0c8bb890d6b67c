"""Bounded disks for long-lived sandboxes, and the sweep of what a killed harness left behind.

A clean room lives for hours and its agent writes where it likes: a check of disk use after each action
comes too late (one action can write tens of GB) and an inode bomb never shows in a byte count. As root,
each room therefore gets a filesystem of its own: a sparse ext4 image of the limit's size on a loop
device. Writes past it fail with ENOSPC, as on any full disk, and its inodes are finite too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
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
        self.mounted = False

    def mount(self) -> str | None:
        """Make and mount the filesystem; None on success, else the reason in one line."""
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
        mounted = _run(["mount", "-o", "loop,nosuid,nodev,noatime", str(self.image), str(self.path)])
        if mounted is not None:
            self.image.unlink(missing_ok=True)
            return f"cannot mount a loop device: {mounted}"
        self.mounted = True
        shutil.rmtree(self.path / "lost+found", ignore_errors=True)
        self.path.chmod(0o711)
        return None

    def used_mb(self) -> float:
        """Megabytes in use on the filesystem."""
        stats = os.statvfs(self.path)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize / (1 << 20)

    def release(self) -> None:
        """Unmount (lazily if something still holds it open) and delete the image."""
        if self.mounted:
            if _run(["umount", str(self.path)]) is not None:
                _run(["umount", "-l", str(self.path)])
            self.mounted = False
        self.image.unlink(missing_ok=True)


def mark_owner(directory: Path) -> None:
    """Record which process owns a temporary directory, so that a later harness can sweep it if we are killed."""
    (directory / OWNER_FILE).write_text(_process_identity(os.getpid()) or "", encoding="utf-8")


def sweep_stale(temp_dir: Path | None = None) -> list[Path]:
    """Remove the rooms and reference copies of harnesses that are gone (killed with -9, say): unmount their
    disks, then delete them. Directories of live processes, or without an owner file, are left alone."""
    base = temp_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    removed: list[Path] = []
    try:
        candidates = [path for path in base.iterdir() if path.name.startswith(SWEPT_PREFIXES)]
    except OSError:
        return removed
    for directory in candidates:
        try:
            owner = (directory / OWNER_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        pid_text = owner.split(":", 1)[0]
        if not pid_text.isdigit() or _process_identity(int(pid_text)) == owner:
            continue
        for mount_point in sorted(_mounts_under(directory), key=lambda path: len(path.parts), reverse=True):
            if _run(["umount", str(mount_point)]) is not None:
                _run(["umount", "-l", str(mount_point)])
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed


def _process_identity(pid: int) -> str | None:
    """pid:start-time, which a recycled pid does not repeat; None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return f"{pid}:{fields[19]}" if len(fields) > 19 else None


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
