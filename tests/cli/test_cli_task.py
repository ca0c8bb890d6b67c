"""`twinbench task show` and `task list`: the task group inspects tasks as its help says."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.helpers_task import small_figlet_task
from twinbench.cli import app
from twinbench.formats import summarize_task


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_task_show_summarizes_reference_docs_tests_classes_and_coverage(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "figlet", count=3)
    summary = summarize_task(task)
    assert (summary.id, summary.reference, summary.tests) == ("figlet", "figlet", 3)
    code, shown = run("task", "show", str(task))
    assert code == 0, shown
    assert "task figlet in" in shown and "reference: figlet (Debian package figlet)" in shown
    assert f"docs: {summary.docs}" in shown and "tests: 3 tests" in shown
    if summary.coverage_percent is not None:
        assert f"line coverage: {summary.coverage_percent:.1f}%" in shown
    if summary.classes:
        assert "classes: " in shown


def test_task_show_without_a_suite_says_what_to_do_next(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "figlet", count=1)
    (task / "tests" / "suite.jsonl").unlink()
    code, shown = run("task", "show", str(task))
    assert code == 0 and "tests: no suite yet" in shown and "next: twinbench testgen" in shown


def test_task_show_of_a_non_task_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, shown = run("task", "show", str(tmp_path))
    assert code == 2 and "is not a task directory" in shown and len(shown.strip().splitlines()) == 1


def test_task_list_lists_each_task_and_a_broken_one_without_stopping(tmp_path: Path) -> None:
    small_figlet_task(tmp_path / "tasks" / "figlet", count=2)
    broken = tmp_path / "tasks" / "broken"
    broken.mkdir()
    (broken / "task.yaml").write_text("id: [unclosed\n")
    code, shown = run("task", "list", str(tmp_path / "tasks"))
    assert code == 0, shown
    lines = shown.strip().splitlines()
    assert lines[0].startswith("broken: unreadable (") and "not valid YAML" in lines[0]
    assert lines[1].startswith("figlet: figlet, 2 tests")
    assert lines[-1] == f"2 tasks in {tmp_path / 'tasks'}"
    assert run("task", "list", str(tmp_path / "nowhere"))[0] == 2
