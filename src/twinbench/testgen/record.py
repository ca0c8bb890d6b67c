"""Record expectations by running the reference program in the same sandbox candidates get."""

from __future__ import annotations

import os
import re
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import CompareMode, Comparison, Expectation, Limits, Suite, Task, TestCase
from twinbench.protocols import Sandbox
from twinbench.reference import resolve_binary, stage_reference
from twinbench.sandbox import ExecRequest, ExecResult, SessionConfig
from twinbench.sandbox.machine import unfixed_host_facts
from twinbench.sandbox.pool import run_many
from twinbench.sandbox.testrun import request_for

RECORD_REPEATS = 3
HEAP_PERTURB_ENV = "MALLOC_PERTURB_"
HEAP_PERTURB_BYTE = "165"  # glibc fills new blocks with 165 ^ 0xFF: neither zero nor what a fresh page holds
# what a test could read from the machine rather than from its inputs; the host probe hides them (a /dev/null
# bind each) and drops the cases whose behaviour follows, as the clock probe does with time
HOST_FILES = (
    "/etc/passwd",
    "/etc/group",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/machine-id",
    "/etc/os-release",
    "/etc/issue",
    "/etc/debian_version",
    "/etc/resolv.conf",
    "/etc/timezone",
)
# a runtime library or the language killing the program: glibc's heap checks, assert(), Rust, Go, sanitizers
CRASH_MESSAGE = re.compile(
    rb"(?:malloc|free|realloc|calloc|munmap_chunk|malloc_consolidate)\(\): [^\n]*"
    rb"|double free or corruption[^\n]*|corrupted size vs\. prev_size[^\n]*|\*\*\* stack smashing detected[^\n]*"
    rb"|Assertion [^\n]* failed[^\n]*|panicked at [^\n]*|(?:^|\n)panic: [^\n]*|runtime error: [^\n]*"
    rb"|fatal error: (?:all goroutines|unexpected signal)[^\n]*|AddressSanitizer[^\n]*|Segmentation fault[^\n]*"
)
# a crash message the docs quote must match this much of it to count as documented behaviour
MIN_DOCUMENTED_CHARS = 12
# the time of the reference's copy in the host probe's tree (a copy for recording keeps the binary's own)
PROBE_FILE_TIME = 946_684_800
RACY_REASON = (
    "gold_racy: the reference exited while processes it started still ran; what they print races the sandbox's cleanup"
)


class CaseSpec(BaseModel):
    """An invocation to record: everything of a TestCase except what the reference did."""

    id: str
    group: str = "default"
    argv: list[str] = Field(default_factory=list)
    stdin: bytes = b""
    env: dict[str, str] = Field(default_factory=dict)
    files: dict[str, bytes] = Field(default_factory=dict)
    collect: list[str] = Field(default_factory=list)
    timeout_s: float = 10.0
    compare: Comparison = Field(default_factory=Comparison)
    origin: str = Field(default="", description='where the input came from: "upstream:tests/jq.test", "grammar", ...')


class RecordReport(BaseModel):
    """What recording kept and what it dropped, with the reason for each drop."""

    kept: int = 0
    dropped: dict[str, str] = Field(default_factory=dict)
    normalized: dict[str, str] = Field(default_factory=dict)


