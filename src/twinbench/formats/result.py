"""eval.json: the graded result of one submission on one task."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

RESULT_SCHEMA_VERSION = 1
NEAR_RESOLVED_THRESHOLD = 0.95


def encodable(text: str) -> str:
    """`text` with lone surrogates (from JSON escapes or undecodable file names) written as backslash escapes,
    so that it can always be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


Text = Annotated[str, AfterValidator(encodable)]


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
    id: Text
    group: Text
    status: TestStatus
    reason: Text = ""
    diff: Text = ""
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
    log_tail: Text = ""
    reason: Text = ""


class EvalResult(BaseModel):
    """Top level of eval.json."""

    schema_version: int = RESULT_SCHEMA_VERSION
    task: Text
    submission: Text
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
    # how each sandbox's memory was bounded: "cgroup-v1", "cgroup-v2" (the kernel counts everything the
    # sandbox holds) or "per-process rlimit only" (RLIMIT_AS alone; memfds and tmpfs pages are not counted)
    memory_accounting: str = ""
    workers: int = 1
    seconds: float = 0.0
    twinbench_version: str = ""
    stopped: Text = Field(default="", description="why tests were left not_run before the end; empty if none were")
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
