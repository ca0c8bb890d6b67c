"""A reference never outlives the clean-room action that called it, whatever descriptors the call passed.

Each attack is one action: a client written by the agent asks the broker for figlet with its stdin on a FIFO
the client opened read-write (so the reference never reads EOF and would wait forever), keeps the broker
connection alive somewhere the old broker could not see (as the reference's own stdio, or queued inside a
socket pair the reference holds), and leaves in one way or another. Before the fix, the broker waited for EOF
on that connection, and the reference went on across later actions until its 600 s limit.
The ordinary early ends of a call (a killed client, an action's timeout, the broker's wall limit) close it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cleanroom_support import logged_call, nothing_left, run_watching_reference, uid_processes, wait_for

from tests.conftest import AGENT_UID, REFERENCE_UID
from twinbench.agent.cleanroom import CleanRoom, CleanRoomSettings
from twinbench.formats import TaskDir

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the reference has a uid of its own only when run as root"),
]

ATTACK = """
    import fcntl, json, os, signal, socket, struct, subprocess, sys, termios, time

    how = sys.argv[1]
    if not os.path.exists("/tmp/in"):
        os.mkfifo("/tmp/in")
    # read-write: the reference holds a writer of its own stdin, so it never reads EOF
    stdin = os.open("/tmp/in", os.O_RDWR)
    out = os.open("/tmp/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    kept = []

    def call(fds_of):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect("/run/twinbench/broker.sock")
        # named by its argv[0] in the call log: an argument would be figlet's text, and figlet would not read stdin
        payload = json.dumps({"argv": [f"executable-{how}"], "cwd": "/workspace", "env": {}}).encode()
        socket.send_fds(connection, [struct.pack(">I", len(payload))], fds_of(connection))
        connection.sendall(payload)
        return connection

    def smuggled(connection):
        # the connection travels on, queued in a socket pair whose receiving end becomes the reference's stderr
        a, b = socket.socketpair()
        socket.send_fds(a, [b"x"], [connection.fileno()])
        kept.extend((a, b))  # closed when this process ends, not when the names go
        return [stdin, out, b.fileno()]

    def report(connection=None):
        # a started reference reads the line written to its stdin; a refused call is answered at once
        os.write(stdin, b"hi\\n")
        state, deadline = "neither", time.monotonic() + 20
        while state == "neither" and time.monotonic() < deadline:
            if struct.unpack("i", fcntl.ioctl(stdin, termios.FIONREAD, b"\\0" * 4))[0] == 0:
                state = "started"
            elif connection is not None:
                connection.settimeout(0.02)
                try:
                    state = "answered" if connection.recv(4096) else state
                except TimeoutError:
                    pass
            else:
                time.sleep(0.02)
        with open("/tmp/asked.part", "w") as marker:
            marker.write(state)
        os.rename("/tmp/asked.part", "/tmp/asked")

    if how == "stderr":
        report(call(lambda c: [stdin, out, c.fileno()]))
    elif how == "stdin":
        report(call(lambda c: [c.fileno(), out, out]))
    elif how == "dup-stdout":
        report(call(lambda c: [stdin, os.dup(c.fileno()), out]))
    elif how == "smuggled":
        report(call(smuggled))
    elif how == "sigkill":
        report(call(smuggled))
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "exec":
        connection = call(smuggled)
        report(connection)
        os.set_inheritable(connection.fileno(), True)
        os.execvp("sleep", ["sleep", "1000"])
    elif how == "double-fork":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                connection = call(smuggled)
                report(connection)
                time.sleep(1000)
            os._exit(0)
        os.wait()
    elif how == "client":
        # the real client, left waiting in the background when the action ends
        subprocess.Popen(["./executable"], stdin=stdin, stdout=out, stderr=out)
        report()
    os._exit(0)
"""

VARIANTS = {
    # passing the connection itself as the reference's stdio: refused before a reference starts
    "stderr": "answered",
    "stdin": "answered",
    "dup-stdout": "answered",
    # the connection out of the broker's sight: the reference starts, and dies with its client or its action
    "smuggled": "started",
    "sigkill": "started",
    "exec": "started",
    "double-fork": "started",
    "client": "started",
}


def reference_processes() -> list[str]:
    """Processes of the clean room's reference uid anywhere on the machine."""
    return uid_processes(REFERENCE_UID)


def calls(room: CleanRoom) -> list[dict[str, Any]]:
    """The broker's call log so far."""
    assert room.log_dir is not None
    path = room.log_dir / "reference_calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def logged(room: CleanRoom, how: str) -> dict[str, Any] | None:
    """The logged call of one variant, once the broker has written it."""
    argv = ["./executable"] if how == "client" else [f"executable-{how}"]
    return next((call for call in calls(room) if call["argv"] == argv), None)


@pytest.fixture(scope="module")
def logged_room(figlet_task: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRoom]:
    """A figlet room whose broker logs its calls."""
    with CleanRoom(figlet_task, log_dir=tmp_path_factory.mktemp("calls")) as opened:
        yield opened


@pytest.fixture
def attack_room(logged_room: CleanRoom) -> Iterator[CleanRoom]:
    """The room with the attack script in its workspace, emptied afterwards."""
    (logged_room.workspace / "attack.py").write_text(textwrap.dedent(ATTACK).lstrip())
    yield logged_room
    assert logged_room.layout is not None
    for name in ("in", "out", "asked"):
        (logged_room.layout.tmp / name).unlink(missing_ok=True)
    (logged_room.workspace / "attack.py").unlink()


@pytest.mark.parametrize("how", list(VARIANTS))
def test_no_reference_outlives_its_action(attack_room: CleanRoom, how: str) -> None:
    # the action ends as soon as the client has said whether its reference started: whatever the client
    # does next (exit, die, exec, wait) happens in the background of an ending action
    command = f"python3 attack.py {how} > /dev/null 2>&1 & until [ -e /tmp/asked ]; do sleep 0.02; done; cat /tmp/asked"
    result = attack_room.execute(command, timeout_s=60)
    assert not result.timed_out and result.output.split()[-1] == VARIANTS[how], result.output
    assert wait_for(lambda: not reference_processes()), reference_processes()
    assert wait_for(lambda: logged(attack_room, how)), calls(attack_room)
    call = logged(attack_room, how)
    assert call is not None
    if VARIANTS[how] == "answered":
        assert "connection to the broker" in str(call["error"]), call
    else:
        # it did run, and was killed (SIGKILL: 128 + 9) because its client or its action was gone
        assert call["error"] is None and call["exit_code"] == 137, call
        assert call["client_left"] or call["action_ended"], call
    # a later action's input reaches no reference
    later = attack_room.execute("echo later 1<>/tmp/in; echo written", timeout_s=30)
    assert later.output.strip() == "written" and not reference_processes()


def test_a_process_outside_the_rooms_actions_is_refused(logged_room: CleanRoom) -> None:
    """The broker's socket is reachable from the host (a root harness's other processes, a stray tool): only a
    process inside one of the room's live actions gets a reference."""
    import socket
    import struct

    assert logged_room.broker is not None
    read_end, write_end = os.pipe()
    payload = json.dumps({"argv": ["./executable", "outsider"], "cwd": "/workspace", "env": {}}).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(logged_room.broker.socket_path))
        socket.send_fds(connection, [struct.pack(">I", len(payload))], [read_end, write_end, write_end])
        connection.sendall(payload)
        connection.settimeout(30)
        reply = json.loads(connection.recv(4096))
    finally:
        connection.close()
        os.close(read_end)
        os.close(write_end)
    assert reply["exit_code"] == 126 and "only for the clean room's own actions" in reply["error"], reply


