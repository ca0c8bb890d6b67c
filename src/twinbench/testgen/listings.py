"""Values an option lists itself: `-t TOOL  run a subtool (use '-t list' to list subtools)`.

Help texts often name the call that lists an option's values instead of the values (ninja's `-t list`,
`-d list`, `-w list`). Such a call is run once on the reference in the sandbox, and the first word of each
line of its answer that looks like a table row becomes one of the option's choices, which generation then
uses as its values like choices the docs list themselves.
"""

from __future__ import annotations

import re

from twinbench.formats import Task
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel
from twinbench.testgen.probe import run_probes

MAX_CHOICES = 40
# "use '-d list' to list modes", "(try --format=help to list them)", "see `-w list` for the list"
_LISTING_CALL = re.compile(
    r"(?:use|try|see|run)\s+['\"`]?(-{1,2}[\w-]+(?:[ =][\w-]+)?)['\"`]?\s+(?:to|for)\s+(?:the\s+)?list"
)
# a row: an optional indent, a word, then two spaces or a tab (or nothing more) before its description
_ROW = re.compile(r"^\s{0,12}([A-Za-z][\w.+-]{0,30})(?:\s{2,}|\t|$)")


def listing_calls(model: CliModel) -> dict[str, list[str]]:
    """Per option (its first flag), the argv its description says lists its values."""
    calls: dict[str, list[str]] = {}
    for option in model.options:
        if not option.takes_value or option.choices:
            continue
        match = _LISTING_CALL.search(option.description)
        if match is not None:
            calls[option.flags[0]] = re.split(r"[ =]", match.group(1), maxsplit=1)
    return calls


def listed_values(output: str) -> list[str]:
    """The first word of each row of a listing, in order; the heading line ("ninja subtools:") is not one."""
    values = [
        match.group(1)
        for line in output.splitlines()
        if (match := _ROW.match(line)) and not line.rstrip().endswith(":")
    ]
    return list(dict.fromkeys(values))[:MAX_CHOICES]


def with_listed_choices(
    task: Task, model: CliModel, sandbox: Sandbox, workers: int = 2, base_args: list[str] | None = None
) -> CliModel:
    """The model with the choices of every option whose docs name a listing call, from the reference's answer
    (each call after the base arguments generation starts every invocation with)."""
    calls = listing_calls(model)
    if not calls:
        return model
    answers = run_probes(task, {flag: [*(base_args or []), *argv] for flag, argv in calls.items()}, sandbox, workers)
    options = []
    for option in model.options:
        run = answers.get(option.flags[0])
        if run is not None:
            answer = (run.stdout + run.stderr).decode("utf-8", errors="replace")
            values = [value for value in listed_values(answer) if value != calls[option.flags[0]][-1]]
            if values:
                option = option.model_copy(update={"choices": values})
        options.append(option)
    return model.model_copy(update={"options": options})
