"""Grading throughput: the same N-test suite of a small C program run bare, by pytest, and by twinbench.

    python benchmarks/bench_grading.py [--tests 1000] [--repeats 3] [--json out.json]

Every method runs the same compiled C binary on the same cases and compares stdout, stderr and the exit
code with the same expectations (about 10% of them deliberately wrong). The benchmark checks that every
run of every method passes exactly the same test ids, then prints median timings side by side.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinbench.formats import (
    Expectation,
    ReferenceSpec,
    Suite,
    Task,
    TestCase,
    TestStatus,
    dump_suite,
    load_task,
    save_task,
)
from twinbench.grade import EvalOptions, evaluate
from twinbench.sandbox import SandboxUnavailable, get_sandbox
from twinbench.sandbox.testrun import FIXED_ENV

SEED = 20240611
WRONG_FRACTION = 0.10
# twinbench's per-test limit. The bare loop and the pytest tests pass no timeout= to subprocess.run on
# purpose: with one, Python polls for the child's exit with sleeps, about 1 ms more per run here.
TIMEOUT_S = 10.0
WARMUP_TESTS = 40
ENV = dict(FIXED_ENV)  # what twinbench gives every test; bare and pytest runs use it too
FIRST_TEST_MARK = "first-test-"

# A toy figlet-like program. figlet itself cannot be the program under test: the task's reference
# (figlet) is hidden from submissions inside the sandbox, so a submission cannot run it.
BANNER_C = r"""
/* banner: toy figlet-like renderer used by twinbench's grading benchmark. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 4
#define MAX_WIDTH 1000

static int width = 80, align = 0, caseop = 0, echo = 0, exit_code = 0;
static char fill = '#';

static void render(const unsigned char *text, size_t len) {
    static char out[MAX_WIDTH + 8];
    for (int row = 0; row < ROWS; row++) {
        size_t n = 0;
        for (size_t i = 0; i < len && n + 4 <= (size_t)width; i++) {
            unsigned c = text[i];
            if (caseop == 1) c = (unsigned)toupper((int)c);
            else if (caseop == 2) c = (unsigned)tolower((int)c);
            unsigned bits = (c * 2654435761u) >> 7;
            for (int col = 0; col < 3; col++) out[n++] = ((bits >> (row * 3 + col)) & 1u) ? fill : ' ';
            out[n++] = ' ';
        }
        while (n > 0 && out[n - 1] == ' ') n--;
        size_t pad = 0;
        if (align == 1 && n < (size_t)width) pad = ((size_t)width - n) / 2;
        else if (align == 2 && n < (size_t)width) pad = (size_t)width - n;
        for (size_t p = 0; p < pad; p++) putchar(' ');
        fwrite(out, 1, n, stdout);
        putchar('\n');
    }
}

static void line(const unsigned char *text, size_t len) {
    if (echo) fprintf(stderr, "banner: %zu bytes\n", len);
    render(text, len);
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) { i++; break; }
        if (strcmp(opt, "-c") == 0) align = 1;
        else if (strcmp(opt, "-r") == 0) align = 2;
        else if (strcmp(opt, "-u") == 0) caseop = 1;
        else if (strcmp(opt, "-l") == 0) caseop = 2;
        else if (strcmp(opt, "-e") == 0) echo = 1;
        else if (strcmp(opt, "-v") == 0) { puts("banner 1.0"); return 0; }
        else if (strcmp(opt, "-w") == 0 || strcmp(opt, "-s") == 0 || strcmp(opt, "-x") == 0) {
            if (i + 1 >= argc) { fprintf(stderr, "banner: option %s needs a value\n", opt); return 2; }
            const char *value = argv[++i];
            if (opt[1] == 's') fill = value[0] ? value[0] : '#';
            else {
                char *end;
                long v = strtol(value, &end, 10);
                if (*end != '\0' || end == value || v < 0 || (opt[1] == 'w' && (v < 4 || v > MAX_WIDTH))
                    || (opt[1] == 'x' && v > 255)) {
                    fprintf(stderr, "banner: invalid value '%s' for %s\n", value, opt);
                    return 3;
                }
                if (opt[1] == 'w') width = (int)v; else exit_code = (int)v;
            }
        } else {
            fprintf(stderr, "banner: unknown option %s\nusage: banner [-c|-r] [-u|-l] [-e] [-w N] [-s C] "
                            "[-x N] [text...]\n", opt);
            return 2;
        }
    }
    if (i < argc) {
        size_t total = 0;
        for (int j = i; j < argc; j++) total += strlen(argv[j]) + 1;
        char *joined = calloc(total + 1, 1);
        if (!joined) return 4;
        for (int j = i; j < argc; j++) {
            if (j > i) strcat(joined, " ");
            strcat(joined, argv[j]);
        }
        line((const unsigned char *)joined, strlen(joined));
        free(joined);
        return exit_code;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int lines = 0;
    while ((got = getline(&buf, &cap, stdin)) != -1) {
        if (got > 0 && buf[got - 1] == '\n') got--;
        if (lines++) putchar('\n');
        line((const unsigned char *)buf, (size_t)got);
    }
    free(buf);
    if (lines == 0) { fputs("banner: nothing to print\n", stderr); return 1; }
    return exit_code;
}
"""

PYTEST_MODULE = '''\
"""One pytest test per case: run ./executable, compare stdout, stderr and exit code."""

import base64
import importlib.metadata
import json
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PROGRAM_DIR = HERE / "program"
ENV = {env!r}
CASES = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case):
    run = subprocess.run(
        ["./executable", *case["argv"]],
        input=base64.b64decode(case["stdin"]),
        capture_output=True,
        cwd=PROGRAM_DIR,
        env=ENV,
    )
    assert run.stdout == base64.b64decode(case["stdout"])
    assert run.stderr == base64.b64decode(case["stderr"])
    assert run.returncode == case["exit_code"]
'''

# Only notes when the first test starts (in each process, xdist workers included), so the time before it,
# interpreter start-up, plugins and collection, can be reported as pytest's setup.
PYTEST_CONFTEST = f'''\
import os
import time

_STARTED = []


def pytest_runtest_logstart(nodeid, location):
    if not _STARTED:
        _STARTED.append(time.time())
        mark = os.path.join(os.path.dirname(__file__), "{FIRST_TEST_MARK}%d" % os.getpid())
        with open(mark, "w") as handle:
            handle.write(repr(_STARTED[0]))
'''

COMPILE_SH = """#!/bin/sh
# the benchmark ships the prebuilt binary so every method runs byte-identical code
set -e
cp ./banner ./executable
chmod 755 ./executable
"""

WORDS = [
    *["Hello", "twinbench", "figlet", "rebuild", "agents", "quartz", "Zebra", "42", "Hi!", "a-b_c"],
    *["lorem", "ipsum", "dolor", "sit", "amet", "sandbox", "pytest", "xdist", "grading", "ÜmlautCafé"],
]


@dataclass(frozen=True)
class Case:
    """One test: how to run the program, what it must print and exit with, and whether that is a lie."""

    id: str
    group: str
    argv: list[str]
    stdin: bytes
    exit_code: int
    stdout: bytes
    stderr: bytes
    wrong: bool = False


@dataclass
class Run:
    """One timed run of one method: wall seconds, the setup share of it, and the ids that passed."""

    method: str
    wall_s: float
    setup_s: float
    passed: frozenset[str]
    failures: dict[str, str] = field(default_factory=dict)  # id -> why it did not pass
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Workspace:
    """Everything the methods share: the binary, the cases, the pytest dir, the task and the submission."""

    root: Path
    binary: Path
    cases: list[Case]
    pytest_dir: Path
    task_dir: Path
    submission_dir: Path


def build_binary(root: Path) -> Path:
    """Compile the toy C program with gcc."""
    source = root / "banner.c"
    source.write_text(BANNER_C, encoding="utf-8")
    binary = root / "banner"
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        sys.exit("bench_grading: needs gcc or cc to build the program under test")
    subprocess.run([compiler, "-O2", "-Wall", "-o", str(binary), str(source)], check=True)
    return binary


FIGLET_FONTS = ["standard", "banner", "big", "block", "lean", "mini", "script", "shadow", "slant", "small", "term"]
COMPILE_SH_FIGLET = """#!/bin/sh
# the benchmark runs the installed figlet itself, so every method runs byte-identical code
set -e
ln -s {binary} ./executable
"""


def figlet_binary() -> Path:
    """The real figlet binary (Debian's figlet package), resolved through the alternatives symlink."""
    found = shutil.which("figlet")
    if found is None:
        sys.exit("bench_grading: needs figlet (apt-get install figlet) for --program figlet")
    return Path(found).resolve()


def figlet_invocations(count: int, seed: int) -> list[tuple[str, list[str], bytes]]:
    """Varied figlet invocations: fonts, widths, justification, layout modes, stdin and bad options."""
    rng = random.Random(seed)

    def words(low: int, high: int) -> list[str]:
        return [rng.choice(WORDS) for _ in range(rng.randint(low, high))]

    result: list[tuple[str, list[str], bytes]] = []
    for _ in range(count):
        options: list[str] = []
        if rng.random() < 0.5:
            options += ["-f", rng.choice(FIGLET_FONTS)]
        if rng.random() < 0.3:
            options.append(rng.choice(["-c", "-r", "-l", "-k", "-W", "-S", "-s", "-o"]))
        if rng.random() < 0.3:
            options += ["-w", str(rng.choice([20, 40, 80, 120]))]
        kind = rng.random()
        if kind < 0.6:
            result.append(("args", [*options, *words(1, 3)], b""))
        elif kind < 0.9:
            text = "\n".join(" ".join(words(0, 4)) for _ in range(rng.randint(1, 3))) + "\n"
            result.append(("stdin", options, text.encode()))
        else:
            result.append(("errors", rng.choice([["-Z"], ["-f", "nosuchfont", "x"], ["-w"], ["-I", "2"]]), b""))
    return result


def invocations(count: int, seed: int) -> list[tuple[str, list[str], bytes]]:
    """Varied (group, argv, stdin) triples: text arguments, stdin text and bytes, options and errors."""
    rng = random.Random(seed)

    def words(low: int, high: int) -> list[str]:
        return [rng.choice(WORDS) for _ in range(rng.randint(low, high))]

    def options() -> list[str]:
        chosen: list[str] = []
        if rng.random() < 0.3:
            chosen.append(rng.choice(["-c", "-r"]))
        if rng.random() < 0.3:
            chosen.append(rng.choice(["-u", "-l"]))
        if rng.random() < 0.3:
            chosen += ["-w", str(rng.choice([8, 20, 40, 80, 120, 200]))]
        if rng.random() < 0.2:
            chosen += ["-s", rng.choice(["*", "@", "o", "█"])]
        if rng.random() < 0.15:
            chosen.append("-e")
        if rng.random() < 0.1:
            chosen += ["-x", str(rng.randint(0, 9))]
        return chosen

    result: list[tuple[str, list[str], bytes]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.45:
            result.append(("args", [*options(), *words(1, 4)], b""))
        elif kind < 0.75:
            text = "\n".join(" ".join(words(0, 6)) for _ in range(rng.randint(1, 5))) + "\n"
            result.append(("stdin", options(), text.encode()))
        elif kind < 0.85:
            blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 120)))
            result.append(("bytes", options(), blob))
        elif kind < 0.95:
            bad = rng.choice([["-z"], ["-w", "2"], ["-w", "x"], ["-x"], ["-x", "999"], [], ["-s"], ["--no"]])
            result.append(("errors", [*bad, *([rng.choice(WORDS)] if rng.random() < 0.5 else [])], b""))
        else:
            odd = rng.choice([["-v"], ["--", "-c"], ["-"], ["-r", "-w", "1000", "wide"]])
            result.append(("misc", odd, b""))
    return result


def record_cases(binary: Path, count: int, seed: int, program: str) -> list[Case]:
    """Run the program bare once per invocation to record expectations, then falsify ~10% of them."""
    rng = random.Random(seed + 1)
    cases: list[Case] = []
    generate = figlet_invocations if program == "figlet" else invocations
    for number, (group, argv, stdin) in enumerate(generate(count, seed)):
        # argv[0] is ./executable everywhere, as in the sandbox: programs print it in their messages
        command = ["./executable", *argv]
        run = subprocess.run(command, executable=binary, input=stdin, capture_output=True, env=ENV, timeout=TIMEOUT_S)
        cases.append(Case(f"t{number:04d}", group, argv, stdin, run.returncode, run.stdout, run.stderr))
    wrong = set(rng.sample(range(count), round(count * WRONG_FRACTION)))
    falsified: list[Case] = []
    for index, case in enumerate(cases):
        if index not in wrong:
            falsified.append(case)
            continue
        how = rng.randrange(3)
        falsified.append(
            Case(
                case.id,
                case.group,
                case.argv,
                case.stdin,
                case.exit_code + 1 if how == 0 else case.exit_code,
                case.stdout + b"x\n" if how == 1 else case.stdout,
                b"unexpected\n" + case.stderr if how == 2 else case.stderr,
                wrong=True,
            )
        )
    return falsified


def prepare(root: Path, binary: Path, cases: list[Case], program: str) -> Workspace:
    """Lay out the pytest directory, the twinbench task and the submission for one list of cases."""
    root.mkdir(parents=True)
    pytest_dir = root / "pytest"
    (pytest_dir / "program").mkdir(parents=True)
    (pytest_dir / "program" / "executable").symlink_to(binary)
    encoded = [
        {
            "id": c.id,
            "argv": c.argv,
            "stdin": base64.b64encode(c.stdin).decode(),
            "stdout": base64.b64encode(c.stdout).decode(),
            "stderr": base64.b64encode(c.stderr).decode(),
            "exit_code": c.exit_code,
        }
        for c in cases
    ]
    (pytest_dir / "cases.json").write_text(json.dumps(encoded), encoding="utf-8")
    module = PYTEST_MODULE.format(env=ENV)
    (pytest_dir / "test_program.py").write_text(module, encoding="utf-8")
    (pytest_dir / "conftest.py").write_text(PYTEST_CONFTEST, encoding="utf-8")

    task_dir = root / "task"
    # with figlet as the program under test, nothing may be hidden; with the toy program, figlet is
    if program == "figlet":
        reference = ReferenceSpec(binary="twinbench-benchmark-has-no-reference")
    else:
        reference = ReferenceSpec(debian_package="figlet", binary="figlet")
    save_task(Task(id="bench-figlet", reference=reference), task_dir)
    suite = Suite(
        cases=[
            TestCase(
                id=c.id,
                group=c.group,
                argv=c.argv,
                stdin=c.stdin,
                timeout_s=TIMEOUT_S,
                expect=Expectation(exit_code=c.exit_code, stdout=c.stdout, stderr=c.stderr),
            )
            for c in cases
        ]
    )
    dump_suite(suite, task_dir / "tests" / "suite.jsonl")

    submission_dir = root / "submission"
    submission_dir.mkdir()
    if program == "figlet":
        (submission_dir / "compile.sh").write_text(COMPILE_SH_FIGLET.format(binary=binary), encoding="utf-8")
    else:
        shutil.copy2(binary, submission_dir / "banner")
        (submission_dir / "compile.sh").write_text(COMPILE_SH, encoding="utf-8")
    (submission_dir / "compile.sh").chmod(0o755)
    return Workspace(root, binary, cases, pytest_dir, task_dir, submission_dir)


def run_bare(ws: Workspace, threads: int) -> Run:
    """The floor: subprocess.run on the binary for each case, compared in-process."""

    def one(case: Case) -> str:
        argv = ["./executable", *case.argv]
        run = subprocess.run(argv, executable=ws.binary, input=case.stdin, capture_output=True, env=ENV)
        if run.stdout != case.stdout:
            return "stdout differs"
        if run.stderr != case.stderr:
            return "stderr differs"
        if run.returncode != case.exit_code:
            return f"exit code {run.returncode}, expected {case.exit_code}"
        return ""

    started = time.perf_counter()
    if threads == 1:
        verdicts = [one(case) for case in ws.cases]
    else:
        with ThreadPoolExecutor(threads) as pool:
            verdicts = list(pool.map(one, ws.cases))
    wall = time.perf_counter() - started
    failures = {case.id: why for case, why in zip(ws.cases, verdicts, strict=True) if why}
    passed = frozenset(case.id for case in ws.cases if case.id not in failures)
    name = "bare subprocess loop" if threads == 1 else f"bare subprocess, {threads} threads"
    return Run(name, wall, 0.0, passed, failures)


def pytest_command(junit: Path, xdist_workers: int | None) -> list[str]:
    """The pytest invocation, serial or with pytest-xdist."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    if xdist_workers is not None:
        command += ["-n", str(xdist_workers)]
    return [*command, "test_program.py"]


def parse_summary(output: str) -> dict[str, int]:
    """Counts from pytest's final summary line, e.g. '100 failed, 900 passed in 3.21s'."""
    for text in reversed(output.strip().splitlines()):
        if re.search(r"\bin [\d.]+s\b", text):
            return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", text)}
    raise RuntimeError(f"no pytest summary line in output:\n{output[-2000:]}")


def parse_junit(path: Path) -> dict[str, str]:
    """Per-test verdicts from pytest's junit XML: case id -> '' when passed, else the failure message."""
    verdicts: dict[str, str] = {}
    for testcase in ET.parse(path).getroot().iter("testcase"):
        match = re.fullmatch(r"test_case\[(.+)\]", testcase.get("name", ""))
        if match is None:
            continue
        bad = [child for child in testcase if child.tag in ("failure", "error", "skipped")]
        verdicts[match.group(1)] = (bad[0].get("message") or bad[0].tag).splitlines()[0][:200] if bad else ""
    return verdicts


def run_pytest(ws: Workspace, xdist_workers: int | None, tag: str) -> Run:
    """pytest with one test function per case, serially or with -n; verdicts from --junitxml."""
    junit = ws.root / f"junit-{tag}.xml"
    command = pytest_command(junit, xdist_workers)
    for stale in ws.pytest_dir.glob(FIRST_TEST_MARK + "*"):
        stale.unlink()
    started_epoch = time.time()
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ws.pytest_dir, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    marks = [float(mark.read_text()) for mark in ws.pytest_dir.glob(FIRST_TEST_MARK + "*")]
    setup = min(marks) - started_epoch if marks else 0.0
    if proc.returncode not in (0, 1):
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"pytest exited with {proc.returncode}:\n{tail}")
    summary = parse_summary(proc.stdout)
    verdicts = parse_junit(junit)
    passed = frozenset(case_id for case_id, why in verdicts.items() if not why)
    failures = {case_id: why for case_id, why in verdicts.items() if why}
    if len(verdicts) != len(ws.cases) or summary.get("passed", 0) != len(passed):
        counted = f"{len(passed)}/{len(verdicts)} passed"
        raise RuntimeError(f"pytest summary {summary} disagrees with its junit XML ({counted})")
    name = "pytest serial" if xdist_workers is None else f"pytest -n {xdist_workers}"
    return Run(name, wall, setup, passed, failures, {"summary": summary})


def run_twinbench(ws: Workspace, workers: int, sandbox_name: str, tag: str) -> Run:
    """twinbench's evaluate(): build, then every test, in the sandbox; setup ends at on_start."""
    sandbox = get_sandbox(sandbox_name)
    task = load_task(ws.task_dir)
    out_dir = ws.root / f"eval-{tag}"
    tests_started: list[float] = []
    started = time.perf_counter()
    result = evaluate(
        task,
        ws.submission_dir,
        out_dir,
        sandbox,
        EvalOptions(workers=workers, force=True),
        on_start=lambda _count: tests_started.append(time.perf_counter()),
    )
    wall = time.perf_counter() - started
    if not result.build.ok:
        raise RuntimeError(f"twinbench build failed: {result.build.reason}\n{result.build.log_tail}")
    passed = frozenset(t.id for t in result.tests if t.status == TestStatus.passed)
    failures = {t.id: f"{t.status.value}: {t.reason}" for t in result.tests if t.status != TestStatus.passed}
    setup = tests_started[0] - started if tests_started else 0.0
    extra = {"build_s": result.build.seconds, "eval_seconds": result.seconds, "counts": result.counts}
    return Run(f"twinbench eval, workers={workers}", wall, setup, passed, failures, extra)


def methods(args: argparse.Namespace) -> list[tuple[str, Callable[[Workspace, str], Run]]]:
    """The methods to time, in the order they run within each repeat."""
    chosen: list[tuple[str, Callable[[Workspace, str], Run]]] = [
        ("bare", lambda ws, tag: run_bare(ws, 1)),
        ("bare-2", lambda ws, tag: run_bare(ws, 2)),
        ("pytest", lambda ws, tag: run_pytest(ws, None, tag)),
    ]
    if _has_xdist():
        chosen.append(("pytest-n2", lambda ws, tag: run_pytest(ws, 2, tag)))
    chosen += [
        ("twinbench-1", lambda ws, tag: run_twinbench(ws, 1, args.sandbox, tag)),
        ("twinbench-2", lambda ws, tag: run_twinbench(ws, 2, args.sandbox, tag)),
    ]
    return chosen


def _has_xdist() -> bool:
    """Whether pytest-xdist is installed for the interpreter that runs pytest."""
    return _version("pytest-xdist") is not None


def _version(distribution: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def summarize(runs: dict[str, list[Run]], count: int) -> list[dict[str, Any]]:
    """Median wall, setup and test-phase seconds per method, and per-test cost relative to bare and pytest."""
    rows: list[dict[str, Any]] = []
    for key, repeats in runs.items():
        wall = statistics.median(r.wall_s for r in repeats)
        setup = statistics.median(r.setup_s for r in repeats)
        tests = statistics.median(r.wall_s - r.setup_s for r in repeats)
        rows.append(
            {
                "key": key,
                "method": repeats[0].method,
                "wall_s": wall,
                "setup_s": setup,
                "tests_s": tests,
                "ms_per_test": tests / count * 1000,
                "wall_ms_per_test": wall / count * 1000,
                "walls_s": [round(r.wall_s, 4) for r in repeats],
                "extra": [r.extra for r in repeats],
            }
        )
    by_key = {row["key"]: row for row in rows}
    bare, serial = by_key["bare"]["tests_s"], by_key["pytest"]["tests_s"]
    for row in rows:
        row["overhead_ms_per_test_vs_bare"] = (row["tests_s"] - bare) / count * 1000
        row["x_bare"] = row["tests_s"] / bare
        row["x_pytest_serial"] = row["tests_s"] / serial
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the medians."""
    header: tuple[str, ...] = ("method", "wall s", "setup s", "tests s", "ms/test", "+ms/test vs bare")
    header += ("x bare", "x pytest", "wall ms/test")
    lines = [
        (
            row["method"],
            f"{row['wall_s']:.3f}",
            f"{row['setup_s']:.3f}",
            f"{row['tests_s']:.3f}",
            f"{row['ms_per_test']:.3f}",
            f"{row['overhead_ms_per_test_vs_bare']:+.3f}",
            f"{row['x_bare']:.2f}",
            f"{row['x_pytest_serial']:.2f}",
            f"{row['wall_ms_per_test']:.3f}",
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-" * len(render(header))
    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def check_verdicts(runs: dict[str, list[Run]], cases: list[Case]) -> tuple[bool, str]:
    """Every run of every method must pass exactly the cases whose expectation was not falsified."""
    intended = frozenset(c.id for c in cases if not c.wrong)
    problems = []
    for repeats in runs.values():
        for index, run in enumerate(repeats):
            if run.passed != intended:
                extra = sorted(run.passed - intended)[:5]
                missing = sorted(intended - run.passed)
                where = f"{run.method} (repeat {index + 1})"
                problems.append(f"{where}: {len(missing)} unexpected fails, unexpected passes {extra}")
                problems += [f"    {case_id}: {run.failures.get(case_id, '?')}" for case_id in missing[:5]]
    total_runs = sum(len(r) for r in runs.values())
    if problems:
        return False, "verdict check: MISMATCH\n  " + "\n  ".join(problems)
    return True, (
        f"verdict check: OK, all {total_runs} runs ({len(runs)} methods) pass the identical set of "
        f"{len(intended)} test ids and fail the same {len(cases) - len(intended)} falsified ones"
    )


LEGEND = """\
wall s  = the whole method (median of the repeats); setup s = time before the first test started:
          pytest: interpreter start-up, plugins, collection (and xdist workers); twinbench: submission
          digest, suite load and compile.sh in a fresh sandbox (compile.sh itself: {build:.3f} s).
tests s = wall - setup, per run; ms/test, +ms/test vs bare and the ratios are computed from tests s.
wall ms/test = wall s / tests, everything included."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=1000, help="number of test cases (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method; medians are reported")
    parser.add_argument("--json", type=Path, default=None, help="also write all numbers to this JSON file")
    parser.add_argument("--sandbox", default="bwrap", help="twinbench sandbox backend (default bwrap)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed for the generated cases")
    parser.add_argument(
        "--program",
        choices=["figlet", "toy"],
        default="figlet",
        help="program under test: Debian's figlet (default) or a small gcc-built C program",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary working directory")
    args = parser.parse_args(argv)
    if args.tests < 10 or args.repeats < 1:
        parser.error("--tests must be at least 10 and --repeats at least 1")
    return args


def environment() -> dict[str, str]:
    """Versions and machine facts printed with the results."""
    return {
        "python": platform.python_version(),
        "pytest": _version("pytest") or "not installed",
        "pytest-xdist": _version("pytest-xdist") or "not installed",
        "twinbench": _version("twinbench") or "?",
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "uid": str(os.geteuid()),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the program, record the suite, time every method, check verdicts, print the table."""
    args = parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else ["bench_grading.py", *argv])])
    try:
        get_sandbox(args.sandbox)
    except SandboxUnavailable as exc:
        print(f"bench_grading: {exc}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="twinbench-bench-"))
    try:
        return _benchmark(args, command, scratch)
    finally:
        if args.keep:
            print(f"kept working directory {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _benchmark(args: argparse.Namespace, command: str, scratch: Path) -> int:
    """The benchmark proper, inside a scratch directory."""
    started = time.perf_counter()
    binary = figlet_binary() if args.program == "figlet" else build_binary(scratch)
    cases = record_cases(binary, args.tests, args.seed, args.program)
    workspace = prepare(scratch / "main", binary, cases, args.program)
    warmup = prepare(scratch / "warmup", binary, cases[:WARMUP_TESTS], args.program)
    chosen = methods(args)
    print(
        f"{args.tests} tests ({sum(c.wrong for c in cases)} with falsified expectations), "
        f"{args.repeats} repeats, {len(chosen)} methods; warming up...",
        flush=True,
    )
    for key, method in chosen:  # imports, caches, the sandbox launcher and dpkg lookups; not timed
        method(warmup, f"warmup-{key}")
    runs: dict[str, list[Run]] = {key: [] for key, _ in chosen}
    for repeat in range(args.repeats):  # interleaved, so drift in machine load hits every method alike
        for key, method in chosen:
            run = method(workspace, f"{key}-{repeat}")
            runs[key].append(run)
            print(f"  repeat {repeat + 1}/{args.repeats}  {run.method:<32} {run.wall_s:7.3f} s", flush=True)
    ok, verdict_line = check_verdicts(runs, cases)
    rows = summarize(runs, args.tests)
    facts = environment()
    builds = [r.extra["build_s"] for repeats in runs.values() for r in repeats if "build_s" in r.extra]
    print()
    print(f"command: {command}")
    junit = Path("<tmp>/junit.xml")
    print(f"pytest:  cd <tmp>/pytest && {shlex.join(pytest_command(junit, None))}   (and the same with -n 2)")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
    subject = f"figlet ({binary})" if args.program == "figlet" else "a gcc-built C program"
    print(f"suite:   {args.tests} tests of {subject}, median of {args.repeats} runs per method")
    print()
    print(format_table(rows))
    print()
    print(LEGEND.format(build=statistics.median(builds) if builds else 0.0))
    print(verdict_line)
    print(f"benchmark total: {time.perf_counter() - started:.1f} s")
    if args.json is not None:
        payload = {
            "command": command,
            "tests": args.tests,
            "repeats": args.repeats,
            "seed": args.seed,
            "sandbox": args.sandbox,
            "environment": facts,
            "verdicts_identical": ok,
            "verdict_check": verdict_line,
            "passing": len([c for c in cases if not c.wrong]),
            "rows": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
