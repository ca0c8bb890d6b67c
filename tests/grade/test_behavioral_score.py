"""The behavioral score: exit code, stdout and files exact; stderr's wording free but not its presence."""

from __future__ import annotations

from twinbench.formats import EvalResult, Expectation, TestCase, TestResult, TestStatus
from twinbench.grade.judge import judge
from twinbench.sandbox import ExecResult

CASE = TestCase(
    id="t1",
    argv=["-Z"],
    expect=Expectation(exit_code=1, stdout=b"", stderr=b"prog: invalid option -- 'Z'\n", files={"out.txt": b"x"}),
)

IDENTITY: dict[str, object] = {
    "task": "x",
    "submission": "s",
    "submission_sha256": "",
    "suite_sha256": "",
    "build": {"ok": True},
}


def run(
    status: int = 1, stdout: bytes = b"", stderr: bytes = b"bad flag Z\n", files: bytes | None = b"x"
) -> ExecResult:
    return ExecResult(exit_code=status, stdout=stdout, stderr=stderr, files={"out.txt": files})


def test_other_wording_of_an_error_passes_behaviorally_only() -> None:
    verdict = judge(CASE, run())
    assert verdict.status == TestStatus.failed and verdict.behavioral is True


def test_behavioral_rule_still_needs_stderr_exit_code_stdout_and_files() -> None:
    assert judge(CASE, run(stderr=b"")).behavioral is False
    assert judge(CASE, run(status=2)).behavioral is False
    assert judge(CASE, run(stdout=b"noise")).behavioral is False
    assert judge(CASE, run(files=None)).behavioral is False
    assert judge(CASE, run(files=b"y")).behavioral is False
    assert judge(CASE, ExecResult(timed_out=True)).behavioral is None  # never ran to the end: not judged


def test_behavioral_score_counts_strict_passes_and_behavioral_ones() -> None:
    tests = [
        judge(CASE, run(stderr=CASE.expect.stderr)),
        judge(CASE, run()),
        judge(CASE, run(stderr=b"")),
        judge(CASE, ExecResult(timed_out=True)),
    ]
    result = EvalResult.scored(tests, **IDENTITY)
    assert result.score == 0.25 and result.behavioral_score == 0.5


def test_results_from_before_the_behavioral_rule_have_no_behavioral_score() -> None:
    old = [TestResult(id=i, group="g", status=status) for i, status in (("a", "failed"), ("b", "passed"))]
    result = EvalResult.scored(old, **IDENTITY)
    assert result.behavioral_score is None and result.score == 0.5
