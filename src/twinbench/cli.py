"""The `twinbench` command line: a thin typer layer over the library."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twinbench.formats import (
    DEFAULT_DISK_LIMIT_MB,
    AgentRunRecord,
    EvalResult,
    FormatError,
    TaskDir,
    TestResult,
    load_task,
)
from twinbench.grade import EvalOptions, evaluate
from twinbench.protocols import Sandbox
from twinbench.sandbox import BACKENDS, SandboxUnavailable, get_sandbox
from twinbench.sandbox.cgroup import RLIMIT_ONLY, accounting

if TYPE_CHECKING:  # the audit, agent and testgen packages are imported only by the commands that use them
    from twinbench.agent import AgentOptions
    from twinbench.audit import AuditReport
    from twinbench.formats import MutationReport, ValidityReport

EXIT_GRADED = 0
EXIT_BAD_INPUT = 2
EXIT_HARNESS_ERROR = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C

app = typer.Typer(
    name="twinbench",
    help="Rebuild real programs from their executable and docs; grade rebuilds in a bubblewrap sandbox.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()


def _show_version(value: bool) -> None:
    """--version: the package version, and the git commit when run from a checkout."""
    if not value:
        return
    from twinbench import __version__

    commit = _checkout_commit()
    _say(f"twinbench {__version__}" + (f" (commit {commit})" if commit else ""))
    raise typer.Exit(0)


def _checkout_commit() -> str | None:
    """The short commit of the checkout this package runs from, or None (an installed wheel, no git)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Rebuild real programs from their executable and docs; grade rebuilds in a bubblewrap sandbox."""


def _say(text: str) -> None:
    """Print plain text: no rich markup (test groups look like [tags]) and no wrapping of long lines."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> typer.Exit:
    console.print("error: " + message, markup=False, highlight=False, soft_wrap=True, style="bold red")
    return typer.Exit(code)


def _task_and_sandbox(task: Path, sandbox_name: str) -> tuple[TaskDir, Sandbox]:
    """Load a task and pick a backend; a bad task or an unusable backend exits with one line."""
    if sandbox_name not in BACKENDS:  # the user's typo, not a harness failure
        raise _fail(f"unknown sandbox backend {sandbox_name!r}; choose one of: {', '.join(BACKENDS)}", EXIT_BAD_INPUT)
    try:
        return load_task(task), get_sandbox(sandbox_name)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except SandboxUnavailable as exc:
        raise _fail(str(exc), EXIT_HARNESS_ERROR) from None


def _grade(
    task: Path, submission: Path, output: Path, workers: int, force: bool, sandbox_name: str, label: str
) -> EvalResult:
    """Grade one submission with a progress bar; bad input and harness failures exit with one line."""
    task_dir, sandbox = _task_and_sandbox(task, sandbox_name)
    if not submission.exists():
        raise _fail(f"submission {submission} does not exist", EXIT_BAD_INPUT)
    with Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[passed]} passed"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("grading", total=None, passed=0)
        passed = 0

        def started(count: int) -> None:
            progress.update(bar, total=count)

        def advanced(test: TestResult) -> None:
            nonlocal passed
            passed += test.status == "passed"
            progress.update(bar, advance=1, passed=passed)

        try:
            return evaluate(
                task_dir,
                submission,
                output,
                sandbox,
                EvalOptions(workers=workers, force=force),
                on_start=started,
                on_progress=advanced,
            )
        except FormatError as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
        except OSError as exc:
            raise _fail(f"harness failure: {exc}", EXIT_HARNESS_ERROR) from None


def _summary(result: EvalResult, output: Path) -> None:
    build = "ok" if result.build.ok else f"failed: {result.build.reason}"
    _say(
        f"{result.task}: {result.passed}/{result.total} passed, score {result.score:.3f}"
        + (f" (behavioral {result.behavioral_score:.3f}), " if result.behavioral_score is not None else ", ")
        + f"resolved {'yes' if result.resolved else 'no'}, near-resolved {'yes' if result.near_resolved else 'no'} "
        f"(build {build}; {result.seconds:.1f}s)"
    )
    if result.stopped:
        _say(f"  {result.counts.get('not_run', 0)} tests {result.stopped}")
    failing = [t for t in result.tests if t.status not in ("passed", "not_run")]
    for test in failing[:5]:
        line = f"  {test.id} [{test.group}] {test.status.value}: {test.reason}"
        _say(line)
    if len(failing) > 5:
        _say(f"  ... and {len(failing) - 5} more; see {output / 'eval.json'}")
    _say(f"results: {output / 'eval.json'}, {output / 'junit.xml'}")
    if result.memory_accounting == RLIMIT_ONLY:
        why = accounting().reason if result.sandbox != "unsafe-local" else "unsafe-local uses no cgroup"
        _say(f"note: memory was bounded per process only (RLIMIT_AS), not per sandbox: {why}")


