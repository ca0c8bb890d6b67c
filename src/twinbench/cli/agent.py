"""`twinbench agent run|batch`: coding agents on tasks, in a clean room."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from twinbench.cli import progress
from twinbench.cli.errors import BadInput, HarnessFailure, Interrupted
from twinbench.cli.options import SandboxOption, WorkersOption, default_workers
from twinbench.cli.output import out, plural, say, warn
from twinbench.cli.root import group
from twinbench.formats import DEFAULT_DISK_LIMIT_MB, AgentRunRecord, load_task

if TYPE_CHECKING:
    from twinbench.agent import AgentOptions

agent_app = group(
    "Run coding agents on tasks in a clean room.",
    "Example: twinbench agent run tasks/figlet -m anthropic/claude-sonnet-4-5 --then-eval",
)

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help="litellm model (anthropic/claude-sonnet-4-5, openai/NAME with --api-base, ...) or scripted:FILE.yaml",
    ),
]
AgentOption = Annotated[
    str, typer.Option("--agent", metavar="AGENT", help="builtin (twinbench's own loop) or mini (mini-swe-agent)")
]
StepLimitOption = Annotated[
    int | None, typer.Option("--step-limit", metavar="N", help="model calls (default: the config's)")
]
CostLimitOption = Annotated[float | None, typer.Option("--cost-limit", metavar="USD", help="USD (0 = no limit)")]
WallLimitOption = Annotated[
    float | None, typer.Option("--wall-limit", metavar="SECONDS", help="seconds for the whole run")
]
DiskLimitOption = Annotated[
    int, typer.Option("--disk-limit", metavar="MB", help="MB for the room's workspace, /tmp and home together")
]
ApiBaseOption = Annotated[
    str | None,
    typer.Option("--api-base", metavar="URL", help="OpenAI-compatible server, e.g. http://localhost:30000/v1"),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", metavar="FILE", help="agent config YAML (prompts and limits)")
]
ThenEvalOption = Annotated[bool, typer.Option("--then-eval", help="grade the submission right away into OUT/eval")]


def agent_options(
    *,
    model: str,
    agent: str,
    api_base: str | None,
    config: Path | None,
    step_limit: int | None,
    cost_limit: float | None,
    wall_limit: float | None,
    then_eval: bool,
    eval_workers: int,
    sandbox: str,
    disk_limit: int,
) -> AgentOptions:
    """The run's options, validated before a clean room opens; bad input raises (exit 2 in main)."""
    from twinbench.agent import AgentKind, AgentOptions, check_options

    if agent not in {kind.value for kind in AgentKind}:
        raise BadInput(f"unknown agent {agent!r}: choose builtin or mini")
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
        eval_workers=eval_workers,
        sandbox=sandbox,
    )
    check_options(options)
    return options


def _describe_run(record: AgentRunRecord, output: Path) -> None:
    stats = record.stats
    cost = f"${stats.cost_usd:.4f}" + ("" if stats.cost_known else " (price unknown)")
    say(
        f"{record.task}: {record.exit_status} after {plural(stats.steps, 'step')}, {cost}, "
        f"{plural(stats.tokens.prompt + stats.tokens.completion, 'token')}, "
        f"{plural(stats.reference_calls, 'reference run')}, {stats.seconds:.0f} s"
    )
    if record.message:
        say(f"  {record.message}")
    for exposure in record.reference_exposures:
        warn(f"  warning: not sealed: {exposure}")
    if record.submission:
        dropped = f", {plural(len(record.dropped), 'file')} left out (see agent.json)" if record.dropped else ""
        say(f"  submission: {output / record.submission} ({plural(record.submission_files, 'file')}{dropped})")
        say(f"  trajectory: {output / record.trajectory}")
    if record.score is not None and record.eval:
        say(f"  score: {record.score:.3f} ({output / record.eval})")


