"""Classification stage: what kind of behavior a case tests, and whether a shallow imitation would pass it.

Classes: `info` (help, version or usage text), `cli_error` (the command line is rejected), `input_error`
(the command line is fine, the input is not: a missing file, a syntax error), `core` (the program succeeds
and prints or writes something, on stderr too), `trivial` (it succeeds and prints nothing).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from twinbench.formats import CompareMode, Comparison, TestCase
from twinbench.grade.compare import streams_match
from twinbench.testgen.explore import Candidate
from twinbench.testgen.imitation_program import respond
from twinbench.testgen.probe import ReferenceProbes

_CLI_ERROR = re.compile(
    rb"(?i)usage|unrecognized option|invalid option|unknown option|illegal option|requires an argument|"
    rb"ambiguous|option .* (?:argument|value)|missing (?:argument|operand)|invalid argument|try .*--help"
)


class CaseClass(StrEnum):
    """The kind of behavior a case tests."""

    info = "info"
    cli_error = "cli_error"
    input_error = "input_error"
    core = "core"
    trivial = "trivial"


SHALLOW = frozenset({CaseClass.info, CaseClass.cli_error, CaseClass.trivial})


@dataclass(frozen=True)
class Behavior:
    """What a case did, from an exploration run (output heads) or a recorded expectation (whole output)."""

    argv: tuple[str, ...]
    files: frozenset[str]
    status: int | None
    stdout: bytes
    stderr: bytes
    stdout_size: int
    stderr_size: int
    wrote_files: bool
    compare: Comparison = field(default_factory=Comparison)

    @classmethod
    def of_candidate(cls, candidate: Candidate) -> Behavior:
        """From an exploration run (outputs are heads; their full sizes are known)."""
        outcome = candidate.outcome
        if outcome is None:
            spec = candidate.spec
            return cls(tuple(spec.argv), frozenset(spec.files), candidate.status, b"", b"", 0, 0, False)
        return cls(
            tuple(candidate.spec.argv),
            frozenset(candidate.spec.files),
            outcome.status,
            outcome.stdout_head,
            outcome.stderr_head,
            outcome.stdout_size,
            outcome.stderr_size,
            outcome.wrote_files,
        )

    @classmethod
    def of_case(cls, case: TestCase) -> Behavior:
        """From a recorded case."""
        expect = case.expect
        return cls(
            tuple(case.argv),
            frozenset(case.files),
            expect.exit_code,
            expect.stdout,
            expect.stderr,
            len(expect.stdout),
            len(expect.stderr),
            any(content is not None for content in expect.files.values()),
            case.compare,
        )


def classify(behavior: Behavior, probes: ReferenceProbes) -> CaseClass:
    """The class of a case's behavior."""
    output = behavior.stdout + behavior.stderr
    if behavior.status == 0:
        if output and output in probes.info_outputs():
            return CaseClass.info
        if behavior.stdout_size or behavior.wrote_files:
            return CaseClass.core
        if behavior.stderr_size:
            # a success that reports on stderr (statistics, a verbose summary) is core, unless what it says
            # is a complaint about the command line, which the errors-only imitation's templates cover
            if _CLI_ERROR.search(behavior.stderr[:400]) or errors_only_passes(behavior, probes):
                return CaseClass.cli_error
            return CaseClass.core
        return CaseClass.trivial
    head = behavior.stderr[:400] + behavior.stdout[:200]
    # a reply the imitation reproduces from an option template is a command-line error, unless it is the
    # missing-file template
    shallow = _CLI_ERROR.search(head) or errors_only_passes(behavior, probes)
    if shallow and not _is_missing_file_reply(behavior, probes):
        return CaseClass.cli_error
    return CaseClass.input_error


def errors_only_passes(behavior: Behavior, probes: ReferenceProbes) -> bool:
    """Would the errors-only imitation pass this case? (It writes no files.)"""
    if behavior.wrote_files:
        return False
    status, out, err = respond(probes.knowledge(), list(behavior.argv), _exists_in(behavior.files))
    return (
        status == behavior.status
        and _stream_passes(out, behavior.stdout, behavior.stdout_size, behavior.compare.stdout)
        and _stream_passes(err, behavior.stderr, behavior.stderr_size, behavior.compare.stderr)
    )


def _is_missing_file_reply(behavior: Behavior, probes: ReferenceProbes) -> bool:
    template = probes.templates.get("missing_file")
    if template is None:
        return False
    prefix = template.stderr.split("\x00", 1)[0].encode("latin-1")
    return bool(prefix) and behavior.stderr.startswith(prefix) and behavior.status == template.status


def _stream_passes(reply: bytes, expected_head: bytes, expected_size: int, mode: CompareMode) -> bool:
    if mode == CompareMode.ignore:
        return True
    if len(expected_head) < expected_size:  # only a head is known: the reply must be as long and start alike
        return len(reply) == expected_size and reply.startswith(expected_head)
    return streams_match(expected_head, reply, mode)


def _exists_in(files: frozenset[str]) -> Callable[[str], bool]:
    def exists(path: str) -> bool:
        return path in files or path in (".", "..") or (path.startswith("/") and os.path.exists(path))

    return exists
