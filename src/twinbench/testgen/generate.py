"""Coverage-guided test generation, as stages that return values: the pipeline alone writes files.

  synthesize (seeds, then mutations)  ->  explore in the sandbox, keep what reaches new features
  ->  select (greedy set cover)  ->  clock probe  ->  record on the real reference, 3 runs each,
      dropping or normalizing what is not deterministic, hangs, or a stub would pass.
The budget is a number of runs: --runs N, or --budget-s S turned into S * 300 runs (what a small C program
gets on two cores). A seed and a run budget give one suite. --budget-s also caps the wall time, recording
included: a program too slow to spend its runs in time stops early, and testgen.json says so
(stopped_by: wall_time).
"""

from __future__ import annotations

import itertools
import random
import resource
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from twinbench.formats import Suite, Task, TestgenReport
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel
from twinbench.testgen.budget import WallClock
from twinbench.testgen.clock import with_clock_if_read
from twinbench.testgen.explore import Candidate, CoverageGuide, Explorer, FeaturesOf, open_explorer
from twinbench.testgen.inputs import detect_kinds
from twinbench.testgen.record import RECORD_REPEATS, CaseSpec, RecordReport, record_reference
from twinbench.testgen.select import group_of, select_cover
from twinbench.testgen.synthesize import Synthesizer

RUNS_PER_BUDGET_SECOND = 300
BATCH = 64
SEED_SHARE = 0.4

Progress = Callable[[str, int, int], None]


class TestgenOptions(BaseModel):
    """Knobs of one generation run."""

    __test__ = False
    budget_s: float = Field(default=60.0, gt=0)
    runs: int | None = Field(default=None, gt=0, description="exact run budget, with no time cap")
    seed: int = 0
    max_tests: int = Field(default=1000, gt=0)
    workers: int = 2

    def execution_budget(self) -> int:
        """Candidate runs allowed."""
        return self.runs or max(50, int(self.budget_s * RUNS_PER_BUDGET_SECOND))


class GenerationInputs(BaseModel):
    """Everything generation reads, gathered by the pipeline: the task, its doc model and its data."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    task: Task
    model: CliModel
    docs_text: str = ""
    vocabulary: list[str] = Field(default_factory=lambda: ["hello"])
    data_files: list[tuple[str, bytes]] = Field(default_factory=list)


class Exploration(BaseModel):
    """What the exploration stage found."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    corpus: list[Candidate]
    features: int
    executions: int
    stopped_by: str
    seconds_per_run: float


class GeneratedSuite(BaseModel):
    """The result of generation: the recorded suite, the task (maybe with a frozen clock) and the report."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    suite: Suite
    task: Task
    report: TestgenReport


def generate_suite(
    inputs: GenerationInputs,
    sandbox: Sandbox,
    options: TestgenOptions,
    coverage: CoverageGuide | None = None,
    features_of: FeaturesOf | None = None,
    on_progress: Progress | None = None,
    clock: WallClock | None = None,
) -> GeneratedSuite:
    """Explore, select and record a suite; returns it with its report and writes nothing."""
    clock = clock or WallClock(None if options.runs else options.budget_s)
    cpu_start = _cpu_seconds()
    progress = on_progress or (lambda phase, done, total: None)
    rng = random.Random(options.seed)
    synth = Synthesizer(inputs.model, rng, detect_kinds(inputs.docs_text), inputs.vocabulary, inputs.data_files)
    long_options = [flag for option in inputs.model.options for flag in option.flags if flag.startswith("--")]
    with open_explorer(
        inputs.task, sandbox, options.workers, coverage, features_of, inputs.vocabulary, long_options
    ) as explorer:
        exploration = explore(explorer, synth, rng, options, clock, progress)

    limit = clock.affordable_cases(exploration.seconds_per_run, options.max_tests)
    selected = select_cover(exploration.corpus, limit)
    specs = [
        candidate.spec.model_copy(update={"id": f"t{number:04d}", "group": group_of(candidate)})
        for number, candidate in enumerate(selected)
    ]
    progress("clock probe", 0, 1)
    task = with_clock_if_read(inputs.task, specs, sandbox, options.workers)
    suite, record = record_specs(task, specs, sandbox, options.workers, progress)
    report = TestgenReport(
        task=task.id,
        seed=options.seed,
        budget_s=options.budget_s,
        execution_budget=options.execution_budget(),
        executions=exploration.executions,
        stopped_by=exploration.stopped_by,
        seconds=round(clock.elapsed(), 2),
        cpu_seconds=round(_cpu_seconds() - cpu_start, 2),
        guidance="coverage" if coverage is not None else "behavior",
        features=exploration.features,
        corpus=len(exploration.corpus),
        selected=len(specs),
        kept=len(suite),
        groups=dict(sorted(Counter(case.group for case in suite.cases).items())),
        dropped=record.dropped,
        dropped_by_reason=dict(Counter(reason.split(":")[0] for reason in record.dropped.values())),
        normalized=record.normalized,
    )
    return GeneratedSuite(suite=suite, task=task, report=report)


def explore(
    explorer: Explorer,
    synth: Synthesizer,
    rng: random.Random,
    options: TestgenOptions,
    clock: WallClock,
    progress: Progress,
) -> Exploration:
    """Run the seeds, then mutations of the corpus, until the run budget or the time for exploring is spent."""
    budget = options.execution_budget()
    seeds = list(itertools.islice(synth.seeds(), int(budget * SEED_SHARE)))
    stopped_by = "budget"

    def out_of_time() -> bool:
        return clock.exploration_over(explorer.seconds_per_run, min(options.max_tests, len(explorer.corpus)))

    for start in range(0, len(seeds), BATCH * 4):
        if out_of_time():
            stopped_by = "wall_time"
            break
        explorer.run(seeds[start : start + BATCH * 4])
        progress("exploring", explorer.executions, budget)
    while stopped_by == "budget" and explorer.executions < budget and explorer.corpus:
        if out_of_time():
            stopped_by = "wall_time"
            break
        size = min(BATCH, budget - explorer.executions)
        explorer.run([synth.mutate(explorer.pick(rng), explorer.corpus_specs()) for _ in range(size)])
        progress("exploring", explorer.executions, budget)
    return Exploration(
        corpus=explorer.corpus,
        features=len(explorer.seen),
        executions=explorer.executions,
        stopped_by=stopped_by,
        seconds_per_run=explorer.seconds_per_run,
    )


def record_specs(
    task: Task, specs: list[CaseSpec], sandbox: Sandbox, workers: int, progress: Progress
) -> tuple[Suite, RecordReport]:
    """Record the chosen cases on the reference, reporting every run to the progress bar."""
    total = len(specs) * RECORD_REPEATS
    done = 0

    def advanced() -> None:
        nonlocal done
        done += 1
        if done % 16 == 0 or done == total:
            progress("recording", done, total)

    progress("recording", 0, total)
    return record_reference(task, specs, sandbox, workers=workers, on_progress=advanced)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
