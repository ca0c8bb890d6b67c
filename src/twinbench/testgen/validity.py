"""The validity gate: grade built-in shallow imitations of the reference with the suite, in the sandbox.

A suite is only worth something if a high score means the program works. Three imitations that do not
work must score at most VALIDITY_THRESHOLD: the stub (exit 0, no output), the best constant answer, and the
errors-only imitation (see imitation_program), which knows only what a few probe runs of the reference show
and never sees the suite.
"""

from __future__ import annotations

import struct
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinbench.formats import Suite, Task, TestCase, TestResult, TestStatus, ValidityReport
from twinbench.grade.judge import judge
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecResult, SessionConfig
from twinbench.sandbox.launcher import ensure_helper
from twinbench.sandbox.pool import run_many
from twinbench.sandbox.testrun import request_for
from twinbench.testgen.imitation_program import program_text
from twinbench.testgen.probe import ReferenceProbes

VALIDITY_THRESHOLD = 0.10
IMITATION_SHARE = 0.08  # what selection and trimming aim for: below the threshold, with room to spare
STUB = "#!/bin/sh\nexit 0\n"


IMITATION_SOURCE = Path(__file__).with_name("imitation.c")
BLOB_MARK = b"TBIMIT01"
TEMPLATE_KINDS = ("unknown_long", "unknown_short", "missing_value_long", "missing_value_short", "missing_file")


def imitations(suite: Suite, probes: ReferenceProbes) -> dict[str, bytes]:
    """The imitations' executables, by name."""
    return {
        "stub": STUB.encode(),
        "constant": constant_program(suite).encode(),
        "errors_only": errors_only_executable(probes),
    }


def constant_program(suite: Suite) -> str:
    """The program that gives the suite's most common expected answer to everything: the best constant."""
    answers = Counter((case.expect.exit_code, case.expect.stdout, case.expect.stderr) for case in suite.cases)
    status, stdout, stderr = answers.most_common(1)[0][0] if answers else (0, b"", b"")
    return f"#!/bin/sh\nprintf '{_octal(stdout)}'\nprintf '{_octal(stderr)}' >&2\nexit {status & 0xFF}\n"


def errors_only_executable(probes: ReferenceProbes) -> bytes:
    """The errors-only imitation: the compiled generic program with the probes' knowledge appended (the
    Python program of imitation_program, slower to start, where there is no C compiler)."""
    knowledge = probes.knowledge()
    compiled = ensure_helper(IMITATION_SOURCE, "imitation", [["-static"], []])
    if compiled is None:
        return program_text(knowledge).encode()
    blob = knowledge_blob(knowledge)
    return compiled.read_bytes() + blob + struct.pack("<I", len(blob)) + BLOB_MARK


def knowledge_blob(knowledge: dict[str, Any]) -> bytes:
    """The knowledge in the binary layout imitation.c reads (little-endian u32 counts and lengths)."""
    out = bytearray()

    def number(value: int) -> None:
        out.extend(struct.pack("<I", value & 0xFFFFFFFF))

    def text(value: str, output: bool = False) -> None:
        # outputs are bytes carried as Latin-1 text; argv words and option names are real text
        data = value.encode("latin-1") if output else value.encode("utf-8", errors="surrogateescape")
        number(len(data))
        out.extend(data)

    number(len(knowledge["exact"]))
    for argv, status, stdout, stderr in knowledge["exact"]:
        number(len(argv))
        for arg in argv:
            text(arg)
        number(status)
        text(stdout, output=True)
        text(stderr, output=True)
    for names in (knowledge["long"], knowledge["long_value"]):
        number(len(names))
        for name in names:
            text(name)
    text(knowledge["short"])
    text(knowledge["short_value"])
    for kind in TEMPLATE_KINDS:
        template = knowledge["templates"].get(kind)
        number(template is not None)
        if template is not None:
            number(template["status"])
            text(template["out"], output=True)
            text(template["err"], output=True)
            number(bool(template["bare"]))
    return bytes(out)


