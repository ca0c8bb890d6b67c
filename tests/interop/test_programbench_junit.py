"""JUnit XML → ProgramBench statuses, checked against ProgramBench's own parser on the same XML."""

from __future__ import annotations

import pytest
from programbench.eval.eval import _process_branch_xml, parse_test_results

from twinbench.interop.programbench.junit import JUnitError, complete, crash_count, parse_junit
from twinbench.interop.programbench.models import BranchSpec, IgnoredTest

XML = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="eval.tests.test_a" name="test_pass" time="0.5"/>
<testcase classname="eval.tests.test_a" name="test_fail" time="0.1">
<failure message="assert 1 == 2">trace</failure></testcase>
<testcase classname="eval.tests.test_a" name="test_error"><error message="fixture broke">E</error></testcase>
<testcase classname="eval.tests.test_a" name="test_skip"><skipped message="no tmux" type="pytest.skip"/></testcase>
<testcase classname="eval.tests.test_a" name="test_two_errors"><error message="a"/><error message="b"/></testcase>
<testcase classname="eval.tests.test_a" name="test_mixed"><failure message="a"/><error message="b"/></testcase>
<testcase classname="eval.tests.test_a" name="test_rerun">
<rerun message="flaky">x</rerun><system-out>out</system-out></testcase>
<testcase classname="" name="bare_name"/>
<testcase classname="" name=""/>
</testsuite></testsuites>"""


def test_statuses_and_details_equal_programbench_parser() -> None:
    ours = [result.model_dump() for result in parse_junit(XML, "abc123def456")]
    theirs = [result.model_dump() for result in parse_test_results(XML, branch="abc123def456").test_results]
    for mine in ours:  # ProgramBench's system_error details name junitparser's classes; compare the rest
        mine["extra"].pop("error_details", None)
    for their in theirs:
        their["extra"].pop("error_details", None)
    assert ours == theirs
    statuses = {result["name"].rsplit(".", 1)[-1]: result["status"] for result in ours}
    assert statuses == {
        "test_pass": "passed",
        "test_fail": "failure",
        "test_error": "error",
        "test_skip": "skipped",
        "test_two_errors": "error",
        "test_mixed": "system_error",
        "test_rerun": "passed",
        "bare_name": "passed",
    }


def test_missing_expected_tests_are_not_run_and_ignored_ones_are_not_expected() -> None:
    spec = BranchSpec(
        tests=["eval.tests.test_a.test_pass", "eval.tests.test_a.test_gone", "eval.tests.test_a.test_ignored"],
        ignored_tests=[IgnoredTest(name="eval.tests.test_a.test_ignored")],
    )
    ours, warnings = complete(parse_junit(XML, "b1"), "b1", spec)
    expected_by_branch = {"b1": spec.tests}
    theirs, their_warnings = _process_branch_xml(
        XML, "b1", expected_by_branch, ignored_tests={"b1/eval.tests.test_a.test_ignored"}
    )
    assert [(r.name, r.status, r.extra.get("error_code")) for r in ours] == [
        (r.name, r.status, r.extra.get("error_code")) for r in theirs
    ]
    assert warnings == their_warnings
    assert ours[-1].name == "eval.tests.test_a.test_gone" and ours[-1].status == "not_run"


@pytest.mark.parametrize("xml", ["", "   ", "<testsuites><testcase", "\x00"])
def test_empty_or_malformed_xml_is_a_one_line_error(xml: str) -> None:
    with pytest.raises(JUnitError) as caught:
        parse_junit(xml, "b1")
    assert "\n" not in str(caught.value)


def test_xdist_crashes_are_counted() -> None:
    crashed = (
        '<testsuites><testsuite><testcase classname="t" name="a"><error message="failed on setup with '
        "&quot;worker 'gw0' crashed while running 't::a'&quot;\"/></testcase>"
        '<testcase classname="t" name="b"/></testsuite></testsuites>'
    )
    assert crash_count(crashed) == (1, 2)
    assert crash_count(XML) == (0, 9)
    assert crash_count("not xml") == (0, 0)
