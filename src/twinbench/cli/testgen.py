"""`twinbench coverage-build`, `testgen` and `suite check`: make the hidden suite and judge its quality."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinbench.cli import progress
from twinbench.cli.errors import BadInput, ExitCode
from twinbench.cli.options import SandboxOption, WorkersOption, default_workers, task_and_sandbox
from twinbench.cli.output import alarm, plural, say
from twinbench.cli.root import app, group
from twinbench.formats import HuntRound, MutationReport, TaskDir, ValidityReport, load_suite
from twinbench.protocols import Sandbox

CoverageBuildOption = Annotated[
    Path | None,
    typer.Option("--coverage-build", metavar="DIR", help="output of twinbench coverage-build, to guide by coverage"),
]


@app.command(
    "coverage-build",
    epilog="Example: twinbench coverage-build --debian figlet -o cov/figlet -j 2",
)
def coverage_build_command(
    debian: Annotated[
        str, typer.Option("--debian", metavar="PKG", help="Debian package whose installed version is built")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="directory for the source and the build")
    ],
    binary: Annotated[
        str | None, typer.Option("--binary", metavar="CMD", help="executable to instrument, if not the package name")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help="parallel build jobs")] = 2,
) -> None:
    """Build the reference through its debian/rules with coverage counters (C/C++ gcov, Rust llvm, Go -cover).

    Installs the package's build dependencies with apt-get build-dep (as root or through sudo -n).
    """
    from twinbench.reference.coverage import coverage_build

    with progress.status(f"building {debian} with coverage") as show:
        build = coverage_build(debian, output.resolve(), binary, log=show, jobs=jobs)
    say(
        f"{build.package} {build.version} ({build.language}, {build.toolchain}): {build.binary} "
        f"({plural(len(build.source_files), 'own source file')}, built in {build.build_seconds:.0f}s, "
        f"{build.build_cpu_seconds:.0f}s CPU; log {build.build_log})"
    )


@app.command("testgen", epilog="Example: twinbench testgen tasks/figlet --budget-s 60 --coverage-build cov/figlet")
def testgen_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="task directory")],
    budget_s: Annotated[
        float,
        typer.Option("--budget-s", metavar="SECONDS", help="time cap; also sets the run budget to 300 runs per second"),
    ] = 60.0,
    runs: Annotated[
        int | None,
        typer.Option("--runs", metavar="N", help="exact run budget instead (no time cap; fully reproducible)"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="same seed and budget give the same suite")] = 0,
    max_tests: Annotated[int, typer.Option("--max-tests", metavar="N", help="largest suite to keep")] = 1000,
    coverage_build: CoverageBuildOption = None,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
    mutants: Annotated[
        int,
        typer.Option(
            "--mutants", min=0, metavar="N", help="grade N mutants of the reference; add inputs that kill survivors"
        ),
    ] = 0,
    base_args: Annotated[
        list[str] | None,
        typer.Option(
            "--base-arg",
            metavar="ARG",
            help="start every invocation with ARG (repeatable, in order): a mode flag such as fzf's --filter=a",
        ),
    ] = None,
    base_files: Annotated[
        list[str] | None,
        typer.Option(
            "--base-file",
            metavar="NAME=FILE",
            help="give every invocation FILE's content as the input file NAME (repeatable): a key, a database",
        ),
    ] = None,
) -> None:
    """Generate the task's hidden suite by exploring the reference in the sandbox."""
    from twinbench.testgen.generate import TestgenOptions
    from twinbench.testgen.pipeline import run_testgen

    task_dir, backend = task_and_sandbox(task, sandbox)
    options = TestgenOptions(
        budget_s=budget_s,
        runs=runs,
        seed=seed,
        max_tests=max_tests,
        workers=default_workers(workers),
        mutants=mutants,
        base_args=base_args or [],
        base_files=_base_files(base_files or []),
    )
    with progress.phases("testgen") as advanced:
        report = run_testgen(task_dir, backend, options, coverage_build, advanced)
    coverage = f"{report.coverage.percent:.1f}% line coverage, " if report.coverage else ""
    say(
        f"{report.task}: {plural(report.kept, 'test')} kept ({coverage}{plural(report.executions, 'run')}, "
        f"{plural(report.features, 'feature')}, {len(report.dropped)} dropped, {len(report.normalized)} normalized, "
        f"{report.seconds:.0f}s, guided by {report.guidance})"
    )
    if report.source_seconds >= 1:
        say(f"the Debian source was fetched first, outside the budget: {report.source_seconds:.0f}s")
    _say_classes(report.classes, report.core_share)
    if report.balance_note:
        say(f"note: {report.balance_note}")
    if report.validity is not None:
        _say_validity(report.validity)
    if report.mutation is not None:
        _say_mutation(report.mutation, report.mutation_before)
    say(f"suite: {task_dir.suite_path}; report: {task_dir.root / 'tests' / 'testgen.json'}")


