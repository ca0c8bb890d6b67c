"""Constants and small text helpers shared by the doc-mining stages."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
# "  intersect     Find ...", "  add -- add files", 7-Zip's "  a : Add files to archive"
_SUBCOMMAND_ENTRY = re.compile(r"^ {1,8}([a-z][\w-]*)(?: {2,}| +-{1,2} +| +: +)\S")
_SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ";;", "(", ")"}
_REDIRECTS = {"<", ">", ">>", "<<", "<<<", ">&", "<&", "&>", ">|"}
# words that mark a line as a sentence, not a command line
_PROSE_TEXT = (
    "a an the is are was were be been can will may might must should would could to of and in that this which "
    "with by for as it its has have had not on from also only usually some such than these those there when "
    "where if but into your you we our their other any every each does do currently itself"
)
_PROSE_WORDS = frozenset(_PROSE_TEXT.split())


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
