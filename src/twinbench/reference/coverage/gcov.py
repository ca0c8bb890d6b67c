"""gcc --coverage: .gcda counters parsed into edge features, and gcov's JSON read back into line counts."""

from __future__ import annotations

import functools
import json
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from itertools import compress, repeat
from pathlib import Path, PurePosixPath

from twinbench.reference.coverage.model import CoverageBuildError

COVERAGE_FLAGS = "--coverage -O0 -g"
_GCDA_MAGIC = 0x67636461
_GCDA_MAGIC_SWAPPED = 0x61646367
_TAG_FUNCTION = 0x01000000
_TAG_ARCS = 0x01A10000  # GCOV_TAG_FOR_COUNTER(GCOV_COUNTER_ARCS)


def parse_gcda(data: bytes) -> frozenset[tuple[int, int]]:
    """The (function ident, arc counter index) pairs with a nonzero count in one .gcda file; never raises."""
    found: list[tuple[int, int]] = []
    try:
        _parse_gcda_into(data, found)
    except (struct.error, ValueError, TypeError, OverflowError):
        pass  # garbage past the guards: keep what was read before it
    return frozenset(found)


def _parse_gcda_into(data: bytes, found: list[tuple[int, int]]) -> None:
    size = len(data)
    if size < 12:
        return
    magic = int.from_bytes(data[:4], "little")
    if magic == _GCDA_MAGIC:
        endian = "<"
    elif magic == _GCDA_MAGIC_SWAPPED:
        endian = ">"
    else:
        return
    unpack = struct.unpack_from
    version: int = unpack(endian + "I", data, 4)[0]
    # The version word spells gcc's version, e.g. "B22*" for 12.2: gcc 12 added a checksum word to the header
    # and switched record lengths from 4-byte words to bytes.
    high, second = version >> 24, (version >> 16) & 0xFF
    major = (high - 65) * 10 + (second - 48) if high >= 65 else high - 48
    modern = major >= 12
    pos = 16 if modern else 12
    record = endian + "II"
    word = endian + "I"
    pair = endian + "7I"  # a 12-byte function record and the header of the arcs record after it
    ident: int | None = None
    while pos + 8 <= size:
        if modern and pos + 28 <= size:
            # fast path for the usual layout, one unpack per function: most functions of a run have all-zero
            # arcs, which gcc >= 12 writes as a negative length and no payload
            tag, length, first, _line_sum, _cfg_sum, next_tag, next_length = unpack(pair, data, pos)
            if tag == _TAG_FUNCTION and length == 12 and next_tag == _TAG_ARCS:
                ident = first
                pos += 28
                if next_length & 0x80000000:
                    continue
                count = min(next_length, size - pos) >> 3
                if count:
                    # compress/zip/repeat keep the per-counter loop in C
                    found.extend(zip(repeat(first), compress(range(count), unpack(f"{endian}{count}Q", data, pos))))
                pos += next_length
                continue
        tag, length = unpack(record, data, pos)
        pos += 8
        if length & 0x80000000:
            continue  # a counter record whose counters are all zero (gcc >= 12): no payload
        if not modern:
            length *= 4
        if tag == _TAG_ARCS:
            count = min(length, size - pos) >> 3
            if ident is not None and count:
                found.extend(zip(repeat(ident), compress(range(count), unpack(f"{endian}{count}Q", data, pos))))
        elif tag == _TAG_FUNCTION:
            # a zero-length function record is a placeholder for a function another object owns
            ident = unpack(word, data, pos)[0] if length >= 4 and pos + 4 <= size else None
        pos += length


def gcda_features(name: str, data: bytes) -> list[tuple[str, int, int]]:
    """Edge features of one .gcda file: (its relative path, function ident, arc index)."""
    return [(name, ident, index) for ident, index in parse_gcda(data)]


def object_layout(exe: Path, source_dir: Path, libraries: Sequence[Path] = ()) -> tuple[str, int, list[str]]:
    """Where the executable (and the build's libraries it loads) write their counters:
    (object dir prefix, GCOV_PREFIX_STRIP, linked .gcda paths)."""
    gcda_paths = sorted({path for binary in (exe, *libraries) for path in _gcda_paths_in(binary)})
    prefix = _object_dir_prefix(source_dir, gcda_paths)
    strip = len(PurePosixPath(prefix).parts) - 1
    return prefix, strip, _linked_gcda_files(prefix, gcda_paths)


