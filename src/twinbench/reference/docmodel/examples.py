"""Examples: "example% figlet -f script", "$ echo '{"foo": 0}' | jq .", and jq's manual blocks."""

from __future__ import annotations

import re
import shlex

from twinbench.reference.docmodel.model import DocScript
from twinbench.reference.docmodel.text import _PROMPT, _PROSE_WORDS, _REDIRECTS, _SHELL_OPERATORS, _indent


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
# Code blocks and example files: programs in the program's own language (bc's functions, sed scripts)

MAX_SCRIPT_CHARS = 16_000
MIN_CODE_SHARE = 0.6
# characters that prose seldom has and code in most languages has plenty of
_CODE_CHARACTERS = re.compile(r"[=(){};\[\]<>*+/\\|$^%&~]")
_COMMENT_MARKERS = ("#", "//", "--", ";", "%", "*")
# man page references ("chkfont(6)"), mail addresses and URLs: punctuation that is not code
_NOT_CODE = re.compile(r"\b[\w.+-]+\(\d\w*\)|<[^<>\s]+@[^<>\s]+>|\w+://\S+")
# files under examples/ that are no program input: build files, binaries' sources, outputs, archives
_NOT_SCRIPT = re.compile(
    r"(?:^|/)(?:Makefile[^/]*|README[^/]*|ChangeLog|COPYING|INSTALL)$|\.(?:c|h|cc|cpp|o|a|so|am|in|m4|mk|gz|xz|bz2"
    r"|zip|tar|png|jpg|gif|pdf|html?)$",
    re.IGNORECASE,
)


def _code_blocks(lines: list[str], aliases: set[str], source: str) -> list[DocScript]:
    """Blocks set deeper than the prose that introduces them and made mostly of code-like lines."""
    blocks: list[DocScript] = []
    index = 0
    while index < len(lines):
        lead = lines[index]
        fenced = lead.lstrip().startswith("```")
        if not fenced and (not lead.strip() or index + 1 >= len(lines)):
            index += 1
            continue
        body: list[str] = []
        if fenced:
            index += 1
            while index < len(lines) and not lines[index].lstrip().startswith("```"):
                body.append(lines[index])
                index += 1
            index += 1
        else:
            lead_indent = _indent(lead)
            following = index + 1
            while following < len(lines):
                line = lines[following]
                if line.strip() and _indent(line) <= lead_indent:
                    break
                if not line.strip():
                    later = next((text for text in lines[following:] if text.strip()), "")
                    if not later or _indent(later) <= lead_indent:
                        break
                body.append(line)
                following += 1
            index_after_lead = index + 1
            # an option line and its description; a word hyphenated across lines ("imple-\nment")
            if not body or lead.lstrip().startswith("-") or lead.endswith("\u00ad"):
                index += 1
                continue
            index = following
        script = _as_script(body, aliases)
        if script is not None:
            blocks.append(DocScript(source=source, text=script))
        elif not fenced:
            index = index_after_lead  # not code as a whole: a deeper block inside may still be
    return blocks


def _as_script(body: list[str], aliases: set[str]) -> str | None:
    """The dedented text of a block, if it is code and not a shell session (those are examples already)."""
    code = [line.replace("\u00ad", "") for line in body]
    filled = [line for line in code if line.strip()]
    if not filled:
        return None
    if any(_PROMPT.match(line) or line.split()[0].rsplit("/", 1)[-1].lower() in aliases for line in filled):
        return None
    piped = re.compile(r"(?:\||\$\(|`)\s*(?:\S*/)?(?:" + "|".join(map(re.escape, sorted(aliases))) + r")\b")
    if aliases and any(piped.search(line) for line in filled):
        return None  # a shell line that runs the program: "pi=$(echo ... | bc -l)"
    if sum(1 for line in filled if re.match(r"\s*\[ ?-", line)) * 2 > len(filled):
        return None  # a SYNOPSIS continued: usage notation, "[-l N] [--line-length=N]"
    lines = _without_comments(filled)
    if not lines:
        return None
    code_like = [line for line in lines if _is_code_line(line)]
    if len(code_like) < MIN_CODE_SHARE * len(lines):
        return None
    margin = min(_indent(line) for line in filled)
    if any(_indent(line) == margin and _looks_like_prose(line) for line in lines):
        return None  # prose at the block's own margin: a section of text with some code in it, not a block
    text = "\n".join(line[margin:].rstrip() for line in code).strip("\n") + "\n"
    return text if len(text) <= MAX_SCRIPT_CHARS else None


def _without_comments(lines: list[str]) -> list[str]:
    """The lines that are not comments ("/* ... */", "# ...", "// ..."): comments are prose inside code."""
    kept: list[str] = []
    in_comment = False
    for line in lines:
        text = line.strip()
        if in_comment or text.startswith("/*"):
            in_comment = "*/" not in text
            continue
        if not text.startswith(_COMMENT_MARKERS):
            kept.append(line)
    return kept


def _is_code_line(line: str) -> bool:
    return _CODE_CHARACTERS.search(_NOT_CODE.sub("", line)) is not None and not _looks_like_prose(line)


def script_files(files: dict[str, str]) -> list[DocScript]:
    """Example files that are programs or inputs (bc's .b files, sed's dc.sed), not build files or archives."""
    scripts = []
    for name, text in sorted(files.items()):
        if _NOT_SCRIPT.search(name) or not text.strip() or len(text) > MAX_SCRIPT_CHARS or "\0" in text:
            continue
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else ""
        scripts.append(DocScript(source=name, text=text, suffix=suffix))
    return scripts
