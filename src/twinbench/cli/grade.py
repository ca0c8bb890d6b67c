"""`twinbench eval` and `twinbench demo`: grade submissions and print what came of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinbench.cli import progress
from twinbench.cli.errors import BadInput, ExitCode, HarnessFailure
from twinbench.cli.options import SandboxOption, WorkersOption, default_workers, task_and_sandbox
from twinbench.cli.output import out, plural, say
from twinbench.cli.root import app
from twinbench.formats import EvalResult, load_task
from twinbench.grade import BUILD_SCRIPT, NO_BUILD_SCRIPT, EvalOptions, evaluate


def grade(
    task: Path, submission: Path, output: Path, *, workers: int, force: bool, sandbox_name: str, label: str
) -> EvalResult:
    """Grade one submission with a progress bar."""
    task_dir, sandbox = task_and_sandbox(task, sandbox_name)
    if not submission.exists():
        raise BadInput(f"submission {submission} does not exist")
    if submission.is_dir() and not (submission / BUILD_SCRIPT).is_file():
        raise BadInput(f"submission {submission} has no {BUILD_SCRIPT}: not a submission directory")
    with progress.grading(label) as display:
        return evaluate(
            task_dir,
            submission,
            output,
            sandbox,
            EvalOptions(workers=workers, force=force),
            on_start=display.started,
            on_progress=display.advanced,
        )


def summary_lines(result: EvalResult, output: Path) -> list[str]:
    """What eval prints about one grading: the score line, a few failing tests, where the files are."""
    from twinbench.sandbox.cgroup import RLIMIT_ONLY, accounting

    build = "ok" if result.build.ok else f"failed: {result.build.reason}"
    behavioral = f" (behavioral {result.behavioral_score:.3f})" if result.behavioral_score is not None else ""
    lines = [
        f"{result.task}: {result.passed}/{result.total} passed, score {result.score:.3f}{behavioral}, "
        f"resolved {'yes' if result.resolved else 'no'}, near-resolved {'yes' if result.near_resolved else 'no'} "
        f"(build {build}; {result.seconds:.1f}s)"
    ]
    if result.stopped:
        lines.append(f"  {plural(result.counts.get('not_run', 0), 'test')} {result.stopped}")
    failing = [t for t in result.tests if t.status not in ("passed", "not_run")]
    lines += [f"  {test.id} [{test.group}] {test.status.value}: {test.reason}" for test in failing[:5]]
    if len(failing) > 5:
        lines.append(f"  ... and {len(failing) - 5} more; see {output / 'eval.json'}")
    lines.append(f"results: {output / 'eval.json'}, {output / 'junit.xml'}")
    if result.memory_accounting == RLIMIT_ONLY:
        why = accounting().reason if result.sandbox != "unsafe-local" else "unsafe-local uses no cgroup"
        lines.append(f"note: memory was bounded per process only (RLIMIT_AS), not per sandbox: {why}")
    return lines


@app.command(
    "eval",
    epilog="Example: twinbench eval figlet/ my-figlet.tar.gz -o out/ -j 2   (then: twinbench report out/)",
)
def eval_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="task directory (holding task.yaml)")],
    submission: Annotated[
        Path, typer.Argument(metavar="SUBMISSION", help="directory or .tar(.gz/.bz2/.xz) holding compile.sh")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="where eval.json and junit.xml go")
    ] = Path("eval-out"),
    workers: WorkersOption = 0,
    force: Annotated[bool, typer.Option("--force", help="rebuild and re-run every test")] = False,
    sandbox: SandboxOption = "bwrap",
    audit: Annotated[bool, typer.Option("--audit", help="also audit the submission into OUT/audit.json")] = False,
) -> None:
    """Build a submission and grade it on a task's hidden tests (exit 0 whatever the score)."""
    result = grade(
        task, submission, output, workers=default_workers(workers), force=force, sandbox_name=sandbox, label="eval"
    )
    if result.build.reason == NO_BUILD_SCRIPT:  # an archive without one: a wrong file, not a failed build
        raise BadInput(f"submission {submission} has no {BUILD_SCRIPT} at its top level (nor in one folder)")
    for line in summary_lines(result, output):
        say(line)
    if audit:
        from twinbench.audit import audit_submission, default_reference_source, write_audit
        from twinbench.cli.audit import print_audit

        task_dir = load_task(task)
        built = output / "build" / "tree"
        findings = audit_submission(
            submission, task_dir, built if built.is_dir() else None, None, default_reference_source(task_dir.task)
        )
        write_audit(findings, output / "audit.json")
        print_audit(findings)
    if result.build.reason.startswith("harness:") or result.counts.get("error", 0):
        raise typer.Exit(ExitCode.HARNESS)


@app.command(
    "demo",
    epilog="Example: twinbench demo -j 2   (writes to the user cache dir; -o DIR to choose)",
)
def demo_command(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="DIR", help="where results go (default: config demo_output)"),
    ] = None,
    workers: WorkersOption = 0,
    sandbox: SandboxOption = "bwrap",
) -> None:
    """Grade the bundled figlet task's three submissions, then run a scripted agent on it and grade its work."""
    from twinbench.cli.config import current_settings
    from twinbench.demo import DEMO_AGENT_ROW, DEMO_SUBMISSIONS, DEMO_TASK, EXPECTED_SCORES

    target = output or current_settings().values.demo_output or Path("twinbench-demo")
    say(f"demo output: {target}")
    table = Table(title="twinbench demo: figlet")
    for column in ("submission", "build", "passed", "score", "resolved", "expected", "seconds"):
        table.add_column(
            column,
            justify="right" if column in ("passed", "score", "seconds") else "left",
            # names stay whole on an 80-column terminal; other columns wrap instead
            min_width=max(map(len, EXPECTED_SCORES)) if column == "submission" else None,
        )
    all_as_expected = True
    jobs = default_workers(workers)

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
        add_row(
            name,
            grade(DEMO_TASK, submission, target / name, workers=jobs, force=True, sandbox_name=sandbox, label=name),
        )
    agent_out = target / "agent-scripted"
    add_row(DEMO_AGENT_ROW, _demo_agent_run(agent_out, workers=jobs, sandbox=sandbox))
    out.print(table)
    say(f"results: {target}/<submission>/eval.json; the agent run: {agent_out}/agent.json and trajectory.json")
    if not all_as_expected:
        raise HarnessFailure("a demo submission scored outside its expected range")


def _demo_agent_run(output: Path, *, workers: int, sandbox: str) -> EvalResult:
    """The scripted agent on the demo task: clean room, broker, submission, then eval."""
    from twinbench.agent import AgentOptions, prepare_output, run_agent
    from twinbench.demo import DEMO_AGENT_SCRIPT, DEMO_TASK

    prepare_output(output, force=True)
    options = AgentOptions(model=f"scripted:{DEMO_AGENT_SCRIPT}", then_eval=True, eval_workers=workers, sandbox=sandbox)
    with progress.status("scripted-agent: running in a clean room, then grading"):
        record = run_agent(load_task(DEMO_TASK), options, output)
    if record.eval is None:
        raise HarnessFailure(f"the demo agent run failed: {record.exit_status}: {record.message}")
    return EvalResult.model_validate_json((output / record.eval).read_text(encoding="utf-8"))
