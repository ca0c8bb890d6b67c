"""Sample files the reference makes itself, and the output files a case names.

Programs of a format of their own (an audio tool, an archiver, a trainer that writes a model) often can make
that format: sox's `sox -n dc.wav synth 5 sin %0 50` writes a WAV file from nothing, `7zz a x.7z in.txt` an
archive. The docs' example invocations are run on the reference in the sandbox, in rounds: the files an
invocation writes become inputs of the later ones that name a file of the same suffix (`dc.wav fixed.wav
highpass 10` then has a dc.wav to read). What a round makes is a sample file for generation like the ones
of testgen/samples.py. A product larger than PRODUCT_MAX_BYTES is made again with the invocation's numbers
made smaller (5 seconds become 0.05), so suites stay small.

A case that names files in its arguments also collects them (`collect_named_outputs`): an output file is
behavior a rebuild must reproduce, and a run that writes one is a core case even when it prints nothing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePath

from twinbench.formats import Task
from twinbench.protocols import Sandbox
from twinbench.reference import resolve_binary, stage_reference
from twinbench.sandbox import ExecResult, SessionConfig
from twinbench.sandbox.pool import run_many
from twinbench.sandbox.testrun import request_for
from twinbench.testgen.record import CaseSpec, case_for_spec

PRODUCT_MAX_BYTES = 64 * 1024
PRODUCTS_PER_SUFFIX = 3
PRODUCER_ROUNDS = 3
PRODUCER_TIMEOUT_S = 5.0
MAX_COLLECTED = 4
SHRINK_FACTORS = (10, 100, 1000)
MAX_WRITER_SUBCOMMANDS = 16
# a text file any example that reads a ".txt" can have: writers of a format (archivers, compressors) need one
PLAIN_TEXT_NAME = "in.txt"
PLAIN_TEXT = b"hello world\nthe quick brown fox jumps over the lazy dog\n0 1 2 3 5 8 13\n"
PRODUCT_SOURCE = "products:"  # the source of a product sample, and so the origin kind of the seeds made from it
# a file name as examples write one: a stem and a short suffix, no path, not an option
FILE_WORD = re.compile(r"[A-Za-z0-9_+][\w+-]*(?:\.[\w+-]+)*\.[A-Za-z0-9]{1,5}")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)([a-zA-Z%]{0,2})$")


def file_words(argv: Iterable[str]) -> list[str]:
    """The arguments that look like file names (`dc.wav`, `model.bin`), in order, each once."""
    # "1.5" and "0.16k" are numbers: a file's suffix has a letter and its stem does not start with a digit-dot
    return list(dict.fromkeys(word for word in argv if FILE_WORD.fullmatch(word) and not _NUMBER.match(word)))


def suffix_of(name: str) -> str:
    """The last suffix of a file name, lower-cased (".wav")."""
    return PurePath(name).suffix.lower()


def collect_named_outputs(spec: CaseSpec) -> CaseSpec:
    """The spec collecting the files its arguments name that it does not bring itself (its outputs)."""
    outputs = [word for word in file_words(spec.argv) if word not in spec.files][:MAX_COLLECTED]
    if outputs == spec.collect:
        return spec
    return spec.model_copy(update={"collect": outputs})


def shrunk(argv: list[str], factor: int) -> list[str] | None:
    """The invocation with every number divided by `factor` (durations, counts, sizes); None if it has none."""
    changed = False
    out: list[str] = []
    for word in argv:
        match = _NUMBER.match(word)
        if match is None or float(match.group(1)) == 0:
            out.append(word)
            continue
        value = float(match.group(1)) / factor
        out.append(f"{value:.6g}{match.group(2)}")
        changed = True
    return out if changed else None


class ProductStore:
    """Files the reference made, by suffix: at most PRODUCTS_PER_SUFFIX distinct small files each."""

    def __init__(self) -> None:
        self.by_suffix: dict[str, list[tuple[str, bytes]]] = {}

    def add(self, name: str, content: bytes) -> bool:
        """Keep a product if it is new and small; True when kept."""
        if not content or len(content) > PRODUCT_MAX_BYTES:
            return False
        kept = self.by_suffix.setdefault(suffix_of(name), [])
        if len(kept) >= PRODUCTS_PER_SUFFIX or any(content == other for _, other in kept):
            return False
        kept.append((name, content))
        return True

    def inputs_for(self, argv: list[str]) -> dict[str, bytes]:
        """A product for every file word of `argv` whose suffix the store holds (the first of that suffix)."""
        return {
            word: self.by_suffix[suffix_of(word)][0][1]
            for word in file_words(argv)
            if self.by_suffix.get(suffix_of(word))
        }

    def samples(self) -> list[tuple[str, bytes]]:
        """Every product as a sample (source, content), its source "products:NAME", in the order made."""
        return [(f"{PRODUCT_SOURCE}{name}", content) for group in self.by_suffix.values() for name, content in group]


def producer_spec(argv: list[str], store: ProductStore, number: int) -> CaseSpec:
    """An example with the products it can read, collecting every file it names (inputs too: a program that
    rewrites its input made a product)."""
    return CaseSpec(
        id=f"p{number}",
        argv=argv,
        files=store.inputs_for(argv),
        collect=file_words(argv)[:MAX_COLLECTED],
        timeout_s=PRODUCER_TIMEOUT_S,
    )


def writer_examples(subcommands: list[str], suffixes: list[str]) -> list[list[str]]:
    """Invocations that may make a file of each named format from a text file: every subcommand with a new
    file of the suffix and a text file (an archiver's `a made.7z in.txt`); the docs often give none."""
    return [
        [subcommand, f"made{suffix}", PLAIN_TEXT_NAME]
        for suffix in suffixes
        for subcommand in subcommands[:MAX_WRITER_SUBCOMMANDS]
    ]


def make_products(task: Task, examples: list[list[str]], sandbox: Sandbox, workers: int = 2) -> list[tuple[str, bytes]]:
    """Run the docs' example invocations on the reference, in rounds, and return the small files they wrote.

    Round one runs every example that names a file. A later round runs again the examples that failed and
    name a file of a suffix made since, and, shrunk, those whose product was too large."""
    pending = [(example, 0) for example in examples if file_words(example)]
    store = ProductStore()
    store.by_suffix[suffix_of(PLAIN_TEXT_NAME)] = [(PLAIN_TEXT_NAME, PLAIN_TEXT)]  # an input, not a product
    waiting: list[tuple[list[str], int]] = []
    if not pending:
        return []
    with tempfile.TemporaryDirectory(prefix="twinbench-products-") as scratch:
        tree = Path(scratch)
        stage_reference(resolve_binary(task.reference.binary), tree)
        config = SessionConfig(tree=tree, disk_mb=task.limits.test.disk_mb)
        for _ in range(PRODUCER_ROUNDS):
            # an item is an example and how far it is shrunk (0: as the docs give it)
            argvs = [
                example if level == 0 else shrunk(example, SHRINK_FACTORS[level - 1]) or example
                for example, level in pending
            ]
            specs = [producer_spec(argv, store, number) for number, argv in enumerate(argvs)]
            results: dict[str, ExecResult] = {}
            jobs = [(spec.id, request_for(task, case_for_spec(spec))) for spec in specs]
            run_many(sandbox, config, jobs, workers, results.__setitem__)
            suffixes_before = set(store.by_suffix)
            again: list[tuple[list[str], int]] = []
            for spec, (example, level) in zip(specs, pending, strict=True):
                result = results.get(spec.id)
                if result is None or result.sandbox_error is not None or result.timed_out:
                    continue
                made = {n: c for n, c in result.files.items() if c is not None and c != spec.files.get(n)}
                for name, content in sorted(made.items()):
                    store.add(name, content)
                too_large = any(len(content) > PRODUCT_MAX_BYTES for content in made.values())
                if too_large and level < len(SHRINK_FACTORS) and shrunk(example, 1) is not None:
                    again.append((example, level + 1))
                elif result.status != 0:
                    waiting.append((example, level))
            # failed examples wait until a file of a suffix they name has been made, in any later round
            fresh = set(store.by_suffix) - suffixes_before
            ready = [item for item in waiting if any(suffix_of(word) in fresh for word in file_words(item[0]))]
            waiting = [item for item in waiting if item not in ready]
            pending = again + ready
            if not pending:
                break
    store.by_suffix[suffix_of(PLAIN_TEXT_NAME)].remove((PLAIN_TEXT_NAME, PLAIN_TEXT))
    return store.samples()