def _gcda_paths_in(exe: Path) -> list[str]:
    """The .gcda paths compiled into the executable: exactly the instrumented objects it links."""
    data = exe.read_bytes()
    found = re.findall(rb"(?<=\x00)(/[^\x00\n]{1,4096}?\.gcda)(?=\x00)", data)
    return sorted({raw.decode("utf-8", "surrogateescape") for raw in found})


def _object_dir_prefix(source_dir: Path, gcda_paths: list[str]) -> str:
    root = str(source_dir)
    if not gcda_paths or all(p.startswith(root + "/") for p in gcda_paths):
        return root
    return os.path.commonpath([os.path.dirname(p) for p in gcda_paths])


def _linked_gcda_files(prefix: str, gcda_paths: list[str]) -> list[str]:
    linked = [p[len(prefix) + 1 :] for p in gcda_paths if p.startswith(prefix + "/")]
    linked = [rel for rel in linked if (Path(prefix) / rel).with_suffix(".gcno").exists()]
    if linked:
        return sorted(linked)
    # no paths recognisable in the binary: fall back to every note file of the tree
    return sorted(str(p.relative_to(prefix).with_suffix(".gcda")) for p in Path(prefix).rglob("*.gcno"))


def verify_gcov_prefix(
    exe: Path, prefix: str, strip: int, gcda_files: list[str], libraries: Sequence[Path] = ()
) -> list[str]:
    """Run the binary under GCOV_PREFIX; the files it writes are the truth about gcda_files.

    With the build's own libraries on LD_LIBRARY_PATH, their counters must be written too: otherwise the
    system's uninstrumented copy was loaded and their code would never count.
    """
    written: list[str] = []
    loader = {"LD_LIBRARY_PATH": library_path(list(libraries))} if libraries else {}
    # --version first; a program that dies on it (counters are written only by a normal exit) gets no arguments
    for args in (["--version"], []):
        with tempfile.TemporaryDirectory(prefix="twinbench-gcov-") as tmp:
            env = {**os.environ, **loader, "GCOV_PREFIX": tmp, "GCOV_PREFIX_STRIP": str(strip)}
            try:
                subprocess.run(
                    [str(exe), *args],
                    cwd=tmp,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=30,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                continue
            except OSError as exc:
                raise CoverageBuildError(f"{exe} cannot run: {exc}") from None
            written = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*.gcda"))
        if written:
            break
    if not written:
        raise CoverageBuildError(f"{exe} wrote no .gcda file under GCOV_PREFIX (strip {strip})")
    orphans = [
        rel for rel in written if rel not in gcda_files and not (Path(prefix, rel).with_suffix(".gcno")).exists()
    ]
    if orphans:
        raise CoverageBuildError(f"{exe} wrote {orphans[0]} under GCOV_PREFIX, which matches no .gcno of the build")
    for library in libraries:
        compiled_in = set(_gcda_paths_in(library))
        own = {rel for rel in gcda_files if f"{prefix}/{rel}" in compiled_in}
        if own and not own & set(written):
            raise CoverageBuildError(
                f"{exe.name} ran without writing the counters of {library.name}: the instrumented copy was not loaded"
            )
    return written


def gcov_lines(notes: list[str], source_dir: Path) -> list[tuple[str, str, dict[int, int]]]:
    """Run gcov's JSON output over note files: (cwd, source path relative to source_dir, line -> count)."""
    if not notes:
        return []
    with tempfile.TemporaryDirectory(prefix="twinbench-gcov-") as tmp:
        # --stdout keeps gcov from scattering .gcov files; the temp cwd catches anything else
        result = subprocess.run(
            ["gcov", "--json-format", "--stdout", *notes],
            cwd=tmp,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    if result.returncode != 0 and not result.stdout.strip():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise CoverageBuildError(f"gcov failed (exit {result.returncode}): {last}")
    root = str(source_dir)
    out: list[tuple[str, str, dict[int, int]]] = []
    decoder = json.JSONDecoder()
    text = result.stdout
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        cwd = doc.get("current_working_directory", "")
        for entry in doc.get("files", []):
            name = entry.get("file", "")
            absolute = os.path.normpath(os.path.join(cwd, name))
            if not os.path.isabs(name) and not (absolute.startswith(root + "/") and os.path.exists(absolute)):
                absolute = _moved_source(root, cwd, os.path.basename(name)) or absolute
            if not absolute.startswith(root + "/"):
                continue  # system headers
            lines: dict[int, int] = {}
            for line in entry.get("lines", []):
                number = int(line.get("line_number", 0))
                lines[number] = max(lines.get(number, 0), int(line.get("count", 0)))
            out.append((cwd, absolute[len(root) + 1 :], lines))
    return out


def own_libraries(exe: Path, source_dir: Path) -> list[Path]:
    """The shared libraries this same build made that the executable loads (jq's code is in libjq1's libjq.so.1).

    Each is the library under its soname as Debian's packaging installed it under debian/<binary package>/;
    run with LD_LIBRARY_PATH on their directories, the executable loads these instrumented copies instead of
    the system's, so their code counts as the program's own. A library ldd cannot find, and this build did not
    make, is refused.
    """
    result = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, errors="replace", check=False)
    debian = source_dir / "debian"
    built: dict[str, list[Path]] = {}
    for path in debian.glob("*/usr/lib/**/*.so*"):
        if path.is_file():
            built.setdefault(path.name, []).append(path)
    found: list[Path] = []
    for line in result.stdout.splitlines():
        name = line.strip().split(" ", 1)[0]
        # "not found" is fine for a library of this build: the package is not installed, the build has it
        if "not found" in line and name not in built:
            raise CoverageBuildError(f"{exe} needs a library that is missing: {line.strip()}")
        if name in built:
            # debian/tmp is the staging area; a binary package's own directory is what Debian ships
            candidates = sorted(built[name], key=lambda p: (p.relative_to(debian).parts[0] == "tmp", str(p)))
            found.append(candidates[0])
    return found


def library_path(libraries: list[Path]) -> str:
    """LD_LIBRARY_PATH that makes the executable load the build's own instrumented libraries."""
    return ":".join(dict.fromkeys(str(library.parent) for library in libraries))


def _moved_source(root: str, cwd: str, basename: str) -> str | None:
    """Where a relative #line name points in this tree when it was written on another machine.

    Upstream tarballs ship bison and flex output whose `#line "../../bc/bc.y"` names the maintainer's
    build directory; the grammar itself sits next to the object's sources, or once elsewhere in the tree.
    """
    beside = os.path.join(cwd, basename)
    if beside.startswith(root + "/") and os.path.isfile(beside):
        return beside
    matches = _files_named(root, basename)
    return matches[0] if len(matches) == 1 else None


@functools.lru_cache(maxsize=256)
def _files_named(root: str, basename: str) -> tuple[str, ...]:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "debian", ".pc")]
        if basename in files:
            found.append(os.path.join(directory, basename))
    return tuple(found)


