"""Doc mining: a model of a program's command line from its --help output, man page and READMEs.

The parsers are heuristics tuned on real Debian programs (figlet, jq, GNU coreutils, sed, bc, mawk). They
never raise on odd text: whatever cannot be parsed is skipped, and the model holds what could be found.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, Field, model_validator

_T = TypeVar("_T")
_A = TypeVar("_A")

# Option lines deeper than this are sub-lists inside a description (figlet's "-1 Normal operation"), not options.
MAX_OPTION_INDENT = 8
MAX_DESCRIPTION_CHARS = 400
MAX_BLOCK_CHARS = 4000
MAX_VALUE_WORDS = 2

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OVERSTRIKE = re.compile(r".\x08")
_MAN_TITLE = re.compile(r"^\s*([\w.+-]+)\((\d\w*)\)\s")
_MAN_SECTION = re.compile(r"^[A-Z][A-Z0-9 ,/&()'-]{1,40}$")
_BULLETS = "○•·*●◦‣∙"
_OPTION_LINE = re.compile(rf"^(?P<indent> *)(?:(?P<bullet>[{re.escape(_BULLETS)}]) +)?(?P<body>--?[A-Za-z0-9?#].*)$")
_SPELLING = re.compile(
    r"^(?P<flag>--?[A-Za-z0-9?#][\w+-]*)"
    r"(?:\[=?(?P<optional>[^\]\s]*)\]|=(?P<equals>\S+))?"
    r"(?:\s+(?P<rest>.*))?$"
)
_PLACEHOLDER = re.compile(r"^[\w.:=/@%+,#-]+$")
_SPELLING_SEPARATOR = re.compile(r"\s*,\s*(?=-)|\s*/\s*(?=-)|\s+or\s+(?=-)")
_PROMPT = re.compile(r"^\s*[\w.@~:/-]*[$%]\s+(?P<command>\S.*)$")
_USAGE_START = re.compile(r"^\s*usage:\s*(?P<rest>\S.*)$", re.IGNORECASE)
_USAGE_OR = re.compile(r"^\s*or:\s*(?P<rest>\S.*)$")
_USAGE_TOKEN = re.compile(
    r"--?[\w?#][\w+-]*\[=?[^\]\s]*\]"  # an option with an attached optional value: --color[=WHEN], -i[SUFFIX]
    r"|'[^']*'|\"[^\"]*\"|\.\.\.|[\[\]{}|]"
    r"|(?:<[^>]*>|[^\s\[\]{}|<>'\"])+(?:\|(?:<[^>]*>|[^\s\[\]{}|<>'\"])+)*"  # words, "-u|--utc", "install|remove"
)
_GENERIC_POSITIONAL = re.compile(r"^(?:options?|option\(s\)|args?|-|--)$", re.IGNORECASE)
_QUOTED_WORD = re.compile(r"'([^'\s]{1,40})'|\"([^\"\s]{1,40})\"|`([^`'\s]{1,40})'")
_LIST_ITEM = re.compile(r"^(?:or |and )?([a-z0-9][\w+-]*)(?:\s*\(.*\)|\s+-\w)?$")
_SUBCOMMAND_ENTRY = re.compile(r"^ {1,8}([a-z][\w-]*)(?: {2,}| +-{1,2} +)\S")
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ";;", "(", ")"}
_REDIRECTS = {"<", ">", ">>", "<<", "<<<", ">&", "<&", "&>", ">|"}
# words that mark a line as a sentence, not a command line
_PROSE_TEXT = (
    "a an the is are was were be been can will may might must should would could to of and in that this which "
    "with by for as it its has have had not on from also only usually some such than these those there when "
    "where if but into your you we our their other any every each does do currently itself"
)
_PROSE_WORDS = frozenset(_PROSE_TEXT.split())


class OptionSpec(BaseModel):
    """One option of the command line: its spellings, its value(s), and what the docs say about it."""

    flags: list[str] = Field(description='short and long spellings of one option, e.g. ["-f", "--font"]')
    takes_value: bool = Field(default=False, description="always arity > 0")
    arity: int = Field(default=0, ge=0, description="values the option takes: 0 for flags, 2 for jq's --arg")
    value_optional: bool = Field(default=False, description="the value may be left off, e.g. --color[=WHEN]")
    value_hint: str | None = Field(default=None, description='the docs\' name for the value(s): "FILE", "name value"')
    choices: list[str] = Field(default_factory=list, description="values listed in the docs, e.g. always, never")
    description: str = Field(default="", description="the first paragraph the docs give the option")

    @model_validator(mode="after")
    def _arity_matches_takes_value(self) -> OptionSpec:
        # callers may set either field; keep the invariant takes_value == (arity > 0)
        if self.takes_value and self.arity == 0:
            self.arity = 1
        self.takes_value = self.arity > 0
        return self


class CliModel(BaseModel):
    """What the docs say about a program's command line: options, subcommands, operands and examples."""

    program: str
    summary: str = Field(default="", description="the man page's NAME line, e.g. 'jq - Command-line JSON processor'")
    options: list[OptionSpec] = Field(default_factory=list)
    subcommands: list[str] = Field(default_factory=list)
    positionals: list[str] = Field(default_factory=list, description='operand hints: "FILE", "message", "jq filter"')
    examples: list[list[str]] = Field(default_factory=list, description="argv (no program name) of doc examples")
    example_inputs: list[str] = Field(default_factory=list, description="literal inputs shown in the docs' examples")

    def option(self, flag: str) -> OptionSpec | None:
        """The option spelled `flag` (e.g. "-f" or "--font"), if the docs describe one."""
        return next((option for option in self.options if flag in option.flags), None)


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


