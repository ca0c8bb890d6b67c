"""Seeds in the program's own language: the upstream test suite's invocations and the docs' example programs.

Each seed carries its origin ("upstream:tests/jq.test", "docs:docs/examples/pi.b", "docs:man#0"), which
tests/testgen.json reports per source, so a reader can see where a suite's core cases came from.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable

from twinbench.reference.docmodel import CliModel, DocScript, OptionSpec
from twinbench.reference.upstream_tests import UpstreamSeed
from twinbench.testgen.grammar import Grammar
from twinbench.testgen.record import CaseSpec

MAX_ARGUMENT_SCRIPT_CHARS = 2000
MAX_STDIN_BYTES = 65536
SCRIPT_WORDS = ("script", "program", "prog", "filter", "expression", "source")
SCRIPT_FILE_NAME = "prog"

# the slots of an invocation a program's language can live in
SLOT_ARGUMENT = "argument"
SLOT_STDIN = "stdin"
SLOT_FILE = "file"


def script_file_option(model: CliModel) -> OptionSpec | None:
    """The option that reads a program from a file: sed's `-f script-file`, awk's `-f progfile`, jq's
    `--from-file`; named by the docs' words for its value or description, never by program."""
    for option in model.options:
        if option.arity != 1:
            continue
        words = f"{option.value_hint or ''} {option.description}".lower()
        if "file" in words and any(word in words for word in SCRIPT_WORDS):
            return option
    return None


def script_value_flags(model: CliModel) -> list[str]:
    """Spellings of the options whose value is itself a program: sed's `-e script`, `--expression=script`
    (a value named by a script word, not a file); awk's `-v var=value` and jq's `--arg name value` are not."""
    flags: list[str] = []
    for option in model.options:
        hint = (option.value_hint or "").lower()
        if option.arity == 1 and any(word in hint for word in SCRIPT_WORDS) and "file" not in hint:
            flags.extend(option.flags)
    return flags


def takes_script_operand(model: CliModel) -> bool:
    """Does the first operand hold a program (sed's script, jq's filter, awk's program-text)?"""
    return any(any(word in hint.lower() for word in SCRIPT_WORDS) for hint in model.positionals[:1])


def takes_file_operand(model: CliModel) -> bool:
    """Do the operands name input files (bc's `file ...`)?"""
    return any("file" in hint.lower() for hint in model.positionals)


def upstream_specs(seeds: Iterable[UpstreamSeed]) -> list[CaseSpec]:
    """The upstream tests' invocations as specs, each tagged with the file it came from."""
    return [
        CaseSpec(
            id=f"u{number}",
            argv=seed.argv,
            stdin=seed.stdin[:MAX_STDIN_BYTES],
            files=seed.files,
            origin=seed.source,
        )
        for number, seed in enumerate(seeds)
    ]


def doc_script_specs(model: CliModel, rng: random.Random) -> list[CaseSpec]:
    """Each example program of the docs run the ways the docs say programs are given: through the script-file
    option, as the script operand, as a file operand, or on stdin when the program has none of these."""
    option = script_file_option(model)
    script_operand = takes_script_operand(model)
    file_operand = takes_file_operand(model)
    inputs = model.example_inputs
    specs: list[CaseSpec] = []
    for number, script in enumerate(model.example_scripts):
        origin = f"docs:{script.source}"
        name = _file_name(script, number)
        content = script.text.encode("utf-8", errors="surrogateescape")
        stdin = rng.choice(inputs).encode() + b"\n" if inputs else b""
        if option is not None:
            specs.append(CaseSpec(id="", argv=[option.flags[0], name], stdin=stdin, files={name: content}))
        if script_operand and len(script.text) <= MAX_ARGUMENT_SCRIPT_CHARS:
            specs.append(CaseSpec(id="", argv=[script.text.rstrip("\n")], stdin=stdin))
        if (file_operand or script_operand) and option is None:
            # an interpreter's "script" operand is a file (`luajit script.lua`), an awk's is the program text:
            # the docs do not say which, so both are tried
            specs.append(CaseSpec(id="", argv=[name], files={name: content}))
        if option is None:
            # and an interpreter called bare reads its program on stdin
            specs.append(CaseSpec(id="", argv=[], stdin=content[:MAX_STDIN_BYTES]))
        for spec in specs[-4:]:
            spec.origin = spec.origin or origin
    return [spec.model_copy(update={"id": f"d{number}"}) for number, spec in enumerate(specs)]


