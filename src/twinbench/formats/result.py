"""eval.json: the graded result of one submission on one task."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

RESULT_SCHEMA_VERSION = 1
NEAR_RESOLVED_THRESHOLD = 0.95


class TestStatus(StrEnum):
    """Outcome of one test, as observed by the harness."""

    __test__ = False
    passed = "passed"
    failed = "failed"
    timeout = "timeout"
    crashed = "crashed"
    error = "error"
    not_run = "not_run"


class TestResult(BaseModel):
    """One test's status, with a one-line reason and a short diff when it did not pass."""

    __test__ = False
    id: str
    group: str
    status: TestStatus
    reason: str = ""
    diff: str = ""
    seconds: float = 0.0
    behavioral: bool | None = Field(
        default=None, description="passes when stderr need only be non-empty where the reference's is"
    )


class BuildRecord(BaseModel):
    """How `compile.sh` went."""

    ok: bool
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    log_tail: str = ""
    reason: str = ""


class EvalResult(BaseModel):
    """Top level of eval.json."""

    schema_version: int = RESULT_SCHEMA_VERSION
    task: str
    submission: str
    submission_sha256: str
    suite_sha256: str
    build: BuildRecord
    score: float = 0.0
    behavioral_score: float | None = Field(
        default=None, description="stdout, exit code and files exact; stderr only non-empty where expected"
    )
    passed: int = 0
    total: int = 0
    resolved: bool = False
    near_resolved: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    sandbox: str = ""
    workers: int = 1
    seconds: float = 0.0
    twinbench_version: str = ""
    tests: list[TestResult] = Field(default_factory=list)

    @classmethod
    def scored(cls, tests: list[TestResult], **fields: object) -> EvalResult:
        """Build a result whose score fields are derived from its tests, never set by hand."""
        total = len(tests)
        passed = sum(1 for t in tests if t.status == TestStatus.passed)
        score = passed / total if total else 0.0
        # results written before the behavioral rule existed say nothing about it: no behavioral score then
        unjudged = any(t.behavioral is None and t.status in (TestStatus.failed, TestStatus.crashed) for t in tests)
        behavioral_passed = sum(1 for t in tests if t.behavioral or t.status == TestStatus.passed)
        behavioral = None if unjudged or not total else behavioral_passed / total
        counts = {status.value: 0 for status in TestStatus}
        for test in tests:
            counts[test.status.value] += 1
        return cls.model_validate(
            {
                **fields,
                "tests": tests,
                "total": total,
                "passed": passed,
                "score": score,
                "behavioral_score": behavioral,
                "resolved": total > 0 and passed == total,
                "near_resolved": total > 0 and score >= NEAR_RESOLVED_THRESHOLD,
                "counts": counts,
            }
        )