_GCNO_MAGIC = 0x67636E6F


def gcno_functions(data: bytes) -> tuple[str, list[tuple[int, str, int, int]]]:
    """The functions a gcc >= 12 note file describes: (compile directory, [(ident, source, first line, last
    line)]), the ident being the one .gcda counters name. An older or unreadable note gives ("", []): callers
    then know nothing about which function a line is in. Never raises."""
    functions: list[tuple[int, str, int, int]] = []
    try:
        if len(data) < 16 or int.from_bytes(data[:4], "little") != _GCNO_MAGIC:
            return "", []
        version = int.from_bytes(data[4:8], "little")
        high, second = version >> 24, (version >> 16) & 0xFF
        if high < 65 or (high - 65) * 10 + (second - 48) < 12:
            return "", []  # before gcc 12, lengths count 4-byte words and strings are padded
        cwd, pos = _gcno_string(data, 16)  # after magic, version, stamp and checksum
        pos += 4  # has_unexecuted_blocks
        while pos + 8 <= len(data):
            tag, length = struct.unpack_from("<II", data, pos)
            pos += 8
            if tag == _TAG_FUNCTION and length >= 12:
                ident = struct.unpack_from("<I", data, pos)[0]
                _name, at = _gcno_string(data, pos + 12)
                source, at = _gcno_string(data, at + 4)  # after the `artificial` flag
                first, _column, last = struct.unpack_from("<III", data, at)
                functions.append((ident, source, first, last))
            pos += length
    except (struct.error, ValueError, UnicodeDecodeError):
        pass  # garbage past the guards: keep what was read before it
    return cwd if functions else "", functions


def _gcno_string(data: bytes, pos: int) -> tuple[str, int]:
    """A gcc >= 12 note string (a byte length, NUL included, then the bytes) and the position after it."""
    length = struct.unpack_from("<I", data, pos)[0]
    raw = data[pos + 4 : pos + 4 + length]
    return raw.rstrip(b"\0").decode("utf-8", "surrogateescape"), pos + 4 + length