def record_reference(
    task: Task,
    specs: list[CaseSpec],
    sandbox: Sandbox,
    workers: int = 2,
    repeats: int = RECORD_REPEATS,
    on_progress: Callable[[], None] | None = None,
    docs_text: str = "",
    host_probe: bool = False,
) -> tuple[Suite, RecordReport]:
    """Run every spec `repeats` times on the reference; keep the ones that behave the same each time.

    Cases where the reference crashes (a signal, a heap check, a failed assert, a panic) are dropped as
    gold_crash unless `docs_text` quotes the message, and cases where the reference left processes running
    as gold_racy. With `host_probe`, every stable case runs once more with the machine's identity files
    hidden, the reference staged another way and the sandbox's memory and process limits doubled; those
    that change are dropped as host_dependent (or gold_racy when processes were left), as are those whose
    output holds the host's memory size or kernel release (machine.unfixed_host_facts). The CPU count needs
    no probe: every sandbox shows the same fixed machine (sandbox/machine.py), so a case that prints it
    expects what every grading machine shows."""
    binary = resolve_binary(task.reference.binary)
    cases = {spec.id: case_for_spec(spec) for spec in specs}
    with tempfile.TemporaryDirectory(prefix="twinbench-ref-") as scratch:
        tree = Path(scratch, "record")
        tree.mkdir()
        stage_reference(binary, tree)
        config = SessionConfig(tree=tree, disk_mb=task.limits.test.disk_mb)
        jobs = [
            ((spec.id, round_), perturbed(request_for(task, cases[spec.id]), round_, repeats))
            for round_ in range(repeats)
            for spec in specs
        ]
        rounds: dict[str, dict[int, ExecResult]] = {spec.id: {} for spec in specs}

        def collect(key: tuple[str, int], result: ExecResult) -> None:
            rounds[key[0]][key[1]] = result
            if on_progress is not None:
                on_progress()

        run_many(sandbox, config, jobs, workers, collect)
        # in round order: the last round is the one with the heap filled (see perturbed)
        observed = {case_id: [by_round[number] for number in sorted(by_round)] for case_id, by_round in rounds.items()}
        varying = _recheck_heap_suspects(task, specs, cases, observed, repeats, sandbox, config, workers)
        probed: dict[str, ExecResult] = {}
        if host_probe:
            probe_tree = Path(scratch, "probe")
            probe_tree.mkdir()
            stage_probe_reference(binary, probe_tree)
            hidden = tuple(Path(path) for path in HOST_FILES if Path(path).exists())
            probe_config = SessionConfig(tree=probe_tree, disk_mb=task.limits.test.disk_mb, hidden_paths=hidden)
            raised = raised_test_limits(task.limits.test)
            # a case normalized later (one stream ignored) is probed too: what it still compares must hold
            stable = [
                spec for spec in specs if (_drop_reason(observed[spec.id]) or "gold_flaky").startswith("gold_flaky")
            ]
            probe_jobs = [(spec.id, request_for(task, cases[spec.id], raised)) for spec in stable]
            run_many(sandbox, probe_config, probe_jobs, workers, probed.__setitem__)

    report = RecordReport()
    kept: list[TestCase] = []
    host_facts = unfixed_host_facts()
    for spec in specs:
        runs = observed[spec.id]
        if len(runs) == repeats > 1 and _shows_heap_setting(runs[-1]):
            # a program that prints its environment (env, printenv) shows the variable itself, not the heap
            runs = runs[:-1]
        heap = None if spec.id in varying else _heap_reason(runs, repeats)
        reason = _drop_reason(runs)
        if reason is None or reason.startswith("gold_flaky"):
            # a crash is named before flakiness: a panic's stack trace (Go's addresses) may vary run to run;
            # a hang, a harness error or a failed start are named before both (a timeout kills with SIGKILL)
            reason = _crash_reason(runs[0], docs_text) or heap or reason
        if reason is None and host_probe:
            reason = _host_fact_reason(runs[0], host_facts)
        compare = spec.compare
        note = None
        if reason is not None and reason.startswith("gold_flaky"):
            compare, note = _normalize(runs, compare)
            if note is not None:
                reason = None
        if reason is None and spec.id in probed:
            reason = _probe_reason(probed[spec.id], runs[0], compare)
        if reason is not None:
            report.dropped[spec.id] = reason
            continue
        if note is not None:
            report.normalized[spec.id] = note
        first = runs[0]
        # an ignored stream is stored empty: its varying bytes would make the suite differ run to run
        expect = Expectation(
            exit_code=first.status or 0,
            stdout=b"" if compare.stdout == CompareMode.ignore else first.stdout,
            stderr=b"" if compare.stderr == CompareMode.ignore else first.stderr,
            files={name: first.files.get(name) for name in spec.collect},
        )
        kept.append(cases[spec.id].model_copy(update={"expect": expect, "compare": compare}))
    report.kept = len(kept)
    return Suite(cases=kept), report


def stage_probe_reference(binary: Path, tree: Path) -> None:
    """The reference staged another way than for recording, as a candidate's ./executable differs from it:
    a symlink names the same file by another path, a copy carries another time. A case that shows how the
    sandbox staged the program (`ls -l`, `fd --list-details` of the work dir) then changes."""
    stage_reference(binary, tree)
    staged = tree / "executable"
    if staged.is_symlink():
        target = os.readlink(staged)
        staged.unlink()
        staged.symlink_to("/." + target if target.startswith("/") else "./" + target)
    else:
        os.utime(staged, (PROBE_FILE_TIME, PROBE_FILE_TIME))


