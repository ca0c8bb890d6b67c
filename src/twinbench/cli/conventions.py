"""Conventions every command and group shares, applied once to the whole click tree.

Readable metavars (`TASK SUBMISSION`, not typer's `{task} {submission}`; PATH, N; nothing after a flag,
not `<bool>`) and `--version` beside `-h` on every command, so no command has to remember them, and a
command group added later (cli_*.py) gets them too.
"""

from __future__ import annotations

import copy
from typing import Any

import typer
from typer._click import Command, Parameter

HELP_NAMES = ["-h", "--help"]

# an option's Python type, as a user reads it in a usage line
_TYPE_METAVARS = {"Path": "PATH", "int": "N", "float": "NUMBER", "str": "TEXT"}


class ReadableArgument(typer.core.TyperArgument):
    """An argument shown as its metavar alone: `TASK` in the usage line, no type column in the help."""

    def _usage_display_name(self) -> str:
        return self.display_name_raw

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def polish(command: Command) -> None:
    """Give every command under `command` readable metavars, a quiet -h and the root's --version option."""
    root_version = next(param for param in command.params if "--version" in getattr(param, "opts", ()))
    # the same eager option on every command, but passing no value: the commands' functions take no `version`
    version = copy.copy(root_version)
    version.expose_value = False
    version.metavar = ""
    _walk(command, root_version, version)


def _walk(command: Command, root_version: Parameter, version: Parameter) -> None:
    for param in command.params:
        if isinstance(param, typer.core.TyperArgument):
            if param.metavar is None:
                param.metavar = (param.name or "ARG").upper() + ("..." if param.nargs != 1 else "")
            # typer builds its own argument class; the subclass only changes how the argument is displayed
            param.__class__ = ReadableArgument
        elif isinstance(param, typer.core.TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _TYPE_METAVARS.get(param.bare_type(), "TEXT")
    if root_version not in command.params and version not in command.params:
        command.params.append(version)
    # click makes the help option on first use and keeps it: make it now, with the names and no metavar
    help_option = command.get_help_option(typer.Context(command, help_option_names=HELP_NAMES))
    if help_option is not None:
        help_option.metavar = ""
    for child in getattr(command, "commands", {}).values():
        _walk(child, root_version, version)
