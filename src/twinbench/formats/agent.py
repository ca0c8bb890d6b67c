"""What an agent run produces: model replies, action results, the trajectory and the run record (agent.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TRAJECTORY_FORMAT = "twinbench-trajectory-1"
# an agent's clean room: its workspace, /tmp and home together (agent run --disk-limit)
DEFAULT_DISK_LIMIT_MB = 4096


class TokenUsage(BaseModel):
    """Tokens billed by the model, summed over calls."""

    prompt: int = 0
    completion: int = 0

    def add(self, other: TokenUsage) -> None:
        """Accumulate another call's usage."""
        self.prompt += other.prompt
        self.completion += other.completion


class ModelReply(BaseModel):
    """One answer of a model: its text, what it cost, and how many tokens it used."""

    content: str
    cost_usd: float = 0.0
    cost_known: bool = True
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    finish_reason: str | None = None


class ActionResult(BaseModel):
    """What one bash action in the clean room did; failures are data here, never exceptions."""

    output: str
    returncode: int
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0


class StepRecord(BaseModel):
    """One step of a trajectory: the model's action and what it produced."""

    step: int
    action: str | None = None
    returncode: int | None = None
    output: str = ""
    timed_out: bool = False
    seconds: float = 0.0
    cost_usd: float = 0.0
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    note: str | None = Field(default=None, description="format errors and other events of the step")


class RunStats(BaseModel):
    """Running totals of an agent run, kept in the trajectory and in agent.json."""

    steps: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    seconds: float = 0.0
    reference_calls: int = 0


class AgentRunRecord(BaseModel):
    """agent.json: how one agent run on one task ended and what it left behind."""

    model_config = ConfigDict(extra="ignore")

    task: str
    model: str
    agent: str
    exit_status: str = Field(description="Submitted, LimitsExceeded, CostLimitExceeded, TimeExceeded, ...")
    message: str = ""
    stats: RunStats = Field(default_factory=RunStats)
    limits: dict[str, Any] = Field(default_factory=dict)
    submission: str | None = Field(default=None, description="submission.tar.gz, relative to the run dir")
    submission_sha256: str | None = None
    submission_files: int = 0
    dropped: list[str] = Field(default_factory=list, description="workspace files left out of the submission")
    reference_exposures: list[str] = Field(
        default_factory=list,
        description="what of the reference the broker could not keep from the agent on this machine, if anything",
    )
    trajectory: str = "trajectory.json"
    eval: str | None = Field(default=None, description="eval.json of --then-eval, relative to the run dir")
    score: float | None = None
    started_at: str = ""
    finished: bool = Field(default=True, description="false while running or after a harness failure")