def _file_name(script: DocScript, number: int) -> str:
    if script.source.startswith("docs/"):
        name = script.source.rsplit("/", 1)[-1]
        if re.fullmatch(r"[\w.+-]+", name):
            return name
    return f"{SCRIPT_FILE_NAME}{number}{script.suffix}"


DATA_FILES = "data files"
ENCODINGS = "encodings"
# origin kinds whose inputs are made systematically, one form at a time (a damaged copy of a data file, text
# in one encoding): the origin names the form after a colon (`data files:cr`, `encodings:hz`)
FORM_KINDS = (DATA_FILES, ENCODINGS)


def input_form(origin: str) -> str | None:
    """The form a systematic input was made in (`data files:cr` for a font with CR line ends), or None."""
    kind, _, form = origin.partition(":")
    return origin if kind in FORM_KINDS and form else None


SWITCH_FORM_PREFIX = f"{DATA_FILES}:with "


def switch_form(switch: str) -> str:
    """The origin of a data file run with one switch added (`data files:with -L`); exploration compares its
    output with the same run without the switch (explore.Explorer)."""
    return SWITCH_FORM_PREFIX + switch


def switch_of(origin: str) -> str | None:
    """The switch a `switch_form` origin names, or None."""
    return origin.removeprefix(SWITCH_FORM_PREFIX) if origin.startswith(SWITCH_FORM_PREFIX) else None


THRESHOLDS = "thresholds"
# threshold sweep values swept and kept whatever their neighbours did: sources compare with 0 and 1 everywhere,
# so those are no source numbers, yet they are edges of their own (figlet's -w 1 means no limit)
SMALL_EDGE_VALUES = range(-1, 3)


def threshold_origin(group: str, value: int) -> str:
    """The origin of one run of a threshold sweep: `group` names what varies (`-w`, `-f standard.flf header
    number 3`) and `value` what it was set to; the other arguments of a group stay the same."""
    return f"{THRESHOLDS}:{group}={value}"


def threshold_of(origin: str) -> tuple[str, int] | None:
    """The group and value of a threshold_origin, or None."""
    kind, _, rest = origin.partition(":")
    group, _, value = rest.rpartition("=")
    if kind != THRESHOLDS or not group or not value.lstrip("-").isdigit():
        return None
    return group, int(value)


def origin_kind(origin: str) -> str:
    """The coarse kind of an origin, for counting: upstream, docs, grammar, mutation or synthesized."""
    return origin.split(":", 1)[0] if origin else "synthesized"


def seed_sources(specs: Iterable[CaseSpec]) -> dict[str, int]:
    """How many seeds each source gave, the most productive first."""
    return dict(Counter(spec.origin for spec in specs if spec.origin).most_common())


