"""Recording hygiene for fair expectations: crashes of the reference and what it reads from the machine."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers_paths import TEST_DATA
from twinbench.formats import ReferenceSpec, Task
from twinbench.protocols import Sandbox
from twinbench.testgen import CaseSpec, record_reference


def script_reference(tmp_path: Path, body: str) -> Task:
    """A task whose reference is a shell script outside the system dirs (a --binary-path task)."""
    program = tmp_path / "reference.sh"
    program.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    program.chmod(0o755)
    return Task(id="script", reference=ReferenceSpec(binary=str(program)))


CRASHING = """
    case "$1" in
      segv) echo partial; kill -SEGV $$;;
      heap) echo 'prog: malloc(): unaligned tcache chunk detected' >&2; exit 134;;
      assert) echo "prog: src/execute.c:741: main: Assertion \\`opcode == ON_BACKTRACK' failed." >&2; exit 1;;
      panic) echo "thread 'main' panicked at src/main.rs:3:5:" >&2; exit 101;;
      usage) echo 'prog: unknown option -- q' >&2; exit 2;;
      *) echo "value: $1";;
    esac
"""


def test_crashes_of_the_reference_are_dropped_unless_documented(tmp_path: Path, bwrap: Sandbox) -> None:
    task = script_reference(tmp_path, CRASHING)
    names = ("segv", "heap", "assert", "panic", "usage", "ok")
    specs = [CaseSpec(id=name, argv=[name]) for name in names]
    suite, report = record_reference(task, specs, bwrap, repeats=1)
    assert [case.id for case in suite.cases] == ["usage", "ok"]  # an ordinary error is behaviour, not a crash
    assert report.dropped["segv"] == "gold_crash: the reference was killed by SIGSEGV"
    assert report.dropped["heap"].startswith("gold_crash: the reference aborted: malloc(): unaligned tcache")
    assert report.dropped["assert"].startswith("gold_crash: the reference aborted: Assertion `opcode")
    assert report.dropped["panic"].startswith("gold_crash")
    docs = "BUGS\n  With a damaged heap, prog stops with malloc(): unaligned tcache chunk detected.\n"
    suite, report = record_reference(task, specs, bwrap, repeats=1, docs_text=docs)
    assert "heap" in {case.id for case in suite.cases}  # the docs describe it: a rebuild can match it
    assert "segv" in report.dropped


def test_cases_that_read_the_machine_are_dropped_as_host_dependent(tmp_path: Path, bwrap: Sandbox) -> None:
    if not Path("/etc/machine-id").is_file():
        pytest.skip("this machine has no /etc/machine-id, the host file the probe hides here")
    task = script_reference(
        tmp_path,
        """
        case "$1" in
          passwd) head -n 1 /etc/passwd;;
          hostfile) cat /etc/hostname;;
          machine) cat /etc/machine-id 2>&1;;
          cpus) echo "threads: $(getconf _NPROCESSORS_ONLN)";;
          ram) echo "RAM: $(($(getconf _PHYS_PAGES) * $(getconf PAGESIZE) / 1048576)) MiB";;
          kernel) uname -r;;
          *) echo "value: $1";;
        esac
        """,
    )
    names = ("passwd", "hostfile", "machine", "cpus", "ram", "kernel", "ok")
    specs = [CaseSpec(id=name, argv=[name]) for name in names]
    suite, report = record_reference(task, specs, bwrap, repeats=1, host_probe=True)
    # /etc/passwd and /etc/hostname are the sandbox's synthetic ones, the same on every machine: fair to keep;
    # the machine-id is the host's own
    assert [case.id for case in suite.cases] == ["passwd", "hostfile", "cpus", "ok"]
    assert report.dropped["machine"].startswith("host_dependent"), report.dropped
    # the CPU count is the sandbox's fixed machine's, the same on every host: fair to keep
    assert suite.cases[2].expect.stdout == b"threads: 1\n"
    # sysinfo() and uname() are the host's in every sandbox: no probe varies them, so their values are looked for
    assert report.dropped["ram"].startswith("host_dependent"), report.dropped
    assert report.dropped["kernel"].startswith("host_dependent"), report.dropped
    suite, report = record_reference(task, specs, bwrap, repeats=1)
    assert "machine" in {case.id for case in suite.cases}  # without the probe nothing tells it apart


def test_cases_whose_reference_leaves_processes_running_are_dropped_as_racy(tmp_path: Path, bwrap: Sandbox) -> None:
    """Regression: `ag --pager=X -V` starts the pager through sh and exits without waiting; whether sh's
    "not found" reached stderr before the sandbox killed it was a race that recording (3 runs) and
    `collection check` resolved differently. A case whose reference leaves processes behind is dropped."""
    task = script_reference(
        tmp_path,
        """
        case "$1" in
          orphan) (sleep 0.3; echo late >&2) & echo done;;
          waited) (echo child >&2) & wait; echo done;;
        esac
        """,
    )
    specs = [CaseSpec(id=name, argv=[name]) for name in ("orphan", "waited")]
    suite, report = record_reference(task, specs, bwrap)
    assert [case.id for case in suite.cases] == ["waited"]
    assert report.dropped["orphan"].startswith("gold_racy"), report.dropped


def test_cases_that_show_the_sandbox_rather_than_the_program_are_dropped(tmp_path: Path, bwrap: Sandbox) -> None:
    """Regression: `fd --list-details` recorded `./executable -> /usr/lib/cargo/bin/fd` with the time the
    reference was staged, which no candidate can show and a later check did not; a case at the edge of the
    sandbox's limits (b3sum --num-threads=100 failing with EAGAIN) is about the limits, not the program.
    The host probe stages the reference another way and doubles memory and processes. Input files carry one
    fixed time, so a listing of them is the same whenever it runs."""
    task = script_reference(
        tmp_path,
        """
        case "$1" in
          self) ls -l --time-style=+%s executable;;
          limits) ulimit -v;;
          inputs) ls -l --time-style=full-iso data.txt | cut -d' ' -f5-;;
        esac
        """,
    )
    specs = [CaseSpec(id=name, argv=[name], files={"data.txt": b"x\n"}) for name in ("self", "limits", "inputs")]
    suite, report = record_reference(task, specs, bwrap, host_probe=True)
    assert [case.id for case in suite.cases] == ["inputs"], report.dropped
    assert suite.cases[0].expect.stdout == b"2 2024-01-02 03:04:05.000000000 +0000 data.txt\n"
    assert report.dropped["self"].startswith("host_dependent") and report.dropped["limits"].startswith("host_dependent")


def test_a_normalized_case_is_probed_on_what_it_still_compares(tmp_path: Path, bwrap: Sandbox) -> None:
    """Regression: ripgrep's `--stats` cases had stdout ignored (timings vary) and were never probed, so the
    order of their errors, which followed the CPU count, stayed in the suite and drifted on one CPU. Here
    what the normalized case still compares (stderr) reads the machine, which the probe hides."""
    if not Path("/etc/machine-id").is_file():
        pytest.skip("this machine has no /etc/machine-id, the host file the probe hides here")
    task = script_reference(
        tmp_path,
        'case "$1" in host) date +%N; cat /etc/machine-id >&2;; *) date +%N; echo "value: $1" >&2;; esac\n',
    )
    specs = [CaseSpec(id=name, argv=[name]) for name in ("host", "ok")]
    suite, report = record_reference(task, specs, bwrap, host_probe=True)
    assert [case.id for case in suite.cases] == ["ok"] and "ok" in report.normalized, report
    assert report.dropped["host"].startswith("host_dependent") and "host" not in report.normalized, report.dropped


UNINITIALIZED = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc > 1) { printf("argument %s\n", argv[1]); return 0; }
    unsigned char *block = malloc(64);  /* never written: fresh heap pages are zero */
    printf("%s\n", block[7] ? "set" : "clear");
    return 0;
}
"""


