"""tests/testgen.json: how a suite was made, what it covers, and what was dropped."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FileCoverage(BaseModel):
    """Line coverage of one source file of the reference."""

    file: str
    lines_total: int
    lines_covered: int
    percent: float
    role: str = Field(
        default="own",
        description="own (counted in the headline), vendored, dependency (another package's code) or generated",
    )


class CoverageTotals(BaseModel):
    """Line coverage summed over the files of one role."""

    files: int
    lines_total: int
    lines_covered: int
    percent: float


class CoverageReport(BaseModel):
    """Line coverage of the reference's sources reached by a suite (gcc --coverage + gcov)."""

    lines_total: int
    lines_covered: int
    percent: float
    files: list[FileCoverage] = Field(default_factory=list)
    by_role: dict[str, CoverageTotals] = Field(
        default_factory=dict, description="totals per role; the headline above counts the program's own sources"
    )


class AcceptedShare(BaseModel):
    """How many generated inputs of one origin ran, and the share the reference accepted (exit 0)."""

    generated: int
    accepted: int
    share: float

    @classmethod
    def of(cls, generated: int, accepted: int) -> AcceptedShare:
        """The share, rounded for reading; 0 when nothing was generated."""
        return cls(generated=generated, accepted=accepted, share=round(accepted / generated, 4) if generated else 0.0)


class ValidityReport(BaseModel):
    """Scores of built-in shallow imitations graded with the suite: a valid suite keeps each at most `threshold`."""

    threshold: float
    scores: dict[str, float] = Field(description="imitation name (stub, constant, errors_only) -> score")
    passed: bool
    rounds: int = Field(default=1, description="gate runs; testgen adds core cases between failed rounds")
    passing_cases: dict[str, list[str]] = Field(default_factory=dict, description="first case ids each one passes")


class Mutant(BaseModel):
    """One mutant and what became of it."""

    id: str
    file: str
    line: int
    original: str
    replacement: str
    status: str = Field(
        description="killed, survived, equivalent (identical binary), build_failed, or not_run (the cap came first)"
    )
    equivalence: str = Field(
        default="", description="how an equivalent mutant was proven: identical coverage build or optimized build"
    )
    killed_by: list[str] = Field(default_factory=list)
    diff: str = ""
    reached: bool | None = Field(
        default=None, description="whether the suite runs the mutated line (coverage build); None: not known"
    )


class HuntRound(BaseModel):
    """One batch of inputs tried against surviving mutants by testgen --mutants."""

    source: str = Field(description="explored (inputs the suite left out) or variations (of inputs that reach)")
    screened: int = Field(
        default=0,
        description="runs of a survivor's binary beside the unmutated rebuild's, on inputs that reach its code",
    )
    tried: int = Field(description="inputs recorded and graded: those on which a survivor behaved differently")
    killed: int = Field(description="survivors this batch killed")
    alive: int = Field(description="survivors left after it")


class MutationReport(BaseModel):
    """The suite's mutation score."""

    seed: int
    requested: int
    built: int
    equivalent: int
    build_failed: int
    killed: int
    survived: int
    kill_rate: float | None = Field(description="killed / (killed + survived)")
    baseline_cases: int = Field(
        description="cases the unmutated rebuild passes: only these can kill (testgen --mutants grades the"
        " rebuild only on the cases a mutant is graded on)"
    )
    seconds: float = 0.0
    not_run: int = Field(default=0, description="mutants left ungraded because the wall-time cap came first")
    stopped_by: str = Field(default="done", description="done, or wall_time when the cap ended the grading early")
    unreached: int = Field(
        default=0, description="survivors on lines no case runs: the suite lacks an input there, not an oracle"
    )
    hunt: list[HuntRound] = Field(
        default_factory=list,
        description="testgen --mutants: each batch of inputs tried against the survivors, and what it killed",
    )
    mutants: list[Mutant] = Field(default_factory=list)


class TestgenReport(BaseModel):
    """Everything needed to judge and reproduce a generated suite."""

    __test__ = False
    schema_version: int = 1
    task: str
    seed: int
    budget_s: float
    base_args: list[str] = Field(default_factory=list, description="arguments every generated invocation starts with")
    base_files: list[str] = Field(default_factory=list, description="input files every generated case has")
    execution_budget: int = Field(description="candidate runs allowed; with the seed it fixes the suite")
    executions: int
    stopped_by: str = Field(description="'budget' (reproducible) or 'wall_time' (runs left when the time ran out)")
    seconds: float = Field(description="wall seconds of generation, the part --budget-s caps")
    source_seconds: float = Field(
        default=0.0,
        description="wall seconds fetching the Debian source package before the capped generation (0: cached)",
    )
    cpu_seconds: float
    guidance: str = Field(description="'coverage' (edges of a gcc --coverage build) or 'behavior' (novel outputs)")
    features: int
    corpus: int
    selected: int
    kept: int
    coverage: CoverageReport | None = None
    groups: dict[str, int] = Field(default_factory=dict)
    dropped: dict[str, str] = Field(default_factory=dict, description="case id -> hygiene reason")
    dropped_by_reason: dict[str, int] = Field(default_factory=dict)
    normalized: dict[str, str] = Field(default_factory=dict, description="case id -> stream ignored because it varies")
    upstream: str = Field(default="", description="the source package whose tests gave seeds, or why there were none")
    source_numbers: list[int] = Field(
        default_factory=list,
        description="numbers the source package compares with: tried, with their neighbours, as option values and "
        "data-file header numbers",
    )
    seed_sources: dict[str, int] = Field(
        default_factory=dict, description='language seeds per source: "upstream:tests/jq.test", "docs:man#0"'
    )
    accepted: dict[str, AcceptedShare] = Field(
        default_factory=dict,
        description="per origin kind (upstream, docs, grammar, mutation, synthesized) and 'all': runs while "
        "exploring and the share the reference accepted (exit 0)",
    )
    kept_by_origin: dict[str, int] = Field(default_factory=dict, description="kept cases per origin kind")
    origins: dict[str, str] = Field(default_factory=dict, description="case id -> where its input came from")

    core_round_executions: int = Field(default=0, description="runs spent finding core cases after a failed gate")
    classes: dict[str, int] = Field(default_factory=dict, description="kept cases per class (core, input_error, ...)")
    core_share: float | None = None
    balance_note: str = Field(default="", description="why the shallow-case cap was not applied, when it was not")
    collapsed: int = Field(default=0, description="near-duplicate candidates collapsed before selection")
    validity: ValidityReport | None = None
    mutation: MutationReport | None = Field(default=None, description="with --mutants: the final suite's score")
    mutation_before: MutationReport | None = Field(
        default=None, description="with --mutants: the score before cases that kill survivors were added"
    )
    phase_seconds: dict[str, float] = Field(default_factory=dict)
