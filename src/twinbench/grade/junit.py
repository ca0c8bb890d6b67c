"""junit.xml for CI dashboards, written from an EvalResult."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from twinbench.formats import EvalResult, TestStatus

# Everything XML 1.0 cannot hold (https://www.w3.org/TR/xml/#charsets): C0 controls but tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF. Candidate output may contain any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """`text` holding only characters XML 1.0 allows: a C0 control becomes its Unicode control picture
    (as in the HTML report), anything else outside XML a U+FFFD replacement character."""
    return _NOT_XML.sub(lambda m: chr(0x2400 + ord(m.group())) if m.group() < "\x20" else "\ufffd", text)


def write_junit(result: EvalResult, path: Path) -> None:
    """One <testsuite> per task; failures carry the reason as message and the diff as text."""
    counts = result.counts
    suite = ET.Element(
        "testsuite",
        name=xml_text(result.task),
        tests=str(result.total),
        failures=str(counts.get("failed", 0) + counts.get("timeout", 0) + counts.get("crashed", 0)),
        errors=str(counts.get("error", 0)),
        skipped=str(counts.get("not_run", 0)),
        time=f"{sum(t.seconds for t in result.tests):.3f}",
    )
    for test in result.tests:
        case = ET.SubElement(
            suite, "testcase", classname=xml_text(f"{result.task}.{test.group}"), name=xml_text(test.id)
        )
        case.set("time", f"{test.seconds:.6f}")
        message = xml_text(test.reason)
        if test.status == TestStatus.error:
            ET.SubElement(case, "error", message=message).text = xml_text(test.diff)
        elif test.status == TestStatus.not_run:
            ET.SubElement(case, "skipped", message=message)
        elif test.status != TestStatus.passed:
            failure = ET.SubElement(case, "failure", message=message, type=test.status.value)
            failure.text = xml_text(test.diff)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
