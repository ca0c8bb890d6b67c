"""Numbers the program's source compares with: the values where its limits and boundaries sit.

A check such as `if (maxlen > MAXLEN)` behaves one way up to a number and another way past it; an input
changes what it does only at that number, and a fault in the check (`>=` for `>`) shows only there. Coverage
cannot find such values (both sides of the boundary run the same lines), so testgen reads them from the
source package, as fuzzers build a dictionary from a program's constants, and tries each one and its
neighbours as option values and as numbers in data files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from twinbench.testgen.samples import small_text

SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".y", ".l", ".rs", ".go")
MAX_SOURCE_FILES = 2000
MAX_SOURCE_BYTES = 1_000_000
MAX_NUMBERS = 48
_NUMBER = r"(0[xX][0-9A-Fa-f]+|\d+)[uUlL]*"
# a number a condition compares with (`len > 255`, `255 < len`, `case 27:`), or a #define'd limit
_COMPARED = re.compile(rf"(?<![<>])(?:[<>]=?|[!=]=)\s*\(?\s*{_NUMBER}\b|\b{_NUMBER}\s*\)?\s*(?:[<>]=?|[!=]=)(?![<>=])")
_DEFINED = re.compile(rf"(?m)^[ \t]*#[ \t]*define[ \t]+\w+[ \t]+\(?{_NUMBER}\)?[ \t]*(?:/[*/].*)?$")
_CASE = re.compile(rf"\bcase\s+{_NUMBER}\s*:")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# values a generator tries anyway (0, 1, 2) or that mark bit widths rather than a program's own limits
_TRIVIAL = {0, 1, 2}


def source_numbers(tree: Path | None, limit: int = MAX_NUMBERS) -> list[int]:
    """The `limit` numbers the sources under `tree` compare with or define most often, most frequent first
    (ties: smaller first); empty when there is no tree."""
    if tree is None or not tree.is_dir():
        return []
    counts: Counter[int] = Counter()
    files = sorted(path for path in tree.rglob("*") if path.suffix in SOURCE_SUFFIXES and path.is_file())
    for path in files[:MAX_SOURCE_FILES]:
        text = small_text(path, MAX_SOURCE_BYTES)
        if text is not None:
            counts.update(numbers_in(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [value for value, _ in ranked[:limit]]


def numbers_in(text: str) -> list[int]:
    """Every compared, case-label or #define'd number in one source text (comments left out)."""
    code = _COMMENT.sub(" ", text)
    found: list[int] = []
    for pattern in (_COMPARED, _DEFINED, _CASE):
        for match in pattern.finditer(code):
            literal = next(group for group in match.groups() if group)
            value = int(literal, 16) if literal[:2].lower() == "0x" else int(literal)
            if value not in _TRIVIAL and value < 2**31:
                found.append(value)
    return found


def near(numbers: Sequence[int]) -> list[int]:
    """Each number with its two neighbours: the three values on which a boundary check can go wrong."""
    return [value + delta for value in numbers for delta in (-1, 0, 1)]
