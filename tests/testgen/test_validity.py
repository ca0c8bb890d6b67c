"""The validity gate: shallow imitations of a real reference, graded with a suite in the real sandbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from twinbench.formats import Expectation, Suite, TestCase, load_suite
from twinbench.formats.task import TaskDir
from twinbench.protocols import Sandbox
from twinbench.testgen.classify import Behavior, CaseClass, classify, errors_only_passes
from twinbench.testgen.imitation_program import WORD, respond
from twinbench.testgen.pipeline import load_cli_model
from twinbench.testgen.probe import ReferenceProbes, probe_reference
from twinbench.testgen.validity import errors_only_executable, imitation_passes, run_gate, trim_to_gate


@pytest.fixture(scope="module")
def figlet_probes(figlet_task: TaskDir) -> ReferenceProbes:
    from twinbench.sandbox import get_sandbox

    return probe_reference(figlet_task.task, load_cli_model(figlet_task), get_sandbox("bwrap"))


def case(case_id: str, argv: list[str], status: int, stdout: bytes = b"", stderr: bytes = b"") -> TestCase:
    return TestCase(id=case_id, argv=argv, expect=Expectation(exit_code=status, stdout=stdout, stderr=stderr))


HAND_MADE = ReferenceProbes.model_validate(
    {
        "exact": [{"argv": ["--help"], "status": 0, "stdout": b"usage: prog [-ab] [-f FILE]\n"}],
        "long": ["--help", "--verbose", "--version", "--file"],
        "long_value": ["--file"],
        "short": "abf",
        "short_value": "f",
        "templates": {
            "unknown_long": {"status": 2, "stdout": "", "stderr": f"prog: bad option '{WORD}'\n", "bare": False},
            "unknown_short": {"status": 2, "stdout": "", "stderr": f"prog: bad option -- {WORD}\n", "bare": True},
            "missing_value_short": {"status": 3, "stdout": "", "stderr": f"prog: {WORD} needs it\n", "bare": False},
            "missing_file": {"status": 4, "stdout": "", "stderr": f"prog: {WORD}: no such file\n", "bare": False},
        },
    }
)
ARGVS = [
    [], ["--help"], ["--he"], ["--ver"], ["--bogus"], ["--bogus=1"], ["-a", "-Z"], ["-abZ"], ["-f"], ["-af"],
    ["-fX"], ["-f", "x", "missing.txt"], ["--file"], ["--file=x"], ["--", "-a"], ["-"], ["café"], ["-é"],
    ["-a", "--help"], ["/etc/passwd"], ["-b", "ok"],
]  # fmt: skip


def test_compiled_imitation_agrees_with_its_specification(tmp_path: Path) -> None:
    program = tmp_path / "imitation"
    program.write_bytes(errors_only_executable(HAND_MADE))
    program.chmod(0o755)
    (tmp_path / "ok").write_text("here")
    knowledge = HAND_MADE.knowledge()
    for argv in ARGVS:
        run = subprocess.run([str(program), *argv], cwd=tmp_path, capture_output=True, check=False)
        expected = respond(knowledge, argv, lambda path: (tmp_path / path).exists())
        assert (run.returncode, run.stdout, run.stderr) == expected, argv
    assert respond(knowledge, ["-abZ"]) == (2, b"", b"prog: bad option -- Z\n")
    assert respond(knowledge, ["--he"])[1].startswith(b"usage")  # an unambiguous prefix is the option
    assert respond(knowledge, ["--ver"])[0] == 2  # an ambiguous prefix is not


def test_errors_only_imitation_of_figlet_passes_its_errors_and_nothing_else(
    figlet_task: TaskDir, figlet_probes: ReferenceProbes, bwrap: Sandbox
) -> None:
    suite = load_suite(figlet_task.suite_path)
    errors = [c for c in suite.cases if c.expect.exit_code != 0]
    core = [c for c in suite.cases if classify(Behavior.of_case(c), figlet_probes) == CaseClass.core]
    assert errors and len(core) > 100
    sample = Suite(cases=[*errors, *core[:40]])
    passing = imitation_passes(figlet_task.task, sample, figlet_probes, bwrap, workers=2)
    assert not passing["stub"]
    assert passing["errors_only"] and not passing["errors_only"] & {c.id for c in core}
    # the in-process prediction agrees with grading in the sandbox
    predicted = {c.id for c in sample.cases if errors_only_passes(Behavior.of_case(c), figlet_probes)}
    assert predicted == passing["errors_only"]


def test_a_suite_of_errors_fails_the_gate_loudly(
    figlet_task: TaskDir, figlet_probes: ReferenceProbes, bwrap: Sandbox
) -> None:
    suite = load_suite(figlet_task.suite_path)
    shallow = Suite(cases=[c for c in suite.cases if errors_only_passes(Behavior.of_case(c), figlet_probes)])
    report = run_gate(figlet_task.task, shallow, figlet_probes, bwrap, workers=2)
    assert not report.passed and report.scores["errors_only"] == 1.0


def test_classes_of_figlet_behaviors(figlet_probes: ReferenceProbes) -> None:
    usage = figlet_probes.templates["unknown_short"].stderr.replace(WORD, "Z").encode("latin-1")
    assert classify(Behavior.of_case(case("a", ["-Z"], 1, stderr=usage)), figlet_probes) == CaseClass.cli_error
    art = b" _   _ \n| | | |\n"
    assert classify(Behavior.of_case(case("b", ["H"], 0, stdout=art)), figlet_probes) == CaseClass.core
    font = b"figlet: nofont: Unable to open font file\n"
    assert classify(Behavior.of_case(case("c", ["-f", "nofont"], 1, stderr=font)), figlet_probes) == "input_error"
    version = next(run for run in figlet_probes.exact if run.argv == ["-v"])
    assert classify(Behavior.of_case(case("d", ["-v"], 0, stdout=version.stdout)), figlet_probes) == CaseClass.info
    assert classify(Behavior.of_case(case("e", ["x"], 0)), figlet_probes) == CaseClass.trivial
    # regression: a success that reports only on stderr (sox's `stat`) was trivial, so never counted as core
    stats = b"Samples read: 8000\nMaximum amplitude: 0.5\n"
    assert classify(Behavior.of_case(case("f", ["in.wav", "-n", "stat"], 0, stderr=stats)), figlet_probes) == "core"
    warned = b"figlet: unrecognized option '--x', ignored\n"
    assert classify(Behavior.of_case(case("g", ["--x"], 0, stderr=warned)), figlet_probes) == "cli_error"


def test_trimming_drops_only_what_an_imitation_passes_beyond_its_share() -> None:
    suite = Suite(cases=[case(f"t{i}", [str(i)], 0, stdout=b"x") for i in range(50)])
    passing = {"constant": {f"t{i}" for i in range(20)}, "stub": set()}
    trimmed = trim_to_gate(suite, passing, balanced=True)
    assert len(trimmed) == 50 - 16 and all(c.id not in {f"t{i}" for i in range(4, 20)} for c in trimmed.cases)
    assert trim_to_gate(suite, passing, balanced=False) == suite


def test_the_constant_is_graded_on_the_suite_as_it_finally_is(
    figlet_task: TaskDir, figlet_probes: ReferenceProbes, bwrap: Sandbox
) -> None:
    """Trimming the cases one constant passes made another answer the most common; the gate kept the old
    constant's passes and reported a score `suite check` could not reproduce (ripgrep: 0.062 against 0.125)."""
    from twinbench.testgen.validity import gate_report, settle_constant

    x = [case(f"x{i}", ["x"], 0, b"x\n") for i in range(6)]
    y = [case(f"y{i}", ["y"], 0, b"y\n") for i in range(4)]
    suite = Suite(cases=[*x, *y])
    stale = {name: set[str]() for name in ("stub", "constant", "errors_only")}  # graded on another suite
    settled, passing = settle_constant(figlet_task.task, suite, stale, bwrap, 2, balanced=True)
    assert len(settled) < len(suite)  # x's cases, then y's, were trimmed to their share
    fresh = imitation_passes(figlet_task.task, settled, figlet_probes, bwrap, 2)
    reported = gate_report(settled, passing).scores["constant"]
    assert reported == gate_report(settled, fresh).scores["constant"] > 0


