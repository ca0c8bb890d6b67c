"""Formats: round trips, base64 for bytes, and one-line errors for malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinbench.formats import (
    EvalResult,
    Expectation,
    FormatError,
    Suite,
    TestCase,
    TestResult,
    TestStatus,
    dump_suite,
    load_suite,
    load_task,
)


def case(**fields: object) -> TestCase:
    base: dict[str, object] = {"id": "t1", "expect": {"exit_code": 0, "stdout": "hi\n"}}
    base.update(fields)
    return TestCase.model_validate(base)


def test_suite_round_trip_keeps_bytes_exactly(tmp_path: Path) -> None:
    binary = TestCase(
        id="bin",
        argv=["-x"],
        stdin=b"\xff\x00",
        files={"a/b.bin": b"\x80", "t.txt": b"text"},
        expect=Expectation(exit_code=3, stdout=b"\xfe", stderr=b"ok", files={"out": b"\x81", "gone": None}),
    )
    path = tmp_path / "suite.jsonl"
    dump_suite(Suite(cases=[binary, case()]), path)
    line = json.loads(path.read_text().splitlines()[0])
    assert line["stdin_b64"] == "/wA=" and line["files"] == {"t.txt": "text"} and "a/b.bin" in line["files_b64"]
    assert line["expect"]["stdout_b64"] == "/g==" and line["expect"]["files"]["gone"] is None
    assert load_suite(path).cases[0] == binary


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "x"}', "expect"),
        ('{"id": "x", "expect": {"exit_code": 0}, "files": {"../escape": "x"}}', "inside the work directory"),
        (
            '{"id": "x", "expect": {"exit_code": 0}, "files": {"/etc/passwd": "x"}}',
            "inside the work directory",
        ),
        ('{"id": "x", "expect": {"exit_code": 0}, "stdin_b64": "%%%"}', "invalid base64"),
        ('{"id": "x", "expect": {"exit_code": 0}, "surprise": 1}', "surprise"),
        ('{"id": "x", "expect": {"exit_code": 0}, "timeout_s": -1}', "timeout_s"),
        ('{"id": "x", "expect": {"exit_code": 0}, "env": {"A=B": "c"}}', "holds '=' or NUL"),
        ("[1, 2]", "t.jsonl:1"),
        ("[" * 100000, "nested too deeply"),
        ("\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_suite_lines_give_one_line_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(line.encode("utf-8", errors="surrogateescape") if "\xff" not in line else b"\xff\xfe\n")
    with pytest.raises(FormatError) as error:
        load_suite(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    dump_suite(Suite.model_construct(cases=[case(), case()]), path)
    with pytest.raises(FormatError, match="duplicate test id"):
        load_suite(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping"),
        ("id: x\n", "reference"),
        ("id: 'bad id!'\nreference: {binary: figlet}\n", "id"),
        ("id: x\nreference: {binary: figlet}\nschema_version: 99\n", "schema_version"),
        ("id: x\nreference: {binary: figlet}\nlimits: {test: {wall_s: -5}}\n", "wall_s"),
        ("id: x\nreference: {binary: figlet}\nenv: {'A=B': c}\n", "holds '=' or NUL"),
        ("id: x\nreference: {binary: figlet}\nenv: {'': c}\n", "is empty"),
        ('id: x\nreference: {binary: figlet}\nenv: {A: "b\\0c"}\n', "NUL byte"),
    ],
)
def test_malformed_task_yaml_gives_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "task.yaml").write_text(text)
    with pytest.raises(FormatError) as error:
        load_task(tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_deeply_nested_task_yaml_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "task.yaml").write_text("[" * 50000)
    with pytest.raises(FormatError, match="nested too deeply"):
        load_task(tmp_path)


@pytest.mark.parametrize("target", ["tests", "/"])
def test_a_docs_link_is_refused(tmp_path: Path, target: str) -> None:
    """Regression: docs/ is mounted into the clean room as it is; as a link to tests/ it showed the agent the
    hidden suite (and as a link to / it made the prompt list the whole filesystem)."""
    (tmp_path / "task.yaml").write_text("id: x\nreference: {binary: figlet}\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "docs").symlink_to(target)
    with pytest.raises(FormatError, match="not a symbolic link"):
        load_task(tmp_path)


def test_missing_task_dir_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not a task directory"):
        load_task(tmp_path / "nowhere")


def test_score_fields_are_derived_from_tests() -> None:
    tests = [TestResult(id=str(i), group="g", status=TestStatus.passed) for i in range(19)]
    tests.append(TestResult(id="x", group="g", status=TestStatus.failed))
    result = EvalResult.scored(
        tests, task="t", submission="s", submission_sha256="a", suite_sha256="b", build={"ok": True}
    )
    assert (result.passed, result.total, result.score, result.resolved, result.near_resolved) == (
        19,
        20,
        0.95,
        False,
        True,
    )
    assert result.counts["failed"] == 1 and result.counts["timeout"] == 0
