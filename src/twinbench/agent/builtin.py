"""The builtin agent: bash is its only tool, its history is one linear conversation, its prompts are YAML.

The loop is deliberately plain: render the system and task prompts, then ask the model, run the one bash
block of its reply in the environment, append the observation, and repeat until the model submits or a
limit is reached. The trajectory is written (atomically) after every step, so a killed run loses nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twinbench.agent.models import ModelError, yaml_problem
from twinbench.formats import (
    TRAJECTORY_FORMAT,
    ActionResult,
    RunStats,
    StepRecord,
    first_error,
    write_text_atomic,
)
from twinbench.protocols import Environment, Model

DEFAULT_CONFIG = Path(__file__).with_name("config") / "builtin.yaml"
SUBMITTED = "Submitted"
LIMITS_EXCEEDED = "LimitsExceeded"
COST_LIMIT_EXCEEDED = "CostLimitExceeded"
TIME_EXCEEDED = "TimeExceeded"
REPEATED_FORMAT_ERROR = "RepeatedFormatError"
MODEL_ERROR = "ModelError"
DISK_LIMIT_EXCEEDED = "DiskLimitExceeded"
INTERRUPTED = "Interrupted"
INTERRUPTED_MESSAGE = "interrupted; run again to redo this run"
# what the trajectory keeps of one step's output (the head and the tail, half each): an action may print
# 1 MiB, and the trajectory is rewritten after every step, so whole outputs made its cost grow with the
# square of the run's length. The model is shown what observation_template makes of the whole output.
STEP_OUTPUT_CHARS = 64 * 1024


class AgentConfigError(Exception):
    """An agent config file that cannot be used; the message is one line."""


class BuiltinConfig(BaseModel):
    """Prompts and limits of the builtin agent (agent/config/builtin.yaml)."""

    model_config = ConfigDict(extra="forbid")

    system_template: str
    instance_template: str
    observation_template: str
    format_error_template: str
    action_regex: str
    submit_marker: str = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
    step_limit: int = Field(default=250, ge=0, description="model calls; 0 = no limit")
    # limits are finite: an infinite one breaks the templates (`| int`) and the deadline arithmetic
    cost_limit: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="USD; 0 = no limit")
    wall_limit_s: float = Field(default=21600, ge=0, allow_inf_nan=False, description="seconds; 0 = no limit")
    action_timeout_s: float = Field(default=180, gt=0, allow_inf_nan=False)
    max_format_errors: int = Field(default=3, ge=1, description="consecutive replies without one bash block")
    max_observation_chars: int = Field(default=10000, ge=200)
    disk_limit_mb: int = Field(default=4096, ge=1)

    @field_validator("action_regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        """The command is the regex's one capture group: with more, findall returns tuples, not commands."""
        try:
            groups = re.compile(value, re.DOTALL).groups
        except (re.error, RecursionError, OverflowError) as exc:
            raise ValueError(f"not a valid regex ({exc})") from None
        if groups != 1:
            raise ValueError(f"must have exactly one capture group (the command), not {groups}")
        return value


