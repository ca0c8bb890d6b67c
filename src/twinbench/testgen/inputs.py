"""Input synthesis: generators for the formats programs read, and mutators for inputs that proved interesting."""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Sequence
from enum import StrEnum

WORDS = [
    "hello", "world", "Agent", "rebuild", "42", "x", "foo", "bar", "baz", "Zebra", "quartz", "a-b_c", "Hi!",
    "naïve", "café", "δ", "0", "-1", "3.14", "true", "null", "TODO", "line", "end",
]  # fmt: skip
LONG_TEXT_SHARE = 0.15
SPECIAL_STRINGS = ["", " ", "-", "--", "\t", "\\", "%s", "%d", "'", '"', "$HOME", "*", "?", "[", "{}", "é", "\x7f"]


class InputKind(StrEnum):
    """The shapes of input a program may read on stdin or from files."""

    text = "text"
    json = "json"
    csv = "csv"
    numbers = "numbers"
    expressions = "expressions"


KIND_CLUES: dict[InputKind, tuple[str, ...]] = {
    InputKind.json: ("json",),
    InputKind.csv: ("csv", "comma-separated", "delimiter", "field separator"),
    InputKind.numbers: ("number", "numeric", "integer"),
    InputKind.expressions: ("expression", "arithmetic", "calculator", "precision"),
}


def detect_kinds(doc_text: str) -> list[InputKind]:
    """Input kinds a program's docs talk about, text always first."""
    lowered = doc_text.lower()
    kinds = [InputKind.text]
    for kind, clues in KIND_CLUES.items():
        if sum(lowered.count(clue) for clue in clues) >= 2:
            kinds.append(kind)
    return kinds


def generate(kind: InputKind, rng: random.Random) -> str:
    """A fresh input of `kind`, small enough to run fast."""
    if kind == InputKind.json:
        return "\n".join(json.dumps(_json_value(rng, 3)) for _ in range(rng.randint(1, 3))) + "\n"
    if kind == InputKind.csv:
        columns = rng.randint(1, 5)
        rows = [",".join(_csv_cell(rng) for _ in range(columns)) for _ in range(rng.randint(1, 6))]
        return "\n".join(rows) + "\n"
    if kind == InputKind.numbers:
        return "\n".join(_number(rng) for _ in range(rng.randint(1, 8))) + "\n"
    if kind == InputKind.expressions:
        return "\n".join(_expression(rng, 3) for _ in range(rng.randint(1, 4))) + "\n"
    if rng.random() < LONG_TEXT_SHARE:
        # a paragraph longer than any screen: what wraps, fills or breaks lines acts on it
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 40))) + "\n"
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 5))]
    return "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")


def value_hints(hint: str | None, arity: int) -> list[str | None]:
    """The hint of each value of an option: a hint with one word per value ("name value", "variable-name
    filename", "name JSON-text") names each one; any other hint stands for all of them."""
    words = (hint or "").split()
    return list(words) if len(words) == arity > 1 else [hint] * max(1, arity)


# the edges of 16-, 32- and 64-bit integers: a count or a size at a limit overflows a conversion or asks for
# more memory than the sandbox gives (figlet -w 2147483647: "Out of memory", exit 1)
INTEGER_LIMITS = (
    "65535", "65536", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
    "9223372036854775807", "9223372036854775808", "18446744073709551616",
)  # fmt: skip
INTEGER_LIMIT_SHARE = 0.15
SOURCE_NUMBER_SHARE = 0.2


def value_for_hint(
    hint: str | None,
    rng: random.Random,
    vocabulary: list[str],
    variables: list[str] | None = None,
    numbers: Sequence[int] = (),
) -> str:
    """A plausible (or deliberately odd) value for an option whose docs call it `hint`; a value that names a
    variable is, most of the time, one of `variables` (those the rest of the command line refers to); a
    number is now and then one of `numbers` (what the source compares with, and their neighbours)."""
    lowered = (hint or "").lower()
    if "file" in lowered or "path" in lowered:  # before the numbers: "filename" holds "len"
        return rng.choice(["in.txt", "in.txt", "missing.txt", "."])
    if is_number_hint(hint):
        if rng.random() < INTEGER_LIMIT_SHARE:
            return rng.choice(INTEGER_LIMITS)
        if numbers and rng.random() < SOURCE_NUMBER_SHARE:
            return str(rng.choice(numbers))
        return rng.choice(["0", "1", "2", "3", "5", "10", "40", "80", "100", "-1", "999999", "abc", "4"])
    if "dir" in lowered:
        return rng.choice([".", "missing-dir", "/usr/share"])
    if "json" in lowered:
        return json.dumps(_json_value(rng, 2)) if rng.random() < 0.85 else rng.choice(["{", "[1,", "nul", "'a'"])
    if any(word in lowered for word in ("name", "var", "ident", "label")):
        if variables and rng.random() < 0.8:
            return rng.choice(variables)
        identifiers = [word for word in vocabulary if re.fullmatch(r"[A-Za-z_]\w*", word)]
        return rng.choice(identifiers or ["x", "foo", "value"])
    if vocabulary and rng.random() < 0.7:
        return rng.choice(vocabulary)
    return rng.choice(WORDS + SPECIAL_STRINGS)


