"""Reading a branch's JUnit XML into ProgramBench test results, with ProgramBench's status rules:
no child is a pass; one skipped / failure / error child gives that status; several children of one kind
count as one; children of different kinds are a system_error. A test of tests.json
missing from the XML is not_run (`missing_from_junit_xml`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from twinbench.interop.programbench.models import BranchSpec, PBStatus, PBTestResult

_KINDS: dict[str, PBStatus] = {"skipped": "skipped", "failure": "failure", "error": "error"}
XDIST_CRASH = "worker '"


class JUnitError(Exception):
    """The XML is empty or malformed; the message is one line."""


def parse_junit(xml: str, branch: str) -> list[PBTestResult]:
    """Every <testcase> of the XML as a result of `branch`, in document order."""
    if not xml.strip():
        raise JUnitError(f"empty test results XML for branch {branch!r}")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise JUnitError(f"malformed test results XML for branch {branch!r}: {exc}") from None
    results: list[PBTestResult] = []
    for case in root.iter("testcase"):
        classname = case.get("classname") or ""
        name = case.get("name") or ""
        full = f"{classname}.{name}" if classname else name
        if not full:
            continue
        results.append(_result(case, full, branch))
    return results


def _result(case: ET.Element, name: str, branch: str) -> PBTestResult:
    extra: dict[str, Any] = {}
    time_value = _float(case.get("time"))
    if time_value is not None:
        extra["time"] = time_value
    # like junitparser, only skipped / failure / error children are results (pytest-rerunfailures' <rerun>
    # entries and system-out are not)
    children = [child for child in case if child.tag in _KINDS]
    if len({child.tag for child in children}) == 1:
        children = children[:1]
    status: PBStatus
    if not children:
        status = "passed"
    elif len(children) > 1:
        status = "system_error"
        extra["error_details"] = f"Expected 1 result for {name}, got {len(children)}"
    else:
        child = children[0]
        status = _KINDS[child.tag]
        if child.get("message"):
            extra["message"] = child.get("message")
        if child.text:
            extra["text"] = child.text
    return PBTestResult(name=name, branch=branch, status=status, extra=extra)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def complete(results: list[PBTestResult], branch: str, spec: BranchSpec | None) -> tuple[list[PBTestResult], list[str]]:
    """Add a not_run result for each expected, non-ignored test the XML lacks; warn of unexpected ones."""
    if spec is None:
        return results, [f"Branch {branch}: no expected test list, cannot verify completeness"]
    got = {result.name for result in results}
    ignored = spec.ignored_names()
    missing = [name for name in spec.active_tests() if name not in got]
    added = [
        PBTestResult(name=name, branch=branch, status="not_run", extra={"error_code": "missing_from_junit_xml"})
        for name in missing
    ]
    warnings = []
    unexpected = got - set(spec.tests) - ignored
    if unexpected:
        warnings.append(f"Branch {branch}: {len(unexpected)} test(s) in JUnit XML not in tests.json")
    return results + added, warnings


def crash_count(xml: str) -> tuple[int, int]:
    """(test cases lost to a crashed pytest-xdist worker, all test cases) of an XML; (0, 0) if unreadable."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return 0, 0
    crashes = total = 0
    for case in root.iter("testcase"):
        total += 1
        for child in case:
            if child.tag in ("error", "failure"):
                text = f"{child.get('message') or ''} {child.text or ''}"
                if XDIST_CRASH in text and "crashed" in text:
                    crashes += 1
                    break
    return crashes, total
