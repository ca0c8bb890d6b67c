"""Option definitions: "-k, --key=KEYDEF  desc", "-f fontfile\n    desc", "○   --arg name value:"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twinbench.reference.docmodel.reading import _first_paragraph
from twinbench.reference.docmodel.text import (
    _OPTION_LINE,
    _PLACEHOLDER,
    _SPELLING,
    _SPELLING_SEPARATOR,
    MAX_BLOCK_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_OPTION_INDENT,
    MAX_VALUE_WORDS,
    _indent,
    _join_lines,
    _unique,
)

BOOLEAN_DEFAULTS = ("false", "true")


@dataclass
class _Definition:
    """One option as one doc spells it, before options from all docs are merged."""

    flags: list[str]
    arity: int = 0
    value_optional: bool = False
    value_hint: str | None = None
    description: str = ""
    block: str = ""
    choices: list[str] = field(default_factory=list)
    from_usage: bool = False
    usage_hint: str | None = None
    variants: list[str] = field(default_factory=list)  # value hints of each line that defines the option


@dataclass
class _Spelling:
    flag: str
    values: list[str]
    optional: bool
    equals_value: str | None = None


def _option_definitions(lines: list[str]) -> list[_Definition]:
    definitions: list[_Definition] = []
    waiting_for_description: list[_Definition] = []  # "-c\n-l\n-r\n-x   These options..." share one description
    index = 0
    while index < len(lines):
        line = lines[index]
        parsed = _parse_option_line(line)
        if parsed is None:
            if line.strip():
                waiting_for_description = []
            index += 1
            continue
        indent, found, inline_description = parsed
        if _inside_prose_or_table(lines, index, indent):
            waiting_for_description = []
            index += 1
            continue
        block_lines = [inline_description] if inline_description else []
        index += 1
        while index < len(lines):
            following = lines[index]
            if following.strip():
                if _indent(following) <= indent or _parse_option_line(following) is not None:
                    break
                block_lines.append(following.strip())
                index += 1
                continue
            next_text = next((lines[later] for later in range(index, len(lines)) if lines[later].strip()), "")
            if not next_text or _indent(next_text) <= indent:
                break
            block_lines.append("")
            index += 1
        block = _join_lines(block_lines)[:MAX_BLOCK_CHARS]
        description = _join_lines(_first_paragraph(block_lines))[:MAX_DESCRIPTION_CHARS]
        for definition in found:
            definition.description, definition.block = description, block
        if description:
            for waiting in waiting_for_description:
                waiting.description, waiting.block = description, block
            waiting_for_description = []
        else:
            waiting_for_description.extend(found)
        definitions.extend(found)
    return definitions


def _inside_prose_or_table(lines: list[str], index: int, indent: int) -> bool:
    """A flag-like line that continues a sentence ("-seq may output...") or a table of values (cut's "-M")."""
    previous = lines[index - 1] if index > 0 else ""
    if previous.strip() and _indent(previous) == indent and _parse_option_line(previous) is None:
        return True
    earlier = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip() and _indent(lines[i]) <= indent), "")
    # cut --help lists ranges "N-   from N'th..." and "-M    from first...": a table, not options
    return (
        _indent(earlier) == indent
        and re.match(r"^ *[A-Z0-9%+_.,:-]{1,12} {2,}\S", earlier) is not None
        and (_parse_option_line(earlier) is None)
    )


