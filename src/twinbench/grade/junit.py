"""junit.xml for CI dashboards, written from an EvalResult."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from twinbench.formats import EvalResult, TestStatus

_CONTROL = {c: None for c in range(32) if c not in (9, 10, 13)}


def write_junit(result: EvalResult, path: Path) -> None:
    """One <testsuite> per task; failures carry the reason as message and the diff as text."""
    counts = result.counts
    suite = ET.Element(
        "testsuite",
        name=result.task,
        tests=str(result.total),
        failures=str(counts.get("failed", 0) + counts.get("timeout", 0) + counts.get("crashed", 0)),
        errors=str(counts.get("error", 0)),
        skipped=str(counts.get("not_run", 0)),
        time=f"{sum(t.seconds for t in result.tests):.3f}",
    )
    for test in result.tests:
        case = ET.SubElement(suite, "testcase", classname=f"{result.task}.{test.group}", name=test.id)
        case.set("time", f"{test.seconds:.6f}")
        message = _clean(test.reason)
        if test.status == TestStatus.error:
            ET.SubElement(case, "error", message=message).text = _clean(test.diff)
        elif test.status == TestStatus.not_run:
            ET.SubElement(case, "skipped", message=message)
        elif test.status != TestStatus.passed:
            failure = ET.SubElement(case, "failure", message=message, type=test.status.value)
            failure.text = _clean(test.diff)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters, which candidate output may contain."""
    return text.translate(_CONTROL)
