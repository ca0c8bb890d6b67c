"""mini-swe-agent's DefaultAgent in a twinbench clean room, to reproduce ProgramBench's baselines.

The agent class, its prompts (mini-swe-agent's own config/benchmarks/programbench.yaml unless --config
says otherwise) and, for real models, its litellm tool-calling model are mini-swe-agent's. twinbench
supplies the environment (each action is one bash command in the clean room) and, for `scripted:` models,
an adapter that reads the bash block of each scripted reply, as mini-swe-agent's text-based models do.
"""

from __future__ import annotations

import math
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from twinbench.agent.builtin import (
    DISK_LIMIT_EXCEEDED,
    INTERRUPTED,
    MODEL_ERROR,
    TIME_EXCEEDED,
    AgentConfigError,
    AgentOutcome,
)
from twinbench.agent.models import (
    PLACEHOLDER_API_KEY,
    ModelError,
    ScriptedModel,
    call_with_retries,
    finish_by,
    import_litellm,
    model_for,
    yaml_problem,
)
from twinbench.formats import RunStats, TokenUsage
from twinbench.protocols import Environment
from twinbench.sandbox.launcher import cache_dir

CONFIG_NAME = "programbench.yaml"
SUBMIT_MARKER = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
# scripted replies use markdown bash blocks, as the builtin agent does; mini's own text marker works too
SCRIPTED_ACTION_REGEX = r"```(?:bash|sh|mswea_bash_command)[ \t]*\n(.*?)\n[ \t]*```"
SCRIPTED_FORMAT_ERROR = "Please always provide EXACTLY ONE action in a ```bash block, found {{actions|length}}."
# mini-swe-agent makes 10 attempts at a model call; twinbench does them, within the run's wall limit
MINI_MODEL_RETRIES = 9
MINI_MODEL_TIMEOUT_S = 600.0
LIMIT_KEYS = ("step_limit", "cost_limit", "wall_time_limit_seconds")


def _import_mini() -> Any:
    """Import mini-swe-agent quietly: no banner on stdout, and its global config kept in our cache."""
    os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
    os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(cache_dir() / "mini-swe-agent"))
    import minisweagent

    return minisweagent