def raised_test_limits(limits: Limits) -> Limits:
    """Twice the memory and processes: a case whose outcome changes with them ran into the sandbox's limits
    (b3sum --num-threads=100 failing with EAGAIN), not into the program's behaviour."""
    return limits.model_copy(update={"memory_mb": limits.memory_mb * 2, "processes": limits.processes * 2})


def _probe_reason(probe: ExecResult, recorded: ExecResult, compare: Comparison) -> str | None:
    if probe.left_running:
        return RACY_REASON
    if _compared(probe, compare) != _compared(recorded, compare):
        return (
            "host_dependent: the output changes when the machine's /etc/passwd, hostname and such are hidden, "
            "the reference staged another way or the sandbox's limits raised"
        )
    return None


def _host_fact_reason(result: ExecResult, facts: list[bytes]) -> str | None:
    """host_dependent when the output holds a host fact the sandbox cannot hide (its memory size, its kernel):
    no probe can vary those, so the value itself is looked for, as a whole word."""
    for fact in facts:
        pattern = re.compile(rb"(?<![\w.])" + re.escape(fact) + rb"(?![\w])")
        if pattern.search(result.stdout) or pattern.search(result.stderr):
            shown = fact.decode(errors="replace")
            return f"host_dependent: the output holds the host's {shown!r} (its memory size or kernel)"
    return None


def drop_kinds(dropped: dict[str, str]) -> Counter[str]:
    """How many cases were dropped for each kind of reason (`gold_flaky`, `gold_uninitialized`, ...)."""
    return Counter(reason.split(":", 1)[0] for reason in dropped.values())


def case_for_spec(spec: CaseSpec) -> TestCase:
    """The TestCase a spec becomes, with a placeholder expectation until the reference is recorded."""
    return TestCase(
        id=spec.id,
        group=spec.group,
        argv=spec.argv,
        stdin=spec.stdin,
        env=spec.env,
        files=spec.files,
        timeout_s=spec.timeout_s,
        expect=Expectation(exit_code=0, files=dict.fromkeys(spec.collect)),
        compare=spec.compare,
    )


def spec_of(case: TestCase) -> CaseSpec:
    """The invocation of a recorded case, to record it again (case_for_spec's inverse)."""
    return CaseSpec(
        id=case.id,
        group=case.group,
        argv=case.argv,
        stdin=case.stdin,
        env=dict(case.env),
        files=case.files,
        collect=list(case.expect.files),
        timeout_s=case.timeout_s,
        compare=case.compare,
        origin=case.source,
    )


def perturbed(request: ExecRequest, round_: int, repeats: int) -> ExecRequest:
    """The request of one recording round: the last of two or more rounds runs with glibc filling every heap
    block it hands out with a byte pattern (MALLOC_PERTURB_), unless the case sets that itself. A case whose
    output depends on memory the reference never wrote (figlet inflating a damaged zip) prints the same on
    every plain run of one binary, yet fails on any other build, a faithful reimplementation included."""
    if repeats < 2 or round_ != repeats - 1 or HEAP_PERTURB_ENV in request.env:
        return request
    return request.model_copy(update={"env": {**request.env, HEAP_PERTURB_ENV: HEAP_PERTURB_BYTE}})


def _recheck_heap_suspects(
    task: Task,
    specs: list[CaseSpec],
    cases: dict[str, TestCase],
    observed: dict[str, list[ExecResult]],
    repeats: int,
    sandbox: Sandbox,
    config: SessionConfig,
    workers: int,
) -> set[str]:
    """Run once more, heap untouched, each case whose only different run was the one with the heap filled: a
    case that varies anyway (threads, a Go program, whose heap is not glibc's) is flaky, not a reader of
    memory never written. Its extra run replaces the heap-filled one in `observed`; returns those cases."""
    suspects = [
        spec.id
        for spec in specs
        if len(observed[spec.id]) == repeats > 1
        and not _shows_heap_setting(observed[spec.id][-1])
        and _heap_reason(observed[spec.id], repeats) is not None
    ]
    extra: dict[str, ExecResult] = {}
    run_many(
        sandbox,
        config,
        [(case_id, request_for(task, cases[case_id])) for case_id in suspects],
        workers,
        extra.__setitem__,
    )
    varying = set()
    for case_id in suspects:
        again = extra.get(case_id)
        if again is not None and not again.sandbox_error and _signature(again) != _signature(observed[case_id][0]):
            observed[case_id] = [*observed[case_id][:-1], again]
            varying.add(case_id)
    return varying