def load_config(path: Path | None = None, **overrides: Any) -> BuiltinConfig:
    """The bundled config, or `path` laid over it; `overrides` that are not None win over both."""
    try:
        data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        if path is not None:
            custom = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(custom, dict):
                raise AgentConfigError(f"{path}: expected a mapping of settings")
            data.update(custom.get("agent", custom) if isinstance(custom.get("agent"), dict) else custom)
    except OSError as exc:
        raise AgentConfigError(f"cannot read the agent config: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: undecodable bytes (a binary file), an impossible date, an integer too long to convert
        raise AgentConfigError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return BuiltinConfig.model_validate(data)
    except ValidationError as exc:
        raise AgentConfigError(f"agent config: {first_error(exc, top='')}") from None


class AgentOutcome(BaseModel):
    """How an agent run ended."""

    exit_status: str
    message: str = ""
    stats: RunStats = Field(default_factory=RunStats)
    limits: dict[str, float] = Field(default_factory=dict, description="the limits the run had; 0 = none")


class _Stop(Exception):
    def __init__(self, exit_status: str, message: str) -> None:
        super().__init__(message)
        self.exit_status = exit_status
        self.message = message


class BuiltinAgent:
    """Runs one task: model ↔ bash in the environment, until submitted or out of budget."""

    def __init__(
        self,
        model: Model,
        environment: Environment,
        config: BuiltinConfig,
        *,
        context: dict[str, Any],
        trajectory_path: Path,
        on_step: Callable[[RunStats], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.model = model
        self.environment = environment
        self.config = config
        self.context = context
        self.trajectory_path = trajectory_path
        self.on_step = on_step
        # set by a batch on Ctrl-C: the run ends as Interrupted at its next step boundary
        self.stop = stop or threading.Event()
        self.messages: list[dict[str, str]] = []
        self.steps: list[StepRecord] = []
        self.stats = RunStats()
        self.exit_status = ""
        self.message = ""
        self._started = time.monotonic()
        self._templates = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
        self._action = re.compile(config.action_regex, re.DOTALL)

    def run(self) -> AgentOutcome:
        """The whole loop; every ending, an exhausted script or a failing model included, is an outcome."""
        self._started = time.monotonic()
        try:
            self.messages = [
                {"role": "system", "content": self._render(self.config.system_template)},
                {"role": "user", "content": self._render(self.config.instance_template)},
            ]
        except AgentConfigError as exc:
            return self._finish("ConfigError", str(exc))
        self._save()
        format_errors = 0
        while True:
            try:
                self._check_limits()
                reply = self._query()
                step = StepRecord(
                    step=self.stats.steps,
                    cost_usd=reply.cost_usd,
                    tokens=reply.tokens,
                )
                self.messages.append({"role": "assistant", "content": reply.content})
                # the reply may have used up the time (or come after Ctrl-C): it is kept, its action not run
                self._check_time(step)
                actions = self._action.findall(reply.content)
                if len(actions) != 1:
                    format_errors += 1
                    step.note = f"format error: {len(actions)} bash blocks"
                    self._observe(step, self._render(self.config.format_error_template, found=len(actions)))
                    if format_errors >= self.config.max_format_errors:
                        raise _Stop(REPEATED_FORMAT_ERROR, f"{format_errors} replies in a row without one bash block")
                    continue
                format_errors = 0
                command = actions[0].strip()
                step.action = command
                result = self._execute(command)
                step.returncode, step.output = result.returncode, _keep_ends(result.output, STEP_OUTPUT_CHARS)
                step.timed_out, step.seconds = result.timed_out, result.seconds
                if self._submitted(result):
                    self.steps.append(step)
                    raise _Stop(SUBMITTED, "the agent submitted its workspace")
                self._observe(step, self._render(self.config.observation_template, output=result.model_dump()))
                self._check_disk()
            except _Stop as stop:
                return self._finish(stop.exit_status, stop.message)
            except AgentConfigError as exc:
                return self._finish("ConfigError", str(exc))

    def _check_limits(self) -> None:
        if self.stop.is_set():
            raise _Stop(INTERRUPTED, INTERRUPTED_MESSAGE)
        if 0 < self.config.step_limit <= self.stats.steps:
            raise _Stop(LIMITS_EXCEEDED, f"step limit of {self.config.step_limit} reached")
        if 0 < self.config.cost_limit <= self.stats.cost_usd:
            raise _Stop(COST_LIMIT_EXCEEDED, f"cost limit of ${self.config.cost_limit:g} reached")
        if self._seconds_left() <= 0:
            raise self._time_exceeded()

    def _check_time(self, step: StepRecord) -> None:
        """After a reply: stop without acting on it when the time is up or the batch is stopping."""
        if self.stop.is_set():
            step.note = "not run: interrupted"
            self.steps.append(step)
            raise _Stop(INTERRUPTED, INTERRUPTED_MESSAGE)
        if self._seconds_left() <= 0:
            step.note = "not run: no time left"
            self.steps.append(step)
            raise self._time_exceeded()

    def _time_exceeded(self) -> _Stop:
        return _Stop(TIME_EXCEEDED, f"wall-time limit of {self.config.wall_limit_s:g} s reached")

    def _seconds_left(self) -> float:
        """Time left before the wall limit; infinite without one."""
        if self.config.wall_limit_s <= 0:
            return float("inf")
        return self.config.wall_limit_s - self._elapsed()

    def _query(self) -> Any:
        left = self._seconds_left()
        try:
            reply = self.model.query(self.messages, timeout_s=None if left == float("inf") else left)
        except ModelError as exc:
            if self._seconds_left() < 0.1:  # the call was cut short by the wall limit, not by the model
                raise self._time_exceeded() from None
            raise _Stop(MODEL_ERROR, str(exc)) from None
        self.stats.steps += 1
        self.stats.cost_usd += reply.cost_usd
        self.stats.cost_known = self.stats.cost_known and reply.cost_known
        self.stats.tokens.add(reply.tokens)
        return reply

    def _execute(self, command: str) -> ActionResult:
        # at least a moment: a timeout of 0 would mean the environment's default
        timeout = max(0.1, min(self.config.action_timeout_s, self._seconds_left()))
        return self.environment.execute(command, timeout_s=timeout)

    def _submitted(self, result: ActionResult) -> bool:
        lines = result.output.lstrip().splitlines()
        return result.returncode == 0 and bool(lines) and lines[0].strip() == self.config.submit_marker

    def _observe(self, step: StepRecord, observation: str) -> None:
        self.messages.append({"role": "user", "content": observation})
        self.steps.append(step)
        self.stats.seconds = round(self._elapsed(), 3)
        self._save()
        if self.on_step is not None:
            self.on_step(self.stats)

    def _check_disk(self) -> None:
        used = self.environment.disk_used_mb()
        if used > self.config.disk_limit_mb:
            raise _Stop(DISK_LIMIT_EXCEEDED, f"the workspace holds {used:.0f} MB, over {self.config.disk_limit_mb} MB")

    def _render(self, template: str, **extra: Any) -> str:
        variables = {
            **self.config.model_dump(),
            **self.context,
            "step": self.stats.steps,
            "steps_left": max(0, self.config.step_limit - self.stats.steps),
            "seconds_left": max(0.0, self.config.wall_limit_s - self._elapsed()),
            **extra,
        }
        try:
            return self._templates.from_string(template).render(**variables)
        except Exception as exc:  # syntax, undefined names, and what a template computes (range(10**9))
            message = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise AgentConfigError(f"agent config template: {message}") from None

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _finish(self, exit_status: str, message: str) -> AgentOutcome:
        self.exit_status, self.message = exit_status, message
        self.stats.seconds = round(self._elapsed(), 3)
        self._save()
        if self.on_step is not None:
            self.on_step(self.stats)
        limits = {
            "step_limit": self.config.step_limit,
            "cost_limit": self.config.cost_limit,
            "wall_limit_s": self.config.wall_limit_s,
            "action_timeout_s": self.config.action_timeout_s,
            "disk_limit_mb": self.config.disk_limit_mb,
        }
        return AgentOutcome(
            exit_status=exit_status, message=message, stats=self.stats.model_copy(deep=True), limits=limits
        )

    def _save(self) -> None:
        document = {
            "format": TRAJECTORY_FORMAT,
            "info": {
                "agent": "builtin",
                "model": self.model.name,
                "exit_status": self.exit_status,
                "message": self.message,
                "stats": self.stats.model_dump(mode="json"),
                "config": self.config.model_dump(mode="json"),
            },
            "messages": self.messages,
            "steps": [step.model_dump(mode="json") for step in self.steps],
        }
        write_text_atomic(self.trajectory_path, json.dumps(document, indent=1, ensure_ascii=False))


def _keep_ends(text: str, limit: int) -> str:
    """`text`, or its first and last limit/2 characters with a line in between saying how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    marker = f"\n[twinbench: {cut} characters cut here; the trajectory keeps {limit} of each output]\n"
    return text[:half] + marker + text[-half:]
