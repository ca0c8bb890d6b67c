"""Sample input files of the formats a program reads: images, compressed streams, sequence files, sources.

Many programs do nothing useful without an input file of their own format (jp2a and chafa read images,
zstd and xz decompress their streams, samtools reads SAM/BAM, tcc and ctags read source code). Random
text never reaches their core. The formats a program reads are read off its docs (the same words counted
twice, like `inputs.detect_kinds`); the samples come first from the Debian source package's own tree (its
test data, examples), then from files of that format other installed packages ship under /usr/share.
Picks are sorted and bounded, so a seed and the machine's packages give the same samples.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SAMPLE_MAX_BYTES = 64 * 1024
SAMPLES_PER_FORMAT = 4
SKIPPED_DIRS = {".git", ".pc", "debian", "node_modules", "target", "vendor", ".hg", ".svn"}
MACHINE_ROOTS = ("/usr/share/pixmaps", "/usr/share/icons", "/usr/share/doc", "/usr/share/images")
MACHINE_FILES_SCANNED = 20_000


@dataclass(frozen=True)
class FileFormat:
    """A file format: the words that name it in docs, its file suffixes, and its leading magic bytes."""

    name: str
    clues: tuple[str, ...]
    suffixes: tuple[str, ...]
    magic: tuple[bytes, ...] = ()
    # for a text format: a line that marks a code block of the docs as written in it (ninja's `build out: cc`)
    marker: str = ""

    def matches(self, head: bytes) -> bool:
        """Whether a file named with one of the suffixes really is of this format (its magic bytes, if any)."""
        return not self.magic or any(head.startswith(magic) for magic in self.magic)


FORMATS = (
    FileFormat("png", ("png",), (".png",), (b"\x89PNG\r\n\x1a\n",)),
    FileFormat("jpeg", ("jpeg", "jpg"), (".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    FileFormat("gif", ("gif",), (".gif",), (b"GIF87a", b"GIF89a")),
    FileFormat("gzip", ("gzip", ".gz"), (".gz",), (b"\x1f\x8b",)),
    FileFormat("xz", (".xz", "lzma", "xz format"), (".xz", ".lzma"), (b"\xfd7zXZ\x00", b"\x5d\x00\x00")),
    FileFormat("zstd", ("zstd", ".zst"), (".zst",), (b"\x28\xb5\x2f\xfd",)),
    FileFormat("lz4", ("lz4",), (".lz4",), (b"\x04\x22\x4d\x18", b"\x02\x21\x4c\x18")),
    FileFormat("bzip2", ("bzip2", ".bz2"), (".bz2",), (b"BZh",)),
    FileFormat("brotli", ("brotli", ".br"), (".br", ".compressed")),
    FileFormat("7z", ("7z archive", ".7z"), (".7z",), (b"7z\xbc\xaf\x27\x1c",)),
    FileFormat("zip", ("zip",), (".zip",), (b"PK\x03\x04",)),
    FileFormat("wav", ("wav", "wave"), (".wav",), (b"RIFF",)),
    FileFormat("fasta", ("fasta",), (".fa", ".fasta", ".fna", ".fa.gz")),
    FileFormat("fastq", ("fastq",), (".fq", ".fastq")),
    FileFormat("sam", ("sam format", ".sam", " sam "), (".sam",)),
    FileFormat("bam", ("bam",), (".bam",), (b"\x1f\x8b\x08\x04",)),
    FileFormat("bed", ("bed file", "bed format", ".bed", "bedgraph"), (".bed", ".bedgraph")),
    FileFormat("vcf", ("vcf",), (".vcf",)),
    FileFormat("gff", ("gff", "gtf"), (".gff", ".gff3", ".gtf")),
    FileFormat("c", ("c source", "c file", "c program", ".c "), (".c", ".h")),
    FileFormat("cpp", ("c++",), (".cpp", ".cc", ".hpp")),
    FileFormat("sql", ("sql",), (".sql",), marker=r"(?im)^\s*(?:select|create table|insert into)\b"),
    FileFormat("lua", ("lua",), (".lua",), marker=r"(?m)^\s*(?:local \w+ =|print\(|function \w+\()"),
    FileFormat("ninja", ("build.ninja", "ninja file"), (".ninja",), marker=r"(?m)^(?:rule \w+|build [^:\n]+:)"),
)
DOC_SUFFIXES = (".md", ".markdown", ".asciidoc", ".adoc", ".txt", ".rst", ".html", ".htm")
DOC_MAX_BYTES = 512 * 1024
BLOCKS_PER_FORMAT = 12
_FENCE = re.compile(r"^(-{4,}|`{3,}|~{3,})")
_PRE = re.compile(r"<pre[^>]*>(.*?)</pre>", re.S | re.I)


def small_text(path: Path, max_bytes: int) -> str | None:
    """The file's text (undecodable bytes replaced), or None when it is larger than `max_bytes` or unreadable."""
    try:
        if path.stat().st_size > max_bytes:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def formats_in_docs(doc_text: str) -> list[FileFormat]:
    """The formats a program's docs name at least twice."""
    lowered = doc_text.lower()
    return [f for f in FORMATS if sum(_count(lowered, clue) for clue in f.clues) >= 2]


