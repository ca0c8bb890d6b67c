"""Usage lines, SYNOPSIS and subcommand lists: "figlet [ -cklnoprstvxDELNRSWX ] [ -d fontdirectory ] ..."."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twinbench.reference.docmodel.examples import _looks_like_prose
from twinbench.reference.docmodel.options import _Definition, _parse_option_line, _parse_spelling
from twinbench.reference.docmodel.reading import _Doc, _section, _usage_commands
from twinbench.reference.docmodel.text import (
    _GENERIC_POSITIONAL,
    _MAN_SECTION,
    _SUBCOMMAND_ENTRY,
    _USAGE_OR,
    _USAGE_START,
    _USAGE_TOKEN,
    _indent,
)


def _usage_statements(doc: _Doc, aliases: set[str]) -> list[str]:
    """Usage statements, each without its command name, from "Usage:" blocks and the SYNOPSIS section."""
    statements: list[str] = []
    if doc.is_man_page:
        _collect_statements(_section(doc.lines, "SYNOPSIS"), aliases, statements)
    index = 0
    while index < len(doc.lines):
        match = _USAGE_START.match(doc.lines[index])
        if match is None:
            index += 1
            continue
        block = [match.group("rest")]
        index += 1
        while index < len(doc.lines) and doc.lines[index].strip():
            block.append(doc.lines[index])
            index += 1
        _collect_statements(block, aliases | _usage_commands([f"usage: {block[0]}"]), statements)
    return statements


def _collect_statements(lines: list[str], aliases: set[str], statements: list[str]) -> None:
    current: list[str] | None = None
    current_indent = 0
    for line in lines:
        text = line.strip()
        or_match = _USAGE_OR.match(line)
        if or_match:
            text = or_match.group("rest")
        words = text.split()
        if not words:
            if current is not None:
                statements.append(" ".join(current))
                current = None
            continue
        command = words[0].rsplit("/", 1)[-1].lower()
        continues = current is not None and (_indent(line) > current_indent or text[0] in "[-<{'\"")
        if command in aliases and not _looks_like_prose(text):
            if current is not None:
                statements.append(" ".join(current))
            current, current_indent = [" ".join(words[1:])], _indent(line)
        elif current is not None and continues and _parse_option_line(line) is None:
            current.append(text)
        else:
            if current is not None:
                statements.append(" ".join(current))
            current = None
    if current is not None:
        statements.append(" ".join(current))


MAX_USAGE_DEPTH = 32


@dataclass
class _Group:
    """A bracketed part of a usage statement, with its |-separated alternatives."""

    opener: str
    alternatives: list[list[str | _Group]]

    def text(self) -> str:
        closer = {"[": "]", "{": "}"}[self.opener]
        inner = " | ".join(_items_text(alternative) for alternative in self.alternatives)
        return f"{self.opener}{inner}{closer}"


def _items_text(items: list[str | _Group]) -> str:
    # words are spaced, bracket groups hug their neighbours: "MMDDhhmm[[CC]YY][.ss]"
    text = ""
    for index, item in enumerate(items):
        spaced = index > 0 and isinstance(item, str) and isinstance(items[index - 1], str)
        text += (" " if spaced else "") + (item if isinstance(item, str) else item.text())
    return text


@dataclass
class _UsageFindings:
    definitions: list[_Definition] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)
    literals: list[str] = field(default_factory=list)  # "{update | upgrade | install pkg...}": subcommands


def _parse_usage(statement: str) -> _UsageFindings:
    tokens = _USAGE_TOKEN.findall(statement)
    alternatives, _ = _parse_items(tokens, 0, closer=None)
    findings = _UsageFindings()
    _walk_usage(alternatives, findings, in_group=False, literal_choice=len(alternatives) > 1)
    return findings


def _parse_items(
    tokens: list[str], index: int, closer: str | None, depth: int = 0
) -> tuple[list[list[str | _Group]], int]:
    alternatives: list[list[str | _Group]] = [[]]
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == closer:
            return alternatives, index
        if token in ("]", "}"):
            continue  # unbalanced closer: skip it rather than give up
        if token == "|":
            alternatives.append([])
        elif token in ("[", "{") and depth >= MAX_USAGE_DEPTH:
            continue  # no real usage line nests this deep; recursing on "[[[[..." would exhaust the stack
        elif token in ("[", "{"):
            inner, index = _parse_items(tokens, index, "]" if token == "[" else "}", depth + 1)
            alternatives[-1].append(_Group(token, inner))
        else:
            alternatives[-1].append(token)
    return alternatives, index


def _walk_usage(
    alternatives: list[list[str | _Group]], findings: _UsageFindings, in_group: bool, literal_choice: bool
) -> None:
    """Options, operands and literal words of a parsed usage statement (or of one bracket group in it)."""
    for items in alternatives:
        words = [item for item in items if isinstance(item, str) and item != "..."]
        if literal_choice and words and items[0] == words[0] and re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
            findings.literals.append(words[0])
            items = items[1:]
            words = words[1:]
        # "[ -d fontdirectory ]", "[-C <path>]": an option and its value alone in a bracket
        if in_group and len(items) == len(words) == 2 and _is_option_word(words[0]) and not _is_option_word(words[1]):
            spelling = _parse_spelling(f"{words[0]} {_clean_hint(words[1])}")
            if spelling is not None:
                hint = " ".join(spelling.values)
                findings.definitions.append(
                    _Definition(flags=[spelling.flag], arity=1, value_hint=hint, from_usage=True)
                )
            continue
        for item in items:
            if isinstance(item, _Group):
                if _group_has_option(item) or (item.opener == "{" and len(item.alternatives) > 1):
                    choice = item.opener == "{" and len(item.alternatives) > 1
                    _walk_usage(item.alternatives, findings, in_group=True, literal_choice=choice)
                else:
                    _add_positional(findings, item.text()[1:-1])
            elif "|" in item.strip("|"):
                _add_alternatives(findings, item.strip("|").split("|"))
            elif _is_option_word(item):
                findings.definitions.extend(_usage_option(item))
            elif item != "...":
                _add_positional(findings, item)


def _add_alternatives(findings: _UsageFindings, parts: list[str]) -> None:
    """Unspaced alternatives: date's "-u|--utc|--universal", apt-get's "install|remove"."""
    for part in parts:
        if _is_option_word(part):
            findings.definitions.extend(_usage_option(part))
        elif re.fullmatch(r"[a-z][a-z0-9-]*", part):
            findings.literals.append(part)
        else:
            _add_positional(findings, part)


def _add_positional(findings: _UsageFindings, text: str) -> None:
    hint = _clean_hint(text)
    if hint and not _GENERIC_POSITIONAL.match(hint):
        findings.positionals.append(hint)


def _group_has_option(group: _Group) -> bool:
    for alternative in group.alternatives:
        for item in alternative:
            if isinstance(item, _Group) and _group_has_option(item):
                return True
            if isinstance(item, str) and _is_option_word(item):
                return True
    return False


def _is_option_word(word: str) -> bool:
    return len(word) > 1 and word.startswith("-") and word != "--" and re.match(r"--?[\w?#]", word) is not None


def _usage_option(word: str) -> list[_Definition]:
    spelling = _parse_spelling(word)
    if spelling is None:
        return []
    flag = spelling.flag
    if not flag.startswith("--") and len(flag) > 2 and not spelling.values:
        # "-cklnoprstvxDELNRSWX": a cluster of one-letter flags
        return [_Definition(flags=[f"-{letter}"], from_usage=True) for letter in flag[1:] if letter.isalnum()]
    definition = _Definition(flags=[flag], from_usage=True)
    if spelling.values:
        definition.arity = 1
        definition.value_hint = spelling.values[0]
        definition.value_optional = spelling.optional
    return [definition]


def _clean_hint(text: str) -> str:
    text = text.strip().strip("'\"").strip()
    text = re.sub(r"\s*\.\.\.$", "", text).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text


def _subcommands(doc: _Doc) -> list[str]:
    found: list[str] = []
    inside = False
    misses = 0
    for line in doc.lines:
        if not line.strip():
            continue
        header = line == line.lstrip() and (
            (line.endswith(":") and re.search(r"\b(?:sub)?commands\b", line, re.IGNORECASE) is not None)
            or (doc.is_man_page and re.fullmatch(r"(?:SUB)?COMMANDS", line) is not None)
            or re.fullmatch(r"<(?:sub)?commands>", line, re.IGNORECASE) is not None  # 7-Zip's help
        )
        if header:
            inside, misses = True, 0
            continue
        if not inside:
            continue
        entry = _SUBCOMMAND_ENTRY.match(line)
        if entry:
            found.append(entry.group(1))
            misses = 0
            continue
        if doc.is_man_page and _MAN_SECTION.match(line):
            inside = False
            continue
        if line == line.lstrip():
            misses += 1
            if misses >= 2 or re.search(r"option", line, re.IGNORECASE):
                inside = False
    return found
