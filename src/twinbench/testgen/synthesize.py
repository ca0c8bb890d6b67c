"""Synthesis stage: invocations made from the doc model, seeds first, then mutations of interesting ones.

The two entry points are the seams for richer generators: `Synthesizer.seeds()` yields the starting
inputs (doc examples, the language seeds of testgen/seeds.py, options alone and in pairs, error paths) and
`Synthesizer.mutate()` varies a kept input, through the grammar learned from the language seeds or
`inputs.mutate_text`.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.datafiles import (
    MULTIBYTE,
    NUMBER_SPELLINGS,
    VARIANTS,
    DataFile,
    by_kind,
    entry_tags,
    header_cuts,
    header_numbers,
    kinds_for_option,
    make_variant,
    named_characters,
    respell_numbers,
    variant,
    with_c_escapes,
    with_character_in_every_other_line,
    with_entry_tags,
    with_header_number,
)
from twinbench.testgen.explore import Candidate
from twinbench.testgen.grammar import doc_names
from twinbench.testgen.inputs import (
    ENCODED_SAMPLES,
    UTF8_SPREAD,
    InputKind,
    encodings_named,
    generate,
    is_number_hint,
    mutate_bytes,
    mutate_text,
    pair_chunks,
    referenced_variables,
    utf8_code_points,
    value_for_hint,
    value_hints,
)
from twinbench.testgen.products import PRODUCT_SOURCE, collect_named_outputs, file_words, suffix_of
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.seeds import (
    DATA_FILES,
    ENCODINGS,
    SMALL_EDGE_VALUES,
    Grammars,
    option_arity,
    script_file_option,
    script_value_flags,
    switch_form,
    takes_script_operand,
    threshold_origin,
)

MAX_PAIRS = 600
DOC_COMMAND_LINES = "docs:command lines"
SAMPLES = "samples:format files"
PRODUCTS = "products:made by the reference"
SAMPLE_SUBCOMMANDS = 12
GRAMMAR_SHARE = 0.5  # of mutations, when the language seeds gave a grammar
CASE_TIMEOUT_S = 10.0
INPUT_FILE = "in.txt"
MAX_HEADER_CUTS = 12  # header lines cut after each of their first fields
FALLBACK_ENCODED_SAMPLES = 24  # samples of the docs' first encoding per data file that names none itself
CHARACTER_PAIRS = "character pairs"
DATA_FILES_PER_OPTION = 120
MAX_THRESHOLD_SEEDS = 3000
MAX_JOINED_SAMPLES_BYTES = 65536
DATA_FILES_WITH_SWITCHES = 24  # files of an option's kinds run with each switch (an option without a value)
MAX_SWITCHES = 32
MULTIBYTE_ROWS = "multibyte in every other line"
MAX_ROWS_FILE_BYTES = 1 << 20
C_ESCAPE_FORM = "c escapes"
PAIR_SEEDS = 48  # lines of the character-pair text seeded for any program; all of them for a text transformer
ENCODED_INPUT_SHARE = 0.15
PAIR_INPUT_SHARE = 0.15
NOT_TEXT_OPERAND = ("file", "script", "program", "expr", "filter", "pattern", "dir", "path")


class Synthesizer:
    """Makes invocations from the doc model: seeds first, then mutations of interesting ones.

    With `base_args` (a mode flag the program needs for any non-interactive use, such as fzf's --filter),
    every invocation starts with them: seeds and mutations are made without them and get them last, in
    `seeds()` and `mutate()`, so no mutation (grammar mutants and splices included) can remove them.
    `base_files` (the state a program reads: a key file, a directory tree) are in every case the same way; a
    mutation may change their content, and their names are words worth trying as values and operands; they are
    seeded like format samples, as the operand and on stdin. `numbers` are what the program's source compares
    with (testgen/constants.py): option values and data-file header numbers try them and their neighbours."""

    def __init__(
        self,
        model: CliModel,
        rng: random.Random,
        kinds: list[InputKind],
        vocabulary: list[str],
        data_files: list[DataFile],
        language: list[CaseSpec] | None = None,
        docs_text: str = "",
        samples: list[tuple[str, bytes]] | None = None,
        base_args: list[str] | None = None,
        base_files: dict[str, bytes] | None = None,
        numbers: Sequence[int] = (),
    ) -> None:
        self.model = model
        self.numbers = list(numbers)
        self.base_args = list(base_args or [])
        self.base_files = dict(base_files or {})
        operands = operand_files(self.base_files, self.base_args)
        vocabulary = [*dict.fromkeys([*operands, *vocabulary])]
        # a base file that is an operand (age's ciphertexts) is seeded like a sample of the program's format: as
        # the operand, after options, and on stdin
        self.samples = [*(samples or []), *((name, self.base_files[name]) for name in operands)]
        self.language = language or []
        self.default_names = default_file_names(docs_text)
        script_option = script_file_option(model)
        self.grammars = Grammars(
            [*self.language, *_text_sample_specs(self.samples)],
            option_arity(model),
            script_operand=takes_script_operand(model),
            script_flags=script_option.flags if script_option else (),
            script_value_flags=script_value_flags(model),
            names=doc_names(docs_text),
        )
        self.rng = rng
        self.kinds = kinds
        self.vocabulary = vocabulary
        self.texts = [*model.example_inputs]
        self.data_files = data_files
        self.data_kinds = by_kind(data_files)
        self.option_kinds = {
            option.flags[0]: kinds_for_option(option, docs_text, list(self.data_kinds)) for option in model.options
        }
        self.encodings = encodings_named(docs_text)
        self.encoded = [_text(sample) for name in self.encodings for sample in ENCODED_SAMPLES[name][1]]
        self.pairs = pair_chunks()
        hints = [hint.lower() for hint in model.positionals]
        self.transforms_text = bool(hints) and not any(word in hint for hint in hints for word in NOT_TEXT_OPERAND)
        self._pending_files: dict[str, bytes] = {}
        self._pending_forms: list[str] = []  # the variants of the data files the next spec holds
        self.fixture_directories = fixture_directories(self.language)
        self.counter = 0

    def seeds(self) -> Iterable[CaseSpec]:
        """Doc examples, each option alone, option pairs, plain inputs and error paths, after the base arguments."""
        for spec in self._seeds():
            yield self._based(spec)

    def _seeds(self) -> Iterable[CaseSpec]:
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
        yield from self._data_file_seeds()
        yield from self._encoded_seeds()
        yield from self._keyed_seeds()
        for line in self.pairs if self.transforms_text else self.pairs[:PAIR_SEEDS]:
            yield self._spec([], stdin=line + "\n", origin=CHARACTER_PAIRS)
        pairs = list(itertools.combinations(self.model.options, 2))
        self.rng.shuffle(pairs)
        for first, second in pairs[:MAX_PAIRS]:
            yield self._spec([*self._use(first), *self._use(second), *self._positionals()])
        for first, second, third in itertools.islice(itertools.combinations(self.model.options, 3), MAX_PAIRS):
            if self.rng.random() < 0.1:
                yield self._spec([*self._use(first), *self._use(second), *self._use(third), *self._positionals()])
        # last: the most specialised seeds are the first a short budget leaves out (seeds are a share of it)
        yield from itertools.islice(self._threshold_seeds(), MAX_THRESHOLD_SEEDS)

    def _sample_seeds(self) -> Iterator[CaseSpec]:
        """Each sample file of the program's formats as its operand, as the value of each file-valued option
        (ninja's `-f FILE`), under the default input name the docs give for its suffix (`build.ninja`), after a
        subcommand or an option, and on stdin."""
        options = [option for option in self.model.options if not option.takes_value]
        for number, (source, content) in enumerate(self.samples):
            name = f"sample{number}{''.join(Path(source).suffixes[-2:])}"
            files = {name: content}
            origin = PRODUCTS if source.startswith(PRODUCT_SOURCE) else SAMPLES
            yield self._spec([name], inherited=files, origin=origin)
            for option in self._file_options():
                yield self._spec([option.flags[0], name], inherited=files, origin=origin)
            for default in self.default_names:
                if suffix_of(default) == suffix_of(name):
                    yield self._spec([], inherited={default: content}, origin=origin)
                    for option in options[:3]:
                        yield self._spec([option.flags[0]], inherited={default: content}, origin=origin)
            stdin = content.decode("utf-8", errors="surrogateescape")
            yield self._spec([], stdin=stdin, origin=origin)
            for subcommand in self.model.subcommands[:SAMPLE_SUBCOMMANDS]:
                # samtools view, seqtk seq, bedtools sort: a subcommand program reads its files after the subcommand
                yield self._spec([subcommand, name], inherited=files, origin=origin)
            for option in options[number % max(1, len(options)) :][:3]:
                yield self._spec([self.rng.choice(option.flags), name], inherited=files, origin=origin)
                yield self._spec([self.rng.choice(option.flags)], stdin=stdin, origin=origin)

    def _doc_command_lines(self) -> Iterator[CaseSpec]:
        by_suffix: dict[str, bytes] = {}
        for source, content in self.samples:
            by_suffix.setdefault(suffix_of(source), content)
        for example in self.model.examples:
            yield self._spec(list(example), origin=DOC_COMMAND_LINES)
            yield self._spec(list(example), stdin=self._input(), origin=DOC_COMMAND_LINES)
            # the files the example names, from the samples of the same suffix (what the reference made itself
            # from another example, testgen/products.py): `dc.wav fixed.wav highpass 10` then has its dc.wav
            named = file_words(example)
            # the last file an example names is most often what it writes (`in.wav out.wav gain -3`): it stays
            # an output the case collects, unless it is the only one
            readable = named[:-1] if len(named) > 1 else named
            files = {word: by_suffix[suffix_of(word)] for word in readable if suffix_of(word) in by_suffix}
            if files:
                yield self._spec(list(example), inherited=files, origin=PRODUCTS)

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
                    spec = collect_named_outputs(spec)
                yield spec

    def mutate(self, parent: Candidate, donors: list[CaseSpec]) -> CaseSpec:
        """A variation of a kept input: its options, values, arguments, stdin or files; for an input in the
        program's language, often a grammar mutant of it (testgen/grammar.py). The base arguments stay first."""
        return self._based(self._mutate(self._unbased(parent.spec), donors))

    def _based(self, spec: CaseSpec) -> CaseSpec:
        """The spec with the base arguments in front and the base files (unless it has its own version)."""
        if not self.base_args and not self.base_files:
            return spec
        return spec.model_copy(
            update={"argv": [*self.base_args, *spec.argv], "files": {**self.base_files, **spec.files}}
        )

    def _unbased(self, spec: CaseSpec) -> CaseSpec:
        """The spec without its leading base arguments (every spec this synthesizer made has them)."""
        count = len(self.base_args)
        if not count or spec.argv[:count] != self.base_args:
            return spec
        return spec.model_copy(update={"argv": spec.argv[count:]})

    def _mutate(self, spec: CaseSpec, donors: list[CaseSpec]) -> CaseSpec:
        if not self.grammars.empty and self.rng.random() < GRAMMAR_SHARE:
            mutant = self.grammars.mutate(spec, self.rng)
            if mutant is not None:
                self.counter += 1
                return collect_named_outputs(mutant.model_copy(update={"id": f"c{self.counter}", "origin": "grammar"}))
        argv = list(spec.argv)
        stdin = spec.stdin.decode("utf-8", errors="surrogateescape")
        choice = self.rng.randrange(8)
        if choice == 0 and self.model.options:
            position = self.rng.randint(0, len(argv))
            argv[position:position] = self._use(self.rng.choice(self.model.options), argv)
        elif choice == 1 and argv:
            del argv[self.rng.randrange(len(argv))]
        elif choice == 2 and argv:
            index = self.rng.randrange(len(argv))
            argv[index] = mutate_text(argv[index], self.rng, self.vocabulary) or argv[index]
        elif choice == 3 and donors:
            donor = self._unbased(self.rng.choice(donors))
            argv = argv[: self.rng.randint(0, len(argv))] + donor.argv[self.rng.randint(0, len(donor.argv)) :]
        elif choice == 4:
            stdin = mutate_text(stdin, self.rng, [d.stdin.decode("utf-8", "surrogateescape") for d in donors[-50:]])
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
            argv = [*self._use(self.rng.choice(self.model.options), argv), *argv] if self.model.options else argv
        return self._spec(argv, stdin=stdin, inherited=spec.files, origin="mutation")

    def _use(self, option: OptionSpec, context: list[str] | None = None) -> list[str]:
        """The option with values for it: each value by its own hint ("--slurpfile variable-name filename" gets a
        name the program text refers to and a file), files from the package's data, directories from the upstream
        tests' fixture directories."""
        flag = self.rng.choice(option.flags)
        if not option.takes_value:
            return [flag]
        variables = referenced_variables(context or [])
        values: list[str] = []
        for hint in value_hints(option.value_hint, option.arity):
            lowered = (hint or "").lower()
            if ("file" in lowered or "path" in lowered) and self.data_files and self.rng.random() < 0.6:
                values.append(self._data_file_argument(option))
            elif "dir" in lowered and self.fixture_directories and self.rng.random() < 0.6:
                name = self.rng.choice(sorted(self.fixture_directories))
                self._pending_files.update(self.fixture_directories[name])
                values.append(name)
            else:
                values.append(
                    value_for_hint(hint, self.rng, option.choices or self.vocabulary, variables, self.numbers)
                )
        if flag.startswith("--") and self.rng.random() < 0.5 and len(values) == 1:
            return [f"{flag}={values[0]}"]
        return [flag, *values]

    def _data_file_argument(self, option: OptionSpec, chosen: DataFile | None = None, how: str = "") -> str:
        """An input file made from one of the package's own data files (of a kind the docs tie to the option,
        when they tie one): as is or a variant (other line ends, cut short, long lines, header edits,
        compressed, damaged)."""
        if chosen is None:
            kinds = self.option_kinds.get(option.flags[0]) or list(self.data_kinds)
            chosen = self.rng.choice(self.data_kinds[self.rng.choice(kinds)])
        name, content = chosen
        if how:
            content = make_variant(how, content, name, self.rng, self.numbers)
        else:
            how, content = variant(content, name, self.rng, self.numbers)
        suffix = Path(name).suffix
        file_name = data_file_name(name)
        self._pending_files[file_name] = content
        self._pending_forms.append(how)
        # programs that add a default suffix themselves get the bare name half of the time
        return file_name[: -len(suffix)] if suffix and self.rng.random() < 0.5 else file_name

    def _file_options(self) -> list[OptionSpec]:
        return [
            option
            for option in self.model.options
            if option.takes_value and any(word in (option.value_hint or "").lower() for word in ("file", "path"))
        ]

    def _data_file_seeds(self) -> Iterator[CaseSpec]:
        """Every data file of the kinds the docs tie to each file-valued option, as is and as one variant;
        one file of every other kind (a font where a control file belongs is behavior too)."""
        for option in self._file_options():
            flag = option.flags[0]
            tied = self.option_kinds.get(flag) or list(self.data_kinds)
            files = [item for kind in tied for item in self.data_kinds[kind]][:DATA_FILES_PER_OPTION]
            others = [group[0] for kind, group in self.data_kinds.items() if kind not in tied]
            for item in files:
                argument = self._data_file_argument(option, item, "as_is")
                yield self._spec([flag, argument, *self._positionals()], origin=DATA_FILES)
                argument = self._data_file_argument(option, item)
                yield self._spec([flag, argument, *self._positionals()], origin=DATA_FILES)
            for item in others:
                argument = self._data_file_argument(option, item, "as_is")
                yield self._spec([flag, argument, *self._positionals()], origin=DATA_FILES)
            # every variant of the smallest and the largest file of each kind: a reader's buffers, block
            # kinds and limits differ with size (small deflated files get fixed Huffman codes, large ones
            # dynamic codes and several buffers)
            for kind in tied:
                group = sorted(self.data_kinds[kind], key=lambda item: len(item[1]))
                for item in dict.fromkeys([group[0], group[-1]]):
                    for how in VARIANTS:
                        argument = self._data_file_argument(option, item, how)
                        yield self._spec([flag, argument, *self._positionals()], origin=DATA_FILES)
                    for cut in header_cuts(item[1])[:MAX_HEADER_CUTS]:
                        argument = self._data_file_argument(option, (item[0], cut), "as_is")
                        yield self._spec([flag, argument, *self._positionals()], origin=DATA_FILES)
                    # each multibyte character in every other line, a form per character: a decoder's arithmetic
                    # differs per length and per bit group, and shows only where the output uses the line
                    # (one copy per character: not of a file of megabytes)
                    for index, character in enumerate(MULTIBYTE if len(item[1]) <= MAX_ROWS_FILE_BYTES else ()):
                        # under its full name: a program that adds the suffix itself finds it too, and every
                        # form is then read (a bare name that the program does not complete would waste it)
                        file_name = data_file_name(item[0])
                        yield self._spec(
                            [flag, file_name, *self._positionals()],
                            inherited={file_name: with_character_in_every_other_line(item[1], character)},
                            origin=f"{DATA_FILES}:{MULTIBYTE_ROWS}#{index}",
                        )
            # each file with text made of the characters it names by number, as is and with its numbers
            # respelled: only such text shows how the reader parsed them
            for item in files:
                named = named_characters(item[1])
                if named:
                    for how in ("as_is", "number_forms"):
                        argument = self._data_file_argument(option, item, how)
                        yield self._spec([flag, argument], stdin=_text(named + b"\n"), origin=DATA_FILES)
                    # and every number in one spelling, a form each: a random mix may leave out the one code
                    # whose spelling a reader gets wrong (figlet's `[` written in octal)
                    for spelling in NUMBER_SPELLINGS:
                        respelled = (item[0], respell_numbers(item[1], self.rng, spelling))
                        argument = self._data_file_argument(option, respelled, "as_is")
                        origin = f"{DATA_FILES}:numbers in {spelling}"
                        yield self._spec([flag, argument], stdin=_text(named + b"\n"), origin=origin)
                # its one-character arguments as C escapes (`\f`), with text holding the bytes they name
                escaped, controls = with_c_escapes(item[1])
                if controls:
                    argument = self._data_file_argument(option, (item[0], escaped), "as_is")
                    text = _text(controls + named + b"\n")
                    yield self._spec([flag, argument], stdin=text, origin=f"{DATA_FILES}:{C_ESCAPE_FORM}")
            # each file with each option that takes no value, beside the same run without it: a switch can change
            # how a file is used (figlet's -L prints a right-to-left font left to right), and only that file
            # shows it; exploration keeps a run where the switch changes the output and one where it does not
            switches = [other.flags[0] for other in self.model.options if not other.takes_value]
            for item in files[:DATA_FILES_WITH_SWITCHES]:
                argument = self._data_file_argument(option, item, "as_is")
                positionals = self._positionals()
                plain = self._spec([flag, argument, *positionals], origin=DATA_FILES)
                yield plain
                for switch in switches[:MAX_SWITCHES]:
                    # the same files, an input file included: only the switch differs
                    yield self._spec(
                        [flag, argument, switch, *positionals], inherited=plain.files, origin=switch_form(switch)
                    )

    def _encoded_seeds(self) -> Iterator[CaseSpec]:
        """Input in each encoding the docs name, alone and through every data file that names the same
        encoding in its own text (figlet's hz.flc with HZ text, its utf8.flc with UTF-8)."""
        for text in self.encoded:
            yield self._spec([], stdin=text, origin=ENCODINGS)
        for option in self._file_options():
            for kind in self.option_kinds.get(option.flags[0], []):
                for item in self.data_kinds[kind]:
                    own = encodings_named(item[1][:4096].decode("latin-1"))
                    names = own or self.encodings[:1]
                    for name in names:
                        samples = ENCODED_SAMPLES[name][1]
                        # a file that does not name the encoding gets a sample of them, spread over the list
                        step = 1 if own else max(1, len(samples) // FALLBACK_ENCODED_SAMPLES)
                        for index, raw in enumerate(samples[::step]):
                            argument = self._data_file_argument(option, item, "as_is")
                            # through a file that names the encoding, each sample is a form of its own (one
                            # run of each is kept): the ISO 2022 sample that designates G2 and shifts into it
                            # is the only one that shows a fault in G2's bookkeeping
                            form = f"{ENCODINGS}:{name}#{index}" if own else f"{ENCODINGS}:{name}"
                            if _named_after(item[0], name):
                                # the file made for the encoding (utf8.flc switches figlet to UTF-8 input) is a
                                # form of its own: thirty other control files only mention UTF-8, and one
                                # run per sample was kept through whichever came first
                                form = f"{form}@{Path(item[0]).name}"
                            yield self._spec([option.flags[0], argument], stdin=_text(raw), origin=form)
                        # all samples in one stream, in order and reversed: a decoder keeps state between escape
                        # sequences (figlet's G3 made 94x94 and then a 94-set must forget it was double-byte)
                        if own and len(samples) > 1:
                            for order, stream in (("all", samples), ("all reversed", samples[::-1])):
                                argument = self._data_file_argument(option, item, "as_is")
                                joined = b"".join(stream)[:MAX_JOINED_SAMPLES_BYTES]
                                yield self._spec(
                                    [option.flags[0], argument],
                                    stdin=_text(joined),
                                    origin=f"{ENCODINGS}:{name}#{order}",
                                )
                        # and through a copy with its commands' arguments varied (token_edit): figlet's
                        # jis0201.flc designates G0 and G1 only, a copy G2 or G3, which ISO 2022 text then shifts into
                        for raw in samples[:: step * 2] if own else []:
                            argument = self._data_file_argument(option, item, "token_edit")
                            yield self._spec(
                                [option.flags[0], argument], stdin=_text(raw), origin=f"{ENCODINGS}:{name}+token_edit"
                            )

    def _keyed_seeds(self) -> Iterator[CaseSpec]:
        """UTF-8 text through a keyed data file (a font's code-tagged glyphs) whose keys are set to the code
        points the text decodes to, alone and with each data file named after UTF-8 (figlet's utf8.flc turns
        its UTF-8 decoder on). A decoded value the table does not hold prints as a missing entry, whatever the
        value: only a table keyed by the right values shows a decoder that makes wrong ones."""
        if "utf8" not in self.encodings:
            return
        primary = {flag: kinds[0] for flag, kinds in self.option_kinds.items() if kinds}
        utf8_switch_files = [
            (option.flags[0], item)
            for option in self._file_options()
            for item in self.data_kinds.get(primary.get(option.flags[0], ""), [])
            if _named_after(item[0], "utf8")
        ]
        samples = [UTF8_SPREAD, *ENCODED_SAMPLES["utf8"][1]]
        for option in self._file_options():
            flag = option.flags[0]
            keyed = [item for item in self.data_kinds.get(primary.get(flag, ""), []) if entry_tags(item[1])]
            if not keyed:
                continue
            name, content = max(keyed, key=lambda item: entry_tags(item[1]))
            file_name = data_file_name(name)
            for index, sample in enumerate(samples):
                files = {file_name: with_entry_tags(content, utf8_code_points(sample))}
                origin = f"{ENCODINGS}:utf8 keyed#{index}"
                yield self._spec([flag, file_name], stdin=_text(sample), inherited=files, origin=origin)
                for other_flag, (other_name, other_content) in utf8_switch_files:
                    if other_flag == flag:
                        continue
                    other_file = f"encoding{Path(other_name).suffix}"
                    yield self._spec(
                        [flag, file_name, other_flag, other_file],
                        stdin=_text(sample),
                        inherited={**files, other_file: other_content},
                        origin=f"{origin}@{Path(other_name).name}",
                    )

    def _threshold_seeds(self) -> Iterator[CaseSpec]:
        """Each numeric option, and each number of the header of each data-file kind's smallest file, set to
        every number the source compares with and its neighbours, all else the same: where the answer turns
        from accepted to refused (figlet takes a font 255 wide, not 256), exploration keeps the run on each
        side, which coverage does not (both sides run lines other inputs run)."""
        if not self.numbers:
            return
        values = sorted({*self.numbers, *SMALL_EDGE_VALUES})
        for option in self.model.options:
            if option.takes_value and is_number_hint(option.value_hint):
                flag, positionals = option.flags[0], self._positionals()
                for value in values:
                    yield self._spec([flag, str(value), *positionals], origin=threshold_origin(flag, value))
        for option in self._file_options():
            flag = option.flags[0]
            for kind in self.option_kinds.get(flag) or []:
                name, content = min(self.data_kinds[kind], key=lambda item: len(item[1]))
                file_name, positionals = data_file_name(name), self._positionals()
                for index in range(header_numbers(content)):
                    group = f"{flag} {Path(name).name} header number {index}"
                    for value in values:
                        files = {file_name: with_header_number(content, index, value)}
                        yield self._spec(
                            [flag, file_name, *positionals], inherited=files, origin=threshold_origin(group, value)
                        )

    def _positionals(self) -> list[str]:
        hints = self.model.positionals or ["text"]
        words: list[str] = []
        for hint in hints[:2]:
            if "file" in hint.lower():
                words.append(INPUT_FILE)
            elif self.model.examples and self.rng.random() < 0.3:
                example = self.rng.choice(self.model.examples)
                taken = [arg for arg in example if not arg.startswith("-")]
                # an example of options alone gives no words; a text operand then gets one from the vocabulary
                # (a run without text prints nothing, and a data file or switch seed is then wasted)
                words.extend(taken or [self._common_word()])
            else:
                words.extend(self._common_word() for _ in range(self.rng.randint(1, 2)))
        return words

    def _common_word(self) -> str:
        """One of the fifty words the docs use most (the vocabulary's order), for text operands."""
        return self.rng.choice(self.vocabulary[:50] or ["hello"])

    def _input(self) -> str:
        draw = self.rng.random()
        if self.encoded and draw < ENCODED_INPUT_SHARE:
            return self.rng.choice(self.encoded)
        if self.transforms_text and draw > 1 - PAIR_INPUT_SHARE:
            return self.rng.choice(self.pairs) + "\n"
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
        if origin == DATA_FILES and self._pending_forms:
            # the variant names the form (`data files:cr`): exploration keeps one run of each form
            origin = f"{DATA_FILES}:{'+'.join(sorted(set(self._pending_forms)))}"
        self._pending_forms = []
        if INPUT_FILE not in files and (INPUT_FILE in argv or any(arg.endswith("=" + INPUT_FILE) for arg in argv)):
            files[INPUT_FILE] = self._input().encode("utf-8", errors="surrogateescape")
        spec = CaseSpec(
            id=f"c{self.counter}",
            origin=origin,
            argv=argv[:40],
            stdin=stdin.encode("utf-8", errors="surrogateescape")[:65536],
            files=files,
            timeout_s=CASE_TIMEOUT_S,
        )
        return collect_named_outputs(spec)


_DEFAULT_NAME = re.compile(r"(?i)\bdefault\s*(?:=|:|is|to)?\s*[\"'`]?([A-Za-z0-9_][\w-]*\.[A-Za-z0-9]{1,8})\b")


def data_file_name(name: str) -> str:
    """The name a case gives its copy of a data file: `data` with the file's own suffix (a program may look
    for its files by suffix)."""
    return f"data{Path(name).suffix}"


def _named_after(file_name: str, encoding: str) -> bool:
    """Whether a data file's name is the encoding's (utf8.flc for utf8, hz.flc for hz)."""
    stem = re.sub(r"[^a-z0-9]", "", Path(file_name).stem.lower())
    return bool(stem) and stem == re.sub(r"[^a-z0-9]", "", encoding.lower())


def default_file_names(docs_text: str) -> list[str]:
    """File names the docs give as a default (`-f FILE ... [default=build.ninja]`): a program that reads its
    input from a fixed name in the working directory needs a sample there, not as an operand."""
    names = (match.group(1) for match in _DEFAULT_NAME.finditer(docs_text))
    # "default 1.5" is a number, not a file: a name's suffix has a letter
    return list(dict.fromkeys(name for name in names if re.search(r"[A-Za-z]", suffix_of(name))))[:8]


def _text_sample_specs(samples: list[tuple[str, bytes]]) -> list[CaseSpec]:
    """Text samples (build files, sources, BED lines) as specs a file grammar can learn from."""
    specs = []
    for number, (source, content) in enumerate(samples):
        if b"\x00" in content:
            continue
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            continue
        specs.append(CaseSpec(id=f"s{number}", files={f"sample{number}{suffix_of(source)}": content}))
    return specs


def fixture_directories(specs: Iterable[CaseSpec]) -> dict[str, dict[str, bytes]]:
    """The directories the language seeds bring (jq's upstream `-L modules`), each with its files: a value for
    any directory-valued option."""
    found: dict[str, dict[str, bytes]] = {}
    for spec in specs:
        for name, data in spec.files.items():
            if "/" in name:
                found.setdefault(name.split("/", 1)[0], {})[name] = data
    return found


def operand_files(files: dict[str, bytes], base_args: list[str]) -> list[str]:
    """Base files worth naming as values and operands: not those inside a directory the base arguments already
    name (gdu's -n tree scans tree/, whose files are its content, not more operands)."""
    named = {arg.rstrip("/") for arg in base_args}
    return [name for name in files if not any(name.startswith(directory + "/") for directory in named)]


def _by_origin(specs: list[CaseSpec]) -> list[Iterator[CaseSpec]]:
    groups: dict[str, list[CaseSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.origin, []).append(spec)
    return [iter(group) for group in groups.values()]


def _text(sample: bytes) -> str:
    """Bytes as the str a spec's stdin is made from (surrogateescape: every byte comes back as it was)."""
    return sample.decode("utf-8", errors="surrogateescape")
