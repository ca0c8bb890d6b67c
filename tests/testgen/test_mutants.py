"""Mutation score: real mutants of a small real C program, rebuilt by make and graded in the sandbox."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from twinbench.formats import ReferenceSpec, Suite, Task
from twinbench.protocols import Sandbox
from twinbench.testgen import CaseSpec, record_reference
from twinbench.testgen.mutants import MutantBuilder, MutationTarget, Site, mutation_score, mutation_sites

PROGRAM = textwrap.dedent(
    """\
    #include <stdio.h>
    #include <stdlib.h>
    /* a comment with < and == and 42 */
    #define LIMIT 10
    int main(int argc, char **argv) {
        const char *text = "a < b == c";
        if (argc < 2) { fputs("usage: sum N\\n", stderr); return 2; }
        int n = atoi(argv[1]);
        int total = 0;
        for (int i = 1; i <= n; i++) total += i;
        if (total > 1000) puts("big");
        printf("%d\\n", total);
        return 0;
    }
    """
)


def small_program(directory: Path) -> MutationTarget:
    """sum.c with a Makefile, built in `directory`."""
    directory.mkdir(parents=True)
    (directory / "sum.c").write_text(PROGRAM)
    (directory / "Makefile").write_text("sum: sum.o\n\t$(CC) -o sum sum.o\nsum.o: sum.c\n\t$(CC) -O0 -c sum.c\n")
    subprocess.run(["make", "-C", str(directory), "sum"], check=True, capture_output=True)
    return MutationTarget(source_dir=directory, binary=directory / "sum", source_files=["sum.c"], label="sum")


def test_sites_skip_comments_strings_and_preprocessor_lines(tmp_path: Path) -> None:
    target = small_program(tmp_path / "src")
    sites = mutation_sites(target)
    lines = {site.line for site in sites}
    assert not lines & {1, 2, 3, 4, 6}  # includes, comment, #define, the string literal's line has no code op
    assert {("<", "<="), ("<=", "<"), (">", ">="), ("+=", "-="), ("1000", "1001")} <= {
        (s.original, s.replacement) for s in sites
    }


def test_weak_suite_lets_mutants_survive_and_a_stronger_one_kills_them(tmp_path: Path, bwrap: Sandbox) -> None:
    target = small_program(tmp_path / "src")
    task = Task(id="sum", reference=ReferenceSpec(binary=str(target.binary)))
    usage = CaseSpec(id="usage", argv=[])
    weak, _ = record_reference(task, [usage, CaseSpec(id="n0", argv=["0"])], bwrap)
    numbers = [CaseSpec(id=f"n{n}", argv=[str(n)]) for n in (0, 1, 3, 10, 44, 45, 100)]
    strong, _ = record_reference(task, [usage, *numbers], bwrap)
    builder = MutantBuilder(target, tmp_path / "cache")
    weak_report = mutation_score(task, weak, target, 8, bwrap, workers=2, builder=builder)
    strong_report = mutation_score(task, strong, target, 8, bwrap, workers=2, builder=builder)
    assert weak_report.built == strong_report.built > 0
    assert strong_report.kill_rate is not None and weak_report.kill_rate is not None
    assert strong_report.kill_rate > weak_report.kill_rate
    survivor = next(m for m in weak_report.mutants if m.status == "survived")
    assert survivor.diff.startswith("--- a/sum.c:") and survivor.replacement in survivor.diff.splitlines()[-1]
    # the second report rebuilt nothing: every mutant came from the cache
    assert len(list((tmp_path / "cache" / "built").iterdir())) == weak_report.built + 1  # + the baseline


def test_a_coverage_build_whose_binary_is_outside_its_tree_is_a_clear_error(tmp_path: Path) -> None:
    from twinbench.reference.coverage import CoverageBuild, CoverageBuildError
    from twinbench.testgen.mutants import target_from_coverage_build

    build = CoverageBuild(
        package="sum",
        version="1",
        source_dir=tmp_path / "src",
        binary=Path("/usr/bin/true"),
        object_dir_prefix=str(tmp_path / "src"),
        strip_components=1,
        gcda_files=[],
        source_files=["sum.c"],
    )
    with pytest.raises(CoverageBuildError, match="not inside the build tree"):
        target_from_coverage_build(build)


def test_installed_copy_under_debian_is_rebuilt_where_make_makes_it(tmp_path: Path) -> None:
    from twinbench.reference.coverage import CoverageBuild
    from twinbench.testgen.mutants import target_from_coverage_build

    target = small_program(tmp_path / "src")
    installed = tmp_path / "src" / "debian" / "sum" / "usr" / "bin"
    installed.mkdir(parents=True)
    (installed / "sum").write_bytes(target.binary.read_bytes())
    build = CoverageBuild(
        package="sum",
        version="1",
        source_dir=target.source_dir,
        binary=installed / "sum",
        object_dir_prefix=str(target.source_dir),
        strip_components=1,
        gcda_files=[],
        source_files=["sum.c", "README"],
    )
    made = target_from_coverage_build(build)
    assert made.binary == target.binary and made.source_files == ["sum.c"]


def test_installed_copy_renamed_by_the_package_is_found_by_its_build_id(tmp_path: Path) -> None:
    """Debian's figlet installs its figlet as figlet-figlet: make has no rule for that name, so the mutants
    were all the unmutated binary ("40 equivalent") until the copy was matched by build-id."""
    from twinbench.reference.coverage import CoverageBuild
    from twinbench.testgen.mutants import target_from_coverage_build

    target = small_program(tmp_path / "src")
    installed = tmp_path / "src" / "debian" / "sum" / "usr" / "bin"
    installed.mkdir(parents=True)
    stripped = installed / "sum-sum"
    subprocess.run(["strip", "-o", str(stripped), str(target.binary)], check=True)
    assert stripped.read_bytes() != target.binary.read_bytes()
    build = CoverageBuild(
        package="sum",
        version="1",
        source_dir=target.source_dir,
        binary=stripped,
        object_dir_prefix=str(target.source_dir),
        strip_components=1,
        gcda_files=[],
        source_files=["sum.c"],
    )
    assert target_from_coverage_build(build).binary == target.binary


def test_mutants_stop_at_the_wall_time_cap(tmp_path: Path, bwrap: Sandbox) -> None:
    """--mutants is inside --budget-s: once no time is left, mutants are reported not_run, not built."""
    target = small_program(tmp_path / "src")
    task = Task(id="sum", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="n3", argv=["3"])], bwrap)
    budget = iter([1.0])
    report = mutation_score(
        task, suite, target, 4, bwrap, workers=1, builder=MutantBuilder(target, tmp_path / "cache"),
        time_left=lambda: next(budget, 0.0),
    )  # fmt: skip
    assert [m.status == "not_run" for m in report.mutants] == [False, True, True, True]
    assert report.not_run == 3 and report.stopped_by == "wall_time" and report.built == 1


def test_a_binary_made_by_a_makefile_above_its_directory_is_rebuilt_from_there(tmp_path: Path) -> None:
    """sed's non-recursive automake build makes sed/sed from the top: `make -C sed sed` has no Makefile and
    fell back on make's built-in rule (every sed mutant "did not build": config.h not found)."""
    top = tmp_path / "src"
    (top / "prog").mkdir(parents=True)
    (top / "prog" / "sum.c").write_text(PROGRAM)
    (top / "Makefile").write_text(
        "prog/sum: prog/sum.o\n\t$(CC) -o $@ $^\nprog/sum.o: prog/sum.c\n\t$(CC) -O0 -c -o $@ $<\n"
    )
    subprocess.run(["make", "-C", str(top), "prog/sum"], check=True, capture_output=True)
    target = MutationTarget(source_dir=top, binary=top / "prog" / "sum", source_files=["prog/sum.c"], label="sum")
    builder = MutantBuilder(target, tmp_path / "cache")
    assert (builder.make_dir, builder.make_target) == (Path(), "prog/sum")
    site = next(site for site in mutation_sites(target) if site.original == "<=")
    built = builder.build(site)
    assert built is not None and built.read_bytes() != builder.baseline("prog/sum.c").read_bytes()  # type: ignore[union-attr]


