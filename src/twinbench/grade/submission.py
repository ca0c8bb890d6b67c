"""A submission: a directory or a tar archive holding compile.sh, which must build ./executable."""

from __future__ import annotations

import bz2
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from twinbench.formats import ArchiveLimits, FormatError

MAX_ARCHIVE_BYTES = 2 << 30
ACCEPTED = "a directory, or a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz archive"
ZIP_HINT = "; for a .zip: unzip it and pass the directory, or repack it with tar czf submission.tar.gz -C DIR ."
# pax and GNU long-name headers are read into memory whole by tarfile: a header claiming gigabytes is a bomb
MAX_HEADER_BYTES = 1 << 20
# below this many unpacked bytes the ratio is not judged: small text files compress far better than 100:1
RATIO_GRACE_BYTES = 16 << 20
CHUNK_BYTES = 1 << 16
_SAFE_MODE_BITS = 0o755  # no setuid, setgid or sticky bit, and nobody but the owner may write


class ArchiveBomb(FormatError):
    """The archive would unpack past a bound; nothing beyond the bound was written."""


def submission_digest(path: Path) -> str:
    """sha256 of an archive's bytes, or of a directory's names, modes and contents (symlinks not followed)."""
    try:
        return _digest(path)
    except RecursionError:  # os.walk recurses once per level
        raise FormatError(f"submission {path}: its directory tree is nested too deeply") from None


def _digest(path: Path) -> str:
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


def unpack_submission(path: Path, destination: Path, limits: ArchiveLimits | None = None) -> Path:
    """A clean copy of the submission's files in `destination`; archives are unpacked within `limits`.

    Whatever lands in `destination` has no setuid, setgid or sticky bit and is writable by its owner only.
    """
    if destination.exists() or destination.is_symlink():
        remove_tree(destination)
    if path.is_dir():
        try:
            shutil.copytree(path, destination, symlinks=True)
        except RecursionError:  # copytree recurses once per level
            remove_tree(destination)
            raise FormatError(f"submission {path}: its directory tree is nested too deeply") from None
    elif path.is_file():
        _extract(path, destination, limits or ArchiveLimits())
    else:
        raise FormatError(f"submission {path} does not exist")
    sanitize_modes(destination)
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


def sanitize_modes(root: Path) -> None:
    """Clear setuid, setgid, sticky and group/other write bits under `root` (iteratively: trees may be deep)."""
    pending = [root]
    while pending:
        directory = pending.pop()
        _restrict(directory)
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_symlink():
                    continue  # a link's own mode means nothing; its target is sanitized where it lies
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                else:
                    _restrict(Path(entry.path))


def remove_tree(root: Path) -> None:
    """Delete a directory tree iteratively (shutil.rmtree recurses, and a submission's tree may be deep)."""
    if root.is_symlink() or not root.is_dir():
        root.unlink(missing_ok=True)
        return
    directories: list[str] = []
    pending = [str(root)]
    while pending:
        directory = pending.pop()
        directories.append(directory)
        os.chmod(directory, 0o700)  # a directory the tree made unwritable still has to be emptied
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    os.unlink(entry.path)
    for directory in reversed(directories):
        os.rmdir(directory)


def _restrict(path: Path) -> None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    if mode & ~_SAFE_MODE_BITS:
        path.chmod(mode & _SAFE_MODE_BITS)


class _Decompressed:
    """The archive's tar stream, decompressed in bounded chunks and stopped as soon as it crosses a bound.

    tarfile's own decompression is unbounded (a few kilobytes of bzip2 can expand to gigabytes in one
    call), so twinbench decompresses and hands tarfile a plain tar stream.
    """

    def __init__(self, raw: BinaryIO, limits: ArchiveLimits) -> None:
        self._raw = raw
        self._limits = limits
        self.compressed = 0
        self.produced = 0
        self._buffer = b""
        self._chunks = self._decompress()

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the tar stream (tarfile's stream mode reads in blocks)."""
        wanted = CHUNK_BYTES if size < 0 else size
        while len(self._buffer) < wanted:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:wanted], self._buffer[wanted:]
        return data

    def _raw_read(self) -> bytes:
        data = self._raw.read(CHUNK_BYTES)
        self.compressed += len(data)
        return data

    def _count(self, chunk: bytes) -> bytes:
        self.produced += len(chunk)
        if self.produced > self._limits.max_mb << 20:
            raise ArchiveBomb(f"it unpacks to more than {self._limits.max_mb} MiB")
        if self.produced > RATIO_GRACE_BYTES and self.produced > self._limits.max_ratio * self.compressed:
            raise ArchiveBomb(f"it unpacks to more than {self._limits.max_ratio} times its compressed size")
        return chunk

    def _decompress(self) -> Iterator[bytes]:
        head = self._raw_read()
        new = _decompressor_for(head)
        if new is None:
            yield self._count(head)
            while data := self._raw_read():
                yield self._count(data)
            return
        decompressor, pending = new(), head
        while True:
            if not pending and _needs_input(decompressor):
                pending = self._raw_read()
                if not pending:
                    return  # a stream cut short shows as a truncated tar, which tarfile reports
            output, pending = _step(decompressor, pending)
            yield self._count(output)
            if decompressor.eof:
                # concatenated streams (pigz, pbzip2) continue; anything else after the end is ignored.
                # At the end, zlib leaves the rest of the input in unused_data and may repeat it in
                # unconsumed_tail: only unused_data is the rest
                pending = decompressor.unused_data or self._raw_read()
                if _decompressor_for(pending) is None:
                    return
                decompressor = new()