def _shows_heap_setting(run: ExecResult) -> bool:
    name = HEAP_PERTURB_ENV.encode()
    return name in run.stdout or name in run.stderr or any(name in (data or b"") for data in run.files.values())


def _heap_reason(runs: list[ExecResult], repeats: int) -> str | None:
    """gold_uninitialized when the plain runs agree and the run with a perturbed heap does not."""
    if repeats < 2 or len(runs) != repeats or any(run.sandbox_error for run in runs):
        return None
    plain, filled = runs[:-1], runs[-1]
    signature = _signature(plain[0])
    if all(_signature(run) == signature for run in plain[1:]) and _signature(filled) != signature:
        return "gold_uninitialized: the output changes when the heap is filled (it reads memory never written)"
    return None


def _drop_reason(runs: list[ExecResult]) -> str | None:
    first = runs[0]
    if any(run.sandbox_error for run in runs):
        return f"harness error: {next(run.sandbox_error for run in runs if run.sandbox_error)}"
    if any(run.timed_out for run in runs):
        return "slow_or_hang: the reference did not finish in time"
    if any(run.exec_error for run in runs):
        return f"gold_fail: the reference could not start: {first.exec_error}"
    if any(run.left_running for run in runs):
        return RACY_REASON
    if any(run.stdout_truncated or run.stderr_truncated for run in runs):
        return "gold_fail: the reference's output exceeded the output limit"
    signature = _signature(first)
    if any(_signature(run) != signature for run in runs[1:]):
        return "gold_flaky: the reference behaved differently across runs"
    if first.exit_code == 0 and not first.stdout and not first.stderr and not any(first.files.values()):
        return "dummy_pass: a stub that exits 0 with no output would pass"
    return None


def _crash_reason(run: ExecResult, docs_text: str) -> str | None:
    """gold_crash when the reference died of a signal or of a runtime check, unless the docs describe it."""
    message = CRASH_MESSAGE.search(run.stderr)
    if run.signal is not None:
        name = _signal_name(run.signal)
        if name in docs_text or (message is not None and _documented(message.group(), docs_text)):
            return None
        return f"gold_crash: the reference was killed by {name}"
    if message is not None and not _documented(message.group(), docs_text):
        text = message.group().decode("utf-8", errors="replace").strip()[:100]
        return f"gold_crash: the reference aborted: {text}"
    return None


def _documented(message: bytes, docs_text: str) -> bool:
    text = message.decode("utf-8", errors="replace").strip()
    return len(text) >= MIN_DOCUMENTED_CHARS and text[:80] in docs_text


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _normalize(runs: list[ExecResult], compare: Comparison) -> tuple[Comparison, str | None]:
    """Ignore the one output stream that varies between runs, if everything else is stable."""
    first = runs[0]
    if any(run.status != first.status or run.files != first.files for run in runs[1:]):
        return compare, None
    stdout_varies = any(run.stdout != first.stdout for run in runs[1:])
    stderr_varies = any(run.stderr != first.stderr for run in runs[1:])
    if stdout_varies and stderr_varies:
        return compare, None
    if stderr_varies:
        return compare.model_copy(update={"stderr": CompareMode.ignore}), "stderr ignored: it varies between runs"
    if not first.stderr and first.status == 0:
        return compare, None  # with stdout ignored nothing would be left to check
    return compare.model_copy(update={"stdout": CompareMode.ignore}), "stdout ignored: it varies between runs"


def _compared(run: ExecResult, compare: Comparison) -> tuple[object, ...]:
    """What grading compares of a run: its signature without the streams `compare` ignores."""
    stdout = b"" if compare.stdout == CompareMode.ignore else run.stdout
    stderr = b"" if compare.stderr == CompareMode.ignore else run.stderr
    return (run.status, stdout, stderr, tuple(sorted(run.files.items())))


def _signature(run: ExecResult) -> tuple[object, ...]:
    return (run.status, run.stdout, run.stderr, tuple(sorted(run.files.items())))
