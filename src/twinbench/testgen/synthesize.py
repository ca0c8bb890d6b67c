"""Synthesis stage: invocations made from the doc model, seeds first, then mutations of interesting ones.

The two entry points are the seams for richer generators: `Synthesizer.seeds()` yields the starting
inputs (doc examples, the language seeds of testgen/seeds.py, options alone and in pairs, error paths) and
`Synthesizer.mutate()` varies a kept input, through the grammar learned from the language seeds or
`inputs.mutate_text`.
"""

from __future__ import annotations

import gzip
import io
import itertools
import random
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.explore import Candidate
from twinbench.testgen.inputs import InputKind, generate, mutate_bytes, mutate_text, value_for_hint
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.seeds import Grammars, option_arity, script_file_option, takes_script_operand

MAX_PAIRS = 600
DOC_COMMAND_LINES = "docs:command lines"
SAMPLES = "samples:format files"
SAMPLE_SUBCOMMANDS = 12
GRAMMAR_SHARE = 0.5  # of mutations, when the language seeds gave a grammar
CASE_TIMEOUT_S = 10.0
INPUT_FILE = "in.txt"


class Synthesizer:
    """Makes invocations from the doc model: seeds first, then mutations of interesting ones."""

    def __init__(
        self,
        model: CliModel,
        rng: random.Random,
        kinds: list[InputKind],
        vocabulary: list[str],
        data_files: list[tuple[str, bytes]],
        language: list[CaseSpec] | None = None,
        samples: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.model = model
        self.samples = samples or []
        self.language = language or []
        script_option = script_file_option(model)
        self.grammars = Grammars(
            self.language,
            option_arity(model),
            script_operand=takes_script_operand(model),
            script_flags=script_option.flags if script_option else (),
        )
        self.rng = rng
        self.kinds = kinds
        self.vocabulary = vocabulary
        self.texts = [*model.example_inputs]
        self.data_files = data_files
        self._pending_files: dict[str, bytes] = {}
        self.counter = 0

    def seeds(self) -> Iterable[CaseSpec]:
        """Doc examples, each option alone, option pairs, plain inputs and error paths."""
        yield from self._interleaved([self._doc_command_lines(), *_by_origin(self.language)])
        for _ in range(3):
            yield self._spec(self._positionals())
        yield from self._sample_seeds()
        for kind in self.kinds:
            for _ in range(3):
                yield self._spec([], stdin=generate(kind, self.rng))
        for option in self.model.options:
            for _ in range(3 if option.takes_value else 1):
                yield self._spec([*self._use(option), *self._positionals()])
                yield self._spec(self._use(option), stdin=self._input())
        yield from self._errors()
        pairs = list(itertools.combinations(self.model.options, 2))
        self.rng.shuffle(pairs)
        for first, second in pairs[:MAX_PAIRS]:
            yield self._spec([*self._use(first), *self._use(second), *self._positionals()])
        for first, second, third in itertools.islice(itertools.combinations(self.model.options, 3), MAX_PAIRS):
            if self.rng.random() < 0.1:
                yield self._spec([*self._use(first), *self._use(second), *self._use(third), *self._positionals()])

    def _sample_seeds(self) -> Iterator[CaseSpec]:
        """Each sample file of the program's formats as its operand, after a subcommand or an option, and on stdin."""
        options = [option for option in self.model.options if not option.takes_value]
        for number, (source, content) in enumerate(self.samples):
            name = f"sample{number}{''.join(Path(source).suffixes[-2:])}"
            files = {name: content}
            yield self._spec([name], inherited=files, origin=SAMPLES)
            stdin = content.decode("utf-8", errors="surrogateescape")
            yield self._spec([], stdin=stdin, origin=SAMPLES)
            for subcommand in self.model.subcommands[:SAMPLE_SUBCOMMANDS]:
                # samtools view, seqtk seq, bedtools sort: a subcommand program reads its files after the subcommand
                yield self._spec([subcommand, name], inherited=files, origin=SAMPLES)
            for option in options[number % max(1, len(options)) :][:3]:
                yield self._spec([self.rng.choice(option.flags), name], inherited=files, origin=SAMPLES)
                yield self._spec([self.rng.choice(option.flags)], stdin=stdin, origin=SAMPLES)

    def _doc_command_lines(self) -> Iterator[CaseSpec]:
        for example in self.model.examples:
            yield self._spec(list(example), origin=DOC_COMMAND_LINES)
            yield self._spec(list(example), stdin=self._input(), origin=DOC_COMMAND_LINES)

    def _interleaved(self, sources: list[Iterator[CaseSpec]]) -> Iterator[CaseSpec]:
        """One seed from each source in turn: a short budget (jq's coverage build runs slowly) still samples
        every test file and the docs, instead of spending itself on whichever source comes first."""
        active = list(sources)
        while active:
            for source in list(active):
                spec = next(source, None)
                if spec is None:
                    active.remove(source)
                    continue
                if spec.origin != DOC_COMMAND_LINES:
                    self.counter += 1
                    spec = spec.model_copy(update={"id": f"c{self.counter}", "timeout_s": CASE_TIMEOUT_S})
                yield spec

    def mutate(self, parent: Candidate, donors: list[CaseSpec]) -> CaseSpec:
        """A variation of a kept input: its options, values, arguments, stdin or files; for an input in the
        program's language, often a grammar mutant of it (testgen/grammar.py)."""
        spec = parent.spec
        if not self.grammars.empty and self.rng.random() < GRAMMAR_SHARE:
            mutant = self.grammars.mutate(spec, self.rng)
            if mutant is not None:
                self.counter += 1
                return mutant.model_copy(update={"id": f"c{self.counter}", "origin": "grammar"})
        argv = list(spec.argv)
        stdin = spec.stdin.decode("utf-8", errors="replace")
        choice = self.rng.randrange(8)
        if choice == 0 and self.model.options:
            position = self.rng.randint(0, len(argv))
            argv[position:position] = self._use(self.rng.choice(self.model.options))
        elif choice == 1 and argv:
            del argv[self.rng.randrange(len(argv))]
        elif choice == 2 and argv:
            index = self.rng.randrange(len(argv))
            argv[index] = mutate_text(argv[index], self.rng, self.vocabulary) or argv[index]
        elif choice == 3 and donors:
            donor = self.rng.choice(donors)
            argv = argv[: self.rng.randint(0, len(argv))] + donor.argv[self.rng.randint(0, len(donor.argv)) :]
        elif choice == 4:
            stdin = mutate_text(stdin, self.rng, [d.stdin.decode("utf-8", "replace") for d in donors[-50:]])
        elif choice == 5:
            stdin = self._input()
        elif choice == 6 and spec.files:
            files = dict(spec.files)
            name = self.rng.choice(sorted(files))
            files[name] = mutate_bytes(files[name], self.rng)
            return self._spec(argv, stdin=stdin, inherited=files, origin="mutation")
        elif choice == 6 and argv:
            index = self.rng.randrange(len(argv))
            argv[index] = value_for_hint(None, self.rng, self.vocabulary)
        else:
            argv = [*self._use(self.rng.choice(self.model.options)), *argv] if self.model.options else argv
        return self._spec(argv, stdin=stdin, inherited=spec.files, origin="mutation")

    def _use(self, option: OptionSpec) -> list[str]:
        flag = self.rng.choice(option.flags)
        if not option.takes_value:
            return [flag]
        hint = (option.value_hint or "").lower()
        if ("file" in hint or "path" in hint) and self.data_files and self.rng.random() < 0.6:
            return [flag, self._data_file_argument(option.description)]
        values = [
            value_for_hint(option.value_hint, self.rng, option.choices or self.vocabulary)
            for _ in range(max(1, getattr(option, "arity", 1)))
        ]
        if flag.startswith("--") and self.rng.random() < 0.5 and len(values) == 1:
            return [f"{flag}={values[0]}"]
        return [flag, *values]

    def _data_file_argument(self, description: str) -> str:
        """An input file made from one of the package's own data files: as is, compressed, or damaged."""
        suffixes = set(re.findall(r"\.[A-Za-z]{2,4}\b", description))
        preferred = [item for item in self.data_files if Path(item[0]).suffix in suffixes] or self.data_files
        name, content = self.rng.choice(preferred)
        suffix = Path(name).suffix
        variant = self.rng.random()
        if variant < 0.15:
            content = _zip_member(Path(name).name, content)
        elif variant < 0.25:
            content = gzip.compress(content, mtime=0)
        elif variant < 0.45:
            content = mutate_bytes(content, self.rng)
        file_name = f"data{suffix}"
        self._pending_files[file_name] = content
        # programs that add a default suffix themselves get the bare name half of the time
        return file_name[: -len(suffix)] if suffix and self.rng.random() < 0.5 else file_name

    def _positionals(self) -> list[str]:
        hints = self.model.positionals or ["text"]
        words: list[str] = []
        for hint in hints[:2]:
            if "file" in hint.lower():
                words.append(INPUT_FILE)
            elif self.model.examples and self.rng.random() < 0.3:
                example = self.rng.choice(self.model.examples)
                words.extend(arg for arg in example if not arg.startswith("-"))
            else:
                words.extend(
                    self.rng.choice([w for w in self.vocabulary[:50]] or ["hello"])
                    for _ in range(self.rng.randint(1, 2))
                )
        return words

    def _input(self) -> str:
        if self.texts and self.rng.random() < 0.4:
            return self.rng.choice(self.texts)
        return generate(self.rng.choice(self.kinds), self.rng)

    def _errors(self) -> Iterable[CaseSpec]:
        yield self._spec(["--definitely-not-an-option"])
        used = {flag[1] for option in self.model.options for flag in option.flags if len(flag) == 2}
        unused = [letter for letter in "ZQjJyY" if letter not in used]
        if unused:
            yield self._spec([f"-{unused[0]}"])
        for option in self.model.options:
            if option.takes_value:
                yield self._spec([option.flags[0]])  # value missing
        yield self._spec(["missing.txt"])
        for kind in self.kinds:
            broken = generate(kind, self.rng)
            yield self._spec([], stdin=broken[: len(broken) // 2] + "\x00\xff")

    def _spec(
        self, argv: list[str], stdin: str = "", inherited: dict[str, bytes] | None = None, origin: str = ""
    ) -> CaseSpec:
        self.counter += 1
        files = dict(inherited or {})
        files.update(self._pending_files)
        self._pending_files = {}
        if INPUT_FILE not in files and (INPUT_FILE in argv or any(arg.endswith("=" + INPUT_FILE) for arg in argv)):
            files[INPUT_FILE] = self._input().encode()
        return CaseSpec(
            id=f"c{self.counter}",
            origin=origin,
            argv=argv[:40],
            stdin=stdin.encode("utf-8", errors="surrogateescape")[:65536],
            files=files,
            timeout_s=CASE_TIMEOUT_S,
        )


def _by_origin(specs: list[CaseSpec]) -> list[Iterator[CaseSpec]]:
    groups: dict[str, list[CaseSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.origin, []).append(spec)
    return [iter(group) for group in groups.values()]


def _zip_member(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 5)), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
