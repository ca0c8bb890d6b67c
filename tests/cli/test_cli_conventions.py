"""CLI conventions on every command: -h and --version, an example, readable metavars, one exit-code table."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from tests.conftest import write_submission
from tests.helpers_task import small_figlet_task
from twinbench.cli import app
from twinbench.cli.agent import agent_options
from twinbench.cli.errors import ExitCode, classify, one_line
from twinbench.cli.output import plural
from twinbench.formats import FormatError, first_error
from twinbench.reference.coverage import CoverageBuildError, CoverageBuildInputError
from twinbench.sandbox import SandboxUnavailable


def command_paths() -> list[list[str]]:
    """Every command and group of the app, as the words that name it."""
    found: list[list[str]] = [[]]

    def walk(command: object, path: list[str]) -> None:
        for name, child in getattr(command, "commands", {}).items():
            found.append([*path, name])
            walk(child, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


PATHS = command_paths()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.output


def test_the_tree_has_the_commands_the_issue_names() -> None:
    names = {" ".join(path) for path in PATHS}
    assert {"eval", "task new", "task show", "task list", "config show", "agent run", "suite check"} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "twinbench")
def test_every_command_has_short_help_an_example_and_version(path: list[str]) -> None:
    code, shown = run(*path, "-h")
    assert code == 0, shown
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert f"twinbench {' '.join(path)}".strip() in usage
    assert "{" not in usage and "<bool>" not in shown and "<path>" not in shown, shown
    # each command's epilog is an example; the root's is the exit-code table
    assert not path or "twinbench" in shown.split("Example: ", 1)[-1], shown
    assert not path or "Example: " in shown, shown
    assert "--version" in shown
    code, version = run(*path, "--version")
    assert code == 0 and version.startswith("twinbench 0."), version


def test_usage_lines_name_arguments_in_capitals() -> None:
    assert "Usage: twinbench eval [OPTIONS] TASK SUBMISSION" in run("eval", "-h")[1]
    assert "Usage: twinbench report [OPTIONS] RUN_DIR..." in run("report", "-h")[1]


def test_the_top_level_help_documents_the_exit_codes() -> None:
    shown = " ".join(run("-h")[1].split())
    for text in ("0 done", "1 checked and failing", "2 bad input", "3 harness failure"):
        assert text in shown.replace("│", "").replace("  ", " "), shown


class _Model(BaseModel):
    count: int


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FormatError("x"), ExitCode.BAD_INPUT),
        (CoverageBuildInputError("x"), ExitCode.BAD_INPUT),
        (CoverageBuildError("x"), ExitCode.HARNESS),
        (SandboxUnavailable("x"), ExitCode.HARNESS),
        (OSError(28, "No space left on device"), ExitCode.HARNESS),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
)
def test_one_table_gives_each_exception_type_one_code(error: BaseException, code: ExitCode) -> None:
    found = classify(error)
    assert found is not None and found[0] is code


def test_a_bug_is_not_in_the_table_and_keeps_its_traceback() -> None:
    assert classify(ZeroDivisionError("bug")) is None


def test_a_validation_error_is_its_first_error_on_one_line() -> None:
    with pytest.raises(ValidationError) as caught:
        _Model.model_validate({"count": "many"})
    assert classify(caught.value) == (ExitCode.BAD_INPUT, first_error(caught.value))
    assert first_error(caught.value).startswith("count: ")
    assert "\n" not in one_line(RuntimeError("two\nlines"))


def test_plural_is_one_rule() -> None:
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert plural(1, "active branch", "active branches") == "1 active branch"
    assert plural(3, "active branch", "active branches") == "3 active branches"


def test_agent_options_are_keyword_only() -> None:
    parameters = inspect.signature(agent_options).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)


def test_coverage_build_errors_have_one_code_in_every_command(tmp_path: Path) -> None:
    """Regression: the same CoverageBuildError exited 3 in coverage-build and 2 in testgen."""
    task = small_figlet_task(tmp_path / "task", count=1)
    not_a_build = tmp_path / "not-a-build"
    not_a_build.mkdir()
    testgen_code, testgen_out = run("testgen", str(task), "--coverage-build", str(not_a_build), "--sandbox", "bwrap")
    build_code, build_out = run("coverage-build", "--debian", "Not A Package", "-o", str(tmp_path / "cov"))
    assert (testgen_code, build_code) == (ExitCode.BAD_INPUT, ExitCode.BAD_INPUT), (testgen_out, build_out)
    assert "coverage-build.json: cannot read" in testgen_out and "is not a Debian package name" in build_out


def test_bad_submissions_are_one_line_errors_with_exit_2(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=1)
    no_script = tmp_path / "no-script"
    no_script.mkdir()
    (no_script / "main.c").write_text("int main(void) { return 0; }\n")
    zipped = tmp_path / "submission.zip"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    text = tmp_path / "submission.tar.gz"
    text.write_text("not an archive\n")
    expected = {
        no_script: "has no compile.sh: not a submission directory",
        zipped: "is not a tar archive (accepted: a directory, or a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz archive); "
        "for a .zip: unzip it",
        text: "is not a tar archive (accepted: a directory, or a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz archive)",
    }
    for submission, message in expected.items():
        code, shown = run("eval", str(task), str(submission), "-o", str(tmp_path / "out"))
        assert code == ExitCode.BAD_INPUT and message in shown, shown
        assert len(shown.strip().splitlines()) == 1, shown
    assert "for a .zip" not in run("eval", str(task), str(text), "-o", str(tmp_path / "out"))[1]


def test_an_archive_without_compile_sh_is_bad_input(tmp_path: Path) -> None:
    task = small_figlet_task(tmp_path / "task", count=1)
    source = tmp_path / "src"
    source.mkdir()
    (source / "README").write_text("no build script here\n")
    archive = tmp_path / "sub.tar.gz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(source), "."], check=True)
    code, shown = run("eval", str(task), str(archive), "-o", str(tmp_path / "out"), "-j", "1")
    assert code == ExitCode.BAD_INPUT and "has no compile.sh at its top level" in shown, shown


def test_eval_in_a_pipe_prints_no_empty_line(tmp_path: Path) -> None:
    """Regression: rich's progress display left an empty first line when stderr was not a terminal."""
    task = small_figlet_task(tmp_path / "task", count=1)
    submission = write_submission(tmp_path / "sub", "#!/bin/sh\necho nope\n")
    result = subprocess.run(
        [sys.executable, "-m", "twinbench.cli", "eval", str(task), str(submission), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout.startswith("figlet: 0/1 passed"), (result.stdout, result.stderr)


def test_python_m_twinbench_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twinbench", "config", "show", "--sandbox", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == ExitCode.BAD_INPUT and "unknown sandbox backend 'nope'" in result.stderr


def test_without_the_cli_a_missing_compile_sh_stays_a_failed_build(tmp_path: Path) -> None:
    """An agent run grades through the library: there an empty workspace is the run's failed build, scored 0."""
    from twinbench.formats import load_task
    from twinbench.grade import NO_BUILD_SCRIPT, evaluate
    from twinbench.sandbox import get_sandbox

    task = load_task(small_figlet_task(tmp_path / "task", count=1))
    empty = tmp_path / "workspace"
    empty.mkdir()
    result = evaluate(task, empty, tmp_path / "out", get_sandbox("bwrap"))
    assert result.build.reason == NO_BUILD_SCRIPT and result.score == 0.0
