"""`twinbench suite check`: is a task's suite worth its score? Classes, the validity gate and mutants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import MutationReport, TaskDir, ValidityReport, load_suite
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import load_coverage_build
from twinbench.reference.docmodel import CliModel, mine_docs
from twinbench.testgen.classify import Behavior, classify
from twinbench.testgen.mutants import mutation_score, target_from_coverage_build
from twinbench.testgen.pipeline import CLI_MODEL, doc_texts
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
    target = target_from_coverage_build(load_coverage_build(coverage_dir)) if mutants and coverage_dir else None
    model = _cli_model(task_dir)
    probes = probe_reference(task_dir.task, model, sandbox, workers)
    classes = Counter(classify(Behavior.of_case(case), probes).value for case in suite.cases)
    validity = run_gate(task_dir.task, suite, probes, sandbox, workers, on_progress)
    mutation = None
    if target is not None:
        task = task_dir.task
        mutation = mutation_score(task, suite, target, mutants, sandbox, workers, seed, on_progress=on_progress)
    return SuiteCheck(
        task=task_dir.task.id,
        cases=len(suite),
        classes=dict(sorted(classes.items())),
        core_share=round(classes["core"] / len(suite), 4) if len(suite) else None,
        validity=validity,
        mutation=mutation,
    )


def _cli_model(task_dir: TaskDir) -> CliModel:
    """The task's doc model, mined in memory when it has none (checking writes nothing into the task)."""
    path = task_dir.root / CLI_MODEL
    if path.is_file():
        try:
            return CliModel.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError:
            pass
    return mine_docs(Path(task_dir.task.reference.binary).name, doc_texts(task_dir))
