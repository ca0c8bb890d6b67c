"""Reading a doc: clean-up of rendered text, man page structure, which docs are the program's own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinbench.reference.docmodel.text import _ANSI_ESCAPE, _MAN_SECTION, _MAN_TITLE, _OVERSTRIKE, _USAGE_START


@dataclass
class _Doc:
    lines: list[str]
    is_man_page: bool
    names: list[str]
    summary: str


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
