"""Defaults from TWINBENCH_* variables and twinbench.toml files, flags winning, and `twinbench config show`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinbench.cli import app
from twinbench.formats import FormatError
from twinbench.settings import default_demo_output, project_config, resolve_settings, user_config


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project (a .git dir bounds the search upward) with its own user config dir, as the cwd."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("SANDBOX", "WORKERS", "MODEL", "BUDGET_S", "EVAL_OUTPUT", "RUNS_DIR", "REPORT_OUTPUT", "DEMO_OUTPUT"):
        monkeypatch.delenv(f"TWINBENCH_{name}", raising=False)
    return root


def show(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, tuple[str, str]], str]:
    result = CliRunner().invoke(app, ["config", "show", *args], env=env)
    rows = {}
    for line in result.output.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 3 and not line.startswith(("files", "environment")):
            rows[parts[0]] = (parts[1], parts[2])
    return result.exit_code, rows, result.output


def test_defaults_then_user_file_then_project_file_then_env_then_flags(project: Path, tmp_path: Path) -> None:
    user = user_config({"XDG_CONFIG_HOME": str(tmp_path / "config")})
    user.parent.mkdir(parents=True)
    user.write_text('workers = 1\nsandbox = "bwrap-userns"\nmodel = "user/model"\n')
    (project / "twinbench.toml").write_text('workers = 2\nsandbox = "unsafe-local"\n')
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    assert project_config(nested) == project / "twinbench.toml"
    code, rows, output = show("--workers", "4", env={"TWINBENCH_SANDBOX": "bwrap", "TWINBENCH_BUDGET_S": "5"})
    assert code == 0, output
    assert rows["workers"] == ("4", "flag")
    assert rows["sandbox"] == ("bwrap", "TWINBENCH_SANDBOX")
    assert rows["budget_s"] == ("5.0", "TWINBENCH_BUDGET_S")
    assert rows["model"] == ("user/model", str(user))
    assert rows["eval_output"] == ("eval-out", "default")
    assert rows["demo_output"] == (str(tmp_path / "cache" / "twinbench" / "demo"), "default")


def test_the_project_search_stops_at_the_repository_root(project: Path) -> None:
    (project.parent / "twinbench.toml").write_text("workers = 9\n")
    assert project_config(project) is None
    assert resolve_settings(project, {}).values.workers == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("workers = ", "not valid TOML"),
        ("wrokers = 2\n", "unknown setting 'wrokers'"),
        ('workers = "many"\n', "workers: Input should be a valid integer"),
        ('sandbox = "docker"\n', "unknown sandbox backend 'docker'"),
    ],
)
def test_a_malformed_file_is_one_line_and_exit_2(project: Path, content: str, message: str) -> None:
    (project / "twinbench.toml").write_text(content)
    with pytest.raises(FormatError, match=r"twinbench\.toml"):
        resolve_settings(project, {})
    for argv in (["config", "show"], ["eval", "-h"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output


def test_a_bad_environment_value_names_its_variable(project: Path) -> None:
    result = CliRunner().invoke(app, ["config", "show"], env={"TWINBENCH_WORKERS": "-3"})
    assert result.exit_code == 2 and "TWINBENCH_WORKERS: workers: Input should be greater than" in result.output


def test_settings_become_the_commands_defaults_and_flags_win(project: Path) -> None:
    (project / "twinbench.toml").write_text('sandbox = "unsafe-local"\nworkers = 3\nbudget_s = 7.5\n')
    result = CliRunner().invoke(app, ["eval", "-h"], env={"COLUMNS": "200"})
    assert "[default: unsafe-local]" in result.output and "[default: 3]" in result.output
    assert "[default: 7.5]" in CliRunner().invoke(app, ["testgen", "-h"], env={"COLUMNS": "200"}).output
    flagged = CliRunner().invoke(app, ["eval", str(project), str(project), "--sandbox", "nope"])
    assert flagged.exit_code == 2 and "unknown sandbox backend 'nope'" in flagged.output


def test_the_demo_writes_to_a_cache_dir_not_the_cwd() -> None:
    assert default_demo_output({"XDG_CACHE_HOME": "/c"}) == Path("/c/twinbench/demo")
    result = CliRunner().invoke(app, ["demo", "-h"], env={"COLUMNS": "200", "XDG_CACHE_HOME": "/c"})
    assert "/c/twinbench/demo" in result.output and "twinbench-demo" not in result.output