@agent_app.command(
    "run",
    epilog="Example: twinbench agent run tasks/figlet -m openai/qwen --api-base http://localhost:30000/v1 --then-eval",
)
def agent_run_command(
    task: Annotated[Path, typer.Argument(metavar="TASK", help="task directory (holding task.yaml)")],
    model: ModelOption,
    agent: AgentOption = "builtin",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="DIR", help="run directory (default: RUNS_DIR/TASK_ID, config runs_dir)"
        ),
    ] = None,
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
    from twinbench.agent import prepare_output, run_agent
    from twinbench.cli.config import current_settings

    task_dir = load_task(task)
    options = agent_options(
        model=model,
        agent=agent,
        api_base=api_base,
        config=config,
        step_limit=step_limit,
        cost_limit=cost_limit,
        wall_limit=wall_limit,
        then_eval=then_eval,
        eval_workers=default_workers(workers),
        sandbox=sandbox,
        disk_limit=disk_limit,
    )
    target = output or current_settings().values.runs_dir / task_dir.task.id
    prepare_output(target, force=force)
    try:
        with progress.agent_run(task_dir.task.id, step_limit) as display:
            record = run_agent(task_dir, options, target, on_step=display.on_step, on_phase=display.on_phase)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {target / 'agent.json'} says so; run again with --force to redo") from None
    _describe_run(record, target)
    if not record.finished:
        raise HarnessFailure(record.message or "the agent run did not finish")


@agent_app.command(
    "batch", epilog="Example: twinbench agent batch tasks/ -m anthropic/claude-sonnet-4-5 -o runs/sonnet -j 2"
)
def agent_batch_command(
    tasks_dir: Annotated[Path, typer.Argument(metavar="TASKS_DIR", help="directory whose subdirectories are tasks")],
    model: ModelOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="DIR", help="run directory: one subdirectory per task")
    ],
    agent: AgentOption = "builtin",
    parallel: Annotated[int, typer.Option("--workers", "-j", min=1, metavar="N", help="agent runs at a time")] = 1,
    step_limit: StepLimitOption = None,
    cost_limit: CostLimitOption = None,
    wall_limit: WallLimitOption = None,
    disk_limit: DiskLimitOption = DEFAULT_DISK_LIMIT_MB,
    api_base: ApiBaseOption = None,
    config: ConfigOption = None,
    then_eval: ThenEvalOption = False,
    sandbox: SandboxOption = "bwrap",
    tasks: Annotated[
        str | None,
        typer.Option("--tasks", metavar="IDS", help="task ids or regular expressions, comma-separated (default: all)"),
    ] = None,
) -> None:
    """Run an agent on every task of a directory (a collection too); resumable: finished tasks are skipped."""
    from twinbench.agent import BatchEntry, BatchInterrupted, run_batch

    options = agent_options(
        model=model,
        agent=agent,
        api_base=api_base,
        config=config,
        step_limit=step_limit,
        cost_limit=cost_limit,
        wall_limit=wall_limit,
        then_eval=then_eval,
        # agents run side by side, so each grading gets an equal share of the cores
        eval_workers=max(1, default_workers() // parallel),
        sandbox=sandbox,
        disk_limit=disk_limit,
    )
    table = Table(title=f"agent batch: {output}")
    for column in ("task", "status", "exit", "steps", "cost", "score"):
        table.add_column(column, justify="right" if column in ("steps", "cost", "score") else "left")
    with progress.batch() as display:

        def done(entry: BatchEntry) -> None:
            display.done(entry.task, entry.exit_status or entry.status)

        try:
            summary = run_batch(
                tasks_dir,
                options,
                output,
                selection=tasks,
                workers=parallel,
                on_start=display.started,
                on_done=done,
                on_interrupt=display.stopping,
            )
        except BatchInterrupted as exc:
            left = sum(entry.status in ("interrupted", "pending", "pending-eval") for entry in exc.summary.tasks)
            raise Interrupted(
                f"interrupted; {plural(left, 'task')} not done (see {output / 'summary.json'}); "
                "run the same command again to resume"
            ) from None
        except KeyboardInterrupt:  # before any task started
            raise Interrupted("interrupted before any task started") from None
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
    say(f"summary: {output / 'summary.json'}")
    exposed = sorted(entry.task for entry in summary.tasks if entry.reference_exposures)
    if exposed:
        warn(
            f"warning: the reference is not sealed in {plural(len(exposed), 'task')} ({', '.join(exposed[:5])}"
            f"{', ...' if len(exposed) > 5 else ''}): see reference_exposures in summary.json"
        )
    if any(entry.status == "error" for entry in summary.tasks):
        raise HarnessFailure("some runs failed in the harness; run the same command again to retry them")