def test_the_launcher_and_the_options_of_bwrap_stay_out_of_the_room(logged_room: CleanRoom) -> None:
    """The clean room holds nothing twinbench-made that it does not need to read: the launcher is run, never
    read (execute-only), and bwrap's options (host paths, the hidden files, settings), which its pid 1 would
    show in /proc/1/cmdline, come from a descriptor. (The reference's room: test_broker_reference.py.)"""
    assert logged_room.layout is not None
    host_root = str(logged_room.layout.workspace.parent)
    result = logged_room.execute(
        """
        head -c 4 /run/twinbench/launch > /dev/null 2>&1; echo "launch $?"
        ls /run/twinbench | tr '\\n' ' '; echo
        tr '\\0' ' ' < /proc/1/cmdline | head -c 60; echo
        tr '\\0' ' ' < /proc/1/cmdline > /tmp/cmdline
        """,
        timeout_s=60,
    )
    assert result.output.splitlines() == [
        "launch 1",
        "broker.sock launch reference ",
        result.output.splitlines()[2],
    ], result.output
    assert logged_room.layout is not None
    cmdline = (logged_room.layout.tmp / "cmdline").read_text()
    (logged_room.layout.tmp / "cmdline").unlink()
    # bwrap's pid 1 shows how it was started, then the command it runs: the launcher, the limits, our bash
    bwrap, _, command = cmdline.partition(" /run/twinbench/launch ")
    assert re.fullmatch(r"bwrap --args \d+", bwrap) and command.startswith(str(AGENT_UID)), cmdline
    assert host_root not in cmdline and "--ro-bind" not in cmdline and "figlet" not in cmdline, cmdline