def grade_executable(
    task: Task,
    suite: Suite,
    executable: Path,
    sandbox: Sandbox,
    workers: int,
    env: dict[str, str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[TestResult]:
    """Run every case with `executable` as ./executable in the sandbox and judge it, in suite order."""
    results: dict[str, TestResult] = {}
    by_id = {case.id: case for case in suite.cases}

    def record(case_id: str, observed: ExecResult) -> None:
        results[case_id] = judge(by_id[case_id], observed)
        if on_progress is not None and (len(results) % 32 == 0 or len(results) == len(by_id)):
            on_progress(len(results), len(by_id))

    run_executable(task, suite.cases, executable, sandbox, workers, record, env)
    return [results[case.id] for case in suite.cases]


def run_executable(
    task: Task,
    cases: list[TestCase],
    executable: Path,
    sandbox: Sandbox,
    workers: int,
    on_result: Callable[[str, ExecResult], None],
    env: dict[str, str] | None = None,
) -> None:
    """Run every case with `executable` as ./executable in the sandbox, handing each result to `on_result`."""
    with tempfile.TemporaryDirectory(prefix="twinbench-imitation-") as scratch:
        tree = Path(scratch)
        (tree / "executable").write_bytes(executable.read_bytes())
        (tree / "executable").chmod(0o755)
        config = SessionConfig(tree=tree, disk_mb=task.limits.test.disk_mb)
        jobs = []
        for case in cases:
            request = request_for(task, case)
            request.env.update(env or {})
            jobs.append((case.id, request))
        run_many(sandbox, config, jobs, workers, on_result)


def grade_script(
    task: Task,
    suite: Suite,
    script: bytes,
    sandbox: Sandbox,
    workers: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[TestResult]:
    """grade_executable for an executable's bytes."""
    with tempfile.TemporaryDirectory(prefix="twinbench-script-") as scratch:
        path = Path(scratch) / "program"
        path.write_bytes(script)
        return grade_executable(task, suite, path, sandbox, workers, on_progress=on_progress)


def imitation_passes(
    task: Task,
    suite: Suite,
    probes: ReferenceProbes,
    sandbox: Sandbox,
    workers: int,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, set[str]]:
    """The ids of the cases each imitation passes, graded in the sandbox."""
    passing: dict[str, set[str]] = {}
    for name, script in imitations(suite, probes).items():

        def advanced(done: int, total: int, name: str = name) -> None:
            if on_progress is not None:
                on_progress(f"validity gate: {name}", done, total)

        results = grade_script(task, suite, script, sandbox, workers, advanced)
        passing[name] = {result.id for result in results if result.status == TestStatus.passed}
    return passing


def gate_report(suite: Suite, passing: dict[str, set[str]], rounds: int = 1) -> ValidityReport:
    """The gate's verdict on `suite` from the imitations' passing cases (cases not in the suite are ignored)."""
    ids = [case.id for case in suite.cases]
    present = set(ids)
    scores = {name: round(len(passed & present) / len(ids), 4) if ids else 0.0 for name, passed in passing.items()}
    return ValidityReport(
        threshold=VALIDITY_THRESHOLD,
        scores=scores,
        passed=bool(ids) and all(score <= VALIDITY_THRESHOLD for score in scores.values()),
        rounds=rounds,
        passing_cases={name: [i for i in ids if i in passed][:50] for name, passed in passing.items()},
    )


def run_gate(
    task: Task,
    suite: Suite,
    probes: ReferenceProbes,
    sandbox: Sandbox,
    workers: int,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> ValidityReport:
    """Grade the three imitations with the suite; the gate passes when each scores at most the threshold.
    `suite check` computes the gate this way; testgen's reported gate is the same on its final suite (it
    reuses per-case verdicts of the same imitations, and settle_constant grades the final suite's constant)."""
    return gate_report(suite, imitation_passes(task, suite, probes, sandbox, workers, on_progress))


def trim_to_gate(suite: Suite, passing: dict[str, set[str]], balanced: bool) -> Suite:
    """Drop the last (least valuable) cases an imitation passes beyond IMITATION_SHARE of the suite.

    Grading is deterministic, so the gate's scores on the trimmed suite follow from the same passing sets."""
    if not balanced:
        return suite
    cap = max(1, int(IMITATION_SHARE * len(suite)))
    dropped: set[str] = set()
    for ids in passing.values():
        present = [case.id for case in suite.cases if case.id in ids and case.id not in dropped]
        if len(present) / max(1, len(suite)) > VALIDITY_THRESHOLD:
            dropped.update(present[cap:])
    return Suite(cases=[case for case in suite.cases if case.id not in dropped])


def settle_constant(
    task: Task,
    suite: Suite,
    passing: dict[str, set[str]],
    sandbox: Sandbox,
    workers: int,
    balanced: bool,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Suite, dict[str, set[str]]]:
    """The suite and the imitations' passes, with the constant imitation graded on this very suite.

    The best constant is the suite's own most common answer, so trimming cases or adding rounds can change
    it: passes of a constant graded on another version of the suite say nothing about this one's (testgen
    reported ripgrep's constant at 0.062 where `suite check` found 0.125). Grade the suite's constant, trim
    if it passes too much, and repeat until trimming changes nothing: the passes returned are always those
    of the returned suite's own constant, which is what `suite check` grades. Each constant is graded once
    (a case's verdict does not depend on the other cases), and every round that trims shrinks the suite, so
    the loop ends."""
    graded: dict[str, set[str]] = {}
    while True:
        script = constant_program(suite)
        if script not in graded:

            def advanced(done: int, total: int) -> None:
                if on_progress is not None:
                    on_progress("validity gate: constant", done, total)

            results = grade_script(task, suite, script.encode(), sandbox, workers, advanced)
            graded[script] = {result.id for result in results if result.status == TestStatus.passed}
        passing = {**passing, "constant": graded[script]}
        trimmed = trim_to_gate(suite, passing, balanced)
        if len(trimmed) == len(suite):
            return suite, passing
        suite = trimmed


def _octal(data: bytes) -> str:
    """printf's format for exactly these bytes."""
    return "".join(f"\\{byte:03o}" for byte in data)
