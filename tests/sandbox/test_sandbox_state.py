"""Conformance: every test starts from the same state, whatever the tests before it did on the same worker.

Each check runs on every backend; where a backend cannot give the guarantee by design, the test is skipped
and says why (unsafe-local has no namespaces: the host's IPC objects and /tmp are the runs' too).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import write_executable
from twinbench.formats import Limits
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, ExecResult, SessionConfig

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
# a second, an hour and a year in the future: relatime updates the access time of a file whose access time is
# not after its modification time, so a tree file with a future mtime records every read
FUTURE = 2_000_000_000


def runs(sandbox: Sandbox, tree: Path, count: int, argv: list[str] | None = None) -> list[ExecResult]:
    """`count` runs of ./executable (or argv) one after another in one session, as one worker grades."""
    with sandbox.open(SessionConfig(tree=tree)) as session:
        return [session.run(ExecRequest(argv=argv or ["./executable"], env=ENV)) for _ in range(count)]


IPC_PROBE = """#!/usr/bin/python3
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
seen = subprocess.run(["ipcs", "-q", "-m", "-s"], capture_output=True, text=True).stdout
print("sysv", sum(1 for line in seen.splitlines() if line[:2] == "0x"))
queue = libc.mq_open(b"/twinbench-probe", os.O_RDONLY)
print("mq", "found" if queue >= 0 else "absent")
subprocess.run(["ipcmk", "-Q"], capture_output=True)
subprocess.run(["ipcmk", "-M", "4096"], capture_output=True)
made = libc.mq_open(b"/twinbench-probe", os.O_RDONLY | os.O_CREAT, 0o600, None)
print("made", made >= 0)
"""


def test_each_run_gets_a_fresh_ipc_namespace(backend: Sandbox, tmp_path: Path) -> None:
    """Regression: tests of one worker shared SysV IPC objects and POSIX message queues, a channel from each
    test to the next (their arguments, their order)."""
    if not backend.isolated:
        pytest.skip(f"{backend.name} has no namespaces by design: IPC objects are the host's")
    write_executable(tmp_path / "tree", IPC_PROBE)
    outputs = [result.stdout.decode() for result in runs(backend, tmp_path / "tree", 3)]
    assert outputs[0] == "sysv 0\nmq absent\nmade True\n", outputs
    assert outputs == [outputs[0]] * 3


def test_reading_the_tree_changes_nothing_the_next_run_can_see(backend: Sandbox, tmp_path: Path) -> None:
    """Regression: the work dir's files are hard links to one master copy, so a file with a future mtime had
    its access time updated by every read: a test could signal later tests by choosing which files to read."""
    tree = tmp_path / "tree"
    write_executable(tree, '#!/bin/sh\nstat -c "%n %X %Y" a b\ncat "$1" > /dev/null\n')
    for name in ("a", "b"):
        (tree / name).write_text(name)
        os.utime(tree / name, (FUTURE - 10, FUTURE))
    with backend.open(SessionConfig(tree=tree)) as session:
        seen = [
            session.run(ExecRequest(argv=["./executable", name], env=ENV)).stdout.decode()
            for name in ("a", "b", "a", "a")
        ]
    # a tree's copies get their mtime as atime: the harness's own reads of the tree do not show either
    assert seen[0] == f"a {FUTURE} {FUTURE}\nb {FUTURE} {FUTURE}\n", seen
    assert seen == [seen[0]] * 4


def test_a_world_writable_tree_file_is_not_changed_for_the_next_run(backend: Sandbox, tmp_path: Path) -> None:
    """Regression guard for the seal of the master tree: a world-writable file (and one in a world-writable
    directory) in the built tree, hard-linked into every run's work dir, was rewritten in place across
    tests: `original`, then `original+changed`, then `original+changed+changed`."""
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\ncat open/data shared\necho +changed >> open/data\necho +changed >> shared\n")
    (tree / "open").mkdir()
    (tree / "open" / "data").write_text("original")
    (tree / "shared").write_text("original")
    for path, mode in ((tree / "open", 0o777), (tree / "open" / "data", 0o666), (tree / "shared", 0o666)):
        path.chmod(mode)
    outputs = [result.stdout for result in runs(backend, tree, 3)]
    assert outputs == [b"originaloriginal"] * 3
    assert (tree / "shared").read_text() == "original"


LITTER = """#!/bin/sh
scratch=${TMPDIR:-/tmp}
for dir in "$scratch" "$HOME" $EXTRA; do ls -A "$dir" | sort | tr '\\n' ' '; echo "| $dir"; done
for dir in "$scratch" "$HOME" $EXTRA; do
    mkdir -p "$dir/litter/locked/inner" && touch "$dir/litter/locked/inner/f" "$dir/.hidden"
    chmod 000 "$dir/litter/locked/inner" "$dir/litter/locked"
    mkfifo "$dir/fifo"; ln -s / "$dir/root-link"
done
python3 -c 'import os
os.chdir(os.environ.get("TMPDIR", "/tmp"))
for _ in range(int(os.environ["DEPTH"])): os.mkdir("d"); os.chdir("d")
for i in range(2000): open(str(i), "w").close()'
"""


def test_nothing_is_left_in_tmp_shm_or_home(backend: Sandbox, tmp_path: Path) -> None:
    """Regression: a tree 3000 levels deep left in /tmp made the runner's cleanup hit Python's recursion
    limit, and every later test became a harness error. Unreadable directories, fifos, links and thousands
    of files are removed too, and the next run sees what the first saw."""
    write_executable(tmp_path / "tree", LITTER)
    # past Python's recursion limit either way; unsafe-local's scratch is on the host's disk, where each
    # level costs a journaled rename and rmdir
    env = dict(ENV, EXTRA="/dev/shm" if backend.isolated else "", DEPTH="3000" if backend.isolated else "1100")
    limits = Limits(wall_s=60)
    with backend.open(SessionConfig(tree=tmp_path / "tree")) as session:
        results = [session.run(ExecRequest(argv=["./executable"], env=env, limits=limits)) for _ in range(3)]
    for result in results:
        assert result.exit_code == 0 and result.crash_reason is None and result.sandbox_error is None, result
    assert results[0].stdout == results[1].stdout == results[2].stdout
    assert b"litter" not in results[2].stdout


def test_etc_is_the_same_on_every_machine(backend: Sandbox, tmp_path: Path) -> None:
    """Users, groups, the hostname and hosts come from a fixed synthetic /etc, not the host's, so that a
    recorded expectation (`whoami`, `getent passwd root`, `hostname`) holds on any machine."""
    if not backend.isolated:
        pytest.skip(f"{backend.name} mounts nothing: the host's /etc is the runs' /etc by design")
    script = (
        "#!/bin/sh\nwhoami; hostname; cat /etc/hostname; getent passwd root; wc -l < /etc/passwd\n"
        "getent hosts localhost\n"
    )
    write_executable(tmp_path / "tree", script)
    result = runs(backend, tmp_path / "tree", 1)[0]
    assert result.stdout.decode().splitlines() == [
        "sandbox",
        "twinbench",
        "twinbench",
        "root:x:0:0:root:/root:/bin/sh",
        "3",
        "::1             localhost ip6-localhost ip6-loopback",
    ], result
    with backend.open(SessionConfig(tree=tmp_path / "tree", synthetic_etc=False)) as session:
        host = session.run(ExecRequest(argv=["/bin/sh", "-c", "wc -l < /etc/passwd"], env=ENV))
    assert host.stdout.decode().strip() == str(len(Path("/etc/passwd").read_text().splitlines()))