def _base_files(pairs: list[str]) -> dict[str, bytes]:
    """--base-file NAME=FILE pairs read into case files; a malformed pair or an unreadable file is bad input."""
    from twinbench.formats.suite import check_relative_path

    files: dict[str, bytes] = {}
    for pair in pairs:
        name, sep, source = pair.partition("=")
        if not sep or not source:
            raise BadInput(f"--base-file {pair!r}: expected NAME=FILE")
        try:
            files[check_relative_path(name)] = Path(source).read_bytes()
        except ValueError as exc:
            raise BadInput(f"--base-file {pair!r}: {exc}") from None
        except OSError as exc:
            raise BadInput(f"--base-file {pair!r}: cannot read {source} ({exc.strerror or exc})") from None
    return files


def _say_classes(classes: dict[str, int], core_share: float | None) -> None:
    if classes:
        share = f" (core {100 * core_share:.1f}%)" if core_share is not None else ""
        say("classes: " + ", ".join(f"{name} {count}" for name, count in classes.items()) + share)


def _say_validity(validity: ValidityReport) -> None:
    scores = ", ".join(
        f"{name} {score:.3f}{' (too high)' if score > validity.threshold else ''}"
        for name, score in validity.scores.items()
    )
    if validity.passed:
        say(f"validity gate passed (each imitation at most {validity.threshold:.2f}): {scores}")
    else:
        alarm(
            f"VALIDITY GATE FAILED: shallow imitations score above {validity.threshold:.2f}: {scores}. "
            "A high score on this suite does not mean the program works."
        )


def mutation_summary(mutation: MutationReport, before: MutationReport | None = None) -> str:
    """One line on the mutants: how many were made and graded, and the kill rate of those graded. With none
    graded there is no rate, and the rebuild's count is not a finding (it is graded only alongside a mutant)."""
    made = (
        f"mutants: {mutation.requested} made, {mutation.build_failed} did not build, {mutation.equivalent} "
        "equivalent (the compiler made the same binary)"
    )
    graded = mutation.killed + mutation.survived
    not_run = f"{mutation.not_run} not run: the time cap came first" if mutation.not_run else ""
    if not graded:
        return f"{made}; none graded" + (f" ({not_run})" if not_run else "")
    rate = f"{100 * mutation.kill_rate:.1f}%" if mutation.kill_rate is not None else "n/a"
    was = f" (before adding mutant-killing cases: {100 * before.kill_rate:.1f}%)" if before and before.kill_rate else ""
    # testgen grades the rebuild only on the cases a mutant reached: zero then means "none graded", not "fails all"
    passing = (
        f" ({plural(mutation.baseline_cases, 'case')} pass on the unmutated rebuild)" if mutation.baseline_cases else ""
    )
    return (
        f"{made}; killed {mutation.killed} of {graded} = {rate}{was}{passing}"
        + (f"; {not_run}" if not_run else "")
        + (f"; {mutation.unreached} of the survivors are on lines no case runs" if mutation.unreached else "")
    )


REACHED_NOTE = {True: " (line run by the suite)", False: " (line never run by the suite)", None: ""}


def _say_mutation(mutation: MutationReport, before: MutationReport | None = None) -> None:
    say(mutation_summary(mutation, before))
    if mutation.hunt:
        say(hunt_summary(mutation.hunt))


suite_app = group("Inspect a task's hidden suite.", "Example: twinbench suite check tasks/figlet")


