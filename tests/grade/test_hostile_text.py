"""Whatever bytes a candidate prints, every file twinbench writes from them still parses.

Property tests: random bytes and strings over all Unicode planes, C0/C1 controls, lone surrogates and
non-characters go through the judge, the diff renderer, the JUnit writer, eval.json and the HTML report.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from twinbench.formats import BuildRecord, EvalResult, Expectation, TestCase, TestResult, TestStatus
from twinbench.grade import judge
from twinbench.grade.compare import DIFF_MAX_CHARS, short_diff
from twinbench.grade.junit import write_junit, xml_text
from twinbench.report import write_report
from twinbench.sandbox import ExecResult

# the characters most likely to break a writer, drawn often; any code point (surrogates included) otherwise
NASTY = [
    *map(chr, range(0x20)),
    "\x7f",
    "\x85",
    "\u2028",
    "\ud800",
    "\udfff",
    "\udcff",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
    "]]>",
    "<",
    "&",
    '"',
    "</pre>",
    "<script>",
    "<injected>",
    "<img src=x>",
    "\r\n",
]
hostile_char = st.one_of(st.sampled_from(NASTY), st.integers(0, 0x10FFFF).map(chr))
hostile_text = st.lists(hostile_char, max_size=60).map("".join)
hostile_bytes = st.one_of(
    st.binary(max_size=300),
    hostile_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
)
statuses = st.sampled_from(list(TestStatus))
# scripts/mutation.sh runs these once per mutant: fewer examples, and a failure is not shrunk (shrinking a
# mutant's failure takes longer than mutmut waits)
EXAMPLES = int(os.environ.get("TWINBENCH_HYPOTHESIS_EXAMPLES", "150"))
PHASES = (Phase.explicit, Phase.generate) if "TWINBENCH_HYPOTHESIS_EXAMPLES" in os.environ else tuple(Phase)
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def xml_allowed(char: str) -> bool:
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def judged(stdout: bytes, stderr: bytes, status: TestStatus = TestStatus.failed, **names: str) -> TestResult:
    """What the judge records for a candidate that printed `stdout` and `stderr`, re-read as eval.json is
    (with `names` for id or group: a suite's ids cannot hold surrogates, a hand-made results file can)."""
    case = TestCase(id="t", group="g", expect=Expectation(exit_code=0, stdout=b"want\n"))
    verdict = judge(case, ExecResult(exit_code=3, stdout=stdout, stderr=stderr))
    return TestResult.model_validate({**verdict.model_dump(), "status": status, **names})


def result_of(tests: list[TestResult], task: str = "task", log: str = "") -> EvalResult:
    return EvalResult.scored(
        tests,
        task=task,
        submission=f"/sub/{task}",
        submission_sha256="0" * 64,
        suite_sha256="0" * 64,
        build=BuildRecord(ok=True, log_tail=log, reason=log),
    )


@FAST
@given(text=hostile_text)
def test_xml_text_keeps_only_xml_characters_and_everything_else_it_can(text: str) -> None:
    cleaned = xml_text(text)
    assert all(xml_allowed(char) for char in cleaned)
    assert len(cleaned) == len(text)
    assert [a for a in text if xml_allowed(a)] == [a for a, b in zip(text, cleaned, strict=True) if a == b]


@FAST
@given(expected=hostile_bytes, actual=hostile_bytes, label=hostile_text)
def test_short_diff_is_bounded_text_that_can_be_written(expected: bytes, actual: bytes, label: str) -> None:
    diff = short_diff(expected, actual, label)
    assert len(diff) <= DIFF_MAX_CHARS + 100
    xml_text(diff).encode("utf-8")  # what junit and eval.json write
    if expected == actual:
        assert diff == ""
    else:
        assert diff.startswith("--- expected/")


@FAST
@given(
    outputs=st.lists(st.tuples(hostile_bytes, hostile_bytes, hostile_text, statuses), min_size=1, max_size=5),
    task=hostile_text,
)
def test_junit_and_eval_json_parse_whatever_the_candidate_printed(
    tmp_path: Path, outputs: list[tuple[bytes, bytes, str, TestStatus]], task: str
) -> None:
    tests = [
        judged(stdout, stderr, status, id=f"{number}{name}")
        for number, (stdout, stderr, name, status) in enumerate(outputs)
    ]
    result = result_of(tests, task=task or "t", log=outputs[-1][1].decode("utf-8", "replace") + task)
    junit = tmp_path / "junit.xml"
    write_junit(result, junit)
    root = ET.parse(junit).getroot()
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(tests)
    for element, test in zip(cases, tests, strict=True):
        assert element.get("name") == xml_text(test.id).replace("\r\n", "\n").replace("\r", "\n") or "\r" in test.id
        detail = element.find("failure") if element.find("failure") is not None else element.find("error")
        if detail is not None and test.diff:
            assert detail.text == xml_text(test.diff).replace("\r\n", "\n").replace("\r", "\n")
    written = result.model_dump_json(indent=2)
    assert json.loads(written)["total"] == len(tests)
    assert EvalResult.model_validate_json(written).tests[0].status == tests[0].status


class _Structure(HTMLParser):
    """Records the elements of a page, to check that no candidate text became markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@settings(
    max_examples=max(10, EXAMPLES // 4),
    deadline=None,
    database=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    outputs=st.lists(st.tuples(hostile_bytes, hostile_text, statuses), min_size=1, max_size=4),
    task=hostile_text,
)
def test_the_html_report_parses_whatever_the_candidate_printed(
    tmp_path: Path, outputs: list[tuple[bytes, str, TestStatus]], task: str
) -> None:
    tests = [
        judged(stdout, b"", status, id=f"{number}{name}", group=name or "g")
        for number, (stdout, name, status) in enumerate(outputs)
    ]
    # a results file as a hostile writer could make it: json escapes allow lone surrogates in any string
    result = result_of(tests, task=f"t{task}", log=task)
    run = tmp_path / "run"
    (run / "one").mkdir(parents=True, exist_ok=True)
    (run / "one" / "eval.json").write_text(json.dumps(result.model_dump(mode="json")), encoding="utf-8")
    raw = json.loads((run / "one" / "eval.json").read_text())
    raw["tests"][0]["reason"] = task + "\ud800<injected>"
    (run / "two").mkdir(exist_ok=True)
    (run / "two" / "eval.json").write_text(json.dumps(raw), encoding="utf-8")
    page = tmp_path / "report.html"
    write_report([run], page)
    text = page.read_bytes().decode("utf-8")  # strict: no lone surrogates reached the file
    parser = _Structure()
    parser.feed(text)
    parser.close()
    assert parser.tags.count("script") == 1
    assert "injected" not in parser.tags and "img" not in parser.tags
    assert parser.tags.count("pre") == _diffs_shown(tests)
    assert not any("\x00" <= char < "\x09" or "\x0e" <= char < "\x20" for char in text)


def _diffs_shown(tests: list[TestResult]) -> int:
    """<pre> blocks the report draws itself: one per failing test with a diff, in each of the two results."""
    return 2 * sum(1 for test in tests if test.status != TestStatus.passed and test.diff)
