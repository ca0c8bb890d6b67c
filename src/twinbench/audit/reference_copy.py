"""The `reference-copy` rule: submission files holding the reference's machine code, raw, encoded or compressed."""

from __future__ import annotations

import binascii
import bz2
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from twinbench.audit.files import SubmissionFile, line_of
from twinbench.audit.fingerprint import WINDOW, ReferenceIndex, sampled_windows
from twinbench.audit.models import Finding, Severity
from twinbench.audit.targets import ReferenceTargets

RULE = "reference-copy"
# A copied binary shares most of its windows. Unrelated programs share none, except code both embed from a
# common third party (jq's libjq and libruby both carry David Gay's dtoa: 47 windows, 0.4% of libjq), so a
# copy is a tenth of a reference file or more, or a large absolute amount of it.
CRITICAL_FRACTION = 0.10
CRITICAL_WINDOWS = 512
NOTED_WINDOWS = 16
MAX_DECODED_BYTES = 256 << 20
MAX_DEPTH = 2
MAX_EXAMPLES = 3

BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}(?:(?:\\n|[\s\"',+\\])+[A-Za-z0-9+/]{8,}={0,2})*")
HEX_RUN = re.compile(rb"(?:[0-9a-fA-F]{2}){64,}")
HEX_LIST = re.compile(rb"(?:(?:0x|\\x)[0-9a-fA-F]{2}[\s,]*){64,}")
NOT_BASE64 = re.compile(rb"\\n|[^A-Za-z0-9+/]")
NOT_HEX = re.compile(rb"0x|\\x|[\s,]")


@dataclass
class _View:
    how: str  # "" for the file's own bytes, else how they were decoded ("base64 at line 3", "gzip", ...)
    data: bytes


def reference_copy_findings(file: SubmissionFile, index: ReferenceIndex, targets: ReferenceTargets) -> list[Finding]:
    """A finding when a file (or what is encoded or compressed in it) shares many windows with the reference."""
    # the index may also hold other implementations of the tool (toilet for figlet): shipping those is no better
    if len(index.hashes) == 0 or file.size < WINDOW:
        return []
    # windows found in any view count together: a copy split over many small base64 strings is still one copy
    seen_in: dict[int, str] = {}  # hash -> where in the submission file it was first seen
    for view in _views(file):
        hashes, offsets = sampled_windows(view.data)
        known = np.isin(hashes, index.known(hashes))
        where = f" ({view.how})" if view.how else ""
        for value, offset in zip(hashes[known].tolist(), offsets[known].tolist(), strict=True):
            seen_in.setdefault(value, f"{file.label}{where}:{offset:#x}")
    if len(seen_in) < NOTED_WINDOWS:
        return []
    matched = np.array(sorted(seen_in), dtype=np.uint64)
    best_number, best_common, best_offsets = 0, matched[:0], np.empty(0, dtype=np.int64)
    best_key = (-1.0, -1)
    for number in range(len(index.files)):
        common, offsets = index.shared_with(number, matched)
        key = (len(common) / max(len(index.file_hashes[number]), 1), len(common))
        if len(common) and key > best_key:
            best_number, best_common, best_offsets, best_key = number, common, offsets, key
    shared = len(best_common)
    if shared < NOTED_WINDOWS:
        return []
    reference = str(index.files[best_number])
    reference_windows = len(index.file_hashes[best_number])
    fraction = shared / max(reference_windows, 1)
    critical = fraction >= CRITICAL_FRACTION or shared >= CRITICAL_WINDOWS
    summary = f"{shared} of {reference_windows} distinctive 64-byte windows of {reference}"
    whose = "the reference's" if index.files[best_number] in targets.elf_files else "another implementation,"
    if critical:
        message = f"{file.label} contains {fraction:.0%} of {whose} {reference} ({summary})"
    else:
        message = f"{file.label} shares a little code with {reference} ({summary}); likely common library code"
    order = np.argsort(best_offsets)[:MAX_EXAMPLES]
    examples = [f"{seen_in[int(best_common[i])]} = {reference}:{int(best_offsets[i]):#x}" for i in order]
    return [
        Finding(
            rule=RULE,
            severity=Severity.critical if critical else Severity.info,
            message=message,
            evidence=[summary, *examples],
            file=file.label,
        )
    ]


def _views(file: SubmissionFile) -> Iterator[_View]:
    """The file's bytes, then whatever base64, hex or compression inside it decodes to."""
    yield _View("", file.data())
    yield from _decoded(file.data(), file.is_text, 1)


def _decoded(data: bytes, is_text: bool, depth: int) -> Iterator[_View]:
    if depth > MAX_DEPTH:
        return
    for how, inner in _decompressed(data):
        yield _View(how, inner)
        yield from _decoded(inner, b"\0" not in inner[:8192], depth + 1)
    if not is_text:
        return
    text = data.decode("latin-1")
    for match in BASE64_RUN.finditer(data):
        alphabet = NOT_BASE64.sub(b"", match.group())
        try:
            inner = binascii.a2b_base64(alphabet[: len(alphabet) - len(alphabet) % 4])
        except binascii.Error:
            continue
        how = f"base64 at line {line_of(text, match.start())}"
        yield _View(how, inner)
        for inner_how, unpacked in _decompressed(inner):
            yield _View(f"{how}, {inner_how}", unpacked)
    for pattern in (HEX_RUN, HEX_LIST):
        for match in pattern.finditer(data):
            digits = NOT_HEX.sub(b"", match.group())
            try:
                inner = bytes.fromhex(digits[: len(digits) - len(digits) % 2].decode("ascii"))
            except ValueError:
                continue
            how = f"hex at line {line_of(text, match.start())}"
            yield _View(how, inner)
            for inner_how, unpacked in _decompressed(inner):
                yield _View(f"{how}, {inner_how}", unpacked)


def _decompressed(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Decompressed contents when `data` starts like gzip, zlib, bzip2, xz or zip; nothing otherwise."""
    head = data[:6]
    try:
        if head[:2] == b"\x1f\x8b" or (len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0):
            # wbits 47 accepts both gzip and zlib headers
            yield "compressed (gzip/zlib)", zlib.decompressobj(47).decompress(data, MAX_DECODED_BYTES)
        elif head[:3] == b"BZh":
            yield "compressed (bzip2)", bz2.BZ2Decompressor().decompress(data, MAX_DECODED_BYTES)
        elif head == b"\xfd7zXZ\x00":
            yield "compressed (xz)", lzma.LZMADecompressor().decompress(data, MAX_DECODED_BYTES)
        elif head[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                budget = MAX_DECODED_BYTES
                for member in archive.infolist():
                    if member.is_dir() or member.file_size > budget:
                        continue
                    budget -= member.file_size
                    yield f"zip member {member.filename}", archive.read(member)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, NotImplementedError):
        return
