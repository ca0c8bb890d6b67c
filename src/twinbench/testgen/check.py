"""`twinbench suite check`: is a task's suite worth its score? Classes, the validity gate and mutants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import MutationReport, Suite, TaskDir, ValidityReport, load_suite, testgen_report
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import covered_lines, load_coverage_build
from twinbench.reference.docmodel import CliModel, mine_docs
from twinbench.testgen.classify import Behavior, classify
from twinbench.testgen.mutants import mutation_score, target_from_coverage_build
from twinbench.testgen.pipeline import CLI_MODEL, doc_texts, suite_runner
from twinbench.testgen.probe import probe_reference
from twinbench.testgen.validity import run_gate


class SuiteCheck(BaseModel):
    """What `suite check` found."""

    task: str
    cases: int
    classes: dict[str, int] = Field(default_factory=dict)
    core_share: float | None = None
    validity: ValidityReport
    mutation: MutationReport | None = None


def check_suite(
    task_dir: TaskDir,
    sandbox: Sandbox,
    workers: int,
    mutants: int = 0,
    coverage_dir: Path | None = None,
    seed: int = 0,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> SuiteCheck:
    """Classify the suite's cases, grade the shallow imitations and, with a coverage build, `mutants` mutants."""
    suite = load_suite(task_dir.suite_path)
    # a bad coverage build is reported before minutes of grading, not after
    build = load_coverage_build(coverage_dir) if mutants and coverage_dir else None
    target = target_from_coverage_build(build) if build is not None else None
    model = _cli_model(task_dir)
    base_args, base_files = generation_base(task_dir, suite)
    probes = probe_reference(task_dir.task, model, sandbox, workers, base_args, base_files)
    classes = Counter(classify(Behavior.of_case(case), probes).value for case in suite.cases)
    validity = run_gate(task_dir.task, suite, probes, sandbox, workers, on_progress)
    mutation = None
    if target is not None and build is not None:
        # which lines the suite runs: a mutant on a line no case reaches survives without being graded, and
        # says that the suite lacks an input, not an oracle
        files = covered_lines(build, suite_runner(build, task_dir, suite, on_progress))
        counts = {name: lines for name, (_role, lines) in files.items()}
        mutation = mutation_score(
            task_dir.task, suite, target, mutants, sandbox, workers, seed, on_progress=on_progress, line_counts=counts
        )
    return SuiteCheck(
        task=task_dir.task.id,
        cases=len(suite),
        classes=dict(sorted(classes.items())),
        core_share=round(classes["core"] / len(suite), 4) if len(suite) else None,
        validity=validity,
        mutation=mutation,
    )


def generation_base(task_dir: TaskDir, suite: Suite) -> tuple[list[str], dict[str, bytes]]:
    """The base arguments and files the suite was generated with (tests/testgen.json names them), so that the
    imitations are probed as testgen probed them. A base file's content is the one most cases hold (a mutation
    may have changed it in a few)."""
    report = testgen_report(task_dir)
    if report is None:
        return [], {}
    files: dict[str, bytes] = {}
    for name in report.base_files:
        contents = Counter(case.files[name] for case in suite.cases if name in case.files)
        if contents:
            files[name] = contents.most_common(1)[0][0]
    return list(report.base_args), files


def _cli_model(task_dir: TaskDir) -> CliModel:
    """The task's doc model, mined in memory when it has none (checking writes nothing into the task)."""
    path = task_dir.root / CLI_MODEL
    if path.is_file():
        try:
            return CliModel.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError:
            pass
    return mine_docs(Path(task_dir.task.reference.binary).name, doc_texts(task_dir))
