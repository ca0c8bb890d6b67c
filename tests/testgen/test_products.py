"""Files the reference makes itself from the docs' examples (testgen/products.py), output files a case names,
samples under the docs' default input name and as the value of file options."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

from twinbench.formats import ReferenceSpec, Task
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.inputs import InputKind
from twinbench.testgen.products import (
    PLAIN_TEXT,
    PRODUCT_MAX_BYTES,
    ProductStore,
    collect_named_outputs,
    file_words,
    make_products,
    shrunk,
    writer_examples,
)
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.synthesize import PRODUCTS, SAMPLES, Synthesizer, default_file_names

# a tiny "audio tool": `-n OUT synth SECONDS` writes SECONDS*1000 bytes of tone; `IN OUT gain` copies IN to OUT
# upper-cased; it fails on an input that does not exist
TONE_TOOL = """
    if [ "$1" = -n ]; then
      head -c "$(awk "BEGIN { printf \\"%d\\", $4 * 1000 }")" /dev/zero | tr '\\0' 'a' > "$2"; exit 0
    fi
    [ -f "$1" ] || { echo "tone: cannot open $1" >&2; exit 2; }
    tr a A < "$1" > "$2"
"""


def script_task(tmp_path: Path, body: str) -> Task:
    program = tmp_path / "tone.sh"
    program.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    program.chmod(0o755)
    return Task(id="tone", reference=ReferenceSpec(binary=str(program)))


def test_file_words_and_shrinking() -> None:
    assert file_words(["-n", "dc.wav", "synth", "5", "sin", "%0", "50", "dc.wav"]) == ["dc.wav"]
    assert file_words(["-r", "16k", "1.5", "--out=x.wav", "a.tar.gz"]) == ["a.tar.gz"]
    assert shrunk(["-n", "dc.wav", "synth", "5", "sin", "%0", "50", "16k"], 100) == [
        "-n", "dc.wav", "synth", "0.05", "sin", "%0", "0.5", "0.16k",
    ]  # fmt: skip
    assert shrunk(["a.wav", "b.wav", "0"], 10) is None  # nothing to make smaller


def test_a_case_collects_the_files_its_arguments_name_but_does_not_bring() -> None:
    spec = CaseSpec(id="c1", argv=["in.wav", "out.wav", "gain", "-3"], files={"in.wav": b"x"})
    assert collect_named_outputs(spec).collect == ["out.wav"]


def test_the_store_keeps_small_distinct_products_per_suffix() -> None:
    store = ProductStore()
    assert store.add("a.wav", b"one") and not store.add("b.wav", b"one")  # the same bytes once
    assert not store.add("big.wav", b"x" * (PRODUCT_MAX_BYTES + 1)) and not store.add("empty.wav", b"")
    assert store.inputs_for(["a.wav", "-b", "16", "out.aiff"]) == {"a.wav": b"one"}
    assert store.samples() == [("products:a.wav", b"one")]


def test_examples_make_products_in_rounds_shrinking_what_is_too_large(tmp_path: Path, bwrap: Sandbox) -> None:
    task = script_task(tmp_path, TONE_TOOL)
    # the docs' order puts the reader first: it can only run once the synth example made a .wav
    examples = [["dc.wav", "loud.wav", "gain"], ["-n", "dc.wav", "synth", "500"], ["--help"]]
    products = dict(make_products(task, examples, bwrap, workers=2))
    # 500 s of tone is 500,000 bytes: made again with 50 s (500 / 10), under the size limit
    assert products["products:dc.wav"] == b"a" * 50_000
    assert products["products:loud.wav"] == b"A" * 50_000


def test_product_samples_seed_the_examples_that_read_them() -> None:
    model = CliModel(program="tone", examples=[["dc.wav", "loud.wav", "gain"]])
    synth = Synthesizer(model, random.Random(1), [InputKind.text], ["hello"], [], samples=[("products:dc.wav", b"aaa")])
    seeds = list(synth.seeds())
    fed = [spec for spec in seeds if spec.origin == PRODUCTS and spec.argv == ["dc.wav", "loud.wav", "gain"]]
    assert fed and fed[0].files == {"dc.wav": b"aaa"} and fed[0].collect == ["loud.wav"]


def test_samples_go_under_the_default_input_name_and_to_file_options() -> None:
    docs = "usage: ninja [options] [targets...]\n  -f FILE  specify input build file [default=build.ninja]\n"
    assert default_file_names(docs + "  -j N  run N jobs (default 1.5)") == ["build.ninja"]
    model = CliModel(
        program="ninja",
        options=[
            OptionSpec(flags=["-f"], takes_value=True, value_hint="FILE", description="input build file"),
            OptionSpec(flags=["-n"], description="dry run"),
        ],
    )
    build = b"rule cat\n  command = cat $in > $out\nbuild out: cat in\n"
    synth = Synthesizer(
        model, random.Random(1), [InputKind.text], ["hello"], [], docs_text=docs, samples=[("/src/x.ninja", build)]
    )
    seeds = [spec for spec in synth.seeds() if spec.origin == SAMPLES]
    assert any(spec.argv == ["-f", "sample0.ninja"] and spec.files == {"sample0.ninja": build} for spec in seeds)
    assert any(spec.argv == [] and spec.files == {"build.ninja": build} for spec in seeds)
    assert any(spec.argv == ["-n"] and spec.files == {"build.ninja": build} for spec in seeds)
    # the build file is text: grammar mutation learned a slot for it
    assert "file:ninja" in synth.grammars.by_slot


def test_an_archiver_makes_archives_of_the_formats_its_docs_name_from_a_text_file(
    tmp_path: Path, bwrap: Sandbox
) -> None:
    # `arc a OUT.zip IN`: the docs name the zip format but no example writes one, and no sample was found
    task = script_task(
        tmp_path,
        """
        [ "$1" = a ] || { echo "arc: unknown command $1" >&2; exit 7; }
        { printf 'PK\\003\\004'; cat "$3"; } > "$2"
    """,
    )
    assert writer_examples(["a", "l"], [".zip"]) == [["a", "made.zip", "in.txt"], ["l", "made.zip", "in.txt"]]
    products = make_products(task, writer_examples(["a", "l"], [".zip"]), bwrap, workers=1)
    assert products == [("products:made.zip", b"PK\x03\x04" + PLAIN_TEXT)]
