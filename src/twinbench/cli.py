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

if TYPE_CHECKING:  # the audit and agent packages are imported only by the commands that use them
    from twinbench.agent import AgentOptions
    from twinbench.audit import AuditReport

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


def _say(text: str) -> None:
    """Print plain text: no rich markup (test groups look like [tags]) and no wrapping of long lines."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> typer.Exit:
    console.print("error: " + message, markup=False, highlight=False, soft_wrap=True, style="bold red")
    return typer.Exit(code)


def _task_and_sandbox(task: Path, sandbox_name: str) -> tuple[TaskDir, Sandbox]:
    """Load a task and pick a backend; a bad task or an unusable backend exits with one line."""
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
        f"{result.task}: {result.passed}/{result.total} passed, score {result.score:.3f}, "
        f"resolved {'yes' if result.resolved else 'no'}, near-resolved {'yes' if result.near_resolved else 'no'} "
        f"(build {build}; {result.seconds:.1f}s)"
    )
    failing = [t for t in result.tests if t.status not in ("passed", "not_run")]
    for test in failing[:5]:
        line = f"  {test.id} [{test.group}] {test.status.value}: {test.reason}"
        _say(line)
    if len(failing) > 5:
        _say(f"  ... and {len(failing) - 5} more; see {output / 'eval.json'}")
    _say(f"results: {output / 'eval.json'}, {output / 'junit.xml'}")


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
) -> None:
    """Generate the task's hidden suite by exploring the reference in the sandbox."""
    from twinbench.reference.coverage import CoverageBuildError
    from twinbench.testgen.generate import TestgenOptions
    from twinbench.testgen.pipeline import run_testgen

    task_dir, backend = _task_and_sandbox(task, sandbox)
    options = TestgenOptions(
        budget_s=budget_s, runs=runs, seed=seed, max_tests=max_tests, workers=workers or _default_workers()
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
    _say(f"suite: {task_dir.suite_path}; report: {task_dir.root / 'tests' / 'testgen.json'}")


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


def main() -> None:
    """Entry point that never shows a traceback for a user's mistake."""
    app()


if __name__ == "__main__":
    main()


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
