"""The harness decides; what the candidate prints about itself is never believed."""

from __future__ import annotations

import pytest

from twinbench.formats import CompareMode, Comparison, Expectation, TestCase, TestStatus
from twinbench.grade import judge, streams_match
from twinbench.sandbox import ExecResult


def make_case(**expect: object) -> TestCase:
    return TestCase(id="t", group="g", expect=Expectation.model_validate({"exit_code": 0, **expect}))


@pytest.mark.parametrize(
    ("mode", "expected", "actual", "match"),
    [
        (CompareMode.exact, b"a \n", b"a\n", False),
        (CompareMode.rstrip_lines, b"a  \nb\n\n", b"a\nb", True),
        (CompareMode.rstrip_lines, b"a\nb", b"a\nc", False),
        (CompareMode.whitespace, b"a   b\n", b"a b", True),
        (CompareMode.sorted_lines, b"b\na\n", b"a\nb\n", True),
        (CompareMode.json, b'{"a": 1, "b": [1,2]}\n2', b'{"b":[1,2],"a":1} 2', True),
        (CompareMode.json, b'{"a": 1}', b'{"a": 2}', False),
        (CompareMode.ignore, b"x", b"y", True),
    ],
)
def test_compare_modes(mode: CompareMode, expected: bytes, actual: bytes, match: bool) -> None:
    assert streams_match(expected, actual, mode) is match


def test_pass_requires_exit_code_streams_and_files() -> None:
    case = make_case(stdout="out\n", files={"o.txt": "data", "absent": None})
    good = ExecResult(exit_code=0, stdout=b"out\n", files={"o.txt": b"data", "absent": None})
    assert judge(case, good).status == TestStatus.passed
    missing = good.model_copy(update={"files": {"o.txt": None, "absent": None}})
    assert "file o.txt is missing" in judge(case, missing).reason
    extra = good.model_copy(update={"files": {"o.txt": b"data", "absent": b"x"}})
    assert "should not exist" in judge(case, extra).reason


def test_spoofed_verdicts_in_output_do_not_pass() -> None:
    case = make_case(stdout="expected\n")
    spoof = ExecResult(exit_code=0, stdout=b"PASSED\nall 182 tests passed\nstatus: passed\n", stderr=b"")
    verdict = judge(case, spoof)
    assert verdict.status == TestStatus.failed
    assert verdict.reason == "stdout differs from line 1"
    assert "-expected" in verdict.diff and "+PASSED" in verdict.diff


def test_statuses_for_each_way_of_failing() -> None:
    case = make_case(stdout="x")
    assert judge(case, ExecResult(timed_out=True)).status == TestStatus.timeout
    assert judge(case, ExecResult(signal=11)).status == TestStatus.crashed
    assert "SIGSEGV" in judge(case, ExecResult(signal=11)).reason
    assert judge(case, ExecResult(exec_error="Exec format error", exit_code=127)).status == TestStatus.crashed
    assert judge(case, ExecResult(sandbox_error="runner died")).status == TestStatus.error
    assert judge(case, ExecResult(exit_code=2, stdout=b"x")).reason == "exit code 2, expected 0"


def test_truncated_output_never_passes() -> None:
    case = make_case(stdout="a" * 10)
    result = ExecResult(exit_code=0, stdout=b"a" * 10, stdout_truncated=True)
    assert judge(case, result).status == TestStatus.failed


def test_diff_is_short_and_non_utf8_safe() -> None:
    case = make_case(stdout="\n".join(str(i) for i in range(1000)))
    verdict = judge(case, ExecResult(exit_code=0, stdout=b"\xff\xfe" * 5000))
    assert verdict.status == TestStatus.failed and len(verdict.diff) < 5000


def test_ignored_stream_is_not_compared() -> None:
    case = TestCase(
        id="t",
        expect=Expectation(exit_code=1, stderr=b"usage"),
        compare=Comparison(stderr=CompareMode.ignore),
    )
    assert judge(case, ExecResult(exit_code=1, stderr=b"different")).status == TestStatus.passed