@suite_app.command(
    "check", epilog="Example: twinbench suite check tasks/figlet --mutants 20 --coverage-build cov/figlet"
)
def suite_check_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="task directory")],
    mutants: Annotated[
        int, typer.Option("--mutants", min=0, metavar="N", help="mutants of the reference to grade")
    ] = 0,
    coverage_build: Annotated[
        Path | None,
        typer.Option("--coverage-build", metavar="DIR", help="output of twinbench coverage-build (for --mutants)"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="which mutants are made")] = 0,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="also write the findings to this file")
    ] = None,
    rerecord: Annotated[
        bool,
        typer.Option(
            "--rerecord",
            help="first record every case again on the installed reference and drop what recording drops now",
        ),
    ] = False,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Grade shallow imitations (and mutants) of the reference with the suite; exit 1 if the gate fails."""
    from twinbench.testgen.check import check_suite

    if mutants and coverage_build is None:
        raise BadInput("--mutants needs --coverage-build (mutants are made from its sources)")
    task_dir, backend = task_and_sandbox(task, sandbox)
    rewritten = _rerecord(task_dir, backend, default_workers(workers)) if rerecord else False
    with progress.phases("checking", elapsed=False) as advanced:
        found = check_suite(task_dir, backend, default_workers(workers), mutants, coverage_build, seed, advanced)
    if rewritten:
        from twinbench.testgen.rerecord import note_check

        note_check(task_dir, found.classes, found.core_share, found.validity)
    say(f"{found.task}: {plural(found.cases, 'test')}")
    _say_classes(found.classes, found.core_share)
    _say_validity(found.validity)
    if found.mutation is not None:
        _say_mutation(found.mutation)
        for mutant in [m for m in found.mutation.mutants if m.status == "survived"][:20]:
            where = REACHED_NOTE[mutant.reached]
            say(f"  survived {mutant.id} {mutant.file}:{mutant.line} {mutant.original} -> {mutant.replacement}{where}")
            for line in mutant.diff.splitlines()[2:]:
                say(f"    {line}")
    if json_out is not None:
        json_out.write_text(found.model_dump_json(indent=2), encoding="utf-8")
    if not found.validity.passed:
        raise typer.Exit(ExitCode.FAILED)


def _rerecord(task_dir: TaskDir, backend: Sandbox, workers: int) -> bool:
    """Re-record the suite before checking it; drift stops the command (exit 1) with the suite unchanged.
    True when the suite was written again."""
    from twinbench.testgen.record import drop_kinds
    from twinbench.testgen.rerecord import RERECORD_REPEATS, rerecord_suite

    runs = len(load_suite(task_dir.suite_path)) * RERECORD_REPEATS
    done = 0
    with progress.phases("re-recording") as advanced:

        def one_run() -> None:
            nonlocal done
            done += 1
            advanced("re-recording", done, runs)

        found = rerecord_suite(task_dir, backend, workers, on_progress=one_run)
    reasons = drop_kinds(found.dropped)
    dropped = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common()) or "none"
    say(f"re-recorded {plural(found.cases, 'case')}: dropped {dropped}")
    for case_id, reason in list(found.dropped.items())[:20]:
        say(f"  dropped {case_id}: {reason}")
    if found.drifted:
        first_id, first = next(iter(found.drifted.items()))
        say(
            f"{len(found.drifted)} re-recorded cases differ from the suite ({first_id}: {first}); "
            "the installed reference is not the one recorded: the suite is left as it was"
        )
        raise typer.Exit(ExitCode.FAILED)
    if found.written:
        say(f"wrote {task_dir.suite_path} with {plural(found.kept, 'case')}")
    return found.written


def hunt_summary(hunt: list[HuntRound]) -> str:
    """One line on the survivor hunt: one part per kind of input, in the order the hunt first tried it (a
    capped hunt runs dozens of rounds), and how many survivors were left for the proofs."""
    by_source: dict[str, list[HuntRound]] = {}
    for hunt_round in hunt:
        by_source.setdefault(hunt_round.source, []).append(hunt_round)
    parts = ", ".join(
        f"{source} {f'({len(group)} rounds) ' if len(group) > 1 else ''}{sum(r.screened for r in group)} screened, "
        f"{sum(r.tried for r in group)} recorded, {sum(r.killed for r in group)} killed"
        for source, group in by_source.items()
    )
    return f"survivor hunt: {parts}; {hunt[-1].alive} left for the equivalence proofs"
