"""Table-driven rules of the judge, the score and resume: each row is one way a grader could go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinbench.formats import (
    CompareMode,
    Comparison,
    EvalResult,
    Expectation,
    TestCase,
    TestResult,
    TestStatus,
)
from twinbench.grade import judge, streams_match
from twinbench.grade.compare import first_difference_line, normalize, short_diff
from twinbench.grade.evaluate import _read_journal
from twinbench.sandbox import ExecResult

P, F, T, C, E, N = (
    TestStatus.passed,
    TestStatus.failed,
    TestStatus.timeout,
    TestStatus.crashed,
    TestStatus.error,
    TestStatus.not_run,
)


def case(exit_code: int = 0, compare: dict[str, str] | None = None, **expect: object) -> TestCase:
    return TestCase(
        id="t",
        group="g",
        timeout_s=5,
        expect=Expectation.model_validate({"exit_code": exit_code, **expect}),
        compare=Comparison.model_validate(compare or {}),
    )


# (name, case, what the harness observed, status, reason)
JUDGE_TABLE: list[tuple[str, TestCase, ExecResult, TestStatus, str]] = [
    ("all equal", case(stdout="o\n", stderr="e"), ExecResult(exit_code=0, stdout=b"o\n", stderr=b"e"), P, ""),
    ("exit code differs", case(2), ExecResult(exit_code=1), F, "exit code 1, expected 2"),
    ("nonzero exit expected", case(2), ExecResult(exit_code=2), P, ""),
    ("no status at all", case(0), ExecResult(), F, "exit code None, expected 0"),
    # a reference killed by a signal is recorded as minus the signal number, as subprocess does
    ("reference killed by SIGABRT, candidate too", case(-6), ExecResult(signal=6), P, ""),
    ("reference killed by SIGKILL, candidate too", case(-9, stdout="x"), ExecResult(signal=9, stdout=b"x"), P, ""),
    ("reference killed, candidate exits", case(-6), ExecResult(exit_code=0), F, "exit code 0, expected -6"),
    ("reference killed, candidate killed otherwise", case(-6), ExecResult(signal=11), F, "exit code -11, expected -6"),
    ("exit 134 is not SIGABRT", case(-6), ExecResult(exit_code=134), F, "exit code 134, expected -6"),
    ("candidate segfaults", case(0), ExecResult(signal=11), C, "killed by SIGSEGV; exit code -11, expected 0"),
    ("unknown signal", case(0), ExecResult(signal=77), C, "killed by signal 77; exit code -77, expected 0"),
    ("timeout", case(0), ExecResult(timed_out=True, exit_code=0), T, "still running after 5s; killed"),
    ("cannot exec", case(0), ExecResult(exec_error="Exec format error", exit_code=0), C, "could not execute"),
    ("runner died", case(0), ExecResult(runner_died=True, exit_code=0), C, "the program killed its own sandbox"),
    ("harness failed", case(0), ExecResult(sandbox_error="boom", timed_out=True), E, "harness: boom"),
    # output files: content compared, missing and unexpected files caught
    ("file right", case(files={"o": "data"}), ExecResult(exit_code=0, files={"o": b"data"}), P, ""),
    ("file wrong", case(files={"o": "data"}), ExecResult(exit_code=0, files={"o": b"dat4"}), F, "file o differs"),
    ("file missing", case(files={"o": "data"}), ExecResult(exit_code=0, files={"o": None}), F, "file o is missing"),
    ("file not collected", case(files={"o": "data"}), ExecResult(exit_code=0), F, "file o is missing"),
    (
        "file unexpected",
        case(files={"o": None}),
        ExecResult(exit_code=0, files={"o": b""}),
        F,
        "file o was written but should not exist",
    ),
    ("file absent as expected", case(files={"o": None}), ExecResult(exit_code=0, files={"o": None}), P, ""),
    (
        "file under its mode",
        case(files={"o": "a  \n\n"}, compare={"files": "rstrip"}),
        ExecResult(exit_code=0, files={"o": b"a"}),
        P,
        "",
    ),
    # stderr is compared unless the mode says ignore: a do-nothing stub must not pass a test whose
    # reference only wrote to stderr
    (
        "stub vs stderr-only reference",
        case(stderr="warning\n"),
        ExecResult(exit_code=0),
        F,
        "stderr differs from line 1",
    ),
    ("stderr ignored", case(stderr="x", compare={"stderr": "ignore"}), ExecResult(exit_code=0, stderr=b"y"), P, ""),
    ("stdout ignored", case(stdout="x", compare={"stdout": "ignore"}), ExecResult(exit_code=0, stdout=b"y"), P, ""),
    (
        "stdout differs",
        case(stdout="a\nb\n"),
        ExecResult(exit_code=0, stdout=b"a\nc\n"),
        F,
        "stdout differs from line 2",
    ),
    (
        "stdout truncated",
        case(stdout="a"),
        ExecResult(exit_code=0, stdout=b"a", stdout_truncated=True),
        F,
        "stdout exceeded the output limit",
    ),
    (
        "truncated but ignored",
        case(stdout="a", compare={"stdout": "ignore"}),
        ExecResult(exit_code=0, stdout_truncated=True),
        P,
        "",
    ),
    ("stderr truncated", case(), ExecResult(exit_code=0, stderr_truncated=True), F, "stderr exceeded the output limit"),
    (
        "reasons joined",
        case(3, stdout="a", stderr="b"),
        ExecResult(exit_code=0, stdout=b"x", stderr=b"y"),
        F,
        "exit code 0, expected 3; stdout differs from line 1; stderr differs from line 1",
    ),
]


@pytest.mark.parametrize(
    ("name", "test_case", "observed", "status", "reason"), JUDGE_TABLE, ids=[r[0] for r in JUDGE_TABLE]
)
def test_judge(name: str, test_case: TestCase, observed: ExecResult, status: TestStatus, reason: str) -> None:
    verdict = judge(test_case, observed)
    assert verdict.status == status
    assert verdict.reason.startswith(reason) if reason else verdict.reason == ""
    assert (verdict.id, verdict.group) == ("t", "g")


def test_judge_diff_shows_the_first_difference_and_seconds_are_kept() -> None:
    verdict = judge(case(stdout="same\nwant\n"), ExecResult(exit_code=0, stdout=b"same\ngot\n", seconds=1.2345678))
    assert "-want" in verdict.diff and "+got" in verdict.diff and verdict.seconds == 1.234568
    files = judge(case(files={"o": "want"}), ExecResult(exit_code=0, files={"o": b"got"}))
    assert "expected/o" in files.diff and "+got" in files.diff
    # the exit code has no diff of its own: the first diff shown is the first stream's
    both = judge(case(2, stderr="e"), ExecResult(exit_code=0, stderr=b"f"))
    assert both.diff.startswith("--- expected/stderr")


# (mode, expected, actual, match): every mode, each with a pair it must accept and one it must refuse
COMPARE_TABLE = [
    (CompareMode.exact, b"a\n", b"a\n", True),
    (CompareMode.exact, b"a \n", b"a\n", False),
    (CompareMode.exact, b"a\n", b"a", False),
    (CompareMode.rstrip_lines, b"a  \nb\t\n\n\n", b"a\nb", True),
    (CompareMode.rstrip_lines, b"a\nb", b"a\nc", False),
    (CompareMode.rstrip_lines, b" a\n", b"a\n", False),  # leading space is kept
    (CompareMode.rstrip_lines, b"a\n\nb", b"a\nb", False),  # inner blank lines are kept
    (CompareMode.whitespace, b"a   b\n\tc", b"a b c", True),
    (CompareMode.whitespace, b"  a b  ", b"a b", True),
    (CompareMode.whitespace, b"ab", b"a b", False),
    (CompareMode.sorted_lines, b"b\na\n", b"a\nb\n", True),
    (CompareMode.sorted_lines, b"a\na\nb\n", b"a\nb\nb\n", False),  # counts matter
    (CompareMode.sorted_lines, b"a\nb", b"a\nB", False),
    (CompareMode.json, b'{"a": 1, "b": [1,2]}\n2', b'{"b":[1,2],"a":1} 2', True),
    (CompareMode.json, b'{"a": 1}', b'{"a": 2}', False),
    (CompareMode.json, b"1 2", b"2 1", False),  # order of values matters
    (CompareMode.json, b"[1]", b"[1] [1]", False),
    (CompareMode.json, b"not json", b"not json", True),  # unparsable text is compared as it is
    (CompareMode.json, b"not json", b"not  json", False),
    (CompareMode.json, b"\xff", b"\xff", True),
    (CompareMode.json, b"\xff", b"\xfe", False),
    (CompareMode.json, b"", b"  \n", True),
    (CompareMode.ignore, b"x", b"y", True),
]


@pytest.mark.parametrize(("mode", "expected", "actual", "match"), COMPARE_TABLE)
def test_compare(mode: CompareMode, expected: bytes, actual: bytes, match: bool) -> None:
    assert streams_match(expected, actual, mode) is match
    assert streams_match(actual, expected, mode) is match  # every mode is symmetric


def test_normalized_forms() -> None:
    assert normalize(b"a \nb \n\n", CompareMode.rstrip_lines) == b"a\nb"
    assert normalize(b" a \n b ", CompareMode.whitespace) == b"a b"
    assert normalize(b"b\na\n", CompareMode.sorted_lines) == [b"a", b"b"]
    assert normalize(b'1 {"a": 2}', CompareMode.json) == [1, {"a": 2}]
    assert normalize(b"x", CompareMode.ignore) is None


@pytest.mark.parametrize(
    ("expected", "actual", "line"),
    [
        (b"a\nb\nc", b"a\nb\nd", 3),
        (b"a", b"b", 1),
        (b"a\nb\n", b"a\nb\n\n", 3),
        (b"a\nb", b"a\nb\nc", 2),  # line 2 is "b" in one and "b\n" in the other
        (b"", b"x", 1),
        (b"a\n", b"a\nb\n", 2),
    ],
)
def test_first_difference_line(expected: bytes, actual: bytes, line: int) -> None:
    assert first_difference_line(expected, actual) == line


def test_short_diff_forms() -> None:
    assert short_diff(b"a\n", b"a\n", "stdout") == ""
    diff = short_diff(b"a\nb\n", b"a\nc\n", "stdout")
    assert diff.splitlines()[:2] == ["--- expected/stdout", "+++ actual/stdout"]
    assert "-b\n+c\n" in diff
    no_newline = short_diff(b"a", b"b", "x")
    assert "-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n" in no_newline
    # bytes that decode alike still differ, and say so
    alike = short_diff(b"\xff", b"\xfe", "stdout")
    assert "bytes differ: b'\\xff' vs b'\\xfe'" in alike
    long = short_diff(b"".join(b"%d\n" % i for i in range(500)), b"", "stdout")
    assert "diff cut; 503 lines in all" in long and long.count("\n") <= 42
    wide = short_diff(b"a" * 10000, b"b", "stdout")
    assert len(wide) < 4100 and "diff cut" in wide


# (statuses, score, resolved, near_resolved)
SCORE_TABLE = [
    ([], 0.0, False, False),  # an empty suite resolves nothing
    ([P], 1.0, True, True),
    ([P] * 20, 1.0, True, True),
    ([P] * 19 + [F], 0.95, False, True),
    ([P] * 18 + [F, F], 0.9, False, False),
    ([P, N], 0.5, False, False),  # tests not run count against the score
    ([P, E], 0.5, False, False),
    ([T, C, F, N, E], 0.0, False, False),
]


@pytest.mark.parametrize(("statuses", "score", "resolved", "near"), SCORE_TABLE)
def test_scoring(statuses: list[TestStatus], score: float, resolved: bool, near: bool) -> None:
    tests = [TestResult(id=f"t{i}", group="g", status=s) for i, s in enumerate(statuses)]
    result = EvalResult.scored(
        tests, task="x", submission="s", submission_sha256="0", suite_sha256="0", build={"ok": True}
    )
    assert (result.score, result.resolved, result.near_resolved) == (pytest.approx(score), resolved, near)
    assert result.total == len(statuses) and result.passed == statuses.count(P)
    assert result.counts == {status.value: statuses.count(status) for status in TestStatus}
    assert result.tests == tests


def test_scores_cannot_be_set_by_hand() -> None:
    tests = [TestResult(id="a", group="g", status=F)]
    result = EvalResult.scored(
        tests, task="x", submission="s", submission_sha256="0", suite_sha256="0", build={"ok": True}, score=1.0
    )
    assert result.score == 0.0 and not result.resolved


def test_eval_json_without_new_fields_still_loads() -> None:
    old = {
        "task": "x",
        "submission": "s",
        "submission_sha256": "0",
        "suite_sha256": "0",
        "build": {"ok": True},
        "tests": [{"id": "a", "group": "g", "status": "passed"}],
    }
    loaded = EvalResult.model_validate(old)
    assert loaded.stopped == "" and loaded.schema_version == 1 and loaded.tests[0].seconds == 0.0


IDENTITY = {"submission_sha256": "s", "suite_sha256": "q"}


def journal(path: Path, identity: dict[str, str], *lines: str) -> Path:
    path.write_text("\n".join([json.dumps({"identity": identity}), *lines]) + "\n")
    return path


def line(test_id: str, status: TestStatus) -> str:
    return TestResult(id=test_id, group="g", status=status).model_dump_json()


def test_resume_keeps_verdicts_and_reruns_harness_errors(tmp_path: Path) -> None:
    path = journal(
        tmp_path / "progress.jsonl",
        IDENTITY,
        line("p", P),
        line("f", F),
        line("t", T),
        line("c", C),
        line("e", E),
        line("n", N),
        '{"id": "cut',
    )
    finished = _read_journal(path, IDENTITY)
    assert sorted(finished) == ["c", "f", "p", "t"]
    assert finished["t"].status == T


def test_resume_uses_the_last_verdict_of_a_test(tmp_path: Path) -> None:
    # a test that erred and ran again on resume is kept with its later verdict
    path = journal(tmp_path / "j", IDENTITY, line("a", E), line("b", N), line("a", P), line("b", F))
    finished = _read_journal(path, IDENTITY)
    assert (finished["a"].status, finished["b"].status) == (P, F)


@pytest.mark.parametrize(
    "content",
    ["", "not json\n", '["identity"]\n', json.dumps({"identity": {"submission_sha256": "other"}}) + "\n"],
)
def test_resume_starts_over_on_a_foreign_or_broken_journal(tmp_path: Path, content: str) -> None:
    path = tmp_path / "j"
    path.write_text(content + line("p", P) + "\n")
    assert _read_journal(path, IDENTITY) == {}
    assert _read_journal(tmp_path / "missing", IDENTITY) == {}


def test_resume_reads_past_a_broken_line(tmp_path: Path) -> None:
    # a line cut short by a crash is run again; the lines after it still count
    path = journal(tmp_path / "j", IDENTITY, line("a", P), '{"id": "b", "gro', line("c", F))
    assert sorted(_read_journal(path, IDENTITY)) == ["a", "c"]