@dataclass
class _Doc:
    lines: list[str]
    is_man_page: bool
    names: list[str]
    summary: str


def mine_docs(program: str, texts: list[str]) -> CliModel:
    """A CliModel of `program` from its docs (help output, man page text, READMEs); never raises on odd text."""
    read = [_safely(_read_doc, text) for text in texts if isinstance(text, str) and text.strip()]
    docs = [doc for doc in read if doc is not None]
    aliases = {program.lower(), program.rsplit("/", 1)[-1].lower()}
    for doc in docs:
        aliases.update(_usage_commands(doc.lines))
    docs = _own_docs(docs, aliases)
    summary = ""
    for doc in docs:
        if doc.is_man_page:
            aliases.update(doc.names)
            summary = summary or doc.summary

    definitions: list[_Definition] = []
    secondary_definitions: list[_Definition] = []
    usages: list[str] = []
    subcommands: list[str] = []
    examples: list[list[str]] = []
    inputs: list[str] = []
    for doc in docs:
        # each extractor is independent: one that trips on a doc must not cost the others
        statements = _safely(_usage_statements_of, (doc, aliases)) or []
        usages.extend(statements)
        # a README's option lists are often configure's ("--with-readline"): trust the man page and --help first
        primary = doc.is_man_page or bool(statements)
        (definitions if primary else secondary_definitions).extend(_safely(_option_definitions, doc.lines) or [])
        subcommands.extend(_safely(_subcommands, doc) or [])
        found_examples, found_inputs = _safely(_examples_of, (doc, aliases)) or ([], [])
        examples.extend(found_examples)
        inputs.extend(found_inputs)

    usage_definitions: list[_Definition] = []
    positionals: list[str] = []
    for statement in usages:
        findings = _safely(_parse_usage, statement) or _UsageFindings()
        usage_definitions.extend(findings.definitions)
        positionals.extend(findings.positionals)
        subcommands.extend(findings.literals)

    if not definitions:
        definitions = secondary_definitions
    all_text = "\n".join("\n".join(doc.lines) for doc in docs)
    options = _safely(_merge_all, (definitions + usage_definitions, all_text)) or []
    return CliModel(
        program=program,
        summary=summary,
        options=options,
        subcommands=_unique(subcommands),
        positionals=_unique(positionals),
        examples=_unique_lists(examples),
        example_inputs=_unique(inputs),
    )


