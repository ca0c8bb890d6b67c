"""`twinbench audit`: look for cheating in a submission, and the lines eval --audit prints too."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twinbench.cli.errors import ExitCode
from twinbench.cli.output import plural, say
from twinbench.cli.root import app
from twinbench.formats import load_task

if TYPE_CHECKING:
    from twinbench.audit import AuditReport


@app.command("audit", epilog="Example: twinbench audit my-figlet.tar.gz --task tasks/figlet -o audit.json")
def audit_command(
    submission: Annotated[
        Path, typer.Argument(metavar="SUBMISSION", help="directory or .tar(.gz/.bz2/.xz) holding compile.sh")
    ],
    task: Annotated[Path, typer.Option("--task", metavar="TASK", help="task directory")],
    built_tree: Annotated[
        Path | None, typer.Option("--built-tree", metavar="DIR", help="built tree, e.g. OUT/build/tree")
    ] = None,
    trajectory: Annotated[
        Path | None, typer.Option("--trajectory", metavar="FILE", help="agent trajectory JSON")
    ] = None,
    reference_source: Annotated[
        Path | None,
        typer.Option("--reference-source", metavar="DIR", help="reference sources (or coverage build) to compare with"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", help="write the findings as JSON here")
    ] = None,
) -> None:
    """Look for cheating: copies of the reference, wrappers, fetching builds, prebuilt binaries, trajectory tricks.

    Exits 1 when the submission is flagged.
    """
    from twinbench.audit import audit_submission, default_reference_source, write_audit

    task_dir = load_task(task)
    source = reference_source or default_reference_source(task_dir.task)
    report = audit_submission(submission, task_dir, built_tree, trajectory, source)
    if output is not None:
        write_audit(report, output)
    print_audit(report)
    if report.flagged:
        raise typer.Exit(ExitCode.FAILED)


def print_audit(report: AuditReport) -> None:
    """The verdict, each finding that is more than info, and the code statistics."""
    serious = [f for f in report.findings if f.severity != "info"]
    verdict = "FLAGGED" if report.flagged else "clean"
    say(f"{report.task}: {verdict} ({plural(len(serious), 'finding')})")
    for finding in serious:
        say(f"  {finding.severity.value} {finding.rule}: {finding.message}")
        for line in finding.evidence[:3]:
            say(f"    {line}")
    if report.code is not None:
        code = report.code
        say(
            f"  code: {plural(code.code_lines, 'line')} in {plural(code.files, 'file')}, "
            f"{plural(code.functions, 'function')}"
        )
