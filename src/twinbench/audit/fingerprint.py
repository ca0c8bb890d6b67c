"""Content-defined fingerprints of binary files: which 64-byte windows two files share, wherever they sit."""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

WINDOW = 64
# one window in 2**SAMPLE_BITS is kept; both sides use the same content-defined rule, so a copied region is
# sampled at the same places in the copy as in the original, whatever its alignment
SAMPLE_BITS = 4
BLOCK = 1 << 20
MAX_TEXT_FRACTION = 0.75
MIN_DISTINCT_BYTES = 12

# unrelated programs whose windows are toolchain boilerplate (crt start-up code, PLT stubs, eh_frame CIEs),
# not anything the reference's authors wrote
COMMON_BINARIES = (
    "/usr/bin/true",
    "/usr/bin/ls",
    "/usr/bin/sleep",
    "/usr/bin/env",
    "/usr/bin/gzip",
    "/usr/bin/dpkg",
)

# sections the reference's authors wrote (code, constants, initialised data); PLT stubs, symbol tables and
# unwind tables are laid out by the linker and look alike across unrelated programs
AUTHORED_SECTIONS = frozenset({".text", ".rodata", ".data", ".data.rel.ro", ".lrodata", ".ldata"})

Hashes = npt.NDArray[np.uint64]
Offsets = npt.NDArray[np.int64]


@functools.cache
def _tables() -> tuple[Hashes, Hashes, Hashes]:
    """Per-byte random values and the powers B**i and B**-i mod 2**64 for one block plus a window."""
    rng = np.random.default_rng(0x7A11)
    byte_values = (rng.integers(0, 2**63, size=256, dtype=np.uint64) * np.uint64(2) + np.uint64(1)).astype(np.uint64)
    base = 0x9E3779B97F4A7C15
    inverse = pow(base, -1, 1 << 64)
    length = BLOCK + WINDOW
    powers = np.cumprod(np.full(length, base, dtype=np.uint64), dtype=np.uint64)
    inverse_powers = np.cumprod(np.full(length, inverse, dtype=np.uint64), dtype=np.uint64)
    # cumprod starts at B**1; shift so index i holds B**i
    one = np.ones(1, dtype=np.uint64)
    powers = np.concatenate((one, powers[:-1]))
    inverse_powers = np.concatenate((one, inverse_powers[:-1]))
    return byte_values, powers, inverse_powers


def sampled_windows(data: bytes | memoryview) -> tuple[Hashes, Offsets]:
    """Hashes and offsets of the content-selected 64-byte windows of `data` (about one in 16)."""
    byte_values, powers, inverse_powers = _tables()
    all_hashes: list[Hashes] = []
    all_offsets: list[Offsets] = []
    view = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, max(len(view) - WINDOW + 1, 0), BLOCK):
        block = view[start : start + BLOCK + WINDOW - 1]
        if len(block) < WINDOW:
            break
        terms = byte_values[block] * powers[: len(block)]
        prefix = np.concatenate(([np.uint64(0)], np.cumsum(terms, dtype=np.uint64)))
        # (prefix[i+W] - prefix[i]) is B**i times the window's own polynomial hash; B**-i removes the position
        hashes = (prefix[WINDOW:] - prefix[:-WINDOW]) * inverse_powers[: len(block) - WINDOW + 1]
        mixed = hashes * np.uint64(0xBF58476D1CE4E5B9)
        keep = np.flatnonzero((mixed >> np.uint64(64 - SAMPLE_BITS)) == 0)
        all_hashes.append(hashes[keep])
        all_offsets.append(keep.astype(np.int64) + start)
    if not all_hashes:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    return np.concatenate(all_hashes), np.concatenate(all_offsets)


def authored_ranges(data: bytes) -> list[tuple[int, int]]:
    """(start, end) file offsets of an ELF file's authored sections; the whole file when it has no section table."""
    whole = [(0, len(data))]
    try:
        return _section_ranges(data) or whole
    except (struct.error, IndexError, ValueError):
        return whole


def _section_ranges(data: bytes) -> list[tuple[int, int]]:
    if data[:4] != b"\x7fELF":
        return []
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
        header = order + "IIQQQQIIQQ"
    else:
        (shoff,) = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x2E)
        header = order + "IIIIIIIIII"
    if shoff == 0 or shnum == 0 or shstrndx >= shnum:
        return []
    sections = [struct.unpack_from(header, data, shoff + number * shentsize) for number in range(shnum)]
    names_offset = sections[shstrndx][4]
    ranges = []
    for name_index, kind, _flags, _address, offset, size, *_rest in sections:
        end = data.find(b"\0", names_offset + name_index)
        name = data[names_offset + name_index : end].decode("ascii", "replace")
        if kind == 1 and name in AUTHORED_SECTIONS and offset + size <= len(data):  # SHT_PROGBITS
            ranges.append((offset, offset + size))
    return ranges