DEAD_STORE = textwrap.dedent(
    """\
    #include <stdio.h>
    #include <stdlib.h>
    int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 0;
        int unused = n * 3;
        unused = unused + 7;
        printf("%d\\n", n + 1);
        return 0;
    }
    """
)


def dead_store_program(tmp_path: Path, bwrap: Sandbox) -> tuple[MutationTarget, Task, Suite]:
    """dead.c built -O0, as a task, with a suite of two cases (0 and 5)."""
    directory = tmp_path / "src"
    directory.mkdir()
    (directory / "dead.c").write_text(DEAD_STORE)
    rules = "dead: dead.o\n\t$(CC) -o dead dead.o\ndead.o: dead.c\n\t$(CC) -O0 -g -c dead.c\n"
    (directory / "Makefile").write_text(rules)
    subprocess.run(["make", "-C", str(directory), "dead"], check=True, capture_output=True)
    target = MutationTarget(source_dir=directory, binary=directory / "dead", source_files=["dead.c"], label="dead")
    task = Task(id="dead", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id=f"n{n}", argv=[str(n)]) for n in (0, 5)], bwrap)
    return target, task, suite


def proofs_made(builder: MutantBuilder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lines of the sites `builder` is asked to prove equivalent, filled in as the proofs are made."""
    proved: list[int] = []
    real_proof = builder.compiler_proves_equivalent

    def proof(site: Site) -> bool:
        proved.append(site.line)
        return real_proof(site)

    monkeypatch.setattr(builder, "compiler_proves_equivalent", proof)
    return proved


def recordings(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every input the survivor hunt records on the reference, filled in as it records them."""
    from twinbench.testgen import generate

    recorded: list[list[str]] = []
    real_record = generate.record_specs

    def record_specs(task: Task, specs: list[CaseSpec], *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        recorded.extend(spec.argv for spec in specs)
        return real_record(task, specs, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generate, "record_specs", record_specs)
    return recorded


def test_a_mutant_the_optimizer_folds_away_is_proven_equivalent(tmp_path: Path, bwrap: Sandbox) -> None:
    target, task, suite = dead_store_program(tmp_path, bwrap)
    report = mutation_score(task, suite, target, 10, bwrap, workers=2, builder=MutantBuilder(target, tmp_path / "c"))
    by_line = {m.line: m for m in report.mutants}
    # the -O0 builds differ, but -O2 drops the dead store: the compiler proves these mutants equivalent
    dead = [by_line[5], by_line[6]]
    assert all(m.status == "equivalent" and m.equivalence == "identical optimized build" for m in dead)
    assert by_line[7].status == "killed" and by_line[7].equivalence == ""
    assert report.equivalent == len(dead) and report.kill_rate == 1.0


def test_only_survivors_pay_for_the_optimized_builds_of_the_equivalence_proof(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed mutant behaves differently, so no compiler made it the same program: proving it equivalent
    first cost two optimized builds per mutant, most of a cold cache's time (lz4: 11 of 12 not run)."""
    target, task, suite = dead_store_program(tmp_path, bwrap)
    builder = MutantBuilder(target, tmp_path / "c")
    proved = proofs_made(builder, monkeypatch)
    report = mutation_score(task, suite, target, 10, bwrap, workers=2, builder=builder)
    killed = {m.line for m in report.mutants if m.status == "killed"}
    assert killed and not killed & set(proved)
    assert {m.line for m in report.mutants if m.equivalence == "identical optimized build"} <= set(proved)


def test_a_mutant_on_a_line_the_suite_never_runs_survives_ungraded(tmp_path: Path, bwrap: Sandbox) -> None:
    target = small_program(tmp_path / "src")
    task = Task(id="sum", reference=ReferenceSpec(binary=str(target.binary)))
    strong, _ = record_reference(task, [CaseSpec(id=f"n{n}", argv=[str(n)]) for n in (0, 1, 3, 10, 44, 45)], bwrap)
    builder = MutantBuilder(target, tmp_path / "cache")
    graded = mutation_score(task, strong, target, 8, bwrap, workers=2, builder=builder)
    assert next(m for m in graded.mutants if m.line == 10).status == "killed"
    # the same mutants, told that the suite never runs line 10 (the loop) and always runs line 11
    counts = {"sum.c": {10: 0, 11: 6}}
    report = mutation_score(task, strong, target, 8, bwrap, workers=2, builder=builder, line_counts=counts)
    loop = next(m for m in report.mutants if m.line == 10)
    assert loop.status == "survived" and loop.reached is False and not loop.killed_by
    assert report.unreached == 1
    assert next(m for m in report.mutants if m.line == 11).reached is True
    assert {m.reached for m in report.mutants if m.line not in (10, 11)} == {None}


def test_yacc_value_references_are_not_mutated_as_numbers(tmp_path: Path) -> None:
    (tmp_path / "calc.y").write_text("%%\nexpr: expr '+' term { $$ = $1 + $3 + 2; } ;\n")
    target = MutationTarget(source_dir=tmp_path, binary=tmp_path / "calc", source_files=["calc.y"])
    literals = [site.original for site in mutation_sites(target) if site.original.isdigit()]
    assert literals == ["2"]


def test_a_source_left_mutated_by_a_killed_build_is_put_back_before_the_next(tmp_path: Path) -> None:
    directory = tmp_path / "src"
    directory.mkdir()
    (directory / "main.c").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\nint twice(int);\n"
        "int main(int argc, char **argv) {\n    int n = argc > 1 ? atoi(argv[1]) : 0;\n"
        '    printf("%d\\n", twice(n) + 1);\n    return 0;\n}\n'
    )
    (directory / "lib.c").write_text("int twice(int n) {\n    return n + n;\n}\n")
    (directory / "Makefile").write_text("prog: main.o lib.o\n\t$(CC) -o prog main.o lib.o\n")
    subprocess.run(["make", "-C", str(directory), "prog"], check=True, capture_output=True)
    target = MutationTarget(
        source_dir=directory, binary=directory / "prog", source_files=["main.c", "lib.c"], label="prog"
    )
    builder = MutantBuilder(target, tmp_path / "cache")
    assert builder.baseline("main.c") is not None
    # what a build killed between mutating lib.c and restoring it leaves behind
    (builder.tree / "lib.c").write_text("int twice(int n) {\n    return n - n;\n}\n")
    (builder.root / "mutating").write_text("lib.c")
    site = next(s for s in mutation_sites(target) if s.file == "main.c" and s.original == "+")
    mutant = builder.build(site)
    assert mutant is not None
    ran = subprocess.run([str(mutant), "5"], capture_output=True, text=True, check=True)
    assert ran.stdout == "9\n"  # twice(5) - 1: the mutation of main.c alone, lib.c as built
    assert (builder.tree / "lib.c").read_text() == (directory / "lib.c").read_text()


TWO_FUNCTIONS = textwrap.dedent(
    """\
    #include <stdio.h>
    #include <stdlib.h>
    static int twice(int n) {
        return n * 2 + 1;
    }
    int main(int argc, char **argv) {
        if (argc > 2) printf("%d\\n", twice(atoi(argv[2])));
        else printf("%d\\n", atoi(argv[1]) + 1);
        return 0;
    }
    """
)


def coverage_program(directory: Path, source: str = TWO_FUNCTIONS) -> MutationTarget:
    """two.c built with gcc --coverage: its note file tells which function each line is in."""
    directory.mkdir(parents=True)
    (directory / "two.c").write_text(source)
    rules = "two: two.o\n\t$(CC) --coverage -o two two.o\ntwo.o: two.c\n\t$(CC) --coverage -O0 -c two.c\n"
    (directory / "Makefile").write_text(rules)
    subprocess.run(["make", "-C", str(directory), "two"], check=True, capture_output=True)
    return MutationTarget(
        source_dir=directory,
        binary=directory / "two",
        source_files=["two.c"],
        label="two",
        notes={"two.gcda": directory / "two.gcno"},
    )


def functions_of_run(target: MutationTarget, argv: list[str]) -> frozenset[tuple[str, int]] | None:
    """What one run of the coverage build executed, read from its counters as exploration reads them."""
    from twinbench.reference.coverage import features_of
    from twinbench.testgen.mutants import functions_run

    counters = target.source_dir / "two.gcda"
    counters.unlink(missing_ok=True)
    subprocess.run([str(target.binary), *argv], check=True, capture_output=True, cwd=target.source_dir)
    features = features_of({".twinbench-gcov/two.gcda": counters.read_bytes()})
    counters.unlink()
    return functions_run(features)


def test_the_notes_tell_which_function_a_line_is_in(tmp_path: Path) -> None:
    from twinbench.reference.coverage.gcov import gcno_functions
    from twinbench.testgen.mutants import FunctionMap, Site, may_reach

    target = coverage_program(tmp_path / "src")
    cwd, functions = gcno_functions((target.source_dir / "two.gcno").read_bytes())
    assert cwd == str(target.source_dir)
    assert sorted((source, first, last) for _ident, source, first, last in functions) == [
        ("two.c", 3, 5),
        ("two.c", 6, 10),
    ]
    assert gcno_functions(b"not a note file") == ("", [])
    in_twice = FunctionMap(target).functions_at(Site("two.c", 0, 4, "*", "+"))
    outside = FunctionMap(target).functions_at(Site("two.c", 0, 2, "1", "2"))
    assert in_twice is not None and len(in_twice) == 1 and outside is None
    # a run that calls twice() ran it; one that does not, did not; a run without counters may have
    assert may_reach(functions_of_run(target, ["a", "3"]), in_twice)
    assert not may_reach(functions_of_run(target, ["5"]), in_twice)
    assert may_reach(None, in_twice) and may_reach(frozenset(), outside)


def test_a_mutant_is_graded_only_on_the_cases_that_run_its_function(tmp_path: Path, bwrap: Sandbox) -> None:
    """A case that never calls twice() cannot notice a mutant inside it: such a mutant survives ungraded,
    and one the suite does reach is killed by a case that runs it."""
    target = coverage_program(tmp_path / "src")
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    specs = [CaseSpec(id="plain", argv=["5"]), CaseSpec(id="doubled", argv=["a", "3"])]
    suite, _ = record_reference(task, specs, bwrap)
    runs = {spec.id: functions_of_run(target, spec.argv) for spec in specs}
    builder = MutantBuilder(target, tmp_path / "cache")
    plain_only = Suite(cases=[case for case in suite.cases if case.id == "plain"])
    report = mutation_score(task, plain_only, target, 20, bwrap, workers=2, builder=builder, runs=runs)
    inside = [m for m in report.mutants if m.line == 4 and m.status != "equivalent"]
    assert inside and all(m.status == "survived" and m.reached is False and not m.killed_by for m in inside)
    assert report.unreached == len(inside)
    assert report.baseline_cases == 1  # the unmutated rebuild ran only where mutants were graded
    full = mutation_score(task, suite, target, 20, bwrap, workers=2, builder=builder, runs=runs)
    assert all(m.status == "killed" and m.killed_by == ["doubled"] for m in full.mutants if m.line == 4)
    assert {m.line for m in full.mutants if m.status == "killed"} >= {4, 7, 8}


def test_an_explored_input_that_runs_a_survivors_code_joins_the_suite_and_kills_it(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """testgen --mutants: the suite never calls twice(); of the inputs exploration kept out of the suite, each
    survivor's binary runs those that reach its code beside the unmutated rebuild, and only the one on which
    a survivor behaves differently is recorded: it is added because it kills the mutants there."""
    from twinbench.testgen import generate
    from twinbench.testgen.explore import Candidate, Outcome
    from twinbench.testgen.probe import ReferenceProbes

    target = coverage_program(tmp_path / "src")
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="t0000", argv=["5"])], bwrap)
    runs = {"t0000": functions_of_run(target, ["5"])}
    features = {
        tuple(argv): frozenset(("exit", 0) for _ in [0]) | _code_features(target, argv) for argv in (["7"], ["a", "3"])
    }
    unused = [
        Candidate(spec=CaseSpec(id="x", argv=list(argv)), features=found, status=0, outcome=Outcome(status=0))
        for argv, found in features.items()
    ]
    builder = MutantBuilder(target, tmp_path / "cache")
    proved = proofs_made(builder, monkeypatch)
    monkeypatch.setattr(generate, "MutantBuilder", lambda t: builder)
    recorded = recordings(monkeypatch)
    options = generate.TestgenOptions(mutants=20, workers=2)
    before, after, added = generate.kill_survivors(
        task, suite, unused, target, options, bwrap, 1, ReferenceProbes(), lambda *_: None, None, runs
    )
    # the optimized builds of the proof are paid only for what is left alive after the hunt, and for the
    # TIMED_PROOFS survivors a proof is timed on before it
    left_alive = [m for m in after.mutants if m.status in ("survived", "equivalent")]
    assert len(proved) <= generate.TIMED_PROOFS + len(left_alive)
    assert len({m.line for m in after.mutants if m.status == "killed"} & set(proved)) <= generate.TIMED_PROOFS
    proven = {m.id for m in after.mutants if m.equivalence == "identical optimized build"}
    assert proven == {m.id for m in before.mutants if m.equivalence == "identical optimized build"}
    inside = [m.id for m in before.mutants if m.line == 4 and m.status == "survived"]
    assert inside and all(m.reached is False for m in before.mutants if m.id in inside)
    # `7` runs main(), where survivors are left too (`argc > 3`), but none of them prints anything else on it
    elsewhere = [m for m in before.mutants if m.status == "survived" and m.line != 4]
    assert elsewhere and recorded == [["a", "3"]]
    assert after.hunt[0].screened > after.hunt[0].tried == 1
    assert [case.argv for case in added.cases] == [["a", "3"]] and added.cases[0].id in ("t0001", "t0002")
    killer = added.cases[0].id
    assert all(m.status == "killed" and m.killed_by == [killer] for m in after.mutants if m.id in inside)
    assert after.kill_rate is not None and before.kill_rate is not None and after.kill_rate > before.kill_rate
    assert after.unreached == 0


