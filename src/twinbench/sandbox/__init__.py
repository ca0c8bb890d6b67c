"""Isolation and limits: run a command in a fresh work dir and get an ExecResult back, never an exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twinbench.sandbox.bwrap import CANDIDATE_UID, HOME_DIR, WORK_DIR, BwrapSandbox, candidate_uid
from twinbench.sandbox.local import UnsafeLocalSandbox
from twinbench.sandbox.session import RunnerSession
from twinbench.sandbox.types import ExecRequest, ExecResult, SessionConfig, WorkdirMode

if TYPE_CHECKING:
    from twinbench.protocols import Sandbox

BACKENDS: dict[str, Callable[[], Sandbox]] = {
    "bwrap": BwrapSandbox,
    # what users without root get: a user namespace and a fresh sandbox per run (slower, same isolation)
    "bwrap-userns": lambda: BwrapSandbox(unprivileged=True),
    "unsafe-local": UnsafeLocalSandbox,
}


class SandboxUnavailable(Exception):
    """The chosen backend cannot run on this machine; the message says why in one line."""


def get_sandbox(name: str = "bwrap") -> Sandbox:
    """The backend registered under `name`, checked to be usable here."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise SandboxUnavailable(f"unknown sandbox backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    sandbox: Sandbox = factory()
    problem = sandbox.problem()
    if problem is not None:
        raise SandboxUnavailable(f"sandbox {name!r} cannot run here: {problem}")
    return sandbox


__all__ = [
    "BACKENDS",
    "CANDIDATE_UID",
    "HOME_DIR",
    "WORK_DIR",
    "BwrapSandbox",
    "ExecRequest",
    "ExecResult",
    "RunnerSession",
    "SandboxUnavailable",
    "SessionConfig",
    "UnsafeLocalSandbox",
    "WorkdirMode",
    "candidate_uid",
    "get_sandbox",
]
