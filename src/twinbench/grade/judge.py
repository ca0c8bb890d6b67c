"""Turn what the harness observed for one test into a status, a reason and a diff."""

from __future__ import annotations

import signal

from twinbench.formats import CompareMode, TestCase, TestResult, TestStatus
from twinbench.grade.compare import first_difference_line, short_diff, streams_match
from twinbench.sandbox import ExecResult


def judge(case: TestCase, result: ExecResult) -> TestResult:
    """Compare the observed run with the expectation; the candidate's own output is never believed."""

    def verdict(status: TestStatus, reason: str, diff: str = "") -> TestResult:
        return TestResult(
            id=case.id,
            group=case.group,
            status=status,
            reason=reason,
            diff=diff,
            seconds=round(result.seconds, 6),
        )

    if result.sandbox_error is not None:
        return verdict(TestStatus.error, f"harness: {result.sandbox_error}")
    if result.runner_died:
        return verdict(TestStatus.crashed, "the program killed its own sandbox")
    if result.crash_reason is not None:
        return verdict(TestStatus.crashed, result.crash_reason)
    if result.exec_error is not None:
        return verdict(TestStatus.crashed, f"could not execute ./executable: {result.exec_error}")
    if result.timed_out:
        return verdict(TestStatus.timeout, f"still running after {case.timeout_s:g}s; killed")

    mismatches: list[tuple[str, str]] = []
    expected, compare = case.expect, case.compare
    observed_exit = result.status
    if observed_exit != expected.exit_code:
        mismatches.append((f"exit code {observed_exit}, expected {expected.exit_code}", ""))
    for label, want, got, truncated, mode in (
        ("stdout", expected.stdout, result.stdout, result.stdout_truncated, compare.stdout),
        ("stderr", expected.stderr, result.stderr, result.stderr_truncated, compare.stderr),
    ):
        if truncated and mode != CompareMode.ignore:
            mismatches.append((f"{label} exceeded the output limit", ""))
        elif not streams_match(want, got, mode):
            line = first_difference_line(want, got)
            mismatches.append((f"{label} differs from line {line}", short_diff(want, got, label)))
    for name, want_file in sorted(expected.files.items()):
        got_file = result.files.get(name)
        if want_file is None and got_file is not None:
            mismatches.append((f"file {name} was written but should not exist", ""))
        elif want_file is not None and got_file is None:
            mismatches.append((f"file {name} is missing", ""))
        elif want_file is not None and got_file is not None and not streams_match(want_file, got_file, compare.files):
            mismatches.append((f"file {name} differs", short_diff(want_file, got_file, name)))

    if not mismatches:
        return verdict(TestStatus.passed, "").model_copy(update={"behavioral": True})
    reason = "; ".join(text for text, _ in mismatches[:3])
    diff = next((d for _, d in mismatches if d), "")
    behavioral = {"behavioral": behavioral_pass(case, result)}
    if result.signal is not None and (expected.exit_code is None or expected.exit_code >= 0):
        crashed = verdict(TestStatus.crashed, f"killed by {_signal_name(result.signal)}; {reason}", diff)
        return crashed.model_copy(update=behavioral)
    return verdict(TestStatus.failed, reason, diff).model_copy(update=behavioral)


def behavioral_pass(case: TestCase, result: ExecResult) -> bool:
    """The behavioral score's rule: exit code, stdout and files as strictly as ever; stderr need only be
    non-empty where the reference's is (its wording is free). A run that did not finish never passes."""
    if result.sandbox_error or result.runner_died or result.exec_error or result.timed_out:
        return False
    expected, compare = case.expect, case.compare
    if result.status != expected.exit_code or result.stdout_truncated:
        return False
    if not streams_match(expected.stdout, result.stdout, compare.stdout):
        return False
    if compare.stderr != CompareMode.ignore and bool(expected.stderr) and not result.stderr:
        return False
    for name, want in expected.files.items():
        got = result.files.get(name)
        if want is None or got is None:
            if (want is None) != (got is None):
                return False
        elif not streams_match(want, got, compare.files):
            return False
    return True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
