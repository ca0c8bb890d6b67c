"""The package's own data files as test inputs: every file, by kind, as is and as damaged copies.

A program's data files (figlet's fonts and control files, a dictionary, a table of codes) are what its
file-valued options are for, and the readers of those files hold much of its code: header fields, line
ends, long lines, compressed copies, truncation. Each variant is stored in the case itself (a task input
file), since the package's files are hidden in the sandbox.
"""

from __future__ import annotations

import gzip
import random
import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import PurePath

from twinbench.reference.docmodel import OptionSpec
from twinbench.testgen.deflate import FIXED_SHAPES, HEADER_SHAPES, crafted_stream
from twinbench.testgen.inputs import UTF8_SPREAD, mutate_bytes

DataFile = tuple[str, bytes]
# zipped copies whose deflate stream is written here bit by bit (testgen/deflate.py), one per shape
CRAFTED_ZIPS = tuple(f"zip_{shape}" for shape in (*HEADER_SHAPES, *FIXED_SHAPES))
VARIANTS = (
    "as_is", "crlf", "cr", "truncated", "long_line", "header_edit", "header_short", "multibyte", "zip",
    "zip_fixed", "zip_stored", "zip_levels", "zip_bad_crc", "zip_corrupt", "gzip", "bytes", "number_forms",
    "token_edit", "zip_corrupt_fixed", "header_symbol", *CRAFTED_ZIPS,
)  # fmt: skip
VARIANT_WEIGHTS = (30, 10, 5, 10, 10, 15, 6, 8, 5, 3, 3, 4, 3, 4, 4, 7, 5, 10, 2, 3, *[1] * len(CRAFTED_ZIPS))
# UTF-8 of every length (2 to 4 bytes, and the 5- and 6-byte forms of the original definition), overlong,
# a lone continuation byte and a cut-off sequence: what a reader decoding its data files must handle. The
# code points spread over the bits each length carries (a 4-byte form's plane bits 16-20 differ between
# U+1D11E and U+E0041), and a surrogate's encoding is there, which a strict decoder refuses: a wrong shift or
# mask in an encoder or decoder changes only the characters whose bits it touches
MULTIBYTE = (
    "é".encode(), "€".encode(), "𝄞".encode(), b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",
    b"\xc0\xaf", b"\xe0\x81\x81", b"\x80", b"\xe2\x82",
    "\u0100".encode(), "\u07ff".encode(), "\u0800".encode(), "\ufffd".encode(), "\U00010000".encode(),
    "\U0002a6d6".encode(), "\U0003134a".encode(), "\U000e0041".encode(), "\U0010fffd".encode(), b"\xed\xa0\x80",
    # UTF8_SPREAD's 4-, 5- and 6-byte forms: every 6-bit group set and different, the top ones too
    *UTF8_SPREAD.split()[2:],
)  # fmt: skip
# each zip variant's deflate blocks: dynamic Huffman codes (level 9), the fixed codes of RFC 1951 (zlib's
# Z_FIXED strategy; zlib picks them by itself only for tiny inputs), stored blocks (level 0)
ZIP_DEFLATE = {
    "zip": (9, zlib.Z_DEFAULT_STRATEGY),
    "zip_fixed": (9, zlib.Z_FIXED),
    "zip_stored": (0, zlib.Z_DEFAULT_STRATEGY),
    "zip_bad_crc": (6, zlib.Z_DEFAULT_STRATEGY),
    "zip_corrupt": (6, zlib.Z_DEFAULT_STRATEGY),
    # damage in fixed codes reaches the symbols no fixed code may mean (literal 286, distance 30)
    "zip_corrupt_fixed": (9, zlib.Z_FIXED),
}
# zip_levels draws from these: each level and strategy shapes the dynamic code tables differently (how the
# code lengths end, which repeat codes they use), and an inflater's table builder has a branch for each shape
ZIP_STRATEGIES = (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE)
HEADER_TRUNCATION_BYTES = 256
MAX_CRAFTED_ZIP_BYTES = 256 << 10
ZIP_DATE_TIME = (0x2865, 0x1882)  # 2024-03-05 03:04:04 in DOS form: the same input every run
LONG_LINE_REPEATS = 60
HEADER_NUMBER = re.compile(rb"-?\d+")
NAMED_NUMBER = re.compile(rb"(?<![\w.])\\?(0[xX][0-9A-Fa-f]{1,6}|\d{1,7})(?![\w.])")
# at most 32 bits: a longer word is no code, and Python refuses to print integers of thousands of digits
NUMBER_WORD = re.compile(rb"(?<![\w.])(?:0[xX][0-9A-Fa-f]{1,8}|[1-9]\d{0,8})(?![\w.])")
_FILE_WORDS = re.compile(r"(file|name|path)s?$")


