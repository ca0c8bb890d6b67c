"""Balanced selection: core cases first, shallow ones capped, near-duplicates collapsed."""

from __future__ import annotations

from dataclasses import replace

from twinbench.sandbox import ExecResult
from twinbench.testgen.classify import CaseClass
from twinbench.testgen.explore import Candidate, Outcome, behavior_features, canonical_flag
from twinbench.testgen.imitation_program import WORD
from twinbench.testgen.probe import ErrorTemplate, ProbeRun, ReferenceProbes
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.select import select_balanced

HELP = b"usage: calc [--interactive] [-q] [FILE...]\n"
PROBES = ReferenceProbes(
    exact=[ProbeRun(argv=["--help"], status=0, stdout=HELP)],
    long=["--help", "--interactive", "--quiet"],
    short="hiq",
    templates={
        "unknown_short": ErrorTemplate(status=1, stdout="", stderr=f"calc: invalid option -- '{WORD}'\n", bare=True),
        "missing_file": ErrorTemplate(status=1, stdout="", stderr=f"File {WORD} is unavailable.\n", bare=False),
    },
)


def candidate(n: int, argv: list[str], status: int, stdout: bytes = b"", stderr: bytes = b"") -> Candidate:
    outcome = Outcome(status, stdout, len(stdout), stderr, len(stderr), False)
    spec = CaseSpec(id=f"c{n}", argv=argv)
    return Candidate(spec=spec, features=frozenset({("f", n)}), status=status, outcome=outcome)


def corpus() -> list[Candidate]:
    made = [candidate(n, ["-e", f"{n}+1"], 0, f"{n + 1}\n".encode()) for n in range(40)]
    for n, letter in enumerate("ABCDEFGHJKLMNOPRSTUVWXYZ"):
        made.append(candidate(100 + n, [f"-{letter}"], 1, stderr=f"calc: invalid option -- '{letter}'\n".encode()))
    made += [candidate(200 + n, [f"f{n}.b"], 1, stderr=f"File f{n}.b is unavailable.\n".encode()) for n in range(30)]
    made += [candidate(300 + n, ["--help"], 0, HELP) for n in range(5)]
    return made


def test_core_dominates_and_shallow_cases_are_capped() -> None:
    selection = select_balanced(corpus(), limit=200, probes=PROBES)
    counts = {kind: selection.classes.count(kind) for kind in CaseClass}
    total = len(selection.chosen)
    assert counts[CaseClass.core] == 40
    assert (counts[CaseClass.info] + counts[CaseClass.cli_error]) / total <= 0.15
    # cases the errors-only imitation passes (getopt errors, missing files) stay under its share
    assert counts[CaseClass.cli_error] + counts[CaseClass.input_error] <= 0.08 * total
    assert counts[CaseClass.input_error] <= counts[CaseClass.core]
    assert selection.note == ""


def test_a_program_with_almost_no_core_behavior_is_not_capped_and_says_so() -> None:
    shallow_only = [c for c in corpus() if c.status != 0][:30] + corpus()[:3]
    selection = select_balanced(shallow_only, limit=200, probes=PROBES)
    assert len(selection.chosen) > 20 and "core" in selection.note


def test_abbreviated_long_options_collapse() -> None:
    longs = ("--interactive", "--quiet")
    assert canonical_flag("--inte", longs) == "--interactive" == canonical_flag("--interac", longs)
    assert canonical_flag("--q", longs) == "--q"  # too short to be sure
    made = [candidate(n, [arg, "x"], 0, b"ok\n") for n, arg in enumerate(["--inte", "--interac", "--interactive"])]
    selection = select_balanced(made, limit=10, probes=PROBES, long_options=longs)
    assert len(selection.chosen) == 1
    run = ExecResult(exit_code=0, stdout=b"ok\n")
    features = [set(behavior_features(c.spec, run, frozenset(), longs)) for c in made]
    assert features[0] == features[1] == features[2]


def test_core_cases_are_at_least_twice_the_input_errors() -> None:
    made = [candidate(n, ["-e", f"{n}*2"], 0, f"{2 * n}\n".encode()) for n in range(12)]
    made += [candidate(100 + n, ["-e", f"{n}+"], 1, stderr=f"parse error at {n}\n".encode()) for n in range(40)]
    selection = select_balanced(made, limit=200, probes=PROBES)
    assert selection.classes.count(CaseClass.core) == 12
    assert selection.classes.count(CaseClass.input_error) == 6


def test_a_small_suite_is_filled_with_reserve_core_cases() -> None:
    made = [candidate(n, ["-e", f"{n}*2"], 0, f"{2 * n}\n".encode()) for n in range(12)]
    made += [candidate(100 + n, ["-e", f"{n}+"], 1, stderr=f"parse error at {n}\n".encode()) for n in range(40)]
    # runs that reached no new feature but printed outputs of their own; one repeats a corpus input
    reserve = [candidate(500 + n, ["-e", f"{n}*3"], 0, f"{3 * n}\n".encode()) for n in range(30)]
    reserve.append(candidate(600, ["-e", "0*2"], 0, b"0\n"))
    selection = select_balanced(made, limit=200, probes=PROBES, floor=60, reserve=reserve)
    counts = {kind: selection.classes.count(kind) for kind in CaseClass}
    assert counts[CaseClass.core] == 42  # 12 found, 30 from the reserve, the repeated input once
    # filled to the floor of 60 with 20 core cases, then input errors capped at half of those, then refilled
    assert counts[CaseClass.input_error] == 10 and len(selection.chosen) == 52
    assert len({tuple(c.spec.argv) for c in selection.chosen}) == 52


def test_one_run_of_each_input_form_is_kept_before_other_behaviors_when_the_limit_bites() -> None:
    """Three runs each show a new output shape; two others are the only runs of a form (a font with CR line
    ends). With room for two cases beyond the code cover, the forms are kept."""
    from twinbench.testgen.select import select_cover

    shapes = [
        replace(candidate(n, ["-e", str(n)], 0, b"x\n"), features=frozenset({("shape", 0, n, 1), ("chars", 0, str(n))}))
        for n in range(3)
    ]
    forms = [
        replace(candidate(10 + n, ["-f", "data.flf"], 0, b"x\n"), features=frozenset({("form", form, "-f", 0)}))
        for n, form in enumerate(("data files:cr", "encodings:iso2022#3"))
    ]
    chosen = select_cover([*shapes, *forms], limit=2)
    assert {made.spec.id for made in chosen} == {"c10", "c11"}