def is_number_hint(hint: str | None) -> bool:
    """Whether an option's value hint asks for a number (`outputwidth`, `N`, `smushmode`); a file name is not
    one, although "filename" holds "len"."""
    lowered = (hint or "").lower()
    if "file" in lowered or "path" in lowered:
        return False
    words = ("num", "width", "size", "count", "col", "line", "int", "depth", "len")
    return any(word in lowered for word in words) or lowered in ("n", "k", "m", "mode")


def referenced_variables(argv: list[str]) -> list[str]:
    """The variables a command line's arguments refer to (`$foo`, `${bar}` in a program text), in order."""
    return list(dict.fromkeys(re.findall(r"\$\{?([A-Za-z_]\w*)", " ".join(argv))))


def mutate_text(data: str, rng: random.Random, donors: list[str]) -> str:
    """Change an interesting input a little: tokens, characters, lines, or a splice with another input."""
    choice = rng.randrange(7)
    if not data:
        return rng.choice(donors) if donors else rng.choice(WORDS)
    if choice == 0:  # flip one character to a random printable or special one
        position = rng.randrange(len(data))
        return data[:position] + rng.choice(string.printable + 'é{}[]",:') + data[position + 1 :]
    if choice == 1:  # delete a span
        start = rng.randrange(len(data))
        return data[:start] + data[start + rng.randint(1, 8) :]
    if choice == 2:  # duplicate a line
        lines = data.splitlines(keepends=True)
        line = rng.choice(lines)
        return "".join([*lines, line])
    if choice == 3:  # replace a token with another token of the same input or a word
        tokens = re.split(r"(\W+)", data)
        words = [i for i, token in enumerate(tokens) if token.strip() and not re.fullmatch(r"\W+", token)]
        if words:
            tokens[rng.choice(words)] = rng.choice(WORDS + [t for t in tokens if t.strip()][:20])
        return "".join(tokens)
    if choice == 4 and donors:  # splice with another interesting input
        other = rng.choice(donors)
        return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
    if choice == 5:  # truncate: malformed input is behavior too
        return data[: rng.randrange(len(data))]
    return data + rng.choice(WORDS + SPECIAL_STRINGS) + ("\n" if rng.random() < 0.5 else "")


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """mutate_text for any bytes: Latin-1 maps every byte to one character, so untouched bytes stay as they were."""
    return mutate_text(data.decode("latin-1"), rng, []).encode("latin-1", errors="replace")


def _json_value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(8 if depth > 0 else 5)
    if kind == 0:
        return rng.choice([0, 1, -1, 42, 3.5, 1e100, -0.0, 2**53]) if rng.random() < 0.5 else edge_number(rng)
    if kind == 1:
        return rng.choice(WORDS + SPECIAL_STRINGS)
    if kind == 2:
        return rng.choice([True, False])
    if kind == 3:
        return None
    if kind == 4:
        return rng.randint(-1000, 1000)
    if kind in (5, 6):
        return {rng.choice(["a", "b", "foo", "bar", "name", "id", "items"]): _json_value(rng, depth - 1)
                for _ in range(rng.randint(0, 4))}  # fmt: skip
    return [_json_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]


def _csv_cell(rng: random.Random) -> str:
    cell = rng.choice([*WORDS, "", "1", "2.5", "a b", "x,y", 'say "hi"'])
    if "," in cell or '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _number(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return json.dumps(edge_number(rng))
    return rng.choice(
        [str(rng.randint(-100, 100)), f"{rng.uniform(-1e3, 1e3):.3f}", "0", "1e10", "-0", "007", "0x1F", "nan", "1/3"]
    )


EDGE_FLOATS = (5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3, 9007199254740993.0, 1e-7, 1e21)


def edge_number(rng: random.Random) -> int | float:
    """A number whose reading or printing takes a converter's rarer paths: the limits of double precision,
    a long mantissa at any exponent, an integer wider than 64 bits."""
    choice = rng.randrange(3)
    if choice == 0:
        return rng.choice(EDGE_FLOATS) * rng.choice([1, -1])
    if choice == 1:
        return rng.uniform(-10, 10) * 10.0 ** rng.randint(-320, 300)
    return rng.randint(-(10**30), 10**30)