def _parse_option_line(line: str) -> tuple[int, list[_Definition], str] | None:
    match = _OPTION_LINE.match(line)
    if match is None or len(match.group("indent")) > MAX_OPTION_INDENT:
        return None
    segments = re.split(r" {2,}", match.group("body").strip())
    spec = segments[0]
    rest = segments[1:]
    # bc prints "-h  --help   print this usage": a lone short flag, two spaces, then its long spelling
    if re.fullmatch(r"-\w", spec) and rest and rest[0].startswith("--"):
        spec = f"{spec}, {rest[0]}"
        rest = rest[1:]
    spec = spec.rstrip(":").strip()
    definitions: list[_Definition] = []
    for group in re.split(r"\s+and\s+(?=-)", spec):
        definition = _parse_spec(group)
        if definition is None:
            # "-x These options..." with a single space: the flag alone, the rest is prose; spellings joined by
            # commas stay together ("-h, --help[=false] help for gdu", as pflag's generated man pages write them)
            words = group.split(" ")
            count = 1
            while count < len(words) and words[count - 1].endswith(","):
                count += 1
            first, prose = " ".join(words[:count]), " ".join(words[count:])
            single = _parse_spec(first) if prose else None
            if single is None or len(definitions) > 0:
                return None
            rest = [prose, *rest]
            definition = single
        definitions.append(definition)
    return len(match.group("indent")), definitions, " ".join(rest)


def _parse_spec(spec: str) -> _Definition | None:
    """One option's spellings, e.g. "-c, --check, --check=diagnose-first" or "-Ldirectory / -L directory"."""
    spellings: list[_Spelling] = []
    for text in _SPELLING_SEPARATOR.split(spec):
        spelling = _parse_spelling(text.strip())
        if spelling is None:
            return None
        spellings.append(spelling)
    if not spellings:
        return None
    names = [spelling.flag for spelling in spellings]
    flags: list[str] = []
    for spelling in spellings:
        flag = spelling.flag
        if names.count(flag) > 1 and spelling.equals_value is not None:
            # "--check=quiet, --check=silent": literal spellings of one option, not a value placeholder
            flags.append(f"{flag}={spelling.equals_value}")
            spelling.values = []
            continue
        if _is_attached_variant(flag, names):
            continue  # "-Ldirectory" next to "-L directory" is the same option, value glued on
        flags.append(flag)
    valued = [spelling for spelling in spellings if spelling.values]
    definition = _Definition(flags=_unique(flags))
    if valued:
        widest = max(valued, key=lambda spelling: len(spelling.values))
        definition.arity = len(widest.values)
        definition.value_hint = " ".join(widest.values)
        definition.value_optional = all(spelling.optional for spelling in valued)
    elif any(_is_attached_variant(name, names) for name in names):
        attached = next(name for name in names if _is_attached_variant(name, names))
        definition.arity, definition.value_hint = 1, attached[2:]
    if definition.value_hint:
        definition.choices = _choices_in_hint(definition.value_hint)
    return definition


def _parse_spelling(text: str) -> _Spelling | None:
    match = _SPELLING.match(text)
    if match is None:
        return None
    flag = match.group("flag")
    if flag in {"-", "--"}:
        return None
    words = (match.group("rest") or "").split()
    if len(words) > MAX_VALUE_WORDS:
        return None
    values: list[str] = []
    optional = False
    for word in words:
        word = word.rstrip(",;:")
        if word.startswith("[") and word.endswith("]"):
            optional, word = True, word[1:-1]
        word = word.strip("<>").removesuffix("...")
        if not word or not _PLACEHOLDER.match(word):
            return None
        values.append(word)
    if match.group("optional") is not None:
        if match.group("optional") in BOOLEAN_DEFAULTS:
            # "--no-color[=false]": a switch whose man page shows its default, not a value to give
            return _Spelling(flag=flag, values=[], optional=False)
        optional = True
        values = [match.group("optional").strip("<>") or "VALUE"]
    equals_value = match.group("equals")
    if equals_value is not None:
        values = [equals_value.strip("<>")]
    return _Spelling(flag=flag, values=values, optional=optional, equals_value=equals_value)


def _is_attached_variant(flag: str, names: list[str]) -> bool:
    return not flag.startswith("--") and len(flag) > 2 and flag[:2] in names


def _choices_in_hint(hint: str) -> list[str]:
    """Values spelled inside a hint: "{always,never,auto}", "[always|never|auto]", "yes|no"."""
    inner = hint.strip("{}[]()")
    if "|" not in inner and ("," not in inner or not hint.startswith("{")):
        return []
    return [part.strip() for part in re.split(r"[|,]", inner) if re.fullmatch(r"[\w.+-]+", part.strip())]