def sample_files(formats: list[FileFormat], source_tree: Path | None, machine: bool = True) -> list[tuple[str, bytes]]:
    """Small files of each format: the source package's own first, then the machine's; (path, content)."""
    samples: list[tuple[str, bytes]] = []
    source_files = list(_files_under(source_tree)) if source_tree is not None else []
    machine_files: list[Path] | None = None  # walked once, and only when a format needs it
    for file_format in formats:
        found = _pick(file_format, iter(source_files))
        if file_format.marker and len(found) < BLOCKS_PER_FORMAT:
            found += doc_blocks(file_format, source_files)[: BLOCKS_PER_FORMAT - len(found)]
        if len(found) < SAMPLES_PER_FORMAT and machine:
            if machine_files is None:
                machine_files = [p for root in MACHINE_ROOTS for p in _files_under(Path(root), MACHINE_FILES_SCANNED)]
            found += _pick(file_format, iter(machine_files))[: SAMPLES_PER_FORMAT - len(found)]
        samples.extend(found)
    return list(dict.fromkeys(samples))


def doc_blocks(file_format: FileFormat, paths: list[Path]) -> list[tuple[str, bytes]]:
    """Code blocks of the source tree's documents (asciidoc `----`, markdown fences, HTML `<pre>`) written in a
    text format, as samples named after their document: ninja's manual holds the build files ninja reads."""
    marker = re.compile(file_format.marker)
    blocks: list[tuple[str, bytes]] = []
    for path in paths:
        if not path.name.lower().endswith(DOC_SUFFIXES):
            continue
        text = small_text(path, DOC_MAX_BYTES)
        if text is None:
            continue
        bodies = [*_fenced_blocks(text), *(html.unescape(match.group(1)) for match in _PRE.finditer(text))]
        for number, body in enumerate(bodies):
            if marker.search(body) and len(body) <= SAMPLE_MAX_BYTES:
                name = f"{path.with_suffix('')}-block{number}{file_format.suffixes[0]}"
                blocks.append((name, body.encode("utf-8")))
    return blocks


def _fenced_blocks(text: str) -> Iterator[str]:
    """Blocks between two equal fence lines (asciidoc `----`, markdown ``` and ~~~); a fence follows a blank
    line, while a line of dashes or tildes right under text underlines a section title."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None or (index > 0 and lines[index - 1].strip()):
            index += 1
            continue
        fence = match.group(1)
        end = next((i for i in range(index + 1, len(lines)) if lines[i].rstrip() == fence), None)
        if end is None:
            return
        yield "\n".join(lines[index + 1 : end]) + "\n"
        index = end + 1


def _count(text: str, clue: str) -> int:
    if clue.startswith((".", " ")) or " " in clue:
        return text.count(clue)
    return len(re.findall(rf"\b{re.escape(clue)}\b", text))


def _pick(file_format: FileFormat, paths: Iterator[Path]) -> list[tuple[str, bytes]]:
    """Up to SAMPLES_PER_FORMAT files named and made as the format says, spread over sizes, names breaking ties."""
    candidates: list[tuple[int, str, Path]] = []
    for path in paths:
        if not path.name.lower().endswith(file_format.suffixes):
            continue
        try:
            size = path.stat().st_size
            if not 0 < size <= SAMPLE_MAX_BYTES or path.is_symlink():
                continue
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError:
            continue
        if file_format.matches(head):
            candidates.append((size, str(path), path))
    candidates.sort()
    # the smallest files are often degenerate (empty images, one-byte streams): take spread-out sizes
    step = max(1, len(candidates) // SAMPLES_PER_FORMAT)
    chosen = candidates[::step][:SAMPLES_PER_FORMAT]
    picked: list[tuple[str, bytes]] = []
    for _, name, path in chosen:
        try:
            picked.append((name, path.read_bytes()))
        except OSError:
            continue
    return picked


def _files_under(root: Path, limit: int | None = None) -> Iterator[Path]:
    """Regular files under `root` in a stable order, skipping VCS, packaging and build directories."""
    seen = 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield Path(directory) / name