def test_the_gate_testgen_reports_is_the_gate_suite_check_computes(
    figlet_task: TaskDir, figlet_probes: ReferenceProbes, bwrap: Sandbox
) -> None:
    """Regression: settling the constant stopped after three rounds, when trimming for the third most common
    answer had made a fourth the most common; testgen then reported the third constant's passes (0.083,
    passed) for a suite whose own constant passes 0.167, as `suite check` found. Settling now ends only when
    trimming changes nothing, so the reported gate is `run_gate` on the final suite."""
    from twinbench.testgen.validity import gate_report, run_gate, settle_constant

    counts = {"a": 9, "b": 8, "c": 7, "d": 6}
    common = [
        case(f"{word}{i}", [word], 0, f"{word}\n".encode()) for word, count in counts.items() for i in range(count)
    ]
    distinct = [case(f"u{i}", [f"u{i}"], 1, f"u{i}\n".encode()) for i in range(50 - len(common))]
    suite = Suite(cases=[*common, *distinct])
    nothing = {name: set[str]() for name in ("stub", "constant", "errors_only")}
    settled, passing = settle_constant(figlet_task.task, suite, nothing, bwrap, 2, balanced=True)
    reported = gate_report(settled, passing)
    computed = run_gate(figlet_task.task, settled, figlet_probes, bwrap, 2)
    assert reported.scores["constant"] == computed.scores["constant"] <= 0.10, (reported.scores, computed.scores)
    assert reported.passed == computed.passed