UNSTEADY = textwrap.dedent(
    """\
    #include <stdio.h>
    #include <stdlib.h>
    #include <time.h>
    static int twice(int n) {
        return n * 2 + 1;
    }
    int main(int argc, char **argv) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (argc > 2) printf("%d %ld\\n", twice(atoi(argv[2])), argv[1][0] == 'r' ? now.tv_nsec : 0L);
        else printf("%d\\n", atoi(argv[1]) + 1);
        return 0;
    }
    """
)


def test_an_input_the_program_answers_differently_each_time_is_not_recorded_for_a_survivor(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`r 3` prints the clock: every survivor's run differs from the rebuild's on it, and recording drops it as
    flaky (figlet's fonts with broken data: all 29 inputs a first screen flagged were). The rebuild runs twice,
    and an input it answers differently is screened out."""
    from twinbench.testgen import generate
    from twinbench.testgen.explore import Candidate, Outcome
    from twinbench.testgen.probe import ReferenceProbes

    target = coverage_program(tmp_path / "src", UNSTEADY)
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="t0000", argv=["5"])], bwrap)
    runs = {"t0000": functions_of_run(target, ["5"])}
    unused = [
        Candidate(spec=CaseSpec(id="x", argv=argv), features=_code_features(target, argv), status=0, outcome=Outcome(0))
        for argv in (["r", "3"], ["a", "3"])
    ]
    monkeypatch.setattr(generate, "MutantBuilder", lambda t: MutantBuilder(t, tmp_path / "cache"))
    recorded = recordings(monkeypatch)
    options = generate.TestgenOptions(mutants=20, workers=2)
    *_, added = generate.kill_survivors(
        task, suite, unused, target, options, bwrap, 1, ReferenceProbes(), lambda *_: None, None, runs
    )
    assert ["a", "3"] in recorded and ["r", "3"] not in recorded
    assert [case.argv for case in added.cases] == [["a", "3"]]


def _code_features(target: MutationTarget, argv: list[str]) -> frozenset[tuple[object, ...]]:
    from twinbench.reference.coverage import features_of

    counters = target.source_dir / "two.gcda"
    counters.unlink(missing_ok=True)
    subprocess.run([str(target.binary), *argv], check=True, capture_output=True, cwd=target.source_dir)
    found = features_of({".twinbench-gcov/two.gcda": counters.read_bytes()})
    counters.unlink()
    return frozenset(found)


def test_survivors_no_explored_input_kills_are_hunted_with_variations_of_inputs_that_reach_them(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's one case, `a 0`, prints 1, and so do the mutants `argc > 3` (then atoi("a") + 1) and
    twice's: their code runs without the case noticing them, and no explored input is left to try.
    Variations start from the inputs that reach a survivor's code; those that kill one join the suite."""
    from twinbench.testgen import generate
    from twinbench.testgen.explore import Candidate, Outcome
    from twinbench.testgen.probe import ReferenceProbes

    target = coverage_program(tmp_path / "src")
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="t0000", argv=["a", "0"])], bwrap)
    runs = {"t0000": functions_of_run(target, ["a", "0"])}

    def candidate(argv: list[str]) -> Candidate:
        features = frozenset({("exit", 0)}) | _code_features(target, argv)
        return Candidate(spec=CaseSpec(id="x", argv=argv), features=features, status=0, outcome=Outcome(status=0))

    asked: list[list[list[str]]] = []

    def variations(starts: list[Candidate], count: int) -> list[Candidate]:
        asked.append([start.spec.argv for start in starts])
        return [candidate(["a", "0"]), candidate(["a", "3"])]

    monkeypatch.setattr(generate, "MutantBuilder", lambda t: MutantBuilder(t, tmp_path / "cache"))
    options = generate.TestgenOptions(mutants=20, workers=2)
    before, after, added = generate.kill_survivors(
        task, suite, [], target, options, bwrap, 1, ReferenceProbes(), lambda *_: None, None, runs, variations,
        [candidate(["a", "0"])],
    )  # fmt: skip
    hidden = [m.id for m in before.mutants if m.status == "survived" and m.line == 7]
    assert hidden and asked and all(["a", "0"] in starts for starts in asked)
    assert [case.argv for case in added.cases] == [["a", "3"]]
    assert all(m.status == "killed" and m.killed_by == [added.cases[0].id] for m in after.mutants if m.id in hidden)
    assert after.kill_rate is not None and before.kill_rate is not None and after.kill_rate > before.kill_rate


