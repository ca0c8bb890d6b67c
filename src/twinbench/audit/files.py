"""The files of a submission as the audit sees them: source tree and built tree, text or binary, capped."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

# the audit reads each file whole; beyond these it stops and says so rather than exhausting memory or time
MAX_FILE_BYTES = 256 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_TEXT_BYTES = 4 << 20
BUILT_PREFIX = "build/tree"
NOT_SCANNED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass
class SubmissionFile:
    """One regular file of the submission or of its built tree."""

    label: str  # relative to the submission, or build/tree/... for the built tree
    path: Path
    size: int
    built: bool
    _data: bytes | None = field(default=None, repr=False)
    _head: bytes | None = field(default=None, repr=False)

    def data(self) -> bytes:
        """The file's bytes (read once; empty when unreadable)."""
        if self._data is None:
            try:
                self._data = self.path.read_bytes()
            except OSError:
                self._data = b""
        return self._data

    def head(self) -> bytes:
        """The first 8 KiB, read without loading the whole file."""
        if self._head is None:
            if self._data is not None:
                self._head = self._data[:8192]
            else:
                try:
                    with self.path.open("rb") as handle:
                        self._head = handle.read(8192)
                except OSError:
                    self._head = b""
        return self._head

    def forget(self) -> None:
        """Drop the cached bytes once every rule has read them, so that big trees fit in memory."""
        self._data = None

    @property
    def is_elf(self) -> bool:
        """Whether the file is an ELF object (executable, shared library, relocatable object)."""
        return self.head()[:4] == b"\x7fELF"

    @property
    def is_text(self) -> bool:
        """Whether the file looks like text: small enough, no NUL bytes at its start."""
        return self.size <= MAX_TEXT_BYTES and b"\0" not in self.head()

    def text(self) -> str:
        """The file decoded as UTF-8, undecodable bytes replaced."""
        return self.data().decode("utf-8", errors="replace")


@dataclass
class SubmissionLink:
    """A symbolic link inside the submission, with where it points."""

    label: str
    target: str


@dataclass
class SubmissionFiles:
    """Everything the rules look at, plus what was left out and why."""

    root: Path
    files: list[SubmissionFile]
    links: list[SubmissionLink]
    skipped: list[str]


def collect_files(source: Path, built_tree: Path | None) -> SubmissionFiles:
    """The submission's files, then the built tree's files that are not unchanged copies of a source file."""
    files: list[SubmissionFile] = []
    links: list[SubmissionLink] = []
    skipped: list[str] = []
    budget = [MAX_TOTAL_BYTES]
    source_digests: dict[str, tuple[int, str]] = {}
    for label, path, size in _walk(source, "", links, skipped):
        if _admit(label, size, budget, skipped):
            files.append(SubmissionFile(label, path, size, built=False))
            source_digests[label] = (size, _sha256(path))
    if built_tree is not None and built_tree.is_dir():
        for label, path, size in _walk(built_tree, BUILT_PREFIX + "/", links, skipped):
            relative = label.removeprefix(BUILT_PREFIX + "/")
            known = source_digests.get(relative)
            # compile.sh runs in a copy of the source: files it did not touch were already audited
            if known is not None and known[0] == size and known[1] == _sha256(path):
                continue
            if _admit(label, size, budget, skipped):
                files.append(SubmissionFile(label, path, size, built=True))
    return SubmissionFiles(root=source, files=files, links=links, skipped=skipped)


def _walk(root: Path, prefix: str, links: list[SubmissionLink], skipped: list[str]) -> list[tuple[str, Path, int]]:
    found: list[tuple[str, Path, int]] = []
    for directory, dirs, names in os.walk(root):
        dirs.sort()
        for name in list(dirs):
            full = Path(directory) / name
            if full.is_symlink():
                links.append(SubmissionLink(prefix + full.relative_to(root).as_posix(), os.readlink(full)))
        dirs[:] = [name for name in dirs if name not in NOT_SCANNED_DIRS and not (Path(directory) / name).is_symlink()]
        for name in sorted(names):
            full = Path(directory) / name
            label = prefix + full.relative_to(root).as_posix()
            if full.is_symlink():
                links.append(SubmissionLink(label, os.readlink(full)))
                continue
            try:
                status = full.stat()
            except OSError:
                skipped.append(f"{label}: unreadable")
                continue
            if not full.is_file():
                continue
            found.append((label, full, status.st_size))
    return found


def _admit(label: str, size: int, budget: list[int], skipped: list[str]) -> bool:
    if size > MAX_FILE_BYTES:
        skipped.append(f"{label}: {size >> 20} MiB, larger than {MAX_FILE_BYTES >> 20} MiB")
        return False
    if size > budget[0]:
        skipped.append(f"{label}: over the {MAX_TOTAL_BYTES >> 20} MiB total the audit reads")
        return False
    budget[0] -= size
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def snippet(text: str, limit: int = 160) -> str:
    """One line of evidence: whitespace collapsed, long text cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