def _safely(extract: Callable[[_A], _T], argument: _A) -> _T | None:
    try:
        return extract(argument)
    except Exception:  # the contract is "never raise on weird text"; a failed extractor contributes nothing
        return None


def _usage_statements_of(arguments: tuple[_Doc, set[str]]) -> list[str]:
    return _usage_statements(*arguments)


def _examples_of(arguments: tuple[_Doc, set[str]]) -> tuple[list[list[str]], list[str]]:
    doc, aliases = arguments
    # man pages set example code deeper than their body text (7 columns); shallower lines are prose or headings
    return _examples(doc.lines, aliases, min_bare_indent=MAX_OPTION_INDENT if doc.is_man_page else 0)


def _merge_all(arguments: tuple[list[_Definition], str]) -> list[OptionSpec]:
    return _merge(*arguments)


# ---------------------------------------------------------------------------------------------------------------
# Reading a doc: clean-up, man page structure


def _read_doc(text: str) -> _Doc:
    text = _OVERSTRIKE.sub("", _ANSI_ESCAPE.sub("", text)).replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for raw in text.split("\n"):
        line = raw.expandtabs(8).rstrip()
        # groff renders hyphens as U+2010; a trailing one is a hyphenation break, marked with a soft hyphen
        if line.endswith("\u2010"):
            line = line[:-1] + "\u00ad"
        lines.append(line.replace("\u2010", "-").replace("\u2212", "-").replace("\u2011", "-"))
    first = next((line for line in lines if line.strip()), "")
    is_man_page = _MAN_TITLE.match(first) is not None
    names: list[str] = []
    summary = ""
    if is_man_page:
        name_lines = _section(lines, "NAME")
        paragraph = " ".join(line.strip() for line in _first_paragraph(name_lines))
        head = re.split(r"\s+[-\u2014]\s+", paragraph, maxsplit=1)[0] if " - " in paragraph else ""
        names = [name.strip().lower() for name in head.split(",") if name.strip()]
        summary = paragraph
        if not names:
            title = _MAN_TITLE.match(first)
            names = [title.group(1).lower()] if title else []
    return _Doc(lines=lines, is_man_page=is_man_page, names=names, summary=summary.replace("\u00ad", ""))


def _section(lines: list[str], name: str) -> list[str]:
    start = next((i for i, line in enumerate(lines) if line == name), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if _MAN_SECTION.match(lines[i])), len(lines))
    return lines[start + 1 : end]


def _first_paragraph(lines: list[str]) -> list[str]:
    paragraph: list[str] = []
    for line in lines:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line)
    return paragraph


def _own_docs(docs: list[_Doc], aliases: set[str]) -> list[_Doc]:
    """Drop man pages of other commands (figlet's package also ships chkfont(6)), unless none is ours."""
    man_pages = [doc for doc in docs if doc.is_man_page]
    ours = [doc for doc in man_pages if aliases.intersection(doc.names)]
    if not ours:
        return docs
    return [doc for doc in docs if not doc.is_man_page or doc in ours]


def _usage_commands(lines: list[str]) -> set[str]:
    """Command names from "Usage: NAME ..." lines: how the program calls itself (mawk, when run as awk)."""
    names: set[str] = set()
    for line in lines:
        match = _USAGE_START.match(line)
        if match:
            command = match.group("rest").split()[0].rsplit("/", 1)[-1].lower()
            if re.fullmatch(r"[A-Za-z_][\w.+-]*", command):
                names.add(command)
    return names


# ---------------------------------------------------------------------------------------------------------------
# Option definitions: "-k, --key=KEYDEF  desc", "-f fontfile\n    desc", "○   --arg name value:"


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
            # "-x These options..." with a single space: the flag alone, the rest is prose
            first, _, prose = group.partition(" ")
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


# ---------------------------------------------------------------------------------------------------------------
# Usage lines and SYNOPSIS: "figlet [ -cklnoprstvxDELNRSWX ] [ -d fontdirectory ] ... [ message ]"


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


