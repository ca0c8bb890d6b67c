"""The few seams of twinbench, as small Protocols."""

from __future__ import annotations

from typing import Protocol

from twinbench.formats import ActionResult, ModelReply
from twinbench.sandbox.types import ExecRequest, ExecResult, SessionConfig


class SandboxSession(Protocol):
    """A live sandbox that runs one request at a time, each in a fresh work dir."""

    def run(self, request: ExecRequest) -> ExecResult:
        """Run one command; every failure comes back inside the ExecResult."""
        ...

    def close(self) -> None:
        """Stop everything the session started."""
        ...

    def __enter__(self) -> SandboxSession: ...

    def __exit__(self, *exc: object) -> None: ...


class Sandbox(Protocol):
    """An isolation backend, registered by name."""

    name: str
    isolated: bool

    @property
    def memory_accounting(self) -> str:
        """ "cgroup-v1", "cgroup-v2" or "per-process rlimit only" (twinbench.sandbox.cgroup)."""
        ...

    def problem(self) -> str | None:
        """Why the backend cannot run on this machine, or None."""
        ...

    def open(self, config: SessionConfig) -> SandboxSession:
        """Start a session for one tree."""
        ...


class Model(Protocol):
    """A language model behind an agent: a list of chat messages in, one reply out."""

    name: str

    def query(self, messages: list[dict[str, str]], timeout_s: float | None = None) -> ModelReply:
        """One completion within `timeout_s` seconds, retries included (None: the model's own timeout);
        failures raise agent.models.ModelError with a one-line message."""
        ...


class Environment(Protocol):
    """Where an agent's bash actions run: the clean room, or anything that behaves like it."""

    def execute(self, command: str, timeout_s: float | None = None) -> ActionResult:
        """Run one bash command; every failure comes back inside the ActionResult."""
        ...

    def disk_used_mb(self) -> float:
        """How much the agent's writable directories hold."""
        ...
