"""Base arguments and files (a program's mode flag, the state it reads): every generated invocation starts
with them, probes included, and no mutation removes them."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

from twinbench.formats import ReferenceSpec, Task, load_suite, load_task, save_task
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.check import check_suite
from twinbench.testgen.explore import Candidate
from twinbench.testgen.generate import TestgenOptions
from twinbench.testgen.imitation_program import respond
from twinbench.testgen.inputs import InputKind
from twinbench.testgen.pipeline import run_testgen
from twinbench.testgen.probe import probe_reference
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.synthesize import Synthesizer, operand_files

BASE = ["--mode", "filter"]
FILES = {"db/words.txt": b"alpha\nbeta\ngamma\n"}
# a program that does nothing useful without its mode flag, like fzf without --filter
MODAL = """\
#!/bin/sh
if [ "$1" != --mode ] || [ "$2" != filter ]; then echo "needs a terminal" >&2; exit 2; fi
shift 2
case "$1" in
  --help) echo "usage: modal --mode filter [-u] [WORD]";;
  -u) shift; tr a-z A-Z; echo "${1:-}";;
  -*) echo "modal: unknown option $1" >&2; exit 2;;
  *) cat db/words.txt - | grep -e "${1:-.}" || echo "no match for ${1:-.}";;
esac
"""
MODEL = CliModel(
    program="modal",
    options=[
        OptionSpec(flags=["-u", "--upper"]),
        OptionSpec(flags=["-q", "--query"], takes_value=True),
        OptionSpec(flags=["--help"]),
    ],
    positionals=["pattern"],
)


def test_every_seed_and_mutation_starts_with_the_base_arguments() -> None:
    # language seeds give a grammar, so that half of the mutations are grammar mutants and splices
    language = [
        CaseSpec(id="", argv=["-q", f"a{n} (b | c{n})"], stdin=b"a b c\n", origin="upstream:tests/x.test")
        for n in range(6)
    ]
    synth = Synthesizer(
        MODEL, random.Random(3), [InputKind.text], ["word"], [], language, base_args=BASE, base_files=FILES
    )
    seeds = [spec for _, spec in zip(range(300), synth.seeds(), strict=False)]
    mutants = [synth.mutate(Candidate(spec=seeds[n % len(seeds)]), seeds) for n in range(400)]
    assert all(spec.argv[:2] == BASE for spec in [*seeds, *mutants])
    assert all("db/words.txt" in spec.files for spec in [*seeds, *mutants])
    assert any(spec.files["db/words.txt"] != FILES["db/words.txt"] for spec in mutants)  # content may be mutated
    assert any("db/words.txt" in spec.argv for spec in [*seeds, *mutants])  # its name is tried as a value
    assert any(spec.stdin == FILES["db/words.txt"] for spec in seeds)  # and its content on stdin
    # the base is added once, not again on every generation of mutants
    assert all(spec.argv[2:4] != BASE for spec in mutants)
    assert any(spec.origin == "grammar" for spec in mutants) and any(spec.origin == "mutation" for spec in mutants)
    assert any(spec.stdin for spec in seeds)  # a filter reads stdin: seeds with stdin exist


@pytest.mark.slow
def test_a_tiny_suite_of_a_modal_program_carries_the_base_arguments(tmp_path: Path, bwrap: Sandbox) -> None:
    program = tmp_path / "modal"
    program.write_text(textwrap.dedent(MODAL))
    program.chmod(0o755)
    root = tmp_path / "task"
    save_task(Task(id="modal", reference=ReferenceSpec(binary=str(program))), root)
    (root / "cli_model.json").write_text(MODEL.model_dump_json())
    task = load_task(root).task
    probes = probe_reference(task, MODEL, bwrap, 2, BASE, FILES)
    assert all(run.argv[:2] == BASE or len(run.argv) == 1 for run in probes.exact)
    # --help after other options gets the probed help from the imitation, as it would without a base
    knowledge = probes.knowledge()
    assert respond(knowledge, [*BASE, "-u", "--help"])[1].startswith(b"usage: modal")
    # the reply to the unknown option was probed in the mode, and its template names that option
    assert "unknown option" in probes.templates["unknown_long"].stderr
    assert any(run.stdout.startswith(b"alpha") for run in probes.exact)  # the bare call read the base file
    options = TestgenOptions(runs=150, seed=1, max_tests=40, base_args=BASE, base_files=FILES)
    report = run_testgen(load_task(root), bwrap, options)
    suite = load_suite(root / "tests" / "suite.jsonl")
    assert suite.cases and all(case.argv[:2] == BASE and "db/words.txt" in case.files for case in suite.cases)
    assert report.base_args == BASE and report.base_files == ["db/words.txt"]
    assert report.classes.get("core", 0) > 0 and b"gamma" in b"".join(c.expect.stdout for c in suite.cases)
    # suite check probes the reference with the same base, so it sees the classes and scores testgen saw
    checked = check_suite(load_task(root), bwrap, 2)
    assert report.validity is not None and checked.validity.scores == report.validity.scores
    assert checked.classes == report.classes


def test_files_inside_a_directory_the_base_arguments_name_are_not_operands() -> None:
    files = {"tree/a.txt": b"a", "tree/docs/b.md": b"b", "key.txt": b"k"}
    assert operand_files(files, ["-n", "tree"]) == ["key.txt"]
    assert operand_files(files, ["-d"]) == ["tree/a.txt", "tree/docs/b.md", "key.txt"]