def test_inputs_that_take_a_rare_path_through_a_survivors_function_are_tried_first() -> None:
    """Every run calls decode(); one in many takes its 5-byte branch. That run comes first in the queue of
    the survivor in decode(), and inputs with other data files before repeats of one."""
    from typing import Any

    from twinbench.formats import Mutant
    from twinbench.testgen.explore import Candidate
    from twinbench.testgen.generate import SurvivorHunt

    decode = ("utf8.gcda", 7)
    common = [("utf8.gcda", 7, arc) for arc in (0, 1, 2)]

    def candidate(name: str, extra: list[tuple[str, int, int]], files: dict[str, bytes]) -> Candidate:
        return Candidate(spec=CaseSpec(id=name, argv=[name], files=files), features=frozenset([*common, *extra]))

    same_file = {"font.flf": b"one"}
    candidates = [
        candidate("a", [], same_file),
        candidate("b", [], same_file),
        candidate("c", [], {"font.flf": b"two"}),
        candidate("rare", [("utf8.gcda", 7, 9)], same_file),
    ]
    mutant = Mutant(id="m000", file="utf8.c", line=124, original="==", replacement="!=", diff="", status="survived")
    unused: Any = None
    hunt = SurvivorHunt(
        task=unused, sandbox=unused, workers=1, builder=unused, sites={}, needed={"m000": frozenset([decode])},
        baseline=Path("/"), progress=lambda *_: None, left=lambda: 1.0, next_id=0, mutants=[mutant],
    )  # fmt: skip
    order = [c.spec.argv[0] for c in hunt.queue(mutant, candidates)]
    assert order == ["rare", "a", "c", "b"]


