"""Conformance suite: every sandbox backend must pass these; isolation checks apply to isolating backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import write_executable
from twinbench.formats import Limits
from twinbench.protocols import Sandbox
from twinbench.sandbox import ExecRequest, SessionConfig, WorkdirMode
from twinbench.sandbox.cgroup import RLIMIT_ONLY

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run(sandbox: Sandbox, tree: Path | None, argv: list[str], **fields: object) -> list:
    """Run one request in a fresh session and return [result]."""
    with sandbox.open(SessionConfig(tree=tree)) as session:
        return [session.run(ExecRequest(argv=argv, env=ENV, **fields))]


def shell(sandbox: Sandbox, tmp_path: Path, script: str, **fields: object):
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\n" + script)
    return run(sandbox, tree, ["./executable"], **fields)[0]


def test_exit_code_and_streams(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(backend, tmp_path, "echo out; echo err >&2; exit 7")
    assert (result.exit_code, result.stdout, result.stderr) == (7, b"out\n", b"err\n")
    assert result.exec_error is None and result.sandbox_error is None


def test_stdin_and_argv_are_passed_verbatim(backend: Sandbox, tmp_path: Path) -> None:
    write_executable(tmp_path / "tree", '#!/bin/sh\nprintf "%s|" "$@"; cat\n')
    result = run(backend, tmp_path / "tree", ["./executable", "a b", "--x", ""], stdin=b"\x00\xffbytes")[0]
    assert result.stdout == b"a b|--x||\x00\xffbytes"


def test_input_files_are_written_and_output_files_collected(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(
        backend,
        tmp_path,
        "cat in/data.txt > out.txt; ln -s /etc/passwd link.txt",
        files={"in/data.txt": b"payload"},
        collect=["out.txt", "missing.txt", "link.txt"],
    )
    assert result.files == {"out.txt": b"payload", "missing.txt": None, "link.txt": None}


def test_signal_death_is_reported(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(backend, tmp_path, "kill -SEGV $$")
    assert result.exit_code is None and result.signal == 11 and result.status == -11


def test_missing_program_is_an_exec_error(backend: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    result = run(backend, tmp_path / "tree", ["./executable"])[0]
    assert result.exec_error is not None and "No such file" in result.exec_error


def test_output_is_capped_and_flagged(backend: Sandbox, tmp_path: Path) -> None:
    limits = Limits(output_bytes=1000)
    result = shell(backend, tmp_path, "head -c 5000000 /dev/zero; echo done >&2", limits=limits)
    assert len(result.stdout) == 1000 and result.stdout_truncated
    assert result.stderr == b"done\n" and not result.stderr_truncated
    assert result.exit_code == 0


def test_wall_timeout_kills_the_whole_tree(backend: Sandbox, tmp_path: Path) -> None:
    write_executable(tmp_path / "tree", "#!/bin/sh\nsleep 100.25 & sleep 100.25 & sleep 100.25\n")
    probe = ["/bin/sh", "-c", "pgrep -f 'sleep 100[.]25' || echo none"]
    with backend.open(SessionConfig(tree=tmp_path / "tree")) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=Limits(wall_s=1)))
        after = session.run(ExecRequest(argv=probe, env=ENV))
    assert result.timed_out and result.signal == 9
    assert after.stdout == b"none\n"  # killed before the result came back: no margin to wait for


def test_cpu_limit(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(backend, tmp_path, "while :; do :; done", limits=Limits(cpu_s=1, wall_s=20))
    assert result.signal is not None and not result.timed_out


def test_memory_limit(backend: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, "#!/usr/bin/python3\nx = bytearray(400 * 1024 * 1024)\nprint('allocated')\n")
    result = run(backend, tree, ["./executable"], limits=Limits(memory_mb=200))[0]
    assert result.exit_code != 0 and b"MemoryError" in result.stderr


def test_file_size_limit(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(
        backend,
        tmp_path,
        'head -c 3000000 /dev/zero > big; echo "status $? size $(stat -c %s big)"',
        limits=Limits(file_size_mb=1),
    )
    # the script ran to its end: head was killed by SIGXFSZ (128 + 25) with the file at exactly the limit
    assert result.stdout == b"status 153 size 1048576\n", result


def test_open_files_limit(backend: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(
        tree,
        "#!/usr/bin/python3\nimport os\nfds = []\ntry:\n    while True: fds.append(os.open('/dev/null', 0))\n"
        "except OSError as e: print(len(fds), e.errno)\n",
    )
    result = run(backend, tree, ["./executable"], limits=Limits(open_files=20))[0]
    count, errno = result.stdout.split()
    assert int(count) < 20 and errno == b"24"


def test_each_run_gets_a_fresh_work_dir_and_home(backend: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, '#!/bin/sh\nls -A; ls -A "$HOME"; touch left-behind "$HOME/left-home"\n')
    with backend.open(SessionConfig(tree=tree)) as session:
        first = session.run(ExecRequest(argv=["./executable"], env=ENV))
        second = session.run(ExecRequest(argv=["./executable"], env=ENV))
    assert first.stdout == second.stdout == b"executable\n"


def test_the_tree_given_to_a_run_cannot_be_changed_for_the_next(backend: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\ncat data.txt; echo changed > data.txt 2>/dev/null; rm -f data.txt\n")
    (tree / "data.txt").write_text("original\n")
    with backend.open(SessionConfig(tree=tree)) as session:
        outputs = [session.run(ExecRequest(argv=["./executable"], env=ENV)).stdout for _ in range(3)]
    assert outputs == [b"original\n"] * 3
    assert (tree / "data.txt").read_text() == "original\n"


def test_copy_mode_exports_the_work_dir(backend: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "src"
    write_executable(tree, "#!/bin/sh\necho built > artifact\n", "compile.sh")
    export = tmp_path / "export"
    export.mkdir()
    config = SessionConfig(tree=tree, workdir_mode=WorkdirMode.copy, export_dir=export)
    with backend.open(config) as session:
        result = session.run(ExecRequest(argv=["./compile.sh"], env=ENV))
    assert result.exit_code == 0
    assert (export / "tree" / "artifact").read_text() == "built\n"
    assert not (tree / "artifact").exists()


def test_environment_is_exactly_the_requested_one(backend: Sandbox, tmp_path: Path) -> None:
    result = shell(backend, tmp_path, "env | sort")
    names = {line.split(b"=", 1)[0] for line in result.stdout.splitlines()}
    assert names <= {b"PATH", b"LANG", b"HOME", b"TMPDIR", b"PWD", b"SHLVL", b"_"}


# ---- isolation: only for backends that claim it -------------------------------------------------


@pytest.fixture
def isolating(backend: Sandbox) -> Sandbox:
    if not backend.isolated:
        pytest.skip(f"{backend.name} does not isolate")
    return backend


def test_no_network(isolating: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(
        tree,
        "#!/usr/bin/python3\nimport socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)\n",
    )
    result = run(isolating, tree, ["./executable"])[0]
    assert result.stdout.startswith(b"blocked")


def test_system_is_read_only_and_host_dirs_are_absent(isolating: Sandbox, tmp_path: Path) -> None:
    secret = Path("/root") if Path("/root").exists() else tmp_path
    result = shell(
        isolating,
        tmp_path,
        f"touch /usr/x 2>/dev/null && echo wrote-usr; touch /etc/x 2>/dev/null && echo wrote-etc; "
        f"ls {secret} 2>/dev/null && echo saw-secret; ls {tmp_path} 2>/dev/null && echo saw-host-tmp; echo end",
    )
    assert result.stdout == b"end\n"


def test_runs_as_an_unprivileged_user_in_a_new_session(isolating: Sandbox, tmp_path: Path) -> None:
    result = shell(isolating, tmp_path, "id -u; ps -o sid= -p $$; echo $$; grep CapEff /proc/self/status")
    uid, sid, pid, caps = result.stdout.decode().split("\n")[:4]
    assert uid != "0" and sid.strip() == pid.strip()
    assert caps.split()[1] == "0000000000000000"


def test_private_tmp_per_run(isolating: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(
        tree,
        "#!/bin/sh\nls -A /tmp /dev/shm | grep -v -e '^/' -e '^$' | sort; touch /tmp/mark /dev/shm/mark\n",
    )
    with isolating.open(SessionConfig(tree=tree)) as session:
        runs = [session.run(ExecRequest(argv=["./executable"], env=ENV)).stdout for _ in range(2)]
    assert runs[0] == runs[1]
    assert b"mark" not in runs[1]


def test_detached_and_double_forked_children_are_killed(isolating: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "export"
    marker.mkdir()
    tree = tmp_path / "tree"
    write_executable(
        tree,
        # the escapees start in the background: wait (bounded) until both are there before the run ends
        "#!/bin/sh\n(setsid sh -c 'sleep 60.5' &) ; (nohup sleep 60.5 >/dev/null 2>&1 &)\n"
        "for i in $(seq 200); do [ \"$(pgrep -c -f 'sleep 60[.]5')\" -ge 2 ] && break; sleep 0.01; done\n"
        "pgrep -c -f 'sleep 60[.]5'\n",
    )
    with isolating.open(SessionConfig(tree=tree)) as session:
        first = session.run(ExecRequest(argv=["./executable"], env=ENV))
        probe = session.run(ExecRequest(argv=["/bin/sh", "-c", "pgrep -f 'sleep 60[.]5' || echo none"], env=ENV))
    assert int(first.stdout) >= 2  # both escapees were running when the run ended
    # the runner kills everything before it answers, so the next run needs no wait to see them gone
    assert probe.stdout == b"none\n"


def test_fork_bomb_is_contained(isolating: Sandbox, tmp_path: Path) -> None:
    root_in_userns = getattr(isolating, "unprivileged", False) and os.geteuid() == 0
    if root_in_userns and isolating.memory_accounting == RLIMIT_ONLY:
        pytest.skip("RLIMIT_NPROC never binds uid 0, which a user namespace started by root maps to; no pids cgroup")
    # the bomb starts in one subshell: the script itself never forks once the limit is reached (from the top,
    # `bomb | bomb &` raced its own children, and under load bash retried its failed fork, then gave up)
    write_executable(tmp_path / "tree", "#!/bin/bash\nbomb() { bomb | bomb & }\n( bomb ) &\necho contained\n")
    with isolating.open(SessionConfig(tree=tmp_path / "tree")) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV, limits=Limits(wall_s=20, processes=64)))
        after = session.run(ExecRequest(argv=["/bin/sh", "-c", "pgrep -c -f '[.]/executable'; echo next"], env=ENV))
    # the script went on past its bomb and ended by itself: contained by the process limit, not the timeout
    assert result.stdout == b"contained\n" and not result.timed_out and result.exit_code == 0, result
    assert after.stdout == b"0\nnext\n" and after.sandbox_error is None


def test_disk_bomb_fills_only_the_private_tmpfs(isolating: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\nfor i in 1 2 3 4 5 6; do head -c 20000000 /dev/zero > f$i || echo full; done\n")
    with isolating.open(SessionConfig(tree=tree, disk_mb=50)) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV))
        after = session.run(ExecRequest(argv=["/bin/sh", "-c", "df -k /tmp | tail -1"], env=ENV))
    assert b"full" in result.stdout
    used_kb = int(after.stdout.split()[2])
    assert used_kb < 5000  # the next run starts with the space given back


def test_candidate_cannot_kill_or_trace_the_runner(isolating: Sandbox, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_executable(
        tree,
        "#!/bin/sh\nkill -9 -1 2>/dev/null; kill -9 1 2 2>/dev/null\n"
        "cat /proc/2/environ >/dev/null 2>&1 && echo read; echo alive\n",
    )
    with isolating.open(SessionConfig(tree=tree)) as session:
        results = [session.run(ExecRequest(argv=["./executable"], env=ENV)) for _ in range(2)]
        after = session.run(ExecRequest(argv=["/bin/echo", "next"], env=ENV))
    for result in results:
        assert result.sandbox_error is None
        # as root the runner is another uid and survives; in a user namespace the candidate may take down
        # the sandbox of its own run, which then counts as its crash
        assert result.stdout == b"alive\n" or (result.runner_died and result.signal == 9)
    assert after.stdout == b"next\n"


def test_hidden_paths_are_unreadable_and_unrunnable(isolating: Sandbox, tmp_path: Path) -> None:
    figlet = Path("/usr/bin/figlet").resolve()
    config = SessionConfig(tree=None, hidden_paths=(Path("/usr/bin/figlet"), Path("/usr/share/figlet/standard.flf")))
    with isolating.open(config) as session:
        result = session.run(
            ExecRequest(
                argv=[
                    "/bin/sh",
                    "-c",
                    f"figlet hi; {figlet} hi; cat {figlet} /usr/share/figlet/standard.flf | wc -c",
                ],
                env=ENV,
            )
        )
    # the mount over each file is /dev/null on a nodev mount: it cannot even be opened
    assert result.stdout == b"0\n"
    assert result.stderr.count(b"Permission denied") == 4


def test_private_dirs_are_hidden(isolating: Sandbox, tmp_path: Path) -> None:
    secret_dir = Path("/opt") / f"twinbench-test-private-{tmp_path.name}"
    try:
        secret_dir.mkdir()
        (secret_dir / "answers.txt").write_text("expected output")
    except PermissionError:
        pytest.skip("needs a writable /opt")
    try:
        config = SessionConfig(private_dirs=(secret_dir,))
        with isolating.open(config) as session:
            result = session.run(
                ExecRequest(argv=["/bin/sh", "-c", f"cat {secret_dir}/answers.txt; echo end"], env=ENV)
            )
        assert result.stdout == b"end\n"
    finally:
        (secret_dir / "answers.txt").unlink()
        secret_dir.rmdir()


def test_a_runner_that_closes_its_output_then_exits_counts_as_died() -> None:
    """Regression: end-of-file on the runner's stdout comes a moment before its exit can be reaped. The harness
    called that moment a wedged runner (runner_died=False), so a candidate that killed its one-run sandbox in
    the user-namespace backend became a harness error instead of its own crash."""
    from twinbench.sandbox.runner import RunnerProcess

    runner = RunnerProcess(["/bin/sh", "-c", "read request; exec 1>&-; sleep 0.5; exit 9"])
    try:
        result = runner.run(ExecRequest(argv=["/bin/true"], env=ENV))
    finally:
        runner.close()
    assert result.runner_died
    assert result.sandbox_error is not None and "exit status 9" in result.sandbox_error


KERNEL_ESCAPES_SCRIPT = """#!/usr/bin/python3
import ctypes, errno, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
# keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, create): the uid's keyring outlives every sandbox
keyring = libc.syscall(250, 0, -4, 1)
print("keyring", keyring, errno.errorcode.get(ctypes.get_errno()))
added = libc.syscall(248, b"user", b"stash", b"secret", 6, -4)
print("add_key", added, errno.errorcode.get(ctypes.get_errno()))
userns = subprocess.run(["unshare", "-U", "true"], capture_output=True)
print("unshare", userns.returncode)
found = []
worker = threading.Thread(target=found.append, args=("thread",))
worker.start(); worker.join()
print(found[0], subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())
"""


def test_kernel_keyrings_and_new_user_namespaces_are_refused(isolating: Sandbox, tmp_path: Path) -> None:
    """Regression: as root, candidates run as a real host uid whose user keyring lives on in the kernel, so a
    key stashed by one run (a graded candidate, say) could be read back by the next (an agent). New user
    namespaces would let a run mount tmpfs filesystems no limit counts. Both are refused by the seccomp
    filter; threads and child processes still work (clone3 fails with ENOSYS and libc falls back)."""
    write_executable(tmp_path / "tree", KERNEL_ESCAPES_SCRIPT)
    result = run(isolating, tmp_path / "tree", ["./executable"])[0]
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "keyring -1 EPERM" and lines[1] == "add_key -1 EPERM", result
    assert lines[2] != "unshare 0" and lines[3] == "thread child", result


def test_dev_shm_is_bounded(isolating: Sandbox, tmp_path: Path) -> None:
    """A tmpfs is memory that no rlimit counts: /dev/shm gets the session's disk size, not half the RAM."""
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\ndf -k /dev/shm | tail -1\n")
    with isolating.open(SessionConfig(tree=tree, disk_mb=64)) as session:
        result = session.run(ExecRequest(argv=["./executable"], env=ENV))
    assert int(result.stdout.split()[1]) == 64 * 1024, result.stdout