WorkersOption = Annotated[int, typer.Option("--workers", "-j", min=0, help="parallel sandboxes (0: one per core)")]
SandboxOption = Annotated[str, typer.Option("--sandbox", help=f"isolation backend: {', '.join(BACKENDS)}")]


def _default_workers() -> int:
    import os

    return max(1, os.cpu_count() or 1)


@app.command("eval")
def eval_command(
    task: Annotated[Path, typer.Argument(help="task directory (holding task.yaml)")],
    submission: Annotated[Path, typer.Argument(help="directory or .tar.gz with compile.sh")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where eval.json and junit.xml go")] = Path("eval-out"),
    workers: WorkersOption = 0,
    force: Annotated[bool, typer.Option("--force", help="rebuild and re-run every test")] = False,
    sandbox: SandboxOption = "bwrap",
    audit: Annotated[bool, typer.Option("--audit", help="also audit the submission into OUT/audit.json")] = False,
) -> None:
    """Build a submission and grade it on a task's hidden tests."""
    result = _grade(task, submission, output, workers or _default_workers(), force, sandbox, "eval")
    _summary(result, output)
    if audit:
        from twinbench.audit import audit_submission, default_reference_source, write_audit

        task_dir = load_task(task)
        built = output / "build" / "tree"
        findings = audit_submission(
            submission, task_dir, built if built.is_dir() else None, None, default_reference_source(task_dir.task)
        )
        write_audit(findings, output / "audit.json")
        _print_audit(findings)
    if result.build.reason.startswith("harness:") or result.counts.get("error", 0):
        raise typer.Exit(EXIT_HARNESS_ERROR)


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="where each submission's results go")] = Path(
        "twinbench-demo"
    ),
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Grade the bundled figlet task's three submissions, then run a scripted agent on it and grade its work."""
    from twinbench.demo import DEMO_AGENT_ROW, DEMO_SUBMISSIONS, DEMO_TASK, EXPECTED_SCORES

    table = Table(title="twinbench demo: figlet")
    for column in ("submission", "build", "passed", "score", "resolved", "expected", "seconds"):
        table.add_column(
            column,
            justify="right" if column in ("passed", "score", "seconds") else "left",
            # names stay whole on an 80-column terminal; other columns wrap instead
            min_width=max(map(len, EXPECTED_SCORES)) if column == "submission" else None,
        )
    all_as_expected = True

    def add_row(name: str, result: EvalResult) -> None:
        nonlocal all_as_expected
        low, high = EXPECTED_SCORES[name]
        as_expected = low <= result.score <= high
        all_as_expected &= as_expected
        table.add_row(
            name,
            "ok" if result.build.ok else "failed",
            f"{result.passed}/{result.total}",
            f"{result.score:.3f}",
            "yes" if result.resolved else "no",
            f"{low:g}-{high:g} {'✓' if as_expected else '✗'}",
            f"{result.seconds:.1f}",
        )

    for name, submission in DEMO_SUBMISSIONS.items():
        add_row(name, _grade(DEMO_TASK, submission, output / name, workers or _default_workers(), True, sandbox, name))
    agent_out = output / "agent-scripted"
    add_row(DEMO_AGENT_ROW, _demo_agent_run(agent_out, workers or _default_workers(), sandbox))
    out.print(table)
    _say(f"results: {output}/<submission>/eval.json; the agent run: {agent_out}/agent.json and trajectory.json")
    if not all_as_expected:
        raise _fail("a demo submission scored outside its expected range", EXIT_HARNESS_ERROR)


def _demo_agent_run(output: Path, workers: int, sandbox: str) -> EvalResult:
    """The scripted agent on the demo task: clean room, broker, submission, then eval."""
    from twinbench.agent import AgentOptions, prepare_output, run_agent
    from twinbench.demo import DEMO_AGENT_SCRIPT, DEMO_TASK

    prepare_output(output, force=True)
    options = AgentOptions(model=f"scripted:{DEMO_AGENT_SCRIPT}", then_eval=True, eval_workers=workers, sandbox=sandbox)
    with console.status("scripted-agent: running in a clean room, then grading"):
        record = run_agent(load_task(DEMO_TASK), options, output)
    if record.eval is None:
        raise _fail(f"the demo agent run failed: {record.exit_status}: {record.message}", EXIT_HARNESS_ERROR)
    return EvalResult.model_validate_json((output / record.eval).read_text(encoding="utf-8"))