def _parse_items(tokens: list[str], index: int, closer: str | None) -> tuple[list[list[str | _Group]], int]:
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
        elif token in ("[", "{"):
            inner, index = _parse_items(tokens, index, "]" if token == "[" else "}")
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


# ---------------------------------------------------------------------------------------------------------------
# Examples: "example% figlet -f script", "$ echo '{"foo": 0}' | jq .", and jq's manual blocks


def _examples(lines: list[str], aliases: set[str], min_bare_indent: int) -> tuple[list[list[str]], list[str]]:
    examples: list[list[str]] = []
    inputs: list[str] = []
    in_fence = False
    for index, raw in enumerate(lines):
        line = raw.replace("\u00ad", "")
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        prompt = _PROMPT.match(line)
        if prompt:
            found = _example_from_pipeline(prompt.group("command"), aliases)
            if found is not None:
                examples.append(found[0])
                inputs.extend(found[1])
            continue
        words = line.split()
        if len(words) < 2 or words[0].rsplit("/", 1)[-1].lower() not in aliases:
            continue
        # code is set off from prose: indented (deeper than a man page's body text) or fenced in Markdown;
        # unindented lines like "sed (GNU sed) 4.9" or "bc 1.07.1" are banners
        if not in_fence and _indent(line) < max(min_bare_indent, 1):
            continue
        # jq's manual: "jq '.[] | length' [[1,2], "string"] => 2, 6" puts input and output on the command line
        inline = re.match(r"^\s*\S+\s+('[^']*'|\"[^\"]*\")\s+(.+?)\s+=>\s", line + " ")
        if inline:
            examples.append(shlex.split(inline.group(1)))
            inputs.append(inline.group(2))
            continue
        argv = _bare_example(line.split("=>")[0] if " => " in line else line)
        if argv is None:
            continue
        examples.append(argv)
        block_input = _block_input(lines, index)
        if block_input:
            inputs.append(block_input)
    return examples, inputs


def _example_from_pipeline(command: str, aliases: set[str]) -> tuple[list[str], list[str]] | None:
    if _has_placeholders(command):
        return None
    tokens = _shell_tokens(command)
    if tokens is None:
        return None
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in _SHELL_OPERATORS:
            segments.append([])
        else:
            segments[-1].append(token)
    for position, segment in enumerate(segments):
        if segment and segment[0].rsplit("/", 1)[-1].lower() in aliases:
            inputs: list[str] = []
            before = segments[position - 1] if position > 0 else []
            if len(before) >= 2 and before[0] == "echo" and not before[1].startswith("-"):
                inputs.append(" ".join(before[1:]))
            return _without_redirects(segment[1:]), inputs
    return None


def _bare_example(line: str) -> list[str] | None:
    if _has_placeholders(line) or _looks_like_prose(line):
        return None
    tokens = _shell_tokens(line.strip())
    if tokens is None or len(tokens) < 2 or tokens[1] in _SHELL_OPERATORS:
        return None
    if tokens[1] == "-" and len(tokens) > 3:
        return None  # a NAME line, "jq - Command-line JSON processor"
    argv: list[str] = []
    for token in tokens[1:]:
        if token in _SHELL_OPERATORS:
            break
        argv.append(token)
    return _without_redirects(argv)


def _block_input(lines: list[str], index: int) -> str:
    """The input lines under a jq-manual example: deeper-indented lines, then a "=> output" line."""
    indent = _indent(lines[index])
    collected: list[str] = []
    for line in lines[index + 1 : index + 40]:
        if line.strip().startswith("=>"):
            return "\n".join(collected)
        if not line.strip() or _indent(line) <= indent:
            return ""
        collected.append(line.strip())
    return ""


def _shell_tokens(command: str) -> list[str] | None:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return None


def _without_redirects(argv: list[str]) -> list[str]:
    kept: list[str] = []
    skip_next = False
    for token in argv:
        if skip_next:
            skip_next = False
            continue
        if token in _REDIRECTS:
            skip_next = True
            continue
        kept.append(token)
    return kept