class Grammars:
    """One grammar per slot of an invocation, learned from the language seeds."""

    def __init__(
        self,
        specs: Iterable[CaseSpec],
        option_arity: dict[str, int] | None = None,
        script_operand: bool = True,
        script_flags: Iterable[str] = (),
        script_value_flags: Iterable[str] = (),
        names: Iterable[str] = (),
    ) -> None:
        # values of options are not programs (mawk's "-v var=1", "-W version"), and only the first operand is
        # one, when the docs say the program takes its program there and no script file is given
        self.option_arity = option_arity or {}
        self.script_operand = script_operand
        self.script_flags = frozenset(script_flags)
        self.script_value_flags = frozenset(script_value_flags)
        texts: dict[str, list[str]] = {SLOT_ARGUMENT: [], SLOT_STDIN: []}
        for spec in specs:
            texts[SLOT_ARGUMENT].extend(spec.argv[index] for index in self.script_positions(spec))
            if spec.stdin:
                texts[SLOT_STDIN].append(spec.stdin.decode("utf-8", errors="surrogateescape"))
            for name, data in spec.files.items():
                texts.setdefault(_file_slot(name), []).append(data.decode("utf-8", errors="surrogateescape"))
        # the builtins the docs list go into the program's slots, never into data: a name is no JSON or text
        builtins = list(names)
        self.by_slot = {
            slot: Grammar.learn(found, builtins if slot != SLOT_STDIN or not self.script_operand else [])
            for slot, found in texts.items()
            if found
        }

    @property
    def empty(self) -> bool:
        """No language seeds: grammar mutation has nothing to work from."""
        return not self.by_slot

    def mutate(self, spec: CaseSpec, rng: random.Random) -> CaseSpec | None:
        """A grammar mutant of one language slot of `spec`, or None if it has none this knows."""
        slots: list[tuple[str, str | int]] = []
        if SLOT_STDIN in self.by_slot and spec.stdin:
            slots.append((SLOT_STDIN, 0))
        slots.extend((_file_slot(name), name) for name in sorted(spec.files) if _file_slot(name) in self.by_slot)
        if SLOT_ARGUMENT in self.by_slot:
            slots.extend((SLOT_ARGUMENT, index) for index in self.script_positions(spec))
        if not slots:
            return None
        slot, where = rng.choice(slots)
        grammar = self.by_slot[slot]
        if slot == SLOT_STDIN:
            text = grammar.mutate(spec.stdin.decode("utf-8", errors="surrogateescape"), rng)
            return spec.model_copy(update={"stdin": _encode(text)[:MAX_STDIN_BYTES]})
        if slot.startswith(SLOT_FILE):
            name = str(where)
            text = grammar.mutate(spec.files[name].decode("utf-8", errors="surrogateescape"), rng)
            return spec.model_copy(update={"files": {**spec.files, name: _encode(text)}})
        argv = list(spec.argv)
        index = int(where)
        argv[index] = grammar.mutate(argv[index], rng)[:MAX_ARGUMENT_SCRIPT_CHARS] or argv[index]
        return spec.model_copy(update={"argv": argv})

    def script_positions(self, spec: CaseSpec) -> list[int]:
        """The indices of the arguments that hold a program: the values of script-valued options (sed's
        `-e s/a/b/`), else the first operand (not an option, an option's value or a file), when the program
        takes one there and no script-file option is given."""
        values = [
            index + 1
            for index, arg in enumerate(spec.argv[:-1])
            if arg in self.script_value_flags and is_script_like(spec.argv[index + 1])
        ]
        if values:
            return values
        if not self.script_operand or any(arg.split("=")[0] in self.script_flags for arg in spec.argv):
            return []
        skip = 0
        for index, arg in enumerate(spec.argv):
            if skip:
                skip -= 1
            elif arg.startswith("-") and arg != "-":
                skip = self.option_arity.get(arg, 0)
            else:
                return [index] if is_script_like(arg) and arg not in spec.files else []
        return []


def _file_slot(name: str) -> str:
    """Files of one suffix share a grammar: awk programs (.awk) are not data (.dat), nor C sources (.c)."""
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return f"{SLOT_FILE}:{suffix}"


def option_arity(model: CliModel) -> dict[str, int]:
    """How many values each spelling of each documented option takes (a glued "--opt=value" takes none)."""
    return {flag: option.arity for option in model.options for flag in option.flags}


def is_script_like(arg: str) -> bool:
    """An argument that may be a program ("3q", "s/a/b/", ".[] | length"): anything but an option."""
    return bool(arg) and not arg.startswith("-")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")
