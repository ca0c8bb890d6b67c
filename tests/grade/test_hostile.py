"""Hostile submissions: each is graded, contained, and leaves nothing behind (see conftest's autouse check)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import write_executable, write_submission
from tests.helpers_task import small_figlet_task
from twinbench.formats import TestStatus, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.protocols import Sandbox


def grade_program(tmp_path: Path, sandbox: Sandbox, program: str, count: int = 3, **task_limits: object):
    task = small_figlet_task(tmp_path / "task", count=count, timeout_s=3, **task_limits)
    submission = write_submission(tmp_path / "sub", program)
    return evaluate(load_task(task), submission, tmp_path / "out", sandbox, EvalOptions(workers=2))


def test_network_is_unreachable(tmp_path: Path, bwrap: Sandbox) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(8)
    port = listener.getsockname()[1]
    connections: list[object] = []

    def accept() -> None:
        try:
            connections.append(listener.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    program = f"""#!/usr/bin/python3
import socket
for host in ("127.0.0.1", "8.8.8.8"):
    try:
        socket.create_connection((host, {port}), timeout=1)
        print("connected", host)
    except OSError as exc:
        print("blocked", host, exc.errno)
"""
    result = grade_program(tmp_path, bwrap, program)
    thread.join()
    listener.close()
    assert connections == []
    assert result.passed == 0


def test_writes_outside_the_work_dir_do_not_land(tmp_path: Path, bwrap: Sandbox) -> None:
    targets = [
        Path("/tmp/twinbench-pwned"),
        Path("/root/twinbench-pwned"),
        tmp_path / "out" / "eval.json.pwned",
        tmp_path / "task" / "tests" / "pwned",
        Path("/usr/local/bin/pwned"),
    ]
    writes = "; ".join(f"echo x > {target} 2>/dev/null" for target in targets)
    result = grade_program(tmp_path, bwrap, f"#!/bin/sh\n{writes}\nexit 0\n")
    assert result.passed == 0
    for target in targets:
        assert not target.exists()


def test_reference_cannot_be_read_or_run(tmp_path: Path, bwrap: Sandbox) -> None:
    figlet = Path("/usr/bin/figlet").resolve()
    program = f"""#!/bin/sh
figlet "$@" 2>/dev/null && exit 0
{figlet} "$@" 2>/dev/null && exit 0
cp {figlet} /tmp/copy 2>/dev/null && chmod +x /tmp/copy && /tmp/copy "$@" && exit 0
cat /usr/share/figlet/standard.flf > /dev/null 2>&1 && echo fonts-readable
for lib in $(ldd {figlet} 2>/dev/null | awk '{{print $3}}'); do :; done
exit 9
"""
    result = grade_program(tmp_path, bwrap, program)
    assert result.passed == 0
    assert all("exit code 9" in test.reason for test in result.tests)


def test_reading_the_hidden_suite_fails(tmp_path: Path, bwrap: Sandbox) -> None:
    suite = tmp_path / "task" / "tests" / "suite.jsonl"
    program = f"""#!/usr/bin/python3
import json, sys
try:
    cases = [json.loads(line) for line in open("{suite}")]
except OSError:
    sys.exit(7)
for case in cases:
    if case["argv"] == sys.argv[1:]:
        sys.stdout.write(case["expect"]["stdout"])
        sys.exit(case["expect"]["exit_code"])
"""
    result = grade_program(tmp_path, bwrap, program)
    assert result.passed == 0


def test_fork_bomb_is_contained_and_grading_finishes(tmp_path: Path, bwrap: Sandbox) -> None:
    """The program goes on past its bomb and exits by itself: the process limit contains it, not the timeout
    (a timeout here would mean the bomb took the machine's time). The bomb starts in one subshell, so the
    program itself never forks once the limit is reached: when it did (`bomb | bomb &` from the top), bash
    retried its own failed fork for seconds under load and the case timed out (flaky in CI)."""
    program = "#!/bin/bash\nbomb() { bomb | bomb & }\n( bomb ) &\necho contained\n"
    result = grade_program(tmp_path, bwrap, program, test={"processes": 50})
    assert result.total == 3 and result.passed == 0
    assert all(test.status == TestStatus.failed and "stdout differs" in test.reason for test in result.tests), [
        (test.status, test.reason) for test in result.tests
    ]


def test_memory_bomb(tmp_path: Path, bwrap: Sandbox) -> None:
    program = "#!/usr/bin/python3\nchunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))\n"
    result = grade_program(tmp_path, bwrap, program, test={"memory_mb": 300})
    assert result.passed == 0 and all(test.status == TestStatus.failed for test in result.tests)


def test_disk_bomb(tmp_path: Path, bwrap: Sandbox) -> None:
    program = "#!/bin/sh\ni=0\nwhile head -c 10000000 /dev/zero > f$i; do i=$((i+1)); done\nexit 0\n"
    result = grade_program(tmp_path, bwrap, program, test={"disk_mb": 64})
    assert result.passed == 0 and all(test.status == TestStatus.failed for test in result.tests)


def test_output_bomb(tmp_path: Path, bwrap: Sandbox) -> None:
    result = grade_program(tmp_path, bwrap, "#!/bin/sh\nyes spam\n")
    assert all(test.status == TestStatus.timeout for test in result.tests)


def test_detached_children_do_not_survive(tmp_path: Path, bwrap: Sandbox) -> None:
    program = "#!/bin/sh\n(setsid sh -c 'sleep 300' &)\nnohup sleep 300 >/dev/null 2>&1 &\nexit 0\n"
    result = grade_program(tmp_path, bwrap, program)
    assert result.passed == 0  # and the autouse fixture finds no candidate process left


def test_build_cannot_leave_a_daemon_or_tamper_with_results(tmp_path: Path, bwrap: Sandbox) -> None:
    task = small_figlet_task(tmp_path / "task", count=3)
    submission = tmp_path / "sub"
    out = tmp_path / "out"
    write_executable(
        submission,
        f"""#!/bin/sh
(setsid sh -c 'while :; do echo PASSED > {out}/eval.json 2>/dev/null; sleep 0.1; done' &)
printf '#!/bin/sh\\necho all tests PASSED\\n' > executable
chmod +x executable
""",
        "compile.sh",
    )
    result = evaluate(load_task(task), submission, out, bwrap, EvalOptions(workers=2))
    assert result.build.ok and result.passed == 0
    assert (out / "eval.json").read_text().startswith("{")


@pytest.mark.parametrize("sig", ["TERM", "INT", "HUP"])
def test_executable_ignoring_signals_is_still_killed(tmp_path: Path, bwrap: Sandbox, sig: str) -> None:
    result = grade_program(tmp_path, bwrap, f"#!/bin/sh\ntrap '' {sig} TERM INT HUP\nwhile :; do :; done\n", count=2)
    assert all(test.status == TestStatus.timeout for test in result.tests)


def test_leftovers_deeper_than_the_recursion_limit_are_not_harness_errors(tmp_path: Path, bwrap: Sandbox) -> None:
    """Regression: a tree 3000 levels deep left in /tmp made the runner's cleanup hit Python's recursion limit;
    every later test became `error`, eval exited 3, and a resume ran them again, forever."""
    program = """#!/usr/bin/python3
import os
os.chdir("/tmp")
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chmod(".", 0)
print("left it")
"""
    result = grade_program(tmp_path, bwrap, program, count=4)
    assert result.counts["error"] == 0 and result.total == 4
    assert all(test.status == TestStatus.failed and "stdout differs" in test.reason for test in result.tests)