def _inside(offsets: Offsets, ranges: list[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    inside = np.zeros(len(offsets), dtype=np.bool_)
    for start, end in ranges:
        inside |= (offsets >= start) & (offsets + WINDOW <= end)
    return inside


def distinctive(data: bytes | memoryview, offsets: Offsets) -> npt.NDArray[np.bool_]:
    """Which windows carry code or binary data rather than text or padding (zero runs, repeated bytes)."""
    if len(offsets) == 0:
        return np.zeros(0, dtype=np.bool_)
    view = np.frombuffer(data, dtype=np.uint8)
    windows = np.lib.stride_tricks.sliding_window_view(view, WINDOW)[offsets]
    printable = ((windows >= 0x20) & (windows < 0x7F)) | (windows == 0x09) | (windows == 0x0A) | (windows == 0x0D)
    text_like = printable.mean(axis=1) >= MAX_TEXT_FRACTION
    ordered = np.sort(windows, axis=1)
    distinct = 1 + np.count_nonzero(np.diff(ordered, axis=1), axis=1)
    return np.asarray(~text_like & (distinct >= MIN_DISTINCT_BYTES), dtype=np.bool_)


@dataclass(frozen=True)
class ReferenceIndex:
    """The distinctive window hashes of each of the reference's ELF files, with where each window sits."""

    files: tuple[Path, ...]
    file_hashes: tuple[Hashes, ...]  # per file: sorted, unique
    file_offsets: tuple[Offsets, ...]  # per file: offset of each hash's first window
    hashes: Hashes  # all files together: sorted, unique, for a fast first pass

    def known(self, hashes: Hashes) -> Hashes:
        """The given hashes that some reference file has, unique and sorted."""
        if len(self.hashes) == 0 or len(hashes) == 0:
            return np.empty(0, dtype=np.uint64)
        return np.intersect1d(hashes, self.hashes)

    def shared_with(self, number: int, hashes: Hashes) -> tuple[Hashes, Offsets]:
        """Which of `hashes` (sorted, unique) file `number` has, and where in that file."""
        mine = self.file_hashes[number]
        common, positions, _ = np.intersect1d(mine, hashes, assume_unique=True, return_indices=True)
        return common, self.file_offsets[number][positions]


def is_elf(path: Path) -> bool:
    """Whether a regular file starts with the ELF magic."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (str(path), status.st_size, status.st_mtime_ns)


def _readable_regular(paths: Iterable[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for path in paths:
        try:
            real = path.resolve()
        except (OSError, RuntimeError):
            continue
        if real in seen or not real.is_file() or not os.access(real, os.R_OK):
            continue
        seen.add(real)
        yield real


def build_index(reference_files: Iterable[Path]) -> ReferenceIndex:
    """Index the distinctive windows of the readable ELF files among `reference_files`."""
    elf_files = tuple(path for path in _readable_regular(reference_files) if is_elf(path))
    keys = tuple(key for key in (_file_key(path) for path in elf_files) if key is not None)
    return _cached_index(keys)


@functools.lru_cache(maxsize=8)
def _cached_index(keys: tuple[tuple[str, int, int], ...]) -> ReferenceIndex:
    files = tuple(Path(key[0]) for key in keys)
    common = _common_hashes(frozenset(files))
    file_hashes: list[Hashes] = []
    file_offsets: list[Offsets] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        hashes, offsets = sampled_windows(data)
        keep = distinctive(data, offsets) & _inside(offsets, authored_ranges(data)) & ~np.isin(hashes, common)
        unique, first = np.unique(hashes[keep], return_index=True)
        file_hashes.append(unique)
        file_offsets.append(offsets[keep][first])
    everything = np.unique(np.concatenate(file_hashes)) if file_hashes else np.empty(0, dtype=np.uint64)
    return ReferenceIndex(files, tuple(file_hashes), tuple(file_offsets), everything)


@functools.lru_cache(maxsize=4)
def _common_hashes(exclude: frozenset[Path]) -> Hashes:
    parts: list[Hashes] = []
    for path in _readable_regular(Path(name) for name in COMMON_BINARIES):
        if path in exclude:
            continue
        try:
            parts.append(sampled_windows(path.read_bytes())[0])
        except OSError:
            continue
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