def by_kind(data_files: list[DataFile]) -> dict[str, list[DataFile]]:
    """The data files grouped by suffix ("" for none), each group in a stable order."""
    groups: dict[str, list[DataFile]] = {}
    for name, content in sorted(data_files):
        groups.setdefault(PurePath(name).suffix, []).append((name, content))
    return groups


def kinds_for_option(option: OptionSpec, docs_text: str, kinds: list[str]) -> list[str]:
    """The data-file kinds (suffixes) the docs tie to an option: named in its description, or on a docs line
    with the thing its value names ("controlfile" ... "control files end in .flc")."""
    found = [kind for kind in kinds if kind and kind in option.description]
    stem = _FILE_WORDS.sub("", (option.value_hint or "").lower()).strip("-_ ")
    if len(stem) >= 3:
        for line in docs_text.lower().splitlines():
            if stem in line.replace(" ", ""):
                found.extend(kind for kind in kinds if kind and kind.lower() in line)
    return list(dict.fromkeys(found))


def variant(content: bytes, name: str, rng: random.Random, numbers: Sequence[int] = ()) -> tuple[str, bytes]:
    """One copy of a data file: as is, with other line ends, cut short, with a very long line, with a number
    of its header line changed or its last fields left out, with multibyte characters (valid and not) in its
    lines, compressed (with a wrong checksum too), or with bytes changed."""
    how = rng.choices(VARIANTS, weights=VARIANT_WEIGHTS)[0]
    return how, make_variant(how, content, name, rng, numbers)


