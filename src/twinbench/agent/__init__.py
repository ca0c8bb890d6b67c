"""Agent runs: the clean room, the reference broker, the builtin and mini agents, models, batches."""

from twinbench.agent.batch import BatchEntry, BatchInterrupted, BatchSummary, find_tasks, run_batch
from twinbench.agent.builtin import AgentConfigError, AgentOutcome, BuiltinAgent, BuiltinConfig, load_config
from twinbench.agent.cleanroom import CleanRoom, CleanRoomSettings, CleanRoomUnavailable
from twinbench.agent.models import LitellmModel, ModelError, ScriptedModel, model_for
from twinbench.agent.run import (
    AgentKind,
    AgentOptions,
    RunOutputError,
    RunOutputExists,
    check_options,
    prepare_output,
    read_record,
    run_agent,
)

__all__ = [
    "AgentConfigError",
    "AgentKind",
    "AgentOptions",
    "AgentOutcome",
    "BatchEntry",
    "BatchInterrupted",
    "BatchSummary",
    "BuiltinAgent",
    "BuiltinConfig",
    "CleanRoom",
    "CleanRoomSettings",
    "CleanRoomUnavailable",
    "LitellmModel",
    "ModelError",
    "RunOutputError",
    "RunOutputExists",
    "ScriptedModel",
    "check_options",
    "find_tasks",
    "load_config",
    "model_for",
    "prepare_output",
    "read_record",
    "run_agent",
    "run_batch",
]