def load_mini_config(path: Path | None) -> dict[str, Any]:
    """mini-swe-agent's ProgramBench config, or another mini config file."""
    minisweagent = _import_mini()
    source = path or Path(minisweagent.package_dir) / "config" / "benchmarks" / CONFIG_NAME
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AgentConfigError(f"cannot read the mini-swe-agent config {source}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: undecodable bytes (a binary file), an impossible date, an integer too long to convert
        raise AgentConfigError(f"{source}: not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("agent"), dict):
        raise AgentConfigError(f"{source}: expected a mini-swe-agent config with an 'agent:' section")
    for key in LIMIT_KEYS:
        # mini accepts an infinite cost limit and turns an infinite wall limit into an OverflowError
        value = data["agent"].get(key)
        if value is not None and (isinstance(value, bool) or not _finite_non_negative(value)):
            raise AgentConfigError(f"{source}: agent.{key} must be a finite number, 0 or more")
    model = data.get("model")
    if model is not None and not (isinstance(model, dict) and isinstance(model.get("model_kwargs") or {}, dict)):
        raise AgentConfigError(f"{source}: 'model:' must be a mapping, and its model_kwargs too")
    return data


def _finite_non_negative(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


class MiniEnvironmentConfig(BaseModel):
    """What mini-swe-agent's templates and trajectory see of the environment."""

    cwd: str = "/workspace"
    timeout: int = 180
    environment_class: str = "twinbench.cleanroom"


class CleanRoomMiniEnvironment:
    """mini-swe-agent's Environment protocol over a twinbench clean room."""

    def __init__(self, room: Environment, *, timeout: int, disk_limit_mb: int, deadline: float | None = None) -> None:
        self.room = room
        self.config = MiniEnvironmentConfig(timeout=timeout)
        self.disk_limit_mb = disk_limit_mb
        self.deadline = deadline

    def execute(self, action: dict[str, Any], cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        """Run one action, never past the run's deadline; raise mini's Submitted on the submit marker,
        LimitsExceeded on a full disk and TimeExceeded when no time is left to run it."""
        from minisweagent.exceptions import LimitsExceeded, Submitted

        limit = float(timeout or self.config.timeout)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise _time_exceeded()
            limit = max(0.1, min(limit, left))  # at least a moment: a timeout of 0 means the room's default
        result = self.room.execute(str(action.get("command", "")), timeout_s=limit)
        output: dict[str, Any] = {
            "output": result.output,
            "returncode": result.returncode,
            "exception_info": f"the command ran longer than {limit:g} s and was killed" if result.timed_out else "",
        }
        lines = result.output.lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() == SUBMIT_MARKER and result.returncode == 0:
            submission = "".join(lines[1:])
            raise Submitted(
                {"role": "exit", "content": submission, "extra": {"exit_status": "Submitted", "submission": submission}}
            )
        used = self.room.disk_used_mb()
        if used > self.disk_limit_mb:
            raise LimitsExceeded(
                {
                    "role": "exit",
                    "content": DISK_LIMIT_EXCEEDED,
                    "extra": {"exit_status": DISK_LIMIT_EXCEEDED, "submission": ""},
                }
            )
        return output

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        """The config, the machine's uname (ProgramBench's prompt shows it) and the caller's extras."""
        return {**self.config.model_dump(), **platform.uname()._asdict(), **kwargs}

    def serialize(self) -> dict[str, Any]:
        """The environment's part of mini's trajectory."""
        return {"info": {"config": {"environment": self.config.model_dump(mode="json"), "environment_type": __name__}}}


class ScriptedMiniModel:
    """mini-swe-agent's Model protocol over twinbench's scripted model (text actions in bash blocks)."""

    def __init__(self, scripted: ScriptedModel, *, observation_template: str) -> None:
        self.scripted = scripted
        self.observation_template = observation_template
        self.config = {"model_name": scripted.name, "observation_template": observation_template}
        self.tokens = TokenUsage()

    def query(self, messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        """The next scripted reply with its one action parsed; a FormatError carries its cost, as mini expects."""
        from minisweagent.exceptions import FormatError
        from minisweagent.models.utils.actions_text import parse_regex_actions

        reply = self.scripted.query(messages)
        self.tokens.add(reply.tokens)
        extra = {"cost": reply.cost_usd, "timestamp": time.time()}
        try:
            actions = parse_regex_actions(
                reply.content, action_regex=SCRIPTED_ACTION_REGEX, format_error_template=SCRIPTED_FORMAT_ERROR
            )
        except FormatError as exc:
            exc.messages[0]["extra"].update(extra)
            raise
        return {"role": "assistant", "content": reply.content, "extra": {"actions": actions, **extra}}

    def format_message(self, **kwargs: Any) -> dict[str, Any]:
        """Messages are plain dicts."""
        return dict(kwargs)

    def format_observation_messages(
        self, message: dict[str, Any], outputs: list[dict[str, Any]], template_vars: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Observations as user messages rendered with the config's observation template."""
        from minisweagent.models.utils.actions_text import format_observation_messages

        return format_observation_messages(
            outputs, observation_template=self.observation_template, template_vars=template_vars
        )

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        """The model's settings, for mini's templates."""
        return dict(self.config)

    def serialize(self) -> dict[str, Any]:
        """The model's part of mini's trajectory."""
        return {"info": {"config": {"model": self.config, "model_type": f"{__name__}.ScriptedMiniModel"}}}


def _time_exceeded() -> Exception:
    from minisweagent.exceptions import TimeExceeded

    return TimeExceeded(_exit_message(TIME_EXCEEDED))


def _interrupted() -> Exception:
    from minisweagent.exceptions import InterruptAgentFlow

    return InterruptAgentFlow(_exit_message(INTERRUPTED))


def _exit_message(status: str) -> dict[str, Any]:
    """The message mini's flow exceptions carry to end a run with `status` and no submission."""
    return {"role": "exit", "content": status, "extra": {"exit_status": status, "submission": ""}}


class RunDeadline:
    """The run's deadline, set once its clock starts: after the model client has loaded, so that a cold
    import of litellm and mini-swe-agent (seconds) is not the agent's time."""

    def __init__(self) -> None:
        self.at: float | None = None


def _mini_model(spec: str, api_base: str | None, model_section: dict[str, Any], deadline: RunDeadline) -> Any:
    model = model_for(spec, api_base=api_base)
    observation_template = str(model_section.get("observation_template", "{{ output.output }}"))
    if isinstance(model, ScriptedModel):
        return ScriptedMiniModel(model, observation_template=observation_template)
    import_litellm()  # sets the offline price table before mini-swe-agent imports litellm
    from minisweagent.models.litellm_model import LitellmModel

    class DeadlineLitellmModel(LitellmModel):
        """mini's tool-calling model, with its calls and retries bounded by the run's deadline."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            # mini's own retries wait up to 60 s between 10 attempts, whatever the wall limit: aborting on
            # every exception turns them off, and call_with_retries retries within the deadline instead
            self.abort_exceptions = [Exception]

        def query(self, messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
            one_call = super().query
            configured = self.config.model_kwargs.get("timeout")
            timeout_s = float(configured) if _finite_non_negative(configured) and configured else MINI_MODEL_TIMEOUT_S
            # finish_by: the HTTP timeout does not bound what the call does around the request
            return finish_by(
                deadline.at,
                lambda: call_with_retries(
                    lambda timeout: one_call(messages, **kwargs, timeout=timeout, num_retries=0),
                    timeout_s=timeout_s,
                    retries=MINI_MODEL_RETRIES,
                    deadline=deadline.at,
                ),
            )

    model_kwargs: dict[str, Any] = dict(model_section.get("model_kwargs") or {})
    if api_base:
        model_kwargs["api_base"] = api_base
        if spec.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            model_kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
    settings = {key: value for key, value in model_section.items() if key not in ("model_name", "model_kwargs")}
    return DeadlineLitellmModel(model_name=spec, model_kwargs=model_kwargs, cost_tracking="ignore_errors", **settings)


def _deadline_agent_class() -> type:
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.exceptions import InterruptAgentFlow

    class DeadlineAgent(DefaultAgent):
        """mini's DefaultAgent, ending at the run's deadline (a reply that comes after it is not acted on)
        and at a batch's stop event, both checked before each model call and before each reply's actions."""

        def __init__(
            self, model: Any, env: Any, *, deadline: float | None, stop: threading.Event, **kwargs: Any
        ) -> None:
            super().__init__(model, env, **kwargs)
            self.deadline = deadline
            self.stop = stop

        def _check_time(self) -> None:
            if self.stop.is_set():
                raise _interrupted()
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise _time_exceeded()

        def query(self) -> dict[str, Any]:
            self._check_time()
            try:
                return super().query()
            except InterruptAgentFlow:
                raise
            except Exception:
                # a call cut short by the deadline is the wall limit's doing, not the model's
                if self.deadline is not None and time.monotonic() >= self.deadline - 0.1:
                    raise _time_exceeded() from None
                raise

        def execute_actions(self, message: dict[str, Any]) -> list[dict[str, Any]]:
            self._check_time()
            return super().execute_actions(message)

    return DeadlineAgent


def _token_usage(model: Any, messages: list[dict[str, Any]]) -> TokenUsage:
    if isinstance(model, ScriptedMiniModel):
        return model.tokens
    usage = TokenUsage()
    for message in messages:
        response = (message.get("extra") or {}).get("response")
        counts = response.get("usage") if isinstance(response, dict) else None
        if isinstance(counts, dict):
            usage.add(
                TokenUsage(
                    prompt=int(counts.get("prompt_tokens") or 0), completion=int(counts.get("completion_tokens") or 0)
                )
            )
    return usage


def run_mini(
    room: Environment,
    *,
    model_spec: str,
    api_base: str | None,
    config_path: Path | None,
    trajectory_path: Path,
    step_limit: int | None,
    cost_limit: float | None,
    wall_limit_s: float | None,
    action_timeout_s: float,
    disk_limit_mb: int,
    stop: threading.Event | None = None,
) -> AgentOutcome:
    """Run mini-swe-agent's DefaultAgent on the clean room; every ending is an outcome, never an exception.

    The wall limit bounds everything from the first step on: model calls (cut off at the deadline) and their
    retries, and actions, get at most the time left. It starts once mini-swe-agent and litellm are loaded.
    `stop` (a batch's Ctrl-C) ends the run as Interrupted before its next model call or action.
    """
    config = load_mini_config(config_path)
    agent_section = dict(config["agent"])
    if step_limit is not None:
        agent_section["step_limit"] = step_limit
    if cost_limit is not None:
        agent_section["cost_limit"] = cost_limit
    wall = float(agent_section.get("wall_time_limit_seconds") or 0) if wall_limit_s is None else wall_limit_s
    # mini counts whole seconds: rounded up, so that a limit under a second is still a limit, not none
    agent_section["wall_time_limit_seconds"] = math.ceil(wall)
    agent_section["output_path"] = trajectory_path
    run_deadline = RunDeadline()
    try:
        model = _mini_model(model_spec, api_base, dict(config.get("model") or {}), run_deadline)
    except ModelError as exc:
        return AgentOutcome(exit_status=MODEL_ERROR, message=str(exc))
    agent_class = _deadline_agent_class()
    # the wall limit counts from here: mini-swe-agent and the model client are loaded
    started = time.monotonic()
    deadline = run_deadline.at = started + wall if wall > 0 else None

    environment = CleanRoomMiniEnvironment(
        room, timeout=max(1, math.ceil(action_timeout_s)), disk_limit_mb=disk_limit_mb, deadline=deadline
    )
    try:
        agent = agent_class(model, environment, deadline=deadline, stop=stop or threading.Event(), **agent_section)
    except Exception as exc:  # mini validates its config with pydantic and jinja; both end the run the same way
        return AgentOutcome(exit_status="ConfigError", message=f"mini-swe-agent config: {_first_line(exc)}")
    try:
        result = agent.run(task="")
        exit_status, message = str(result.get("exit_status") or "Finished"), ""
    except ModelError as exc:
        exit_status, message = MODEL_ERROR, str(exc)
    except Exception as exc:  # mini re-raises what its loop did not expect, after recording it as the exit
        exit_status, message = type(exc).__name__, _first_line(exc)
    stats = RunStats(
        steps=agent.n_calls,
        cost_usd=round(agent.cost, 6),
        # mini counts an unpriced model (a local server's) as free; only a real charge proves the price known
        cost_known=isinstance(model, ScriptedMiniModel) or agent.cost > 0 or agent.n_calls == 0,
        tokens=_token_usage(model, agent.messages),
        seconds=round(time.monotonic() - started, 3),
    )
    limits = {
        "step_limit": float(agent.config.step_limit),
        "cost_limit": float(agent.config.cost_limit),
        "wall_limit_s": wall,
        "action_timeout_s": float(environment.config.timeout),
        "disk_limit_mb": float(disk_limit_mb),
    }
    return AgentOutcome(exit_status=exit_status, message=message, stats=stats, limits=limits)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
