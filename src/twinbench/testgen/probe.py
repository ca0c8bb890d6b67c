"""Probe runs of the reference: what a lazy rebuild would learn from --help, --version and a few errors.

The probes feed two stages: classification (is a case the help text, a command-line error, ...) and the
errors-only imitation of the validity gate (which knows nothing else about the program).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from twinbench.formats import Expectation, Task, TestCase
from twinbench.protocols import Sandbox
from twinbench.reference import resolve_binary, stage_reference
from twinbench.reference.docmodel import CliModel
from twinbench.sandbox import ExecResult, SessionConfig
from twinbench.sandbox.pool import run_many
from twinbench.sandbox.testrun import request_for
from twinbench.testgen.imitation_program import WORD

PROBE_TIMEOUT_S = 5.0
INFO_ARGV: tuple[list[str], ...] = (["--help"], ["-h"], ["--version"], ["-V"], ["-v"], [])
UNKNOWN_LONG = "--no-such-option-xq"
MISSING_FILE = "no-such-file-xq.txt"
_OPTION_WORD = re.compile(r"(?<![\w-])(--[A-Za-z0-9][\w-]*|-[A-Za-z0-9])(?![\w])")


class ProbeRun(BaseModel):
    """One probe: the argv and what the reference did."""

    argv: list[str]
    status: int
    stdout: bytes = b""
    stderr: bytes = b""


class ErrorTemplate(BaseModel):
    """An error reply with the offending word cut out (WORD marks where it goes)."""

    status: int
    stdout: str
    stderr: str
    bare: bool = Field(description="the message names the option without its dashes")


class ReferenceProbes(BaseModel):
    """What the probes showed: exact replies, the options the docs and --help name, and error templates."""

    exact: list[ProbeRun] = Field(default_factory=list)
    long: list[str] = Field(default_factory=list)
    long_value: list[str] = Field(default_factory=list)
    short: str = ""
    short_value: str = ""
    templates: dict[str, ErrorTemplate] = Field(default_factory=dict)

    def knowledge(self) -> dict[str, Any]:
        """The JSON-ready form the imitation program reads (bytes as Latin-1 text)."""
        return {
            "exact": [[run.argv, run.status, _text(run.stdout), _text(run.stderr)] for run in self.exact],
            "long": self.long,
            "long_value": self.long_value,
            "short": self.short,
            "short_value": self.short_value,
            "templates": {
                kind: {"status": t.status, "out": t.stdout, "err": t.stderr, "bare": t.bare}
                for kind, t in self.templates.items()
            },
        }

    def info_outputs(self) -> set[bytes]:
        """Outputs of the successful bare, help and version probes: a case printing one of them is 'info'."""
        return {run.stdout + run.stderr for run in self.exact if run.status == 0 and (run.stdout or run.stderr)}


def probe_reference(
    task: Task,
    model: CliModel,
    sandbox: Sandbox,
    workers: int = 2,
    base_args: list[str] | None = None,
    base_files: dict[str, bytes] | None = None,
) -> ReferenceProbes:
    """Run the probes on the real reference in the sandbox and cut the error templates.

    With `base_args` and `base_files` (the mode flag every generated invocation starts with, the files every
    case has) each probe gets them too, so that the imitations learn the replies the suite's invocations get."""
    base = list(base_args or [])
    long_names, long_value, short, short_value = _documented_options(model)
    value_long = next(iter(long_value), None)
    value_short = next(iter(short_value), None)
    unused = next((letter for letter in "QZjJyYqz" if letter not in short), "Q")
    argvs: dict[str, list[str]] = {f"info{i}": argv for i, argv in enumerate(INFO_ARGV)}
    argvs["unknown_long"] = [UNKNOWN_LONG]
    argvs["unknown_short"] = [f"-{unused}"]
    argvs["missing_file"] = [MISSING_FILE]
    if value_long is not None:
        argvs["missing_value_long"] = [value_long]
    if value_short is not None:
        argvs["missing_value_short"] = [f"-{value_short}"]
    argvs = {key: [*base, *argv] for key, argv in argvs.items()}
    runs = run_probes(task, argvs, sandbox, workers, base_files or {})

    probes = ReferenceProbes(long=long_names, long_value=long_value, short=short, short_value=short_value)
    for key, argv in argvs.items():
        run = runs.get(key)
        if run is None:
            continue
        if key.startswith("info"):
            probes.exact.append(run)
            if base and len(argv) > len(base):
                # the reply to `--help` in the mode is what the imitation gives for `--help` wherever it comes
                # (it looks an option up alone, as in a call without base arguments)
                probes.exact.append(run.model_copy(update={"argv": argv[len(base) :]}))
            if run.status == 0:
                help_text = (run.stdout + run.stderr).decode("utf-8", errors="replace")
                _learn_options(probes, help_text)
            continue
        if run.status == 0:
            continue  # not an error: nothing to template
        probes.templates[key] = _template(run, argv[len(base)])
    return probes


