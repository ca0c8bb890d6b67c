"""`twinbench programbench derive`: native JSONL cases from a task's pytest branches.

Each active branch runs against the reference with every call of ./executable recorded whole (branch.py,
record mode). A test becomes a case when it passed against the reference and ran the program exactly once,
with its inputs in stdin and in files under its working directory; its expectation is what the reference
did (exit status, stdout, stderr, files written), compared exactly. Everything else is listed with the
reason it was left out. Derived suites are twinbench suites: their scores are never ProgramBench scores."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from twinbench.formats import Expectation, Suite, TestCase, dump_suite, first_error, write_text_atomic
from twinbench.interop.programbench.branch import BranchLimits, pytest_environment, run_branch
from twinbench.interop.programbench.junit import JUnitError, parse_junit
from twinbench.interop.programbench.task import PBTask
from twinbench.sandbox import candidate_uid

# variables the harness, pytest or the plugins set: a case keeps only what the test itself chose
HARNESS_VARIABLE_PREFIXES = ("PYTEST_", "PYTHON", "PROGRAMBENCH_", "TWINBENCH_", "PIP_")
CASE_TIMEOUT_S = 10.0


class DeriveReport(BaseModel):
    """What `derive` made and what it left out (written next to the suite as derive.json)."""

    iid: str
    suite: str
    cases: int = 0
    tests_seen: int = 0
    left_out: dict[str, str] = Field(default_factory=dict, description="iid/branch/test -> why it is not a case")
    branch_errors: dict[str, str] = Field(default_factory=dict)


def derive_suite(task: PBTask, output: Path, limits: BranchLimits | None = None) -> DeriveReport:
    """Run the branches against the reference, recording; write the suite to `output` and derive.json beside."""
    limits = limits or BranchLimits()
    report = DeriveReport(iid=task.iid, suite=str(output))
    cases: list[TestCase] = []
    reference = Path(task.task_dir.task.reference.binary)
    with tempfile.TemporaryDirectory(prefix="twinbench-derive-") as scratch:
        tree = Path(scratch) / "tree"
        tree.mkdir()
        shutil.copy2(reference, tree / "executable")
        (tree / "executable").chmod(0o755)
        for branch in task.tests.active_branches():
            archive = task.branch_archive(branch)
            if not archive.is_file():
                report.branch_errors[branch] = "no branch archive"
                continue
            outcome = run_branch(tree, branch, archive, limits, candidate_uid(), record=True)
            if outcome.results_xml is None:
                report.branch_errors[branch] = outcome.error_details or "no results.xml"
                continue
            try:
                statuses = {result.name: result.status for result in parse_junit(outcome.results_xml, branch)}
            except JUnitError as exc:
                report.branch_errors[branch] = str(exc)
                continue
            calls: dict[str, list[dict[str, Any]]] = {}
            for call in outcome.calls:
                calls.setdefault(str(call.get("test", "")), []).append(call)
            spec = task.tests.branches[branch]
            for name in spec.active_tests():
                report.tests_seen += 1
                source = f"{task.iid}/{branch}/{name}"
                case, why = _case(source, branch, len(cases), statuses.get(name), calls.get(name, []))
                if case is None:
                    report.left_out[source] = why
                else:
                    cases.append(case)
    dump_suite(Suite(cases=cases), output)
    report.cases = len(cases)
    write_text_atomic(output.with_name("derive.json"), report.model_dump_json(indent=2))
    return report


def _case(
    source: str, branch: str, number: int, status: str | None, calls: list[dict[str, Any]]
) -> tuple[TestCase | None, str]:
    """A case from one test's calls, or None and the reason."""
    if status is None:
        return None, "not in the JUnit XML"
    if status != "passed":
        return None, f"{status} against the reference"
    if not calls:
        return None, "never runs ./executable (or passes its own environment, which hides the test's name)"
    if len(calls) > 1:
        return None, f"runs ./executable {len(calls)} times"
    call = calls[0]
    if call.get("terminal"):
        return None, "drives a terminal (tmux or a pty)"
    if call.get("signal") is not None:
        return None, f"the reference ended by signal {call['signal']} (a timeout, or timing-dependent)"
    if call.get("truncated"):
        return None, "more than 1 MiB of input or output"
    cwd = str(call.get("cwd", ""))
    if cwd.rstrip("/") == "/workspace":
        return None, "runs in /workspace, whose files are the program's own tree"
    argv = [_relative(arg, cwd) for arg in call.get("argv", [])]
    outside = [arg for arg in argv if arg.startswith("/")]
    if outside:
        return None, f"names a path outside its working directory ({outside[0][:80]})"
    env = _chosen_environment(call)
    written: dict[str, bytes | None] = {name: _decode(data) for name, data in call.get("files_written", {}).items()}
    try:
        case = TestCase(
            id=f"{branch}-{number:05d}",
            group=branch,
            argv=argv,
            stdin=_decode(call.get("stdin", "")),
            env=env,
            files={name: _decode(data) for name, data in call.get("files_before", {}).items()},
            timeout_s=CASE_TIMEOUT_S,
            expect=Expectation(
                exit_code=int(call.get("exit") or 0),
                stdout=_decode(call.get("stdout", "")),
                stderr=_decode(call.get("stderr", "")),
                files=written,
            ),
            source=source,
        )
    except ValidationError as exc:
        return None, f"not expressible as a case: {first_error(exc, top='')}"
    return case, ""


def _chosen_environment(call: dict[str, Any]) -> dict[str, str]:
    """The variables the test set for this call: those that differ from the environment before the test."""
    try:
        base = json.loads(str(call.get("base_env") or "{}"))
    except ValueError:
        base = {}
    if not isinstance(base, dict) or not base:
        base = pytest_environment(serial=False)
    return {
        str(key): str(value)
        for key, value in dict(call.get("env", {})).items()
        if base.get(key) != value and not str(key).startswith(HARNESS_VARIABLE_PREFIXES) and key not in ("HOME", "PWD")
    }


def _relative(arg: str, cwd: str) -> str:
    """An absolute path under the working directory, made relative to it (the case runs elsewhere)."""
    prefix = cwd.rstrip("/") + "/"
    return arg[len(prefix) :] if cwd and arg.startswith(prefix) else arg


def _decode(data: str) -> bytes:
    return base64.b64decode(data) if data else b""