def test_cases_whose_output_depends_on_memory_never_written_are_dropped(tmp_path: Path, bwrap: Sandbox) -> None:
    """The reference prints the same on every plain run, yet what it read was never written: any other build,
    a faithful reimplementation included, prints something else. The last recording round fills the heap."""
    import subprocess

    (tmp_path / "u.c").write_text(UNINITIALIZED)
    subprocess.run(["gcc", "-O0", "-o", str(tmp_path / "u"), str(tmp_path / "u.c")], check=True)
    task = Task(id="u", reference=ReferenceSpec(binary=str(tmp_path / "u")))
    specs = [CaseSpec(id="reads", argv=[]), CaseSpec(id="sound", argv=["x"])]
    suite, report = record_reference(task, specs, bwrap)
    assert [case.id for case in suite.cases] == ["sound"]
    assert report.dropped["reads"].startswith("gold_uninitialized")
    # a case that sets the variable itself is recorded as it asks
    own = CaseSpec(id="own", argv=[], env={"MALLOC_PERTURB_": "165"})
    suite, report = record_reference(task, [own], bwrap)
    assert not report.dropped and suite.cases[0].expect.stdout == b"set\n"


FIGLET = Path("/usr/bin/figlet")
# hz.flc deflated with its distance codes damaged (testgen's zip_corrupt variant): figlet's inflater reads
# heap it never wrote and prints the text as if the file were fine, or crashes, depending on what was there
DAMAGED_ZIP_B64 = TEST_DATA / "damaged_hz_flc.b64"