def _has_placeholders(line: str) -> bool:
    """Usage notation ("[FILE]...", "<file>") or shell variables ("$FONT"): a template, not a runnable example."""
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", line)
    if re.search(r"\[|<\w|\.\.\.|\{", unquoted):
        return True
    return re.search(r"\$[\w{(]", re.sub(r"'[^']*'", "", line)) is not None


def _looks_like_prose(line: str) -> bool:
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", line)
    for word in unquoted.split()[1:]:
        if word.strip(".,;:()") in _PROSE_WORDS:
            return True
        if re.fullmatch(r"[A-Za-z]{2,}[,.;]", word):
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Subcommands: "Most used commands:\n  update - Retrieve...", git's "   clone     Clone a repository"


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


# ---------------------------------------------------------------------------------------------------------------
# Merging: one OptionSpec per option, whichever docs spelled it


def _merge(definitions: list[_Definition], all_text: str) -> list[OptionSpec]:
    literal_spellings = _literal_equals_values(definitions)
    merged: list[_Definition] = []
    owner: dict[str, _Definition] = {}
    for definition in definitions:
        if definition.value_hint and definition.flags:
            for flag in definition.flags:
                if (flag, definition.value_hint) in literal_spellings:
                    # "-p, --indicator-style=slash" beside "--indicator-style=WORD": a fixed spelling
                    definition.flags = [f"{f}={definition.value_hint}" if f == flag else f for f in definition.flags]
                    definition.arity, definition.value_hint = 0, None
        targets = _unique_by_id([owner[flag] for flag in definition.flags if flag in owner])
        if not targets:
            target = _Definition(flags=[])
            merged.append(target)
        else:
            target = targets[0]
            for other in targets[1:]:
                _absorb(target, other)
                merged.remove(other)
        _absorb(target, definition)
        for flag in target.flags:
            owner[flag] = target
    all_sentences = _sentences(all_text)
    options = []
    for definition in merged:
        _settle_sub_options(definition)
        flags = sorted(_unique(definition.flags), key=lambda flag: flag.startswith("--"))
        choices = _unique(definition.choices + _choices_from_text(definition, all_sentences))
        options.append(
            OptionSpec(
                flags=flags,
                arity=definition.arity,
                value_optional=definition.value_optional and definition.arity > 0,
                value_hint=definition.value_hint if definition.arity > 0 else None,
                choices=choices if definition.arity > 0 else [],
                description=definition.description,
            )
        )
    return options


def _settle_sub_options(definition: _Definition) -> None:
    """mawk's "-W dump", "-W exec file", "-W version"...: one option whose value picks a sub-option."""
    first_words = _unique(variant.split()[0] for variant in definition.variants if variant.split())
    if len(first_words) >= 3:
        definition.arity = 1
        definition.value_hint = definition.usage_hint or "option"
        definition.value_optional = False
        definition.choices = _unique(definition.choices + first_words)


def _absorb(target: _Definition, source: _Definition) -> None:
    target.flags = _unique(target.flags + source.flags)
    if source.from_usage:
        target.usage_hint = target.usage_hint or source.value_hint
    else:
        target.variants.extend(source.variants or ([source.value_hint] if source.value_hint else []))
    if source.arity > 0:
        # an option is optional-valued only if every doc that gives it a value says so
        target.value_optional = (
            source.value_optional if target.arity == 0 else (target.value_optional and source.value_optional)
        )
    target.arity = max(target.arity, source.arity)
    target.value_hint = _better_hint(target.value_hint, source.value_hint)
    target.description = target.description or source.description
    target.block = target.block or source.block
    target.choices = _unique(target.choices + source.choices)


def _better_hint(current: str | None, candidate: str | None) -> str | None:
    """The first hint found, unless it is terse ("a v") and the other one is not ("name value")."""
    if current is None or candidate is None:
        return current or candidate
    if all(len(word) == 1 for word in current.split()) and any(len(word) > 1 for word in candidate.split()):
        return candidate
    return current