if TYPE_CHECKING:
    _AnyDecompressor = zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor


def _decompressor_for(head: bytes) -> Callable[[], _AnyDecompressor] | None:
    """A factory of decompressors for the stream starting with `head`; None for an uncompressed stream."""
    if head.startswith(b"\x1f\x8b"):
        return lambda: zlib.decompressobj(wbits=31)
    if head.startswith(b"BZh"):
        return bz2.BZ2Decompressor
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor
    return None


def _needs_input(decompressor: _AnyDecompressor) -> bool:
    if isinstance(decompressor, bz2.BZ2Decompressor | lzma.LZMADecompressor):
        return decompressor.needs_input
    return True  # zlib keeps no input of its own: what it did not use comes back as unconsumed_tail


def _step(decompressor: _AnyDecompressor, pending: bytes) -> tuple[bytes, bytes]:
    """At most CHUNK_BYTES of output, and the input still to feed."""
    if isinstance(decompressor, bz2.BZ2Decompressor | lzma.LZMADecompressor):
        return decompressor.decompress(pending, CHUNK_BYTES), b""
    output = decompressor.decompress(pending, CHUNK_BYTES)
    return output, decompressor.unconsumed_tail


class _BoundedTarInfo(tarfile.TarInfo):
    """A member header that refuses to read an oversized pax or long-name header into memory."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        extended = (
            tarfile.XHDTYPE,
            tarfile.XGLTYPE,
            tarfile.SOLARIS_XHDTYPE,
            tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK,
        )
        if self.type in extended and self.size > MAX_HEADER_BYTES:
            raise ArchiveBomb(f"an extended header of {self.size} bytes (at most {MAX_HEADER_BYTES} allowed)")
        return super()._proc_member(tarfile_)  # type: ignore[misc, no-any-return]


def _sanitizing_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """tarfile's 'data' filter (no absolute paths, no '..', no devices, no links out, no high mode bits,
    no foreign owner), and directories made 0755 rather than whatever the umask allows."""
    member = tarfile.data_filter(member, destination)
    if member.isdir():
        member = member.replace(mode=0o755, deep=False)
    return member


def _extract(archive: Path, destination: Path, limits: ArchiveLimits) -> None:
    """Stream the archive member by member, stopping at the first bound crossed, before writing past it."""
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise FormatError(f"submission archive {archive} is larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    destination.mkdir(parents=True)
    try:
        with archive.open("rb") as handle:
            _extract_stream(_Decompressed(handle, limits), destination, limits)
    except ArchiveBomb as exc:
        remove_tree(destination)
        raise ArchiveBomb(f"submission archive {archive} refused: {exc}") from None
    except tarfile.ReadError as exc:
        remove_tree(destination)
        if str(exc) in _NOT_A_TAR:
            hint = ZIP_HINT if _is_zip(archive) else ""
            raise FormatError(f"submission {archive} is not a tar archive (accepted: {ACCEPTED}){hint}") from None
        raise FormatError(f"submission archive {archive} cannot be unpacked: {_one_line(exc)}") from None
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        remove_tree(destination)
        raise FormatError(f"submission archive {archive} cannot be unpacked: {_one_line(exc)}") from None


# what tarfile says when the first header is not a tar header at all
_NOT_A_TAR = ("empty file", "invalid header", "bad checksum", "truncated header", "invalid null header")


def _extract_stream(stream: _Decompressed, destination: Path, limits: ArchiveLimits) -> None:
    max_bytes = limits.max_mb << 20
    members = 0
    declared = 0
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as tar:  # type: ignore[call-overload]
        for member in tar:
            members += 1
            if members > limits.max_members:
                raise ArchiveBomb(f"it has more than {limits.max_members} members")
            # a member's declared size is refused before any of it is written (sparse members count whole)
            declared += member.size if member.isreg() else 0
            if declared > max_bytes:
                raise ArchiveBomb(f"its members declare more than {limits.max_mb} MiB")
            tar.extract(member, destination, filter=_sanitizing_filter)


def _is_zip(path: Path) -> bool:
    """A zip archive, by its name or its magic bytes (people rename files)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return path.suffix.lower() == ".zip" or head in (b"PK\x03\x04", b"PK\x05\x06")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
