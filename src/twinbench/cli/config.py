"""`twinbench config show`, and how the user's settings become the defaults of every command's options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from twinbench.cli.output import say
from twinbench.cli.root import group
from twinbench.settings import ResolvedSettings, Settings, env_name, project_config, resolve_settings, user_config

# setting -> the (command path, parameter) it is the default of; main() hands these to click as its default_map
TARGETS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "sandbox": [
        (("eval",), "sandbox"),
        (("demo",), "sandbox"),
        (("testgen",), "sandbox"),
        (("suite", "check"), "sandbox"),
        (("agent", "run"), "sandbox"),
        (("agent", "batch"), "sandbox"),
    ],
    "workers": [
        (("eval",), "workers"),
        (("demo",), "workers"),
        (("testgen",), "workers"),
        (("suite", "check"), "workers"),
        (("agent", "run"), "workers"),
    ],
    "model": [(("agent", "run"), "model"), (("agent", "batch"), "model")],
    "budget_s": [(("testgen",), "budget_s")],
    "eval_output": [(("eval",), "output")],
    "report_output": [(("report",), "output")],
    "demo_output": [(("demo",), "output")],
    "runs_dir": [],  # agent run's default OUT is RUNS_DIR/TASK_ID, known only once the task is loaded
}

_resolved: ResolvedSettings | None = None


def load(cwd: Path | None = None) -> ResolvedSettings:
    """Resolve the settings once per process (main() does it before parsing); FormatError on a bad file or value."""
    global _resolved
    _resolved = resolve_settings(cwd)
    return _resolved


def current_settings() -> ResolvedSettings:
    """The settings main() resolved, or resolved now (a command called without main(), as in a library test)."""
    return _resolved if _resolved is not None else load()


def default_map(resolved: ResolvedSettings) -> dict[str, Any]:
    """click's default_map: for each command path, its parameters' defaults taken from the settings."""
    tree: dict[str, Any] = {}
    for key, targets in TARGETS.items():
        value = getattr(resolved.values, key)
        if value is None or (resolved.sources[key] == "default" and key not in ("demo_output",)):
            continue  # the option's own default is the same; leaving it keeps --help unchanged
        for path, parameter in targets:
            node = tree
            for name in path:
                node = node.setdefault(name, {})
            node[parameter] = str(value) if isinstance(value, Path) else value
    return tree


config_app = group(
    "Show the defaults that TWINBENCH_* variables and twinbench.toml files set.",
    "Example: TWINBENCH_WORKERS=2 twinbench config show",
)


@config_app.command(
    "show",
    epilog="Example: twinbench config show --sandbox unsafe-local   (a flag given here shows as source 'flag')",
)
def config_show_command(
    sandbox: Annotated[str | None, typer.Option("--sandbox", metavar="BACKEND", help="as eval's --sandbox")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", metavar="N", help="as eval's --workers")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL", help="as agent run's --model")] = None,
    budget_s: Annotated[
        float | None, typer.Option("--budget-s", metavar="SECONDS", help="as testgen's --budget-s")
    ] = None,
) -> None:
    """Print each setting's effective value and where it came from: default, env var, file, or flag."""
    resolved = current_settings()
    flags = {"sandbox": sandbox, "workers": workers, "model": model, "budget_s": budget_s}
    given = {key: value for key, value in flags.items() if value is not None}
    values = resolved.values.model_copy(update=Settings.model_validate(given).model_dump(include=set(given)))
    rows = [
        (key, "-" if getattr(values, key) is None else str(getattr(values, key)), resolved.sources[key])
        for key in Settings.model_fields
    ]
    rows = [(key, value, "flag" if key in given else source) for key, value, source in rows]
    key_width = max(len(key) for key, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    say(f"{'setting':<{key_width}}  {'value':<{value_width}}  source")
    for key, value, source in rows:
        say(f"{key:<{key_width}}  {value:<{value_width}}  {source}")
    project = project_config(Path.cwd())
    say(f"files read (later wins): {user_config_label()}, {project or 'no twinbench.toml in this project'}")
    say(f"environment: {', '.join(env_name(key) for key in Settings.model_fields)}")


def user_config_label() -> str:
    """The user config file's path, and whether it is there."""
    import os

    path = user_config(os.environ)
    return f"{path}{'' if path.is_file() else ' (absent)'}"