task_app = typer.Typer(help="Create and inspect tasks.", no_args_is_help=True)
app.add_typer(task_app, name="task")


@task_app.command("new")
def task_new_command(
    name: Annotated[str, typer.Argument(help="task id, e.g. figlet")],
    debian: Annotated[str | None, typer.Option("--debian", help="installed Debian package of the reference")] = None,
    binary: Annotated[
        str | None, typer.Option("--binary", help="command of the package, if not the package name")
    ] = None,
    binary_path: Annotated[
        Path | None, typer.Option("--binary-path", help="any local executable, instead of --debian")
    ] = None,
    docs: Annotated[Path | None, typer.Option("--docs", help="extra documentation files to give the agent")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="task directory (default: ./NAME)")] = None,
) -> None:
    """Create a task directory from an installed program: task.yaml, docs/ and its command-line model."""
    from twinbench.reference import ReferenceError
    from twinbench.reference.taskgen import create_task

    if (debian is None) == (binary_path is None):
        raise _fail("give exactly one of --debian PKG or --binary-path PATH", EXIT_BAD_INPUT)
    target = output or Path(name)
    try:
        task_dir = create_task(name, target, debian=debian, binary=binary, binary_path=binary_path, docs=docs)
    except (FormatError, ReferenceError) as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    spec = task_dir.task
    hidden = len(spec.reference.hidden_paths)
    _say(
        f"task {spec.id} in {task_dir.root}: reference {spec.reference.binary}, {len(spec.docs)} docs, "
        f"{hidden} files hidden from candidates"
    )
    _say(f"next: twinbench testgen {task_dir.root}")


@app.command("coverage-build")
def coverage_build_command(
    debian: Annotated[str, typer.Option("--debian", help="Debian package whose installed version is built")],
    output: Annotated[Path, typer.Option("--output", "-o", help="directory for the source and the build")],
    binary: Annotated[
        str | None, typer.Option("--binary", help="executable to instrument, if not the package name")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, help="parallel build jobs")] = 2,
) -> None:
    """Build the reference through its debian/rules with coverage counters (C/C++ gcov, Rust llvm, Go -cover).

    Installs the package's build dependencies with apt-get build-dep (as root or through sudo -n).
    """
    from twinbench.reference.coverage import CoverageBuildError, coverage_build

    try:
        with console.status(f"building {debian} with coverage") as status:
            build = coverage_build(
                debian, output.resolve(), binary, log=lambda line: status.update(line[:100]), jobs=jobs
            )
    except CoverageBuildError as exc:
        raise _fail(str(exc), EXIT_HARNESS_ERROR) from None
    _say(
        f"{build.package} {build.version} ({build.language}, {build.toolchain}): {build.binary} "
        f"({len(build.source_files)} own source files, built in {build.build_seconds:.0f}s, "
        f"{build.build_cpu_seconds:.0f}s CPU; log {build.build_log})"
    )