def test_the_next_mutant_builds_while_this_one_is_graded_one_build_at_a_time() -> None:
    """make keeps one core busy while the sandboxes grade: the build of site k+1 starts when k is taken, but
    the builder's single tree never sees two builds at once."""
    import threading
    from typing import Any

    from twinbench.testgen.mutants import BuildsAhead

    running, overlaps, order = 0, 0, []
    lock = threading.Lock()

    class SlowBuilder:
        def _make(self, what: str) -> Path:
            nonlocal running, overlaps
            with lock:
                running += 1
                overlaps += running > 1
            time.sleep(0.05)
            with lock:
                running -= 1
                order.append(what)
            return Path(what)

        def baseline(self, file: str) -> Path:
            return self._make("base:" + file)

        def build(self, site: Site) -> Path:
            return self._make(f"{site.file}:{site.line}")

    sites = [Site("a.c", 0, line, "+", "-") for line in (1, 2, 3)]
    fake: Any = SlowBuilder()
    builds = BuildsAhead(fake, sites)
    try:
        assert builds.take(0) == (Path("base:a.c"), Path("a.c:1"))
        time.sleep(0.2)  # "grading" m000: the next build has run meanwhile
        assert order[-1] == "a.c:2"
        assert builds.take(1) == (Path("base:a.c"), Path("a.c:2")) and builds.take(2)[1] == Path("a.c:3")
    finally:
        builds.close()
    assert overlaps == 0 and order.count("a.c:2") == 1