def _documented_options(model: CliModel) -> tuple[list[str], list[str], str, str]:
    long_names: list[str] = []
    long_value: list[str] = []
    short = ""
    short_value = ""
    for option in model.options:
        for flag in option.flags:
            if flag.startswith("--"):
                long_names.append(flag)
                if option.takes_value:
                    long_value.append(flag)
            elif flag.startswith("-") and len(flag) == 2:
                short += flag[1]
                if option.takes_value:
                    short_value += flag[1]
    return long_names, long_value, short, short_value


def _learn_options(probes: ReferenceProbes, help_text: str) -> None:
    """Options named in a help or version text count as known, as they would to someone reading it."""
    for word in _OPTION_WORD.findall(help_text):
        if word.startswith("--") and word not in probes.long:
            probes.long.append(word)
        elif not word.startswith("--") and word[1] not in probes.short:
            probes.short += word[1]


def _template(run: ProbeRun, arg: str) -> ErrorTemplate:
    """The reply with `arg` (or its name without dashes) replaced by WORD; the reply as it is if neither occurs."""
    stdout = _text(run.stdout)
    stderr = _text(run.stderr)
    # the word as the message quotes it is its first occurrence (a usage text after it may name it too, and
    # stays as it is): the full argument or its bare name, whichever comes first
    found: list[tuple[int, int, bool, re.Pattern[str]]] = []
    for stream_index, stream in enumerate((stderr, stdout)):
        for word, bare in ((arg, False), (arg.lstrip("-"), True)):
            pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(word) + r"(?![A-Za-z0-9])")
            match = pattern.search(stream) if word else None
            if match is not None:
                found.append((stream_index, match.start(), bare, pattern))
    if found:
        stream_index, _, bare, pattern = min(found, key=lambda item: (item[0], item[1]))
        streams = [stderr, stdout]
        streams[stream_index] = pattern.sub(lambda _: WORD, streams[stream_index], count=1)
        return ErrorTemplate(status=run.status, stdout=streams[1], stderr=streams[0], bare=bare)
    return ErrorTemplate(status=run.status, stdout=stdout, stderr=stderr, bare=False)


def run_probes(
    task: Task, argvs: dict[str, list[str]], sandbox: Sandbox, workers: int, files: dict[str, bytes] | None = None
) -> dict[str, ProbeRun]:
    """Each argv run once on the reference in the sandbox (with `files` as input files); key -> what it did,
    for the runs that finished by themselves within PROBE_TIMEOUT_S."""
    runs: dict[str, ProbeRun] = {}
    with tempfile.TemporaryDirectory(prefix="twinbench-probe-") as scratch:
        tree = Path(scratch)
        stage_reference(resolve_binary(task.reference.binary), tree)
        config = SessionConfig(tree=tree, disk_mb=task.limits.test.disk_mb)
        placeholder = Expectation(exit_code=0)
        cases = [
            TestCase(id=k, argv=argv, files=files or {}, timeout_s=PROBE_TIMEOUT_S, expect=placeholder)
            for k, argv in argvs.items()
        ]
        jobs = [(case.id, request_for(task, case)) for case in cases]

        def keep(key: str, result: ExecResult) -> None:
            if result.status is not None and not result.timed_out and result.sandbox_error is None:
                runs[key] = ProbeRun(argv=argvs[key], status=result.status, stdout=result.stdout, stderr=result.stderr)

        run_many(sandbox, config, jobs, workers, keep)
    return runs


def _text(data: bytes) -> str:
    return data.decode("latin-1")
