"""The CLI's one error boundary: exit codes, and the table that turns an exception into one line and a code.

Commands raise; only `main()` decides what the user sees and how the process ends. The same exception type
exits with the same code whichever command raised it.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import ValidationError

from twinbench.formats import FormatError, first_error


class ExitCode(IntEnum):
    """What a twinbench exit status means, the same for every command (docs/cli.md)."""

    OK = 0  # done; for eval, graded (whatever the score)
    FAILED = 1  # checked and found wanting: a failed validity gate, a flagged audit
    BAD_INPUT = 2  # the user's input: a wrong path, a malformed file, an unknown option or backend
    HARNESS = 3  # twinbench or the machine failed: no usable sandbox, a build of the reference, disk full
    INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class BadInput(Exception):
    """The user's mistake that no library call found: conflicting options, a missing path. Exits 2."""


class HarnessFailure(Exception):
    """twinbench could not do its job although the input was fine. Exits 3."""


class Interrupted(Exception):
    """Ctrl-C, with a message saying what state was left behind. Exits 130."""


def _table() -> list[tuple[type[BaseException], ExitCode, str]]:
    """Exception type → exit code and message prefix; the first matching row wins, so subclasses come first.

    Library exception types are imported here, at the boundary, so `twinbench --help` imports none of them.
    """
    from twinbench.agent.batch import BatchInterrupted
    from twinbench.agent.builtin import AgentConfigError
    from twinbench.agent.cleanroom import CleanRoomUnavailable
    from twinbench.agent.models import ModelError
    from twinbench.agent.run import RunOutputError
    from twinbench.reference.coverage import CoverageBuildError, CoverageBuildInputError
    from twinbench.reference.debian import ReferenceError
    from twinbench.sandbox import SandboxUnavailable

    return [
        (BadInput, ExitCode.BAD_INPUT, ""),
        (FormatError, ExitCode.BAD_INPUT, ""),  # its ArchiveBomb subclass too: a hostile submission is bad input
        (ValidationError, ExitCode.BAD_INPUT, ""),
        (CoverageBuildInputError, ExitCode.BAD_INPUT, ""),
        (CoverageBuildError, ExitCode.HARNESS, "coverage build: "),
        (ReferenceError, ExitCode.BAD_INPUT, ""),
        (ModelError, ExitCode.BAD_INPUT, ""),
        (AgentConfigError, ExitCode.BAD_INPUT, ""),
        (RunOutputError, ExitCode.BAD_INPUT, ""),
        (SandboxUnavailable, ExitCode.HARNESS, ""),
        (CleanRoomUnavailable, ExitCode.HARNESS, ""),
        (HarnessFailure, ExitCode.HARNESS, ""),
        (Interrupted, ExitCode.INTERRUPTED, ""),
        (BatchInterrupted, ExitCode.INTERRUPTED, ""),
        (KeyboardInterrupt, ExitCode.INTERRUPTED, ""),
        (OSError, ExitCode.HARNESS, "harness failure: "),
    ]


def classify(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and the one-line message for `exc`, or None for a bug (which keeps its traceback)."""
    for kind, code, prefix in _table():
        if isinstance(exc, kind):
            return code, prefix + one_line(exc)
    return None


def one_line(exc: BaseException) -> str:
    """An exception's message on one line: pydantic's first error, else the text with line breaks folded."""
    if isinstance(exc, ValidationError):
        return first_error(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
