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


class TestgenReport(BaseModel):
    """Everything needed to judge and reproduce a generated suite."""

    __test__ = False
    schema_version: int = 1
    task: str
    seed: int
    budget_s: float
    execution_budget: int = Field(description="candidate runs allowed; with the seed it fixes the suite")
    executions: int
    stopped_by: str = Field(description="'budget' (reproducible) or 'wall_time' (runs left when the time ran out)")
    seconds: float
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
