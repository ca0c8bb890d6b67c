"""junit.xml as CI dashboards read it: counts, one testcase per test, failures, errors and skips."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from twinbench.formats import BuildRecord, EvalResult, TestResult, TestStatus
from twinbench.grade.junit import write_junit, xml_text


def test_every_status_is_written_as_junit_expects(tmp_path: Path) -> None:
    statuses = [
        ("p", TestStatus.passed, "", ""),
        ("f", TestStatus.failed, "stdout differs from line 1", "--- expected/stdout\n"),
        ("t", TestStatus.timeout, "still running after 10s; killed", ""),
        ("c", TestStatus.crashed, "killed by SIGSEGV", "diff c"),
        ("e", TestStatus.error, "harness: runner died", "trace"),
        ("n", TestStatus.not_run, "build failed", ""),
    ]
    tests = [
        TestResult(id=i, group=f"grp-{i}", status=s, reason=r, diff=d, seconds=0.25 * n)
        for n, (i, s, r, d) in enumerate(statuses, start=1)
    ]
    result = EvalResult.scored(
        tests, task="figlet", submission="s", submission_sha256="0", suite_sha256="0", build=BuildRecord(ok=True)
    )
    path = tmp_path / "junit.xml"
    write_junit(result, path)
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and len(root) == 1
    suite = root[0]
    assert suite.tag == "testsuite"
    assert suite.attrib == {
        "name": "figlet",
        "tests": "6",
        "failures": "3",  # failed, timeout and crashed
        "errors": "1",
        "skipped": "1",
        "time": "5.250",
    }
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["p", "f", "t", "c", "e", "n"]
    assert cases["p"].attrib == {"classname": "figlet.grp-p", "name": "p", "time": "0.250000"}
    assert list(cases["p"]) == []
    failure = cases["f"].find("failure")
    assert failure is not None and failure.attrib == {"message": "stdout differs from line 1", "type": "failed"}
    assert failure.text == "--- expected/stdout\n"
    timeout = cases["t"].find("failure")
    assert timeout is not None and timeout.get("type") == "timeout" and not timeout.text
    crash = cases["c"].find("failure")
    assert crash is not None and crash.get("type") == "crashed" and crash.text == "diff c"
    error = cases["e"].find("error")
    assert error is not None and error.attrib == {"message": "harness: runner died"} and error.text == "trace"
    skipped = cases["n"].find("skipped")
    assert skipped is not None and skipped.attrib == {"message": "build failed"}
    assert [len(case) for case in cases.values()] == [0, 1, 1, 1, 1, 1]


def test_an_empty_suite_is_an_empty_testsuite(tmp_path: Path) -> None:
    result = EvalResult.scored(
        [], task="t", submission="s", submission_sha256="0", suite_sha256="0", build=BuildRecord(ok=False)
    )
    write_junit(result, tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot()[0]
    assert suite.get("tests") == "0" and suite.get("time") == "0.000" and list(suite) == []


def test_xml_text_replacements() -> None:
    assert xml_text("a\tb\nc\rd") == "a\tb\nc\rd"
    assert xml_text("\x00\x01\x1b\x1f") == "\u2400\u2401\u241b\u241f"
    assert xml_text("\x0b\x0c") == "\u240b\u240c"
    assert xml_text("\ud800x\udfff\ufffe\uffff") == "\ufffdx\ufffd\ufffd\ufffd"
    assert xml_text("\x7f\x85\ufffd\U0001f600\U0010ffff é") == "\x7f\x85\ufffd\U0001f600\U0010ffff é"
