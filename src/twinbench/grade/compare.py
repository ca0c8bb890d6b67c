"""The one comparison function: does an observed stream match the expected one under a mode?"""

from __future__ import annotations

import difflib
import json
import re

from twinbench.formats import CompareMode

DIFF_MAX_LINES = 40
DIFF_MAX_CHARS = 4000
_WHITESPACE = re.compile(rb"\s+")


def normalize(data: bytes, mode: CompareMode) -> object:
    """The form in which two streams are compared under `mode`."""
    if mode == CompareMode.exact:
        return data
    if mode == CompareMode.rstrip_lines:
        return b"\n".join(line.rstrip() for line in data.rstrip().split(b"\n"))
    if mode == CompareMode.whitespace:
        return _WHITESPACE.sub(b" ", data).strip()
    if mode == CompareMode.sorted_lines:
        return sorted(data.splitlines())
    if mode == CompareMode.json:
        return _json_values(data)
    return None  # ignore


def streams_match(expected: bytes, actual: bytes, mode: CompareMode) -> bool:
    """True when `actual` is acceptable for `expected` under `mode`."""
    if mode == CompareMode.ignore:
        return True
    return normalize(expected, mode) == normalize(actual, mode)


def short_diff(expected: bytes, actual: bytes, label: str) -> str:
    """A unified diff (expected → actual) cut to a readable size."""
    before = expected.decode("utf-8", errors="replace").splitlines(keepends=True)
    after = actual.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = list(difflib.unified_diff(before, after, f"expected/{label}", f"actual/{label}", n=2))
    if not lines and expected != actual:
        lines = [
            f"--- expected/{label}\n",
            f"+++ actual/{label}\n",
            f"bytes differ: {expected[:60]!r} vs {actual[:60]!r}\n",
        ]
    clipped = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines[:DIFF_MAX_LINES]
    ]
    text = "".join(clipped)
    if len(lines) > DIFF_MAX_LINES or len(text) > DIFF_MAX_CHARS:
        text = text[:DIFF_MAX_CHARS] + f"... (diff cut; {len(lines)} lines in all)\n"
    return text


def first_difference_line(expected: bytes, actual: bytes) -> int:
    """1-based number of the first line that differs."""
    for number, (a, b) in enumerate(zip(expected.split(b"\n"), actual.split(b"\n"), strict=False), start=1):
        if a != b:
            return number
    return min(expected.count(b"\n"), actual.count(b"\n")) + 1


def _json_values(data: bytes) -> object:
    """All JSON values in a stream (jq prints several); unparsable text is compared as it is."""
    decoder = json.JSONDecoder()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    values: list[object] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return values
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return data
        values.append(value)