def _expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(["1", "2", "3", "10", "0", "7", "2.5", "x", "100"])
    operator = rng.choice(["+", "-", "*", "/", "%", "^"])
    left, right = _expression(rng, depth - 1), _expression(rng, depth - 1)
    text = f"{left}{operator}{right}"
    return f"({text})" if rng.random() < 0.3 else text


# ISO 2022 (ECMA-35): where a character set is designated (G0-G3; 94, 96 or 94x94 characters), and the
# shifts that invoke each register into GL or GR for one character or until the next shift
ISO2022_DESIGNATIONS = (
    (b"\x1b(", 0), (b"\x1b)", 1), (b"\x1b*", 2), (b"\x1b+", 3), (b"\x1b-", 1), (b"\x1b.", 2), (b"\x1b/", 3),
    (b"\x1b$", 0), (b"\x1b$(", 0), (b"\x1b$)", 1), (b"\x1b$*", 2), (b"\x1b$+", 3),
)  # fmt: skip
ISO2022_INVOCATIONS = {
    0: (b"\x0f",),
    1: (b"\x0e", b"\x1b~"),
    2: (b"\x1bN", b"\x1bn", b"\x1b}"),
    3: (b"\x1bO", b"\x1bo", b"\x1b|"),
}
# final bytes of registered sets: UK and US ASCII, and JIS X 0201's Roman and Katakana (the sets a decoder's
# tables most often name beside ASCII: figlet's jis0201.flc maps J and I)
ISO2022_FINALS = (b"A", b"B", b"J", b"I")
# GL bytes whose GR twins (+0x80) are Latin-1 letters most fonts have (Ä Ö Ü ä ö ü ß), then those GR bytes
ISO2022_TEXT = b"DV\\dv|_ x\xc4\xd6\xdc\xe4\xf6\xfc\xdf"


def iso2022_samples() -> list[bytes]:
    """Every designation of every register with each final byte, invoked by each of its shifts, then text in
    GL and GR and a return to ASCII: a decoder has a branch for each."""
    samples = []
    for designation, register in ISO2022_DESIGNATIONS:
        for final in ISO2022_FINALS:
            for shift in ISO2022_INVOCATIONS[register]:
                samples.append(designation + final + shift + ISO2022_TEXT + b"\x0f\x1b(B.\n")
    return samples


def utf8_sweeps() -> list[bytes]:
    """UTF-8 sequences of 2 to 6 bytes with every lead byte and every value of the byte after it, one line
    per lead byte (overlong forms included): a decoder's arithmetic on each byte position shows in the code
    points it makes, and a wrong sign or shift lands some of them on characters that print (E1 BF 81 is
    U+1FC1; read as 0x1000 - 0xFC0 + 1 it is 'A'). The lead bytes run over the whole range an old-style
    decoder accepts, C0 to FD, not only the ones strict UTF-8 allows: a decoder's range checks sit at
    those ends (C0 C1 is an overlong 'A' to a decoder that takes C0 as a lead byte, and nothing to one that
    does not)."""
    continuation = range(0x80, 0xC0)
    lengths = (
        (range(0xC0, 0xE0), b""),
        (range(0xE0, 0xF0), b"\x81"),
        (range(0xF0, 0xF8), b"\x80\x81"),
        (range(0xF8, 0xFC), b"\x80\x80\x81"),
        (range(0xFC, 0xFE), b"\x80\x80\x80\x81"),
    )
    sweeps = []
    for leads, tail in lengths:
        lines = [b"".join(bytes((lead, second)) + tail for second in continuation) + b"\n" for lead in leads]
        sweeps.append(b"".join(lines))
    return sweeps


# UTF-8 of each length, 2 to 6 bytes (the original definition's 5- and 6-byte forms too), whose 6-bit groups
# all differ and none is zero: a wrong shift, sign or mask on any byte of a decoder makes another code point
UTF8_SPREAD = b"\xc5\xa9 \xe5\x9a\xab \xf3\x9a\xab\x9c \xf9\x9a\xab\x9c\x8d \xfd\x9a\xab\x9c\x8d\xbe\n"
_UTF8_LEADS = ((0xE0, 0xC0, 2), (0xF0, 0xE0, 3), (0xF8, 0xF0, 4), (0xFC, 0xF8, 5), (0xFE, 0xFC, 6))


def utf8_code_points(data: bytes) -> list[int]:
    """The code points of the well-formed sequences in `data` by UTF-8's original definition (up to 6 bytes,
    overlong forms and surrogates decoded as written), each once, in order; ASCII and broken sequences left out.
    They are what a decoder of that definition makes of the bytes."""
    found: dict[int, None] = {}
    index = 0
    while index < len(data):
        lead = data[index]
        length = next((length for mask, value, length in _UTF8_LEADS if lead & mask == value), 1)
        tail = data[index + 1 : index + length]
        if length == 1 or len(tail) < length - 1 or any(byte & 0xC0 != 0x80 for byte in tail):
            index += 1
            continue
        value = lead & (0x7F >> length)
        for byte in tail:
            value = value << 6 | byte & 0x3F
        found.setdefault(value, None)
        index += length
    return list(found)