def test_bwrap_options_round_trip_through_their_descriptor(tmp_path: Path) -> None:
    """The options file holds every option, NUL-separated, and the short argv names only its descriptor."""
    from twinbench.agent.bwrap_options import BwrapOptions, split_at_launcher
    from twinbench.sandbox.rooms import LAUNCHER

    argv = ["bwrap", "--setenv", "--chdir", "/", "--bind", "/a b", "/c", "--chdir", "/", LAUNCHER, "1", "x"]
    assert split_at_launcher(argv) == (argv[:9], argv[9:])
    with pytest.raises(ValueError):
        split_at_launcher(["bwrap", "--chdir", "/", "/bin/sh"])
    with BwrapOptions(argv, extra=("--info-fd", "7")) as options:
        assert options.fd is not None and options.fd >= 10
        stored = os.pread(options.fd, 4096, 0).split(b"\0")
        assert stored == [*(arg.encode() for arg in argv[1:9]), b"--info-fd", b"7", b""]
        assert options.argv(5) == ["bwrap", "--args", "5", LAUNCHER, "1", "x"]
        held = options.fd
    with pytest.raises(OSError):
        os.fstat(held)


# --- the ordinary ways a call ends early (jq) ---


@pytest.mark.slow
def test_killed_client_stops_the_reference(jq_room: CleanRoom) -> None:
    """`timeout 2 ./executable` on endless input: the client dies, so the broker kills the reference."""
    result, seen = run_watching_reference(
        jq_room, "yes '{}' | timeout 2 ./executable -c . > /dev/null; echo \"exit=$?\"", timeout_s=60
    )
    assert not result.timed_out and result.output.strip().endswith("exit=124"), result.output
    assert seen, "the reference never ran as its uid"
    assert wait_for(lambda: nothing_left(jq_room))
    assert wait_for(lambda: logged_call(jq_room, ["./executable", "-c", "."]))
    call = logged_call(jq_room, ["./executable", "-c", "."])
    assert call is not None and call["client_left"] is True and call["timed_out"] is False, call


@pytest.mark.slow
def test_action_timeout_stops_the_reference(jq_room: CleanRoom) -> None:
    """An action that outlives its time limit is killed, and with it the reference it was waiting for."""
    result, seen = run_watching_reference(jq_room, "./executable -n 'last(repeat(1))'", timeout_s=2)
    assert result.timed_out and result.returncode == -9
    assert "longer than 2 s" in result.output
    assert any("last(repeat(1))" in line for line in seen), seen
    assert wait_for(lambda: nothing_left(jq_room))
    argv = ["./executable", "-n", "last(repeat(1))"]
    assert wait_for(lambda: logged_call(jq_room, argv))
    call = logged_call(jq_room, argv)
    assert call is not None and call["client_left"] is True, call  # the broker's own wall limit is 600 s


@pytest.mark.slow
def test_broker_wall_limit_stops_a_reference_that_waits_forever(jq_task: TaskDir, tmp_path: Path) -> None:
    """A reference blocked on stdin outlives the broker's wall limit: it is killed, the client hears why."""
    limits = CleanRoomSettings().reference_limits.model_copy(update={"wall_s": 2.0})
    with CleanRoom(jq_task, CleanRoomSettings(reference_limits=limits), log_dir=tmp_path) as room:
        started = time.monotonic()
        result = room.execute('./executable . < <(sleep 60); echo "exit=$?"', timeout_s=30)
        assert time.monotonic() - started < 20
        assert "longer than 2 s and was stopped" in result.output and "exit=137" in result.output, result.output
        calls = [json.loads(line) for line in (tmp_path / "reference_calls.jsonl").read_text().splitlines()]
        assert calls[-1]["timed_out"] is True and calls[-1]["exit_code"] is not None
        assert wait_for(lambda: not uid_processes(room.reference_uid))