def make_variant(how: str, content: bytes, name: str, rng: random.Random, numbers: Sequence[int] = ()) -> bytes:
    """The copy of `content` that variant `how` describes; `numbers` (what the program's source compares
    with) are among the values a header edit tries."""
    lines = content.split(b"\n")
    if how == "crlf":
        return content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if how == "cr":
        # classic Mac line ends: a reader that takes CR as a line end must look at the byte after it
        return content.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    if how == "truncated":
        if rng.random() < 0.5 and content:
            # cut inside the header, at any byte: each field a reader gets before the end is a path of its own
            return content[: rng.randrange(min(len(content), HEADER_TRUNCATION_BYTES))]
        return b"\n".join(lines[: rng.randint(1, max(1, len(lines) - 1))])
    if how == "long_line" and len(lines) > 1:
        index = rng.randrange(1, len(lines))
        lines[index] = lines[index] * LONG_LINE_REPEATS or b"x" * 4096
        return b"\n".join(lines)
    if how == "header_edit":
        return _edit_header_number(lines, rng, numbers)
    if how == "multibyte" and len(lines) > 1:
        # a few lines, or a third of them: a reader decodes every line, but what it decoded shows only where
        # the output uses the line (the font row of a character the text prints)
        count = rng.randint(1, 8) if rng.random() < 0.5 else max(1, len(lines) // 3)
        for _ in range(count):
            index = rng.randrange(1, len(lines))
            line = lines[index]
            position = rng.randint(0, len(line))
            lines[index] = line[:position] + rng.choice(MULTIBYTE) + line[position:]
        return b"\n".join(lines)
    if how == "header_symbol" and len(lines) > 1:
        return with_header_symbol(content, rng)
    if how == "header_short" and lines:
        # optional trailing header fields left out: the reader's defaults for them
        fields = lines[0].split(b" ")
        lines[0] = b" ".join(fields[: rng.randint(1, max(1, len(fields) - 1))])
        return b"\n".join(lines)
    if how == "zip_levels":
        level, strategy = rng.randint(1, 9), rng.choice(ZIP_STRATEGIES)
        return zip_member(PurePath(name).name, content, level, strategy, memory=rng.randint(1, 9))
    if how in CRAFTED_ZIPS:
        # the stream is written in Python, about a second per megabyte: a larger file is zipped as its head
        head = content[:MAX_CRAFTED_ZIP_BYTES]
        return zip_member(PurePath(name).name, head, deflated=crafted_stream(head, how.removeprefix("zip_")))
    if how in ZIP_DEFLATE:
        level, strategy = ZIP_DEFLATE[how]
        crc = zlib.crc32(content) ^ (0x5A5A5A5A if how == "zip_bad_crc" else 0)
        damage = rng if how.startswith("zip_corrupt") else None
        return zip_member(PurePath(name).name, content, level, strategy, crc, damage=damage)
    if how == "gzip":
        return gzip.compress(content, mtime=0)
    if how == "bytes":
        return mutate_bytes(content, rng)
    if how == "number_forms":
        return respell_numbers(content, rng)
    if how == "token_edit":
        return edit_tokens(content, rng, numbers)
    return content


TOKEN = re.compile(rb"\S+")
NUMBER_TOKEN = re.compile(rb"(\\?-?)(0[xX][0-9A-Fa-f]+|\d+)")
MAX_TOKEN_EDITS = 3


def edit_tokens(content: bytes, rng: random.Random, numbers: Sequence[int] = ()) -> bytes:
    """The file with one to three words of its lines changed the way its own lines vary: a number moved by one
    or two (or to a number the source compares with), any other word replaced by a word another line that
    starts the same way has at that place. A command file's lines stay commands the reader knows, with
    arguments it may not have met (figlet's `g 1 94 I` becomes `g 2 94 I`, or `g 1 96 I`, or `g R 0`)."""
    lines = content.split(b"\n")
    words = [[(m.start(), m.end()) for m in TOKEN.finditer(line)] for line in lines]
    editable = [index for index, spans in enumerate(words) if spans and not lines[index].lstrip().startswith(b"#")]
    if not editable:
        return content
    # the words each (first word, place) has across the file: what a word at that place may become
    seen: dict[tuple[bytes, int], set[bytes]] = {}
    for line, spans in zip(lines, words, strict=True):
        for place, (start, end) in enumerate(spans[1:], start=1):
            seen.setdefault((line[spans[0][0] : spans[0][1]], place), set()).add(line[start:end])
    for _ in range(rng.randint(1, MAX_TOKEN_EDITS)):
        index = rng.choice(editable)
        line, spans = lines[index], words[index]
        place = rng.randrange(len(spans))
        start, end = spans[place]
        word = line[start:end]
        number = NUMBER_TOKEN.fullmatch(word)
        if number:
            sign, digits = number.groups()
            value = int(digits, 16) if digits[:2].lower() == b"0x" else int(digits)
            value = (
                rng.choice(numbers) if numbers and rng.random() < 0.25 else max(0, value + rng.choice((-2, -1, 1, 2)))
            )
            replacement = sign + (b"0x%X" % value if digits[:2].lower() == b"0x" else b"%d" % value)
        else:
            others = sorted(seen.get((line[spans[0][0] : spans[0][1]], place), set()) - {word})
            if not others:
                continue
            replacement = rng.choice(others)
        lines[index] = line[:start] + replacement + line[end:]
        words[index] = [(m.start(), m.end()) for m in TOKEN.finditer(lines[index])]
    return b"\n".join(lines)


NUMBER_SPELLINGS = ("octal", "decimal", "hex")


def respell_numbers(content: bytes, rng: random.Random, spelling: str = "") -> bytes:
    """The file with its whole-word integers written in the other forms C readers accept for the same value:
    hex with an upper-case prefix, octal with a leading zero, decimal (figlet's code tags `0x4A0020` and
    `65`); each number in a form drawn from them, or all in one `spelling` (NUMBER_SPELLINGS). Each form is a
    branch of the reader's number parser that the package's own files may never take."""

    def respell(match: re.Match[bytes]) -> bytes:
        text = match.group(0)
        hexadecimal = text[:2].lower() == b"0x"
        value = int(text[2:], 16) if hexadecimal else int(text)
        if value < 8:
            return b"0X" + text[2:].upper() if hexadecimal else text
        # a hex code becomes octal or decimal too: 646-de.flc names every code in hex, so only a respelled
        # copy has an octal one (0133), which a parser that takes any digit after the 0 as hex reads as 0x133
        forms = {"octal": b"0%o" % value, "hex": b"0X%X" % value, "decimal": b"%d" % value}
        if not hexadecimal and not spelling:
            forms["decimal"] = b"0x%x" % value  # the same word again is no respelling: lower-case hex instead
        return forms[spelling] if spelling else rng.choice(list(forms.values()))

    # the header line is header_edit's: its fields are often read with scanf's %d, where 020 is twenty
    header, newline, rest = content.partition(b"\n")
    return header + newline + NUMBER_WORD.sub(respell, rest) if newline else NUMBER_WORD.sub(respell, content)


def named_characters(content: bytes, limit: int = 96) -> bytes:
    """The printable single-byte characters a data file names by number (`0x5B`, `\\0304`, `196`), in the
    order it names them: text holding them is what shows how a reader parsed those numbers (figlet's
    646-de.flc maps `[` to `Ä`; text without `[` prints the same whatever the mapping says)."""
    found: dict[int, None] = {}
    for match in NAMED_NUMBER.finditer(content.partition(b"\n")[2]):
        text = match.group(1)
        if text[:2].lower() == b"0x":
            value = int(text[2:], 16)
        elif len(text) > 1 and text.startswith(b"0"):
            value = int(text, 8) if all(48 <= c <= 55 for c in text) else -1
        else:
            value = int(text)
        if 0x21 <= value <= 0xFF and value != 0x7F and not 0x80 <= value < 0xA0:
            found.setdefault(value, None)
        if len(found) >= limit:
            break
    return bytes(found)


def with_character_in_every_other_line(content: bytes, character: bytes) -> bytes:
    """The file with `character` at the start of every other line after the first (a header): whatever part
    of the file the output uses (the rows of the glyphs the text prints, whichever those are) holds it, so how
    the reader decoded it shows; the multibyte variant puts it into a few lines, which the output may not use.
    Every other line, not every line: a line the reader refuses (figlet's decoder stops at a surrogate) leaves
    the glyph rows without it to show what the rest of the file still means."""
    header, newline, rest = content.partition(b"\n")
    if not newline:
        return content  # a header alone
    lines = rest.split(b"\n")
    return (
        header
        + newline
        + b"\n".join(character + line if line and index % 2 == 0 else line for index, line in enumerate(lines))
    )


TAG_LINE = re.compile(rb"(0[xX][0-9A-Fa-f]+|\d+)(?=[ \t\r]|$)")


def entry_tags(content: bytes) -> int:
    """How many lines after the first (a header) open with a number alone or before a description: the keys
    of a table's entries (`0x2200  FOR ALL` before the rows of a figlet glyph)."""
    return sum(1 for line in content.split(b"\n")[1:] if TAG_LINE.match(line))


def with_entry_tags(content: bytes, keys: Sequence[int]) -> bytes:
    """The file with its first entry tags (entry_tags) set to `keys`, in hex, in order: a table keyed by what
    the input decodes to, so that the decoded values show in the output (a glyph, not a missing character)."""
    lines = content.split(b"\n")
    pending = iter(keys)
    for index in range(1, len(lines)):
        match = TAG_LINE.match(lines[index])
        if match is None:
            continue
        key = next(pending, None)
        if key is None:
            break
        lines[index] = b"0x%X" % key + lines[index][match.end() :]
    return b"\n".join(lines)


HEADER_SYMBOL = re.compile(rb"[^A-Za-z0-9\s.+-]")


def with_header_symbol(content: bytes, rng: random.Random) -> bytes:
    """The file with a symbol of its header line (figlet's hard blank, `$` in `flf2a$`) changed to a symbol
    the rest of the file uses: the character then means two things at once (a hard blank that is also the
    `_` the smushing rules know), which no file of the package does."""
    header, newline, rest = content.partition(b"\n")
    symbols = list(HEADER_SYMBOL.finditer(header))
    body = sorted({match.group(0) for match in HEADER_SYMBOL.finditer(rest[:65536])})
    if not symbols or not body:
        return content
    target = rng.choice(symbols)
    replacement = rng.choice([symbol for symbol in body if symbol != target.group(0)] or body)
    return header[: target.start()] + replacement + header[target.end() :] + newline + rest


# C's character escapes and the byte each names
C_ESCAPES = (
    (b"\\a", 7),
    (b"\\b", 8),
    (b"\\e", 27),
    (b"\\f", 12),
    (b"\\n", 10),
    (b"\\r", 13),
    (b"\\t", 9),
    (b"\\v", 11),
)


def with_c_escapes(content: bytes) -> tuple[bytes, bytes]:
    """The file with the first one-character arguments of its escaping lines (a line with a word that starts
    with a backslash: figlet's `t ( \\0x02BD`) written as C escapes, one each (`t \\a \\0x02BD`, `t \\b ...`), and
    the bytes those escapes name. The package's files spell no character that way, so no run had read the
    escapes a reader knows (figlet's `\\f`), and only text holding the bytes shows how it read them."""
    lines = content.split(b"\n")
    escapes = iter(C_ESCAPES)
    named: dict[int, None] = {}
    for index, line in enumerate(lines):
        words = line.split(b" ")
        if index == 0 or not any(word.startswith(b"\\") for word in words):
            continue
        for place in range(1, len(words)):
            escape = next(escapes, None) if len(words[place]) == 1 and words[place] not in b"\\#\t\r" else None
            if escape is not None:
                words[place] = escape[0]
                named.setdefault(escape[1], None)
        lines[index] = b" ".join(words)
    return b"\n".join(lines), bytes(named)


def header_cuts(content: bytes) -> list[bytes]:
    """The file with its header line cut after each of its fields in turn: a reader with optional trailing
    fields has a default for each (figlet's print direction when a font header has six fields)."""
    lines = content.split(b"\n")
    fields = lines[0].split(b" ") if lines else []
    return [b"\n".join([b" ".join(fields[:kept]), *lines[1:]]) for kept in range(1, len(fields))]


def _edit_header_number(lines: list[bytes], rng: random.Random, limits: Sequence[int] = ()) -> bytes:
    """A number of the header line changed: to its neighbours, a small or a large value, or one of `limits`
    (the numbers the source compares with, and their neighbours: figlet refuses a font whose width is > 255)."""
    numbers = list(HEADER_NUMBER.finditer(lines[0])) if lines else []
    if not numbers:
        return b"\n".join(lines)
    index = rng.randrange(len(numbers))
    value = int(numbers[index].group(0))
    replacement = rng.choice([0, 1, -1, value + 1, value - 1, value * 2, 127, 65536])
    if limits and rng.random() < 0.5:
        replacement = rng.choice(limits)
    return with_header_number(b"\n".join(lines), index, replacement)


def header_numbers(content: bytes) -> int:
    """How many numbers the first line (a header) of a data file holds."""
    return len(HEADER_NUMBER.findall(content.partition(b"\n")[0]))


def with_header_number(content: bytes, index: int, value: int) -> bytes:
    """The file with the `index`th number of its header line set to `value`."""
    header, newline, rest = content.partition(b"\n")
    match = list(HEADER_NUMBER.finditer(header))[index]
    return header[: match.start()] + str(value).encode() + header[match.end() :] + newline + rest


def zip_member(
    name: str,
    content: bytes,
    level: int = 6,
    strategy: int = zlib.Z_DEFAULT_STRATEGY,
    crc: int | None = None,
    memory: int = 9,
    damage: random.Random | None = None,
    deflated: bytes | None = None,
) -> bytes:
    """A zip archive of one deflated member, written here rather than by zipfile, which can choose neither
    the deflate strategy nor a wrong checksum; `crc` (default: the right one) goes into both headers. With
    `damage`, one to three bytes of the deflate stream are changed (the headers stay right): an inflater's
    checks on code lengths, distances and block types see data no compressor writes. `deflated` is a stream
    made elsewhere (testgen/deflate.py), stored as the member's data instead of compressing `content`."""
    if deflated is None:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, memory, strategy)
        data = compressor.compress(content) + compressor.flush()
    else:
        data = deflated
    if damage is not None and data:
        damaged = bytearray(data)
        # the first bytes hold the block header and code lengths, whose checks are most of an inflater's
        for _ in range(damage.randint(1, 3)):
            index = damage.randrange(min(len(damaged), 64)) if damage.random() < 0.7 else damage.randrange(len(damaged))
            damaged[index] ^= 1 << damage.randrange(8)
        data = bytes(damaged)
    encoded = name.encode("utf-8", errors="replace")
    checksum = zlib.crc32(content) if crc is None else crc & 0xFFFFFFFF
    time, date = ZIP_DATE_TIME
    fields = struct.pack("<HHHHHIII", 20, 0, 8, time, date, checksum, len(data), len(content))
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(encoded), 0) + encoded
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + fields
        + struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, 0)
        + encoded
    )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end