@app.command("testgen")
def testgen_command(
    task: Annotated[Path, typer.Argument(help="task directory")],
    budget_s: Annotated[
        float, typer.Option("--budget-s", help="time cap; also sets the run budget to 300 runs per second")
    ] = 60.0,
    runs: Annotated[
        int | None, typer.Option("--runs", help="exact run budget instead (no time cap; fully reproducible)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="same seed and budget give the same suite")] = 0,
    max_tests: Annotated[int, typer.Option("--max-tests", help="largest suite to keep")] = 1000,
    coverage_build: Annotated[
        Path | None, typer.Option("--coverage-build", help="output of twinbench coverage-build, to guide by coverage")
    ] = None,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
    mutants: Annotated[
        int, typer.Option("--mutants", min=0, help="grade N mutants of the reference; add inputs that kill survivors")
    ] = 0,
) -> None:
    """Generate the task's hidden suite by exploring the reference in the sandbox."""
    from twinbench.reference.coverage import CoverageBuildError
    from twinbench.testgen.generate import TestgenOptions
    from twinbench.testgen.pipeline import run_testgen

    task_dir, backend = _task_and_sandbox(task, sandbox)
    options = TestgenOptions(
        budget_s=budget_s,
        runs=runs,
        seed=seed,
        max_tests=max_tests,
        workers=workers or _default_workers(),
        mutants=mutants,
    )
    with Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("testgen", total=None)

        def advanced(phase: str, done: int, total: int) -> None:
            progress.update(bar, description=phase, completed=done, total=total)

        try:
            report = run_testgen(task_dir, backend, options, coverage_build, advanced)
        except (FormatError, CoverageBuildError) as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
    coverage = f"{report.coverage.percent:.1f}% line coverage, " if report.coverage else ""
    _say(
        f"{report.task}: {report.kept} tests kept ({coverage}{report.executions} runs, {report.features} features, "
        f"{len(report.dropped)} dropped, {len(report.normalized)} normalized, {report.seconds:.0f}s, guided by "
        f"{report.guidance})"
    )
    _say_classes(report.classes, report.core_share)
    if report.balance_note:
        _say(f"note: {report.balance_note}")
    if report.validity is not None:
        _say_validity(report.validity)
    if report.mutation is not None:
        _say_mutation(report.mutation, report.mutation_before)
    _say(f"suite: {task_dir.suite_path}; report: {task_dir.root / 'tests' / 'testgen.json'}")


# --- suite check (and the suite-quality lines testgen prints) -------------------------------------------------


def _say_classes(classes: dict[str, int], core_share: float | None) -> None:
    if classes:
        share = f" (core {100 * core_share:.1f}%)" if core_share is not None else ""
        _say("classes: " + ", ".join(f"{name} {count}" for name, count in classes.items()) + share)


def _say_validity(validity: ValidityReport) -> None:
    scores = ", ".join(
        f"{name} {score:.3f}{' (too high)' if score > validity.threshold else ''}"
        for name, score in validity.scores.items()
    )
    if validity.passed:
        _say(f"validity gate passed (each imitation at most {validity.threshold:.2f}): {scores}")
    else:
        console.print(
            f"VALIDITY GATE FAILED: shallow imitations score above {validity.threshold:.2f}: {scores}. "
            "A high score on this suite does not mean the program works.",
            markup=False,
            highlight=False,
            soft_wrap=True,
            style="bold red",
        )


def _say_mutation(mutation: MutationReport, before: MutationReport | None = None) -> None:
    rate = f"{100 * mutation.kill_rate:.1f}%" if mutation.kill_rate is not None else "n/a"
    was = f" (before adding mutant-killing cases: {100 * before.kill_rate:.1f}%)" if before and before.kill_rate else ""
    _say(
        f"mutants: {mutation.requested} made, {mutation.build_failed} did not build, {mutation.equivalent} "
        f"equivalent (identical binary); killed {mutation.killed} of {mutation.killed + mutation.survived} = {rate}"
        f"{was} ({mutation.baseline_cases} cases pass on the unmutated rebuild)"
        + (f"; {mutation.not_run} not run: the time cap came first" if mutation.not_run else "")
    )


suite_app = typer.Typer(help="Inspect a task's hidden suite.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@suite_app.command("check")
def suite_check_command(
    task: Annotated[Path, typer.Argument(help="task directory")],
    mutants: Annotated[int, typer.Option("--mutants", min=0, help="mutants of the reference to grade")] = 0,
    coverage_build: Annotated[
        Path | None, typer.Option("--coverage-build", help="output of twinbench coverage-build (for --mutants)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="which mutants are made")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the findings to this file")] = None,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Grade shallow imitations (and mutants) of the reference with the suite; exit 1 if the gate fails."""
    from twinbench.reference.coverage import CoverageBuildError
    from twinbench.testgen.check import check_suite

    if mutants and coverage_build is None:
        raise _fail("--mutants needs --coverage-build (mutants are made from its sources)", EXIT_BAD_INPUT)
    task_dir, backend = _task_and_sandbox(task, sandbox)
    with Progress(
        TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as progress:
        bar = progress.add_task("checking", total=None)

        def advanced(phase: str, done: int, total: int) -> None:
            progress.update(bar, description=phase, completed=done, total=total)

        try:
            jobs = workers or _default_workers()
            found = check_suite(task_dir, backend, jobs, mutants, coverage_build, seed, advanced)
        except (FormatError, CoverageBuildError) as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
    _say(f"{found.task}: {found.cases} tests")
    _say_classes(found.classes, found.core_share)
    _say_validity(found.validity)
    if found.mutation is not None:
        _say_mutation(found.mutation)
        for mutant in [m for m in found.mutation.mutants if m.status == "survived"][:20]:
            _say(f"  survived {mutant.id} {mutant.file}:{mutant.line} {mutant.original} -> {mutant.replacement}")
            for line in mutant.diff.splitlines()[2:]:
                _say(f"    {line}")
    if json_out is not None:
        json_out.write_text(found.model_dump_json(indent=2), encoding="utf-8")
    if not found.validity.passed:
        raise typer.Exit(1)


@app.command("audit")
def audit_command(
    submission: Annotated[Path, typer.Argument(help="directory or .tar.gz with compile.sh")],
    task: Annotated[Path, typer.Option("--task", help="task directory")],
    built_tree: Annotated[Path | None, typer.Option("--built-tree", help="built tree, e.g. OUT/build/tree")] = None,
    trajectory: Annotated[Path | None, typer.Option("--trajectory", help="agent trajectory JSON")] = None,
    reference_source: Annotated[
        Path | None, typer.Option("--reference-source", help="reference sources (or coverage build) to compare with")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the findings as JSON here")] = None,
) -> None:
    """Look for cheating: copies of the reference, wrappers, fetching builds, prebuilt binaries, trajectory tricks."""
    from twinbench.audit import audit_submission, default_reference_source, write_audit

    task_dir, _ = _task_and_sandbox(task, "unsafe-local")
    try:
        source = reference_source or default_reference_source(task_dir.task)
        report = audit_submission(submission, task_dir, built_tree, trajectory, source)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    if output is not None:
        write_audit(report, output)
    _print_audit(report)
    if report.flagged:
        raise typer.Exit(1)


def _print_audit(report: AuditReport) -> None:
    serious = [f for f in report.findings if f.severity != "info"]
    verdict = "FLAGGED" if report.flagged else "clean"
    _say(f"{report.task}: {verdict} ({len(serious)} findings)")
    for finding in serious:
        _say(f"  {finding.severity.value} {finding.rule}: {finding.message}")
        for line in finding.evidence[:3]:
            _say(f"    {line}")
    if report.code is not None:
        _say(f"  code: {report.code.code_lines} lines in {report.code.files} files, {report.code.functions} functions")


@app.command("report")
def report_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories holding eval.json files (one run each)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the HTML file to write")] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="page title")] = "twinbench report",
    as_json: Annotated[
        bool, typer.Option("--json", help="print the aggregate as JSON instead of writing HTML")
    ] = False,
) -> None:
    """Leaderboard and per-task results of one or more runs, as one self-contained HTML file (or JSON)."""
    import json

    from twinbench.report import aggregate_json, leaderboard, load_runs, write_report

    try:
        if as_json:
            print(json.dumps(aggregate_json(load_runs(run_dirs)), indent=2))
            return
        runs = write_report(run_dirs, output, title)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    for row in leaderboard(runs):
        _say(
            f"{row.rank}. {row.run}: {row.resolved} resolved, {row.near_resolved} near-resolved, "
            f"mean score {row.mean_score:.3f} over {row.tasks_total} tasks"
        )
    _say(f"report: {output}")


agent_app = typer.Typer(help="Run coding agents on tasks in a clean room.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="litellm model (anthropic/claude-sonnet-4-5, openai/NAME with --api-base, ...) or scripted:FILE.yaml",
    ),
]
AgentOption = Annotated[str, typer.Option("--agent", help="builtin (twinbench's own loop) or mini (mini-swe-agent)")]
StepLimitOption = Annotated[int | None, typer.Option("--step-limit", help="model calls (default: the config's)")]
CostLimitOption = Annotated[float | None, typer.Option("--cost-limit", help="USD (0 = no limit)")]
WallLimitOption = Annotated[float | None, typer.Option("--wall-limit", help="seconds for the whole run")]
DiskLimitOption = Annotated[
    int, typer.Option("--disk-limit", help="MB for the room's workspace, /tmp and home together")
]
ApiBaseOption = Annotated[
    str | None, typer.Option("--api-base", help="OpenAI-compatible server, e.g. http://localhost:30000/v1")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="agent config YAML (prompts and limits)")]
ThenEvalOption = Annotated[bool, typer.Option("--then-eval", help="grade the submission right away into OUT/eval")]


def _agent_options(
    model: str,
    agent: str,
    api_base: str | None,
    config: Path | None,
    step_limit: int | None,
    cost_limit: float | None,
    wall_limit: float | None,
    then_eval: bool,
    workers: int,
    sandbox: str,
    disk_limit: int,
) -> AgentOptions:
    """Validate what can be checked before a clean room opens; bad input exits 2 with one line."""
    from pydantic import ValidationError

    from twinbench.agent import AgentConfigError, AgentKind, AgentOptions, ModelError, load_config, model_for
    from twinbench.agent.mini import load_mini_config

    if agent not in {kind.value for kind in AgentKind}:
        raise _fail(f"unknown agent {agent!r}: choose builtin or mini", EXIT_BAD_INPUT)
    try:
        options = AgentOptions(
            model=model,
            agent=AgentKind(agent),
            api_base=api_base,
            config=config,
            step_limit=step_limit,
            cost_limit=cost_limit,
            wall_limit_s=wall_limit,
            disk_limit_mb=disk_limit,
            then_eval=then_eval,
            eval_workers=workers or _default_workers(),
            sandbox=sandbox,
        )
        model_for(model, api_base=api_base)
        if options.agent is AgentKind.mini:
            load_mini_config(config)
        else:
            load_config(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise _fail(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}", EXIT_BAD_INPUT) from None
    except (ModelError, AgentConfigError) as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    return options


def _describe_run(record: AgentRunRecord, output: Path) -> None:
    stats = record.stats
    cost = f"${stats.cost_usd:.4f}" + ("" if stats.cost_known else " (price unknown)")
    _say(
        f"{record.task}: {record.exit_status} after {stats.steps} steps, {cost}, "
        f"{stats.tokens.prompt + stats.tokens.completion} tokens, {stats.reference_calls} reference runs, "
        f"{stats.seconds:.0f} s"
    )
    if record.message:
        _say(f"  {record.message}")
    for exposure in record.reference_exposures:
        console.print(
            f"  warning: not sealed: {exposure}", markup=False, highlight=False, soft_wrap=True, style="yellow"
        )
    if record.submission:
        dropped = f", {len(record.dropped)} files left out (see agent.json)" if record.dropped else ""
        _say(f"  submission: {output / record.submission} ({record.submission_files} files{dropped})")
        _say(f"  trajectory: {output / record.trajectory}")
    if record.score is not None and record.eval:
        _say(f"  score: {record.score:.3f} ({output / record.eval})")


@agent_app.command("run")
def agent_run_command(
    task: Annotated[Path, typer.Argument(help="task directory (holding task.yaml)")],
    model: ModelOption,
    agent: AgentOption = "builtin",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="run directory (default: runs/TASK_ID)")] = None,
    step_limit: StepLimitOption = None,
    cost_limit: CostLimitOption = None,
    wall_limit: WallLimitOption = None,
    disk_limit: DiskLimitOption = DEFAULT_DISK_LIMIT_MB,
    api_base: ApiBaseOption = None,
    config: ConfigOption = None,
    then_eval: ThenEvalOption = False,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
    force: Annotated[bool, typer.Option("--force", help="replace an existing run in OUT")] = False,
) -> None:
    """Run an agent on one task: a clean room, the model, then OUT/submission.tar.gz and trajectory.json."""
    from twinbench.agent import RunOutputError, prepare_output

    try:
        task_dir = load_task(task)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    options = _agent_options(
        model, agent, api_base, config, step_limit, cost_limit, wall_limit, then_eval, workers, sandbox, disk_limit
    )
    target = output or Path("runs") / task_dir.task.id
    try:
        prepare_output(target, force=force)
    except RunOutputError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    try:
        record = _run_with_progress(task_dir, options, target, step_limit)
    except KeyboardInterrupt:
        raise _fail(
            f"interrupted; {target / 'agent.json'} says so; run again with --force to redo", EXIT_INTERRUPTED
        ) from None
    _describe_run(record, target)
    if not record.finished:
        raise _fail(record.message or "the agent run did not finish", EXIT_HARNESS_ERROR)


def _run_with_progress(
    task_dir: TaskDir, options: AgentOptions, target: Path, step_limit: int | None
) -> AgentRunRecord:
    """One agent run with a progress line of its phase, steps and cost."""
    from twinbench.agent import run_agent

    with Progress(
        TextColumn("[bold]{task.description}[/]"),
        TextColumn("{task.fields[phase]}"),
        TextColumn("step {task.completed:.0f}{task.fields[of]}"),
        TextColumn("${task.fields[cost]:.4f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        limit = f"/{step_limit}" if step_limit else ""
        bar = progress.add_task(task_dir.task.id, total=step_limit or None, phase="starting", of=limit, cost=0.0)
        return run_agent(
            task_dir,
            options,
            target,
            on_step=lambda stats: progress.update(bar, completed=stats.steps, cost=stats.cost_usd),
            on_phase=lambda phase: progress.update(bar, phase=phase),
        )


@agent_app.command("batch")
def agent_batch_command(
    tasks_dir: Annotated[Path, typer.Argument(help="directory whose subdirectories are tasks")],
    model: ModelOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="run directory: one subdirectory per task")],
    agent: AgentOption = "builtin",
    parallel: Annotated[int, typer.Option("--workers", "-j", help="agent runs at a time")] = 1,
    step_limit: StepLimitOption = None,
    cost_limit: CostLimitOption = None,
    wall_limit: WallLimitOption = None,
    disk_limit: DiskLimitOption = DEFAULT_DISK_LIMIT_MB,
    api_base: ApiBaseOption = None,
    config: ConfigOption = None,
    then_eval: ThenEvalOption = False,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Run an agent on every task of a directory; resumable: finished tasks are skipped."""
    from twinbench.agent import BatchEntry, BatchInterrupted, run_batch

    if parallel < 1:
        raise _fail("--workers must be at least 1", EXIT_BAD_INPUT)
    options = _agent_options(
        model, agent, api_base, config, step_limit, cost_limit, wall_limit, then_eval, 0, sandbox, disk_limit
    )
    # agents run side by side, so each grading gets an equal share of the cores
    options.eval_workers = max(1, _default_workers() // parallel)
    table = Table(title=f"agent batch: {output}")
    for column in ("task", "status", "exit", "steps", "cost", "score"):
        table.add_column(column, justify="right" if column in ("steps", "cost", "score") else "left")
    with Progress(
        TextColumn("[bold]batch[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("tasks", total=None, last="")

        def done(entry: BatchEntry) -> None:
            progress.update(bar, advance=1, last=f"{entry.task}: {entry.exit_status or entry.status}")

        def stopping(running: int) -> None:
            progress.update(bar, last=f"interrupted: stopping {running} running task(s) at their next step")

        try:
            summary = run_batch(
                tasks_dir,
                options,
                output,
                workers=parallel,
                on_start=lambda count: progress.update(bar, total=count),
                on_done=done,
                on_interrupt=stopping,
            )
        except FormatError as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
        except BatchInterrupted as exc:
            left = sum(entry.status in ("interrupted", "pending", "pending-eval") for entry in exc.summary.tasks)
            summary_path = output / "summary.json"
            message = f"interrupted; {left} task(s) not done (see {summary_path}); run the same command again to resume"
            raise _fail(message, EXIT_INTERRUPTED) from None
        except KeyboardInterrupt:  # before any task started
            raise _fail("interrupted before any task started", EXIT_INTERRUPTED) from None
        except OSError as exc:  # summary.json could not be written any more: the runs' own files hold their results
            raise _fail(f"harness failure: {exc}", EXIT_HARNESS_ERROR) from None
    for entry in summary.tasks:
        table.add_row(
            entry.task,
            entry.status,
            entry.exit_status or "-",
            str(entry.steps),
            f"{entry.cost_usd:.4f}",
            "-" if entry.score is None else f"{entry.score:.3f}",
        )
    out.print(table)
    _say(f"summary: {output / 'summary.json'}")
    exposed = sorted(entry.task for entry in summary.tasks if entry.reference_exposures)
    if exposed:
        console.print(
            f"warning: the reference is not sealed in {len(exposed)} task(s) ({', '.join(exposed[:5])}"
            f"{', ...' if len(exposed) > 5 else ''}): see reference_exposures in summary.json",
            markup=False,
            highlight=False,
            soft_wrap=True,
            style="yellow",
        )
    if any(entry.status == "error" for entry in summary.tasks):
        raise _fail("some runs failed in the harness; run the same command again to retry them", EXIT_HARNESS_ERROR)


# ---- ProgramBench interop (twinbench programbench ...) ----

programbench_app = typer.Typer(
    help="ProgramBench interop: import its tasks, grade its runs without Docker, write its result files.",
    no_args_is_help=True,
)
app.add_typer(programbench_app, name="programbench")


@programbench_app.command("import")
def programbench_import_command(
    iid: Annotated[str, typer.Argument(help="instance id, e.g. testorg__calculator.abc1234")],
    blob_dir: Annotated[
        Path | None,
        typer.Option("--blob-dir", envvar="PROGRAMBENCH_BLOB_DIR", help="blobs: <DIR>/<iid>/tests/<branch>.tar.gz"),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="tasks laid out like the package's data/tasks/ (default: installed)")
    ] = None,
    reference: Annotated[Path | None, typer.Option("--reference", help="the reference binary")] = None,
    rootfs: Annotated[
        Path | None, typer.Option("--rootfs", help="unpacked root filesystem of the task's cleanroom image")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="task directory (default: ./IID)")] = None,
) -> None:
    """Make a twinbench task from a ProgramBench task: its branches, docs and reference."""
    from twinbench.interop.programbench.importer import import_task

    try:
        report = import_task(iid, output or Path(iid), blob_dir, data, reference, rootfs)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    except OSError as exc:
        raise _fail(f"cannot write the task: {exc}", EXIT_HARNESS_ERROR) from None
    _say(f"task: {report.task_dir}")
    _say(f"branches: {len(report.branches)} imported, {len(report.ignored_branches)} ignored")
    if report.missing_branches:
        console.print(
            f"warning: no archive for {len(report.missing_branches)} active branch(es): "
            f"{', '.join(report.missing_branches[:5])} (their tests will count as not_run)",
            markup=False,
            highlight=False,
            soft_wrap=True,
            style="yellow",
        )
    gold = {None: "no eval_clean_hashes to check", True: "matches eval_clean_hashes", False: "not the gold binary"}
    _say(f"reference: sha256 {report.reference_sha256[:16]}... ({gold[report.reference_is_gold]})")


@programbench_app.command("eval")
def programbench_eval_command(
    run_dir: Annotated[Path, typer.Argument(help="run directory: <iid>/submission.tar.gz (or .zip) per task")],
    tasks: Annotated[Path, typer.Option("--tasks", help="directory of imported tasks (one per iid)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="where results go (default: RUN_DIR)")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="branches run at once")] = 1,
    total: Annotated[
        int | None, typer.Option("--total", min=1, help="tasks in the benchmark for the headline (default: --tasks)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="grade again tasks already graded")] = False,
) -> None:
    """Grade a ProgramBench run without Docker; writes <iid>/<iid>.eval.json, eval.json and _stats/score.json."""
    from twinbench.interop.programbench.branch import pytest_python_problem
    from twinbench.interop.programbench.grade import GradeOptions
    from twinbench.interop.programbench.run import InstanceSummary, grade_run

    problem = pytest_python_problem()
    if problem is not None:
        raise _fail(problem, EXIT_HARNESS_ERROR)
    try:
        sandbox = get_sandbox("bwrap")
    except SandboxUnavailable as exc:
        raise _fail(str(exc), EXIT_HARNESS_ERROR) from None
    if not getattr(sandbox, "privileged", False):
        raise _fail("grading ProgramBench branches needs root (two uids in one sandbox)", EXIT_HARNESS_ERROR)

    def show(line: InstanceSummary) -> None:
        note = f" ({line.error_code})" if line.error_code else ""
        note += " (graded before; --force grades again)" if line.resumed else ""
        _say(f"{line.iid}: {line.passed}/{line.total} = {line.score:.3f} in {line.seconds:.1f}s{note}")

    try:
        options = GradeOptions(workers=workers)
        summary = grade_run(run_dir, tasks, output or run_dir, sandbox, options, total, force, show)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    for iid, why in summary.skipped.items():
        _say(f"{iid}: skipped ({why})")
    head = summary.headline
    _say(
        f"mean score {head.mean_score:.4f}, resolved {head.resolved_pct}%, near-resolved {head.near_resolved_pct}% "
        f"({head.n_instances_attempted}/{head.n_instances_total} tasks graded)"
    )


@programbench_app.command("derive")
def programbench_derive_command(
    task: Annotated[Path, typer.Argument(help="an imported task directory")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="suite to write (default: TASK/tests/suite.jsonl)")
    ] = None,
) -> None:
    """Native JSONL cases from the branches' single-call tests, recorded against the reference."""
    from twinbench.interop.programbench.branch import pytest_python_problem
    from twinbench.interop.programbench.derive import derive_suite
    from twinbench.interop.programbench.task import load_pb_task

    problem = pytest_python_problem()
    if problem is not None:
        raise _fail(problem, EXIT_HARNESS_ERROR)
    try:
        loaded = load_pb_task(task)
    except FormatError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    report = derive_suite(loaded, output or loaded.task_dir.suite_path)
    _say(f"suite: {report.suite} ({report.cases} cases from {report.tests_seen} tests)")
    reasons: dict[str, int] = {}
    for why in report.left_out.values():
        reasons[why.split(" (")[0]] = reasons.get(why.split(" (")[0], 0) + 1
    for why, count in sorted(reasons.items(), key=lambda item: -item[1]):
        _say(f"left out {count}: {why}")
    for branch, why in report.branch_errors.items():
        _say(f"branch {branch}: {why}")


def main() -> None:
    """Entry point that never shows a traceback for a user's mistake."""
    app()


# last, so that `python -m twinbench.cli` sees every sub-app (agent, programbench) added above
if __name__ == "__main__":
    main()
