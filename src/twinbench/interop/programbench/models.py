"""ProgramBench's on-disk formats as pydantic models: task.yaml, tests.json and the per-task eval.json.

The eval.json models mirror the fields of ProgramBench's `EvaluationResult` (with `extra="forbid"`, as
there), so what twinbench writes loads with ProgramBench's own model."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BRANCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
INSTANCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
# ProgramBench's headline thresholds on a task's score
RESOLVED_THRESHOLD = 1.0
NEAR_RESOLVED_THRESHOLD = 0.95

PBStatus = Literal["passed", "skipped", "failure", "error", "system_error", "not_run"]


class PBTaskSpec(BaseModel):
    """task.yaml of a ProgramBench task: where the program comes from, and the gold binary's hashes."""

    model_config = ConfigDict(extra="allow")

    repository: str = ""
    commit: str = ""
    language: str = ""
    difficulty: str = ""
    eval_clean_hashes: list[str] = Field(default_factory=list, description="sha256 of the gold binary")

    def clean_hashes(self) -> list[str]:
        """The hashes that are well-formed sha256 digests (anything else could never match a file)."""
        return [value.lower() for value in self.eval_clean_hashes if re.fullmatch(r"[0-9a-fA-F]{64}", value)]


class IgnoreReason(BaseModel):
    """Why ProgramBench ignores a test."""

    model_config = ConfigDict(extra="allow")

    id: str = ""


class IgnoredTest(BaseModel):
    """A test of a branch that does not count, with its reasons."""

    model_config = ConfigDict(extra="allow")

    name: str
    reasons: list[IgnoreReason] = Field(default_factory=list)


class BranchSpec(BaseModel):
    """One test branch of tests.json: its tests, and whether it (or some of its tests) is ignored."""

    model_config = ConfigDict(extra="allow")

    ignored: bool = False
    ignore_reason: str = ""
    tests: list[str] = Field(default_factory=list)
    ignored_tests: list[IgnoredTest] = Field(default_factory=list)

    def ignored_names(self) -> set[str]:
        """Names of this branch's ignored tests."""
        return {test.name for test in self.ignored_tests}

    def active_tests(self) -> list[str]:
        """The tests that count, in tests.json's order."""
        ignored = self.ignored_names()
        return [name for name in self.tests if name not in ignored]


class TestsSpec(BaseModel):
    """tests.json: the branches of a task, keyed by their 12-hex name."""

    __test__ = False
    model_config = ConfigDict(extra="allow")

    branches: dict[str, BranchSpec] = Field(default_factory=dict)

    def active_branches(self) -> list[str]:
        """Branches that are not ignored, in tests.json's order."""
        return [name for name, branch in self.branches.items() if not branch.ignored]

    def ignored_full_names(self) -> set[str]:
        """`branch/test` of every ignored test, over all branches."""
        return {f"{name}/{test}" for name, branch in self.branches.items() for test in branch.ignored_names()}


class PBTestResult(BaseModel):
    """One test's outcome in ProgramBench's eval.json."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    name: str
    branch: str = ""
    status: PBStatus
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """`branch/name`, the key of score.json."""
        return f"{self.branch}/{self.name}" if self.branch else self.name


class PBBranchError(BaseModel):
    """Why a whole branch produced no results."""

    model_config = ConfigDict(extra="forbid")

    error_code: str
    error_details: str


class PBEvaluationResult(BaseModel):
    """`<iid>/<iid>.eval.json`: every test of every branch (ignored ones included), the log and errors."""

    model_config = ConfigDict(extra="forbid")

    test_results: list[PBTestResult] = Field(default_factory=list)
    error_code: str | None = None
    error_details: str | None = None
    log: list[dict[str, Any]] = Field(default_factory=list)
    solution_branch: str | None = None
    test_branches: list[str] = Field(default_factory=list)
    test_branch_errors: dict[str, list[PBBranchError]] = Field(default_factory=dict)
    executable_hash: str | None = None
    warnings: list[str] = Field(default_factory=list)


def counted_results(result: PBEvaluationResult, tests: TestsSpec) -> dict[str, bool]:
    """`{branch/test: passed}` over active branches without ignored tests: one task's entry in score.json."""
    active = set(tests.active_branches())
    ignored = tests.ignored_full_names()
    return {
        test.full_name: test.status == "passed"
        for test in result.test_results
        if test.branch in active and test.full_name not in ignored
    }


def score_from_tests(tests: dict[str, bool]) -> float:
    """Fraction of a task's counted tests that passed; 0 when none count."""
    return sum(tests.values()) / len(tests) if tests else 0.0


class Headline(BaseModel):
    """ProgramBench's headline numbers: means over every task of the benchmark, missing ones counting 0."""

    mean_score: float
    resolved_pct: float
    near_resolved_pct: float
    n_instances_attempted: int
    n_instances_total: int


def headline(scores: dict[str, float], n_total: int) -> Headline:
    """The headline for per-task `scores` out of `n_total` tasks, rounded as ProgramBench rounds."""
    total = max(n_total, len(scores), 1)
    values = list(scores.values())
    return Headline(
        mean_score=round(sum(values) / total, 4),
        resolved_pct=round(100 * sum(value >= RESOLVED_THRESHOLD for value in values) / total, 1),
        near_resolved_pct=round(100 * sum(value >= NEAR_RESOLVED_THRESHOLD for value in values) / total, 1),
        n_instances_attempted=len(values),
        n_instances_total=total,
    )