@pytest.mark.skipif(not FIGLET.exists(), reason="figlet is not installed")
def test_figlet_reading_a_damaged_zip_is_not_recorded(tmp_path: Path, bwrap: Sandbox) -> None:
    import base64

    task = Task(id="figlet", reference=ReferenceSpec(binary=str(FIGLET)))
    damaged = base64.b64decode(DAMAGED_ZIP_B64.read_text())
    specs = [
        CaseSpec(id="damaged", argv=["-C", "data", "646-es"], files={"data.flc": damaged}),
        CaseSpec(id="plain", argv=["646-es"]),
    ]
    suite, report = record_reference(task, specs, bwrap)
    assert [case.id for case in suite.cases] == ["plain"]
    assert report.dropped["damaged"].startswith("gold_uninitialized")


def test_a_program_that_prints_its_environment_is_not_taken_for_reading_the_heap(
    tmp_path: Path, bwrap: Sandbox
) -> None:
    task = script_reference(tmp_path, "env | sort | grep -v '^_=' ; echo done\n")
    suite, report = record_reference(task, [CaseSpec(id="env", argv=[])], bwrap)
    assert not report.dropped and [case.id for case in suite.cases] == ["env"]
    assert b"MALLOC_PERTURB_" not in suite.cases[0].expect.stdout


class CountingSandbox:
    """A sandbox stand-in whose program prints `same` on its first three runs of a case and `late` after: what a
    program whose threads race looks like when the race is lost only now and then."""

    name = "counting"
    isolated = False
    memory_accounting = "none"

    def __init__(self) -> None:
        import threading

        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def problem(self) -> str | None:
        return None

    def open(self, config: object) -> CountingSandbox:
        return self

    def __enter__(self) -> CountingSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def run(self, request: object) -> object:
        from twinbench.sandbox import ExecRequest, ExecResult

        assert isinstance(request, ExecRequest)
        key = " ".join(request.argv)
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            count = self.calls[key]
        return ExecResult(exit_code=0, stdout=b"same\n" if count <= 3 else b"late\n")


def test_a_case_that_varies_only_on_the_heap_filled_run_is_checked_again(tmp_path: Path) -> None:
    """With four rounds, the heap-filled one is the fourth: a flaky case whose first three runs agreed is not
    taken for a reader of memory never written; one more plain run shows it varies (gold_flaky)."""
    task = script_reference(tmp_path, "echo unused\n")
    sandbox: Any = CountingSandbox()
    suite, report = record_reference(task, [CaseSpec(id="racy", argv=["x"])], sandbox, repeats=4)
    assert not suite.cases and report.dropped["racy"].startswith("gold_flaky"), report.dropped
    assert sandbox.calls == {"./executable x": 5}


def test_a_crash_whose_trace_varies_is_dropped_not_normalized(tmp_path: Path, bwrap: Sandbox) -> None:
    """A Go panic's stack trace holds addresses that vary run to run. The varying stderr made the case flaky,
    recording ignored stderr and kept it, and the crash was never named: now it is dropped as gold_crash."""
    task = script_reference(
        tmp_path,
        """
        echo 'Tom Hudson'
        echo 'panic: runtime error: index out of range [0] with length 0' >&2
        echo "main.gronValues({$(cat /proc/sys/kernel/random/uuid)})" >&2
        exit 2
        """,
    )
    suite, report = record_reference(task, [CaseSpec(id="panics", argv=["--values"])], bwrap)
    assert not suite.cases and report.dropped["panics"].startswith("gold_crash: the reference aborted: panic:")