# byte sequences of the encodings and escape conventions a program's docs may name: a program that says it
# reads them has code for each (shifts, designations, multibyte lengths, invalid and cut-off sequences)
ENCODED_SAMPLES: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "iso2022": (
        ("iso 2022", "iso-2022", "iso2022"),
        (
            b"A\x1b(BB\x1b(0C\x1b(Bd\n",
            b"x\x1b$B\x30\x21\x30\x22\x1b(By\n",
            b"a\x1b$)A\x0e\x21\x21\x0fb\x1b$*Bc\x1bNa\x1bOb\n",
            b"\x1b-A\xe9\xe8\x1b.Bq\x1b~\x1bn\x1b}\x1bo|\x1b|\n",
            b"\x1b$(C\x21\x21\x1b$+D\x1b\n",
            *iso2022_samples(),
        ),
    ),
    "hz": (
        ("hz",),
        (b"ab~{\x30\x21\x30\x22~}cd~~e\n", b"~{<:Ky2;S{#,~}x~\ny~}~{\x21\n", b"~x~{~}~{\x7e\x7e\n"),
    ),
    "shift_jis": (
        ("shift-jis", "shift_jis", "sjis", "shift jis"),
        (b"\x82\xa0\x83A\x88\x9f\xb1z\n", b"a\x81\x40\xe0\xfc\x9f\n", b"\x82\n"),
    ),
    "dbcs": (("dbcs", "double-byte", "double byte"), (b"\x81\x40\xa4\xa4\xfe\xfe\x80\n", b"\xa1\xa1a\xa1\n")),
    "utf8": (
        ("utf-8", "utf8", "unicode"),
        (
            "héllo € 𝄞 ﬁ\n".encode(),
            b"\xf8\x88\x80\x80\x80a\xfc\x84\x80\x80\x80\x80b\n",
            b"\xc0\xaf\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80\n",
            # overlong forms of letters: unlike '/', every continuation byte carries bits of the code, so a
            # decoder that adds or shifts one of them wrongly shows it
            b"\xc1\x81\xe0\x81\x82\xf0\x80\x81\x83\xf8\x80\x80\x81\x84\xfc\x80\x80\x80\x81\x85\n",
            b"\xff\xfe\xe2\x82\n\xc3",
            *utf8_sweeps(),
        ),
    ),
    "latin1": (
        ("latin-1", "latin1", "8859", "iso-8859"),
        (bytes(range(0xA0, 0x100)) + b"\n", b"caf\xe9 \xdf\xfc\xe6\n"),
    ),
    "control": (
        ("control character", "carriage return", "crlf", "backspace", "escape sequence", "tab"),
        (b"a\r\nb\r\n", b"a\tb\t\tc\n", b"ab\x08\x08cd\x1b[1mB\x1b[0m\x07\n", b"x\x00y\n"),
    ),
}


def encodings_named(text: str) -> list[str]:
    """The encodings of ENCODED_SAMPLES a text names ("HZ" only as a word in capitals: "hz" is in too many
    words). Applied to the docs, and to a data file's own text (figlet's hz.flc says it sets HZ mode)."""
    lowered = text.lower()
    named: list[str] = []
    for name, (clues, _examples) in ENCODED_SAMPLES.items():
        hz_named = name == "hz" and re.search(r"\bHZ\b", text) is not None
        if hz_named or (name != "hz" and any(clue in lowered for clue in clues)):
            named.append(name)
    return named


def encoded_samples(text: str) -> list[bytes]:
    """Byte inputs in the encodings and escape conventions a text names."""
    return [sample for name in encodings_named(text) for sample in ENCODED_SAMPLES[name][1]]


def pair_chunks(width: int = 24) -> list[str]:
    """Printable ASCII in lines of `width` characters in which every ordered pair of characters occurs once
    (a de Bruijn sequence): text-transforming programs treat rare neighbors (`(` then `)`, `[` then `]`)
    by rules of their own."""
    alphabet = [chr(code) for code in range(33, 127)]
    size = len(alphabet)
    sequence: list[int] = []
    visited = [[False] * size for _ in range(size)]

    # Hierholzer's walk over the de Bruijn graph of order 2: nodes are characters, edges ordered pairs
    stack = [0]
    while stack:
        node = stack[-1]
        for following in range(size):
            if not visited[node][following]:
                visited[node][following] = True
                stack.append(following)
                break
        else:
            sequence.append(stack.pop())
    text = "".join(alphabet[index] for index in reversed(sequence))
    # consecutive lines overlap by one character, so that no pair is lost at a line end
    return [text[start : start + width] for start in range(0, len(text) - 1, width - 1)]