def test_seed_runs_coverage_found_nothing_new_in_are_screened_after_the_explored_inputs(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The explorer archives seed runs that reached nothing new (by function only); the hunt screens them
    too, in rounds of their own, and one that kills a survivor joins the suite."""
    from dataclasses import replace

    from twinbench.testgen import generate
    from twinbench.testgen.explore import Candidate, Outcome
    from twinbench.testgen.probe import ReferenceProbes

    target = coverage_program(tmp_path / "src")
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="t0000", argv=["5"])], bwrap)
    runs = {"t0000": functions_of_run(target, ["5"])}
    edges = _code_features(target, ["a", "3"])
    by_function = frozenset({(name, function, -1) for name, function, _arc in edges})  # type: ignore[misc]
    sweep = Candidate(spec=CaseSpec(id="x", argv=["a", "3"]), features=edges, status=0, outcome=Outcome(status=0))
    monkeypatch.setattr(generate, "MutantBuilder", lambda t: MutantBuilder(t, tmp_path / "cache"))
    options = generate.TestgenOptions(mutants=20, workers=2)
    _, after, added = generate.kill_survivors(
        task, suite, [], target, options, bwrap, 1, ReferenceProbes(), lambda *_: None, None, runs,
        seed_runs=[replace(sweep, features=by_function)],
    )  # fmt: skip
    assert [case.argv for case in added.cases] == [["a", "3"]]
    assert [r.source for r in after.hunt] == ["seeds"] and after.hunt[0].killed >= 1


def test_a_cross_of_two_inputs_holds_one_command_line_and_both_ones_data() -> None:
    """-L and a right-to-left font: one run has the option, another the font; only their cross shows a fault
    in how the two meet."""
    from twinbench.testgen.generate import crossed

    option = CaseSpec(id="a", argv=["-L", "-f", "data.flf", "hi"], files={"data.flf": b"font"}, origin="docs:x")
    text = CaseSpec(id="b", argv=["-C", "data.flc"], stdin=b"\x1b$)A\x0e!!", files={"data.flc": b"c", "data.flf": b"x"})
    cross = crossed(option, text, join_arguments=False)
    assert cross.argv == option.argv and cross.stdin == text.stdin and cross.origin == "mutation"
    assert cross.files == {"data.flf": b"font", "data.flc": b"c"}  # the command line names its own font
    joined = crossed(option, text, join_arguments=True)
    assert joined.argv == ["-L", "-f", "data.flf", "hi", "-C", "data.flc"] and joined.files == cross.files
    assert crossed(text, option, join_arguments=False).stdin == text.stdin  # no stdin to bring: its own stays


def test_the_proof_reserve_is_what_a_proof_takes_on_this_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hunt leaves time per survivor for the proofs after it: timed on the program, since an LTO build's
    proof (lz4) takes longer than figlet's, whose time the fixed reserve was; the first proof also builds the
    optimized trees, so the last one timed is the cost of each later one."""
    from twinbench.formats.testgen import Mutant
    from twinbench.testgen import generate
    from twinbench.testgen.generate import timed_proofs

    target = small_program(tmp_path / "src")
    builder = MutantBuilder(target, tmp_path / "cache")
    sites = {f"m{n}": site for n, site in enumerate(mutation_sites(target)[:3])}
    delays = iter([3.0, 2.4, 0.0, 0.0])

    def slow_proof(site: Site) -> bool:
        time.sleep(next(delays))
        return site is sites["m0"]

    builder.compiler_proves_equivalent = slow_proof  # type: ignore[method-assign]
    mutants = [Mutant(id=m, file="p.c", line=1, original="", replacement="", status="survived") for m in sites]
    monkeypatch.setattr(generate, "PROOF_SECONDS", 2.0)
    proven, seconds = timed_proofs(mutants[:2], sites, builder, lambda: 100.0)
    assert proven == {"m0"} and 2.3 < seconds < 2.9
    # a proof an earlier run cached takes no time: the reserve stays at least PROOF_SECONDS
    assert timed_proofs(mutants[2:], sites, builder, lambda: 100.0) == (set(), 2.0)
    assert timed_proofs(mutants[2:], sites, builder, lambda: 0.0) == (set(), 2.0)


def test_a_capped_hunt_goes_on_with_variations_while_the_cap_lasts(
    tmp_path: Path, bwrap: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a cap the hunt makes DIRECTED_ROUNDS rounds of variations; with one it goes on until the cap
    (or MAX_DIRECTED_ROUNDS): the fixed rounds left 140 s of figlet's 900 s unused."""
    from twinbench.testgen import generate
    from twinbench.testgen.explore import Candidate, Outcome
    from twinbench.testgen.probe import ReferenceProbes

    target = coverage_program(tmp_path / "src")
    task = Task(id="two", reference=ReferenceSpec(binary=str(target.binary)))
    suite, _ = record_reference(task, [CaseSpec(id="t0000", argv=["a", "0"])], bwrap)
    runs = {"t0000": functions_of_run(target, ["a", "0"])}
    features = frozenset({("exit", 0)}) | _code_features(target, ["a", "0"])
    asked: list[int] = []

    def variations(starts: list[Candidate], count: int) -> list[Candidate]:
        asked.append(count)  # the same input again: it shows no survivor, so every round leaves them alive
        return [
            Candidate(spec=CaseSpec(id="x", argv=["a", "0"]), features=features, status=0, outcome=Outcome(status=0))
        ]

    monkeypatch.setattr(generate, "MutantBuilder", lambda t: MutantBuilder(t, tmp_path / "cache"))
    monkeypatch.setattr(generate, "MAX_DIRECTED_ROUNDS", 7)
    options = generate.TestgenOptions(mutants=20, workers=2)
    start = [Candidate(spec=CaseSpec(id="x", argv=["a", "0"]), features=features, status=0, outcome=Outcome(status=0))]
    for time_left, rounds in ((None, generate.DIRECTED_ROUNDS), (lambda: 1000.0, 7)):
        asked.clear()
        generate.kill_survivors(
            task, suite, [], target, options, bwrap, 1, ReferenceProbes(), lambda *_: None, time_left, runs,
            variations, start,
        )  # fmt: skip
        assert len(asked) == rounds
