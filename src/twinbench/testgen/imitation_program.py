"""The errors-only imitation's whole program: stdlib only, copied verbatim into the imitation's executable.

It knows what a lazy rebuild learns from a few probe runs of the reference: the exact replies to --help,
--version and a bare call, the documented options, and one error message per class (unknown option,
missing option value, missing file) as a template with the offending word substituted. Everything else
exits 0 with no output. The same `respond` predicts, in-process, which cases such an imitation passes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

WORD = "\x00WORD\x00"
Reply = tuple[int, bytes, bytes]


def respond(knowledge: dict[str, Any], args: list[str], exists: Callable[[str], bool] = os.path.exists) -> Reply:
    """What the imitation does for `args`: (exit status, stdout, stderr).

    Arguments are looked at byte by byte, as getopt does (each byte as one Latin-1 character)."""
    for argv, status, out, err in knowledge["exact"]:
        if argv == args:
            return status, _bytes(out), _bytes(err)
    args = [arg.encode("utf-8", errors="surrogateescape").decode("latin-1") for arg in args]
    longs: list[str] = knowledge["long"]
    index = 0
    positionals: list[str] = []
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positionals.extend(args[index:])
            break
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            full = _expand(name, longs)
            if full is None:
                return _fill(knowledge, "unknown_long", arg.split("=", 1)[0])
            alone = _exact_alone(knowledge, full)
            if alone is not None:
                return alone
            if full in knowledge["long_value"] and "=" not in arg:
                if index >= len(args):
                    return _fill(knowledge, "missing_value_long", full)
                index += 1
        elif arg.startswith("-") and len(arg) > 1:
            for position, letter in enumerate(arg[1:], start=1):
                if letter not in knowledge["short"]:
                    return _fill(knowledge, "unknown_short", "-" + letter)
                alone = _exact_alone(knowledge, "-" + letter)
                if alone is not None:
                    return alone
                if letter in knowledge["short_value"]:
                    if position == len(arg) - 1:
                        if index >= len(args):
                            return _fill(knowledge, "missing_value_short", "-" + letter)
                        index += 1
                    break
        else:
            positionals.append(arg)
    for arg in positionals:
        real = arg.encode("latin-1").decode("utf-8", errors="surrogateescape")
        if arg != "-" and "missing_file" in knowledge["templates"] and not exists(real):
            return _fill(knowledge, "missing_file", arg)
    return 0, b"", b""


def _expand(name: str, longs: list[str]) -> str | None:
    """The documented long option `name` stands for: itself, or the one option it is a prefix of."""
    if name in longs:
        return name
    matches = [option for option in longs if option.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def _exact_alone(knowledge: dict[str, Any], flag: str) -> Reply | None:
    """The probed reply to this flag alone, when it succeeded (--help, --version print and stop)."""
    for argv, status, out, err in knowledge["exact"]:
        if argv == [flag] and status == 0:
            return status, _bytes(out), _bytes(err)
    return None


def _fill(knowledge: dict[str, Any], kind: str, arg: str) -> Reply:
    template = knowledge["templates"].get(kind)
    if template is None:
        return 0, b"", b""
    word = arg.lstrip("-") if template["bare"] else arg
    return template["status"], _bytes(template["out"].replace(WORD, word)), _bytes(template["err"].replace(WORD, word))


def _bytes(text: str) -> bytes:
    return text.encode("latin-1")


def main(knowledge: dict[str, Any]) -> None:
    """Run as the imitation's executable."""
    status, out, err = respond(knowledge, sys.argv[1:])
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(status)


def program_text(knowledge: dict[str, Any]) -> str:
    """The imitation's executable: this module's source, then its knowledge and a call to main()."""
    with open(__file__, encoding="utf-8") as source:
        text = source.read()
    return f"#!/usr/bin/python3 -I\n{text}\n\nmain(json.loads({json.dumps(json.dumps(knowledge))}))\n"
