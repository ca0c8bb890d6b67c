"""Language seeds: how the docs' example programs are given to a program, grammar mutants of the right slot, and
a generation run on real bc whose report says where its kept cases came from and how many inputs bc accepted."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.reference.test_docmodel import DOCS, doc_text, mine_docs
from twinbench.formats import load_suite
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel, DocScript, mine_named_docs
from twinbench.reference.taskgen import create_task
from twinbench.testgen import CaseSpec
from twinbench.testgen.generate import TestgenOptions
from twinbench.testgen.pipeline import run_testgen
from twinbench.testgen.seeds import (
    Grammars,
    doc_script_specs,
    script_file_option,
    script_value_flags,
    seed_sources,
    takes_file_operand,
    takes_script_operand,
)


def bc_model_with_examples() -> object:
    docs = {"docs/bc.1.txt": doc_text("man", "-P", "cat", "bc"), "docs/help.txt": doc_text("bc", "--help")}
    docs.update({f"docs/examples/{path.name}": path.read_text() for path in sorted((DOCS / "examples").glob("*.b"))})
    return mine_named_docs("bc", docs, strict=True)


def test_how_each_program_takes_a_program_comes_from_its_docs() -> None:
    sed = mine_docs("sed", [doc_text("sed", "--help")])
    jq = mine_docs("jq", [doc_text("man", "-P", "cat", "jq"), doc_text("jq", "--help")])
    awk = mine_docs("awk", [doc_text("awk", "-W", "usage"), doc_text("man", "-P", "cat", "awk")])
    bc = mine_docs("bc", [doc_text("bc", "--help")])
    assert [script_file_option(model) is not None for model in (sed, jq, awk, bc)] == [True, True, True, False]
    sed_option = script_file_option(sed)
    assert sed_option is not None and "-f" in sed_option.flags
    jq_option = script_file_option(jq)
    assert jq_option is not None and "--from-file" in jq_option.flags
    assert takes_script_operand(sed) and takes_script_operand(jq) and not takes_script_operand(bc)
    assert takes_file_operand(bc)


def test_bc_example_programs_become_file_operands_and_stdin() -> None:
    specs = doc_script_specs(bc_model_with_examples(), random.Random(0))  # type: ignore[arg-type]
    pi = [spec for spec in specs if spec.origin == "docs:docs/examples/pi.b"]
    assert [spec.argv for spec in pi] == [["pi.b"], []]
    assert pi[0].files["pi.b"] == (DOCS / "examples" / "pi.b").read_bytes()
    assert pi[1].stdin == (DOCS / "examples" / "pi.b").read_bytes()  # bc reads a program from stdin too
    from_man = [spec for spec in specs if spec.origin == "docs:man#0"]
    assert any(b"define f (x)" in spec.stdin for spec in from_man)
    assert len({spec.id for spec in specs}) == len(specs)
    assert seed_sources(specs)["docs:docs/examples/pi.b"] == 2


def test_sed_example_scripts_go_through_the_script_file_option_and_the_script_operand() -> None:
    model = mine_docs("sed", [doc_text("sed", "--help")]).model_copy(
        update={
            "example_scripts": mine_named_docs(
                "sed", {"docs/examples/dc.sed": (DOCS / "examples" / "dc.sed").read_text()}
            ).example_scripts
        }
    )
    specs = doc_script_specs(model, random.Random(0))
    assert specs[0].argv == ["-f", "dc.sed"] and "dc.sed" in specs[0].files
    assert len(specs) == 1  # dc.sed is longer than a script operand may be; sed reads data, not programs, on stdin


def test_grammar_mutants_change_only_a_language_slot() -> None:
    seeds = [
        CaseSpec(id="a", argv=["-n", "s/a/b/p", "in.txt"], files={"in.txt": b"abc\n"}),
        CaseSpec(id="b", argv=["$!N;P;D"], stdin=b"one\ntwo\n"),
    ]
    grammars = Grammars(seeds)
    assert not grammars.empty
    rng = random.Random(2)
    changed = 0
    for _ in range(60):
        mutant = grammars.mutate(seeds[0], rng)
        assert mutant is not None
        assert mutant.argv[0] == "-n" and mutant.argv[2] == "in.txt"  # options and file names stay
        changed += mutant != seeds[0]
    assert changed >= 30, changed  # tiny seeds: some mutants come out the same
    assert Grammars([]).empty
    # option values are no programs (mawk's "-v n=1", "-W version"); only the first operand is one
    awk_seed = CaseSpec(id="d", argv=["-v", "n=1", "-W", "version", "{ print n }", "data"])
    awk_like = Grammars([awk_seed], {"-v": 1, "-W": 1})
    spec = CaseSpec(id="e", argv=["-v", "x=2", "{ print x }"])
    assert awk_like.script_positions(spec) == [2]
    for _ in range(20):
        mutant = awk_like.mutate(spec, rng)
        assert mutant is not None and mutant.argv[:2] == ["-v", "x=2"]
    with_file = Grammars([awk_seed], {"-v": 1, "-f": 1}, script_flags=["-f"])
    assert with_file.script_positions(CaseSpec(id="f", argv=["-f", "p.awk", "{ x }"], files={"p.awk": b""})) == []
    assert with_file.script_positions(CaseSpec(id="g", argv=["{ x }", "data", "more"])) == [0]  # then input files
    assert Grammars([awk_seed], script_operand=False).script_positions(spec) == []  # bc: programs in files
    assert grammars.mutate(CaseSpec(id="c", argv=["--version"]), rng) is None  # nothing in a language slot


@pytest.mark.slow
def test_generation_on_bc_reports_seed_sources_and_accepted_shares(tmp_path: Path, bwrap: Sandbox) -> None:
    task = create_task("bc", tmp_path / "bc", debian="bc")
    model = json.loads((tmp_path / "bc" / "cli_model.json").read_text())
    assert any(script["source"] == "docs/examples/pi.b" for script in model["example_scripts"])
    options = TestgenOptions(runs=500, seed=1, max_tests=60, upstream_tests=False)
    report = run_testgen(task, bwrap, options)
    assert report.upstream == "not asked for"
    assert report.seed_sources["docs:docs/examples/pi.b"] == 2
    assert {"docs", "grammar", "all"} <= set(report.accepted)
    assert report.accepted["all"].generated == report.executions
    assert 0 < report.accepted["grammar"].share < 1
    suite = load_suite(tmp_path / "bc" / "tests" / "suite.jsonl")
    assert set(report.origins) <= {case.id for case in suite.cases}
    assert sum(report.kept_by_origin.values()) == len(suite)
    assert report.kept_by_origin.get("grammar", 0) + report.kept_by_origin.get("docs", 0) > 0


def test_seeds_take_turns_between_sources() -> None:
    from itertools import islice

    from twinbench.reference.docmodel import CliModel
    from twinbench.testgen.inputs import InputKind
    from twinbench.testgen.synthesize import Synthesizer

    language = [CaseSpec(id=f"a{i}", argv=[f"a{i}"], origin="upstream:a.test") for i in range(5)]
    language += [CaseSpec(id=f"b{i}", argv=[f"b{i}"], origin="upstream:b.sh") for i in range(2)]
    model = CliModel(program="x", examples=[["doc1"], ["doc2"]])
    synth = Synthesizer(model, random.Random(0), [InputKind.text], ["hello"], [], language)
    first = [(spec.origin, spec.argv[0]) for spec in islice(synth.seeds(), 9)]
    assert [origin for origin, _ in first[:3]] == ["docs:command lines", "upstream:a.test", "upstream:b.sh"]
    assert [arg for origin, arg in first if origin == "upstream:a.test"] == ["a0", "a1", "a2"]
    again = Synthesizer(model, random.Random(0), [InputKind.text], ["hello"], [], language)
    assert len({spec.id for spec in islice(again.seeds(), 11)}) == 11  # the 4 doc and 7 language seeds


def test_files_of_each_suffix_have_their_own_grammar() -> None:
    seeds = [
        CaseSpec(
            id="a",
            argv=["-f", "p.awk", "d.dat"],
            files={"p.awk": b"{ s += $1 } END { print s }\n", "d.dat": b"1 2\n3 4\n"},
        ),
        CaseSpec(id="b", argv=["-f", "q.awk"], files={"q.awk": b"BEGIN { x = 1; print x }\n"}),
    ]
    grammars = Grammars(seeds, {"-f": 1}, script_flags=["-f"])
    assert set(grammars.by_slot) == {"file:awk", "file:dat"}
    assert "BEGIN" in grammars.by_slot["file:awk"].vocabulary["name"]
    assert "BEGIN" not in grammars.by_slot["file:dat"].vocabulary.get("name", [])


def test_values_of_script_options_are_program_slots() -> None:
    """sed's `-e script` holds a program: grammar mutation reaches it (it reached only the first operand, so
    the upstream seeds written with -e were mutated only byte by byte); jq's --arg values stay data."""
    sed = mine_docs("sed", [doc_text("sed", "--help")])
    jq = mine_docs("jq", [doc_text("man", "-P", "cat", "jq"), doc_text("jq", "--help")])
    assert "-e" in script_value_flags(sed) and "--expression" in script_value_flags(sed)
    assert script_value_flags(jq) == []
    seeds = [
        CaseSpec(id="a", argv=["-n", "-e", "s/a/b/p", "-e", "$!N", "in.txt"], files={"in.txt": b"abc\n"}),
        CaseSpec(id="b", argv=["-e", "/x/d"], stdin=b"x\ny\n"),
    ]
    option = script_file_option(sed)
    grammars = Grammars(
        seeds, {"-e": 1, "-n": 0}, script_flags=option.flags if option else (), script_value_flags=["-e"]
    )
    assert grammars.script_positions(seeds[0]) == [2, 4]
    rng = random.Random(1)
    mutants = [grammars.mutate(seeds[0], rng) for _ in range(40)]
    assert all(m is not None and m.argv[:2] == ["-n", "-e"] and m.argv[5] == "in.txt" for m in mutants)
    assert sum(m is not None and m.argv != seeds[0].argv for m in mutants) >= 12  # others change in.txt


def test_an_interpreters_script_operand_gets_the_program_as_a_file_and_on_stdin_too() -> None:
    # luajit's usage says `luajit [options]... [script [args]...]`: its script is a file, and the bare call reads
    # the program on stdin; before, its one doc example only ran as `luajit 'print("Hello", arg[1])'`
    model = CliModel(
        program="luajit",
        positionals=["script[args]"],
        example_scripts=[DocScript(source="man#0", text='print("Hello", arg[1])\n', suffix=".lua")],
    )
    specs = doc_script_specs(model, random.Random(0))
    assert [spec.argv for spec in specs] == [['print("Hello", arg[1])'], ["prog0.lua"], []]
    assert specs[1].files == {"prog0.lua": b'print("Hello", arg[1])\n'}
    assert specs[2].stdin == b'print("Hello", arg[1])\n'