def _literal_equals_values(definitions: list[_Definition]) -> set[tuple[str, str]]:
    """Long options given both a placeholder (WORD) and lowercase words (slash): the words are literals."""
    hints: dict[str, set[str]] = {}
    for definition in definitions:
        for flag in definition.flags:
            if flag.startswith("--") and definition.value_hint and definition.arity == 1:
                hints.setdefault(flag, set()).add(definition.value_hint)
    literals: set[tuple[str, str]] = set()
    for flag, values in hints.items():
        if len(values) > 1 and any(value.isupper() for value in values):
            literals.update((flag, value) for value in values if re.fullmatch(r"[a-z][a-z0-9-]*", value))
    return literals


def _choices_from_text(definition: _Definition, all_sentences: list[str]) -> list[str]:
    """Values the docs list for an option: "FMT='date' ... 'hours', or 'ns'", "WORD: none (-U), size (-S)"."""
    hint = definition.value_hint
    if not hint or definition.arity != 1:
        return []
    hint_word = re.escape(hint)
    found: list[str] = []
    for sentence in _sentences(definition.block):
        mentions_hint = re.search(rf"\b{hint_word}\b", sentence) is not None
        if mentions_hint or re.search(r"\bone of\b|\bcan be\b|\bmust be\b", sentence):
            quoted = _quoted_values(sentence)
            if len(quoted) >= 2:
                found.extend(quoted)
                continue
        if mentions_hint:
            found.extend(_listed_after(sentence, rf"\b{hint_word}\b[^:]*:"))
    if re.fullmatch(r"[A-Z][A-Z0-9_]+", hint):
        # GNU help explains uppercase hints once, below the options: "The WHEN argument defaults to 'always'..."
        for sentence in all_sentences:
            if re.search(rf"\bThe {hint_word} argument\b|\b{hint_word} (?:is one of|can be|must be)\b", sentence):
                quoted = _quoted_values(sentence)
                found.extend(quoted if len(quoted) >= 2 else _listed_after(sentence, r"\b(?:one of|can be|be)\b:?"))
    return found


def _quoted_values(sentence: str) -> list[str]:
    """Quoted words that could be option values: 'always', "auto"; not '--block-size=M' or '*'."""
    words = [next(group for group in match if group) for match in _QUOTED_WORD.findall(sentence)]
    return [word for word in words if re.fullmatch(r"[\w.+:@][\w.+:@=-]*", word)]


def _listed_after(sentence: str, lead: str) -> list[str]:
    match = re.search(lead, sentence)
    if match is None:
        return []
    items: list[str] = []
    for part in re.split(r",\s*|\s+or\s+", sentence[match.end() :].strip().rstrip(".;")):
        item = _LIST_ITEM.match(part.strip())
        if item is None:
            break
        items.append(item.group(1))
    return items if len(items) >= 2 else []


def _sentences(text: str) -> list[str]:
    flat = re.sub(r"\s+", " ", text)
    return [sentence for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z(])", flat) if sentence]


# ---------------------------------------------------------------------------------------------------------------
# Small helpers


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _join_lines(lines: Iterable[str]) -> str:
    text = ""
    for line in lines:
        if not line:
            text += "\n\n"
        elif text.endswith("\u00ad"):
            text = text[:-1] + line
        else:
            text += (" " if text and not text.endswith("\n") else "") + line
    return re.sub(r"[ \t]+", " ", text.replace("\u00ad", "")).strip()


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _unique_lists(items: Iterable[list[str]]) -> list[list[str]]:
    seen: set[tuple[str, ...]] = set()
    kept: list[list[str]] = []
    for item in items:
        key = tuple(item)
        if key not in seen:
            seen.add(key)
            kept.append(list(item))
    return kept


def _unique_by_id(items: list[_Definition]) -> list[_Definition]:
    kept: list[_Definition] = []
    for item in items:
        if all(item is not other for other in kept):
            kept.append(item)
    return kept
