"""User defaults of the CLI: built-in values, then twinbench.toml files, then TWINBENCH_* variables (flags win last).

Where each value came from is kept beside it, so `twinbench config show` can say why a run used what it used.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinbench.formats import FormatError, first_error
from twinbench.sandbox import BACKENDS

CONFIG_FILE = "twinbench.toml"
ENV_PREFIX = "TWINBENCH_"


class Settings(BaseModel):
    """The defaults a user may set once instead of passing the same flags to every command."""

    model_config = ConfigDict(extra="forbid")

    sandbox: str = Field("bwrap", description="isolation backend of eval, demo, testgen, suite check and agents")
    workers: int = Field(0, ge=0, description="parallel sandboxes (0: one per core)")
    model: str | None = Field(None, description="model of agent run / agent batch (litellm name or scripted:FILE)")
    budget_s: float = Field(60.0, gt=0, description="testgen's time cap in seconds")
    eval_output: Path = Field(Path("eval-out"), description="where eval writes eval.json and junit.xml")
    runs_dir: Path = Field(Path("runs"), description="where agent run puts RUNS_DIR/TASK_ID by default")
    report_output: Path = Field(Path("report.html"), description="the HTML file report writes")
    demo_output: Path | None = Field(None, description="where demo writes (default: a user cache dir)")

    @field_validator("sandbox")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown sandbox backend {value!r}; choose one of: {', '.join(BACKENDS)}")
        return value


class ResolvedSettings(BaseModel):
    """The effective settings and, for each key, where its value came from: default, an env var or a file path."""

    values: Settings
    sources: dict[str, str]


def env_name(key: str) -> str:
    """The environment variable that sets `key`, e.g. TWINBENCH_WORKERS."""
    return ENV_PREFIX + key.upper()


def project_config(start: Path) -> Path | None:
    """twinbench.toml of the project: `start` and its parents up to the first holding twinbench.toml or .git."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def user_config(env: Mapping[str, str]) -> Path:
    """The user's twinbench.toml: $XDG_CONFIG_HOME/twinbench/twinbench.toml or ~/.config/twinbench/twinbench.toml."""
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "twinbench" / CONFIG_FILE


def default_demo_output(env: Mapping[str, str]) -> Path:
    """Where the demo writes unless told: $XDG_CACHE_HOME/twinbench/demo, else a temp dir; never the cwd."""
    base = env.get("XDG_CACHE_HOME") or (str(Path.home() / ".cache") if Path.home().is_dir() else "")
    if base:
        return Path(base) / "twinbench" / "demo"
    return Path(tempfile.gettempdir()) / "twinbench-demo"


def resolve_settings(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> ResolvedSettings:
    """Defaults, then the user's file, then the project's file, then TWINBENCH_* variables; each later one wins.

    A malformed file or value raises FormatError with one line naming where it came from.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    merged: dict[str, Any] = {}
    sources = dict.fromkeys(Settings.model_fields, "default")
    files = [user_config(env), project_config(cwd)]
    for path in files:
        if path is None or not path.is_file():
            continue
        for key, value in _read_toml(path).items():
            _check(key, value, str(path))
            merged[key] = value
            sources[key] = str(path)
    for key in Settings.model_fields:
        raw = env.get(env_name(key))
        if raw is None or raw == "":
            continue
        _check(key, raw, env_name(key))
        merged[key] = raw
        sources[key] = env_name(key)
    try:
        values = Settings.model_validate(merged)
    except ValidationError as exc:
        key = str(exc.errors()[0]["loc"][0])
        raise FormatError(f"{sources.get(key, 'config')}: {first_error(exc)}") from None
    if values.demo_output is None:
        values = values.model_copy(update={"demo_output": default_demo_output(env)})
    return ResolvedSettings(values=values, sources=sources)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise FormatError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: cannot read ({exc})") from None


def _check(key: str, value: object, where: str) -> None:
    """A key no setting has is a typo to point out, not something to ignore; each value is checked alone too."""
    if key not in Settings.model_fields:
        raise FormatError(f"{where}: unknown setting {key!r}; known: {', '.join(Settings.model_fields)}")
    try:
        Settings.model_validate({key: value})
    except ValidationError as exc:
        raise FormatError(f"{where}: {first_error(exc)}") from None
