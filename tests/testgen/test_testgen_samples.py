"""Sample input files of the formats a program reads (testgen/samples.py) and the seeds made from them."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.inputs import InputKind
from twinbench.testgen.samples import SAMPLES_PER_FORMAT, formats_in_docs, sample_files
from twinbench.testgen.synthesize import SAMPLES, Synthesizer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JP2A_MAN = "jp2a - convert JPEG and PNG images to ASCII. Reads JPEG files; PNG files too (png)."


def names(formats: list) -> list[str]:
    return [file_format.name for file_format in formats]


def test_formats_are_read_off_the_docs_when_named_twice() -> None:
    assert names(formats_in_docs(JP2A_MAN)) == ["png", "jpeg"]
    assert names(formats_in_docs("samtools view in.sam; reads SAM or BAM: a .bam file, an aligned .sam file")) == [
        "sam",
        "bam",
    ]
    assert formats_in_docs("banner: prints its text in large letters") == []
    # one passing mention is not enough: figlet's man page names "zip" once in a font path
    assert formats_in_docs("fonts may be zip archives") == []


def test_samples_come_from_the_source_tree_first_and_only_if_the_format_really_matches(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "a.png").write_bytes(PNG)
    (tests / "fake.png").write_bytes(b"not an image at all")  # right suffix, wrong magic
    (tests / "big.png").write_bytes(PNG + b"\x00" * 70_000)  # too large to run fast
    (tmp_path / "debian").mkdir()
    (tmp_path / "debian" / "packaging.png").write_bytes(PNG)  # packaging, not the program's data
    (tests / "data.gz").write_bytes(gzip.compress(b"hello\n", mtime=0))
    formats = formats_in_docs(JP2A_MAN + " gzip gzip")
    samples = sample_files(formats, tmp_path, machine=False)
    assert [Path(name).name for name, _ in samples] == ["a.png", "data.gz"]
    assert samples[0][1] == PNG


def test_samples_are_bounded_per_format_and_stable(tmp_path: Path) -> None:
    for number in range(10):
        (tmp_path / f"s{number}.c").write_text(f"int main(void) {{ return {number}; }}\n" + " " * number)
    formats = formats_in_docs("compiles a C source file: c source, c program")
    first = sample_files(formats, tmp_path, machine=False)
    assert len(first) == SAMPLES_PER_FORMAT
    assert first == sample_files(formats, tmp_path, machine=False)


def test_each_sample_becomes_an_operand_a_flagged_operand_and_stdin() -> None:
    model = CliModel(program="jp2a", options=[OptionSpec(flags=["--invert"], description="invert")])
    synth = Synthesizer(model, random.Random(1), [InputKind.text], ["hello"], [], samples=[("/usr/share/x/a.png", PNG)])
    seeds = [spec for spec in synth.seeds() if spec.origin == SAMPLES]
    assert [spec.argv for spec in seeds] == [["sample0.png"], [], ["--invert", "sample0.png"], ["--invert"]]
    assert seeds[0].files == {"sample0.png": PNG}
    assert seeds[1].stdin == PNG and seeds[3].stdin == PNG  # binary bytes pass through stdin unchanged


def test_a_subcommand_program_gets_each_sample_after_each_subcommand() -> None:
    model = CliModel(program="seqtk", subcommands=["seq", "comp"])
    synth = Synthesizer(model, random.Random(1), [InputKind.text], ["hello"], [], samples=[("/x/in.fa", b">a\nACGT\n")])
    seeds = [spec.argv for spec in synth.seeds() if spec.origin == SAMPLES]
    assert ["seq", "sample0.fa"] in seeds and ["comp", "sample0.fa"] in seeds


NINJA_MANUAL = """\
The basics
----------

A build file:

----
cflags = -Wall

rule cc
  command = gcc $cflags -c $in -o $out

build foo.o: cc foo.c
----

Variables
~~~~~~~~~
Shell commands are not build files:

----
ninja -t graph mytarget | dot -Tpng -ograph.png
----
"""


def test_code_blocks_of_the_source_docs_written_in_a_text_format_are_samples(tmp_path: Path) -> None:
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "manual.asciidoc").write_text(NINJA_MANUAL)
    (tmp_path / "README.md").write_text("Build it:\n\n```ninja\nrule echo\n  command = echo $in\n```\n")
    formats = formats_in_docs("ninja reads build.ninja; -f FILE, default build.ninja")
    samples = sample_files(formats, tmp_path, machine=False)
    # the section title underlines (---------- and ~~~~~~~~~) open no block; the shell block is not ninja
    assert [(Path(name).name, content.decode()) for name, content in samples] == [
        ("README-block0.ninja", "rule echo\n  command = echo $in\n"),
        (
            "manual-block0.ninja",
            "cflags = -Wall\n\nrule cc\n  command = gcc $cflags -c $in -o $out\n\nbuild foo.o: cc foo.c\n",
        ),
    ]
