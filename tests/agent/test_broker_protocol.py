"""Attacks on the broker's socket: malformed requests, floods, trickles, huge logs, many descriptors."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    last_json,
    logged_call,
    open_fds,
    put,
    reference_args,
    run,
    uid_processes,
    wait_for,
)

from twinbench.agent.cleanroom import CleanRoom
from twinbench.formats import TaskDir

pytestmark = CLEAN_ROOM_MARKS


# --- attacks on the broker ---

MALFORMED_SCRIPT = """
    # requests no client would send, each on a connection of its own; prints the broker's replies
    import json, socket, struct
    good = {"argv": ["./executable", "-n", "1"], "cwd": "/workspace", "env": {}}

    def ask(fds, payload, claimed=None, stop_after=None):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(30)
        connection.connect("/run/twinbench/broker.sock")
        message = struct.pack(">I", len(payload) if claimed is None else claimed) + payload
        message = message[:stop_after]
        try:
            if fds:
                socket.send_fds(connection, [message[:4]], fds)
                connection.sendall(message[4:])
            else:
                connection.sendall(message)
        except BrokenPipeError:
            pass  # refused on what it read so far (the descriptors): the reply is already there to read
        if stop_after is not None:
            connection.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
        connection.close()
        return reply.decode(errors="replace")

    def body(**changes):
        return json.dumps({**good, **changes}).encode()

    stdio = [0, 1, 2]
    replies = {
        "no fds": ask([], body()),
        "five fds": ask(stdio + [0, 1], body()),
        "twenty fds": ask([0] * 20, body()),
        "100 MiB claimed": ask(stdio, b"{}", claimed=100 << 20),
        "bad JSON": ask(stdio, b"{not json"),
        "not an object": ask(stdio, b"[1, 2]"),
        "NUL in argv": ask(stdio, body(argv=["./executable", "-n", "1\\u0000"])),
        "empty argv": ask(stdio, body(argv=[])),
        "relative cwd": ask(stdio, body(cwd="workspace")),
        "NUL in env": ask(stdio, body(env={"A": "b\\u0000"})),
        "closed in the body": ask(stdio, body(), stop_after=20),
        "closed in the length": ask(stdio, body(), stop_after=2),
        "nested 200000 deep": ask(stdio, b"[" * 200000),
        "lone surrogate in argv": ask(stdio, body(argv=["./executable", "\\ud800"])),
    }
    hang_up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hang_up.connect("/run/twinbench/broker.sock")
    hang_up.close()
    print(json.dumps(replies))
"""

EXPECTED_REFUSALS = {
    "no fds": "expected 3 file descriptors, got 0",
    "five fds": "expected 3 file descriptors, got 5",
    "twenty fds": "expected 3 file descriptors",
    "100 MiB claimed": "larger than",
    "bad JSON": "not JSON",
    "not an object": "valid dictionary",
    "NUL in argv": "NUL",
    "empty argv": "argv",
    "relative cwd": "absolute path",
    "NUL in env": "malformed environment variable",
    "closed in the body": "ended early",
    "closed in the length": "ended early",
    "nested 200000 deep": "nests too deeply",
    "lone surrogate in argv": "neither text nor escaped bytes",
}


def test_broker_refuses_malformed_requests_and_keeps_serving(any_room: CleanRoom) -> None:
    """Attack: talk to the broker socket directly with wrong fd counts, a 100 MiB length, bad JSON, NUL bytes,
    a relative cwd and connections closed midway. Each gets an error reply; the broker leaks no fd and still
    runs the reference afterwards."""
    assert any_room.broker is not None
    put(any_room, "malformed.py", MALFORMED_SCRIPT)
    fds_before, calls_before = open_fds(), any_room.broker.calls
    result = run(any_room, "python3 malformed.py")
    replies = last_json(result.output)
    assert set(replies) == set(EXPECTED_REFUSALS)
    for case, expected in EXPECTED_REFUSALS.items():
        reply = json.loads(str(replies[case]))
        assert reply["exit_code"] == 126 and expected in reply["error"], (case, reply)
    assert wait_for(lambda: any_room.broker is not None and any_room.broker.calls >= calls_before + 15)
    assert wait_for(lambda: open_fds() == fds_before), "the broker kept file descriptors of refused requests"
    args, expected_output = reference_args(any_room)
    assert run(any_room, f"./executable {args}").output == expected_output


def test_broker_serves_concurrent_clients(jq_room: CleanRoom) -> None:
    """Eight ./executable calls at once each get their own answer."""
    result = run(jq_room, 'for i in $(seq 8); do ./executable -n "$i * 10" > out-$i & done; wait; cat out-*')
    assert sorted(int(line) for line in result.output.split()) == [i * 10 for i in range(1, 9)]


IDLE_CONNECTIONS_SCRIPT = """
    # hold many connections open without a request; count the ones the broker refuses at once, waiting
    # until as many as expected are refused (then a moment longer, for any refused beyond them)
    import json, select, socket, sys, time
    expected = int(sys.argv[1])
    held, refused = [], set()
    for _ in range(150):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect("/run/twinbench/broker.sock")
        held.append(connection)
    poller = select.poll()
    for connection in held:
        poller.register(connection, select.POLLIN)
    by_fd = {connection.fileno(): connection for connection in held}
    deadline = time.monotonic() + 20
    settle = None
    while time.monotonic() < (deadline if settle is None else settle):
        for fd, _ in poller.poll(100):
            poller.unregister(fd)
            if b"at once" in by_fd[fd].recv(4096):
                refused.add(fd)
        if settle is None and len(refused) >= expected:
            settle = time.monotonic() + 0.3
    print(json.dumps({"refused": len(refused)}))
"""


def test_broker_refuses_connections_past_its_limit_instead_of_starting_threads(jq_room: CleanRoom) -> None:
    """Attack: open 150 idle connections to the broker. It serves at most MAX_CONNECTIONS at once, refuses the
    rest with a reply, keeps its thread count bounded, and still runs the reference once they are gone."""
    from twinbench.agent.broker import MAX_CONNECTIONS

    put(jq_room, "idle.py", IDLE_CONNECTIONS_SCRIPT)
    threads_before = threading.active_count()
    result = run(jq_room, f"python3 idle.py {150 - MAX_CONNECTIONS}")
    assert last_json(result.output)["refused"] == 150 - MAX_CONNECTIONS, result.output
    assert threading.active_count() <= threads_before + MAX_CONNECTIONS
    assert run(jq_room, "./executable -n '6 * 7'").output == "42\n"


def test_a_request_trickling_in_is_refused_at_its_deadline(jq_room: CleanRoom, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: send a request one byte at a time, each within the per-read timeout. The whole request has one
    deadline, so the connection cannot hold a broker thread for as long as it keeps trickling."""
    import struct

    from twinbench.agent import broker

    assert jq_room.broker is not None
    monkeypatch.setattr(broker, "REQUEST_TIMEOUT_S", 1.5)
    payload = json.dumps({"argv": ["./executable", "-n", "1"], "cwd": "/workspace", "env": {}}).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(str(jq_room.broker.socket_path))
    started = time.monotonic()
    socket.send_fds(connection, [struct.pack(">I", len(payload))], [0, 1, 2])
    reply = b""
    connection.settimeout(0.3)
    for byte in payload:
        try:
            connection.sendall(bytes([byte]))
            reply += connection.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if reply.endswith(b"\n") or time.monotonic() - started > 20:
            break
    # the broker may have answered and closed while a byte was on its way: read what it said
    connection.settimeout(5)
    while not reply.endswith(b"\n"):
        try:
            chunk = connection.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        reply += chunk
    connection.close()
    assert "took longer than 1.5 s" in json.loads(reply)["error"]
    assert time.monotonic() - started < 10


def test_undecodable_arguments_reach_the_reference_and_the_log(jq_room: CleanRoom) -> None:
    """Regression: an argument that is not UTF-8 (a lone surrogate once the client decoded it) ran the reference,
    then the call log could not serialize it, so the call went unlogged and the client got no reply."""
    result = run(jq_room, "./executable -n -r --arg x $'\\xff' '$x | length'; echo \"exit=$?\"")
    assert result.output.split()[-2:] == ["1", "exit=0"], result.output
    assert wait_for(lambda: logged_call(jq_room, ["./executable", "-n", "-r", "--arg", "x", "\udcff", "$x | length"]))


def test_the_call_log_keeps_an_excerpt_of_each_call_and_stops_at_its_cap(
    jq_task: TaskDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: fill the harness's disk through reference_calls.jsonl, which lies outside the room's quota, with
    huge argvs. Each call logs an excerpt, and the log stops growing at its cap while calls are still counted."""
    from twinbench.agent import broker

    monkeypatch.setattr(broker, "MAX_LOG_BYTES", 4000)
    with CleanRoom(jq_task, log_dir=tmp_path) as room:
        assert room.broker is not None
        result = room.execute(
            'big=$(head -c 100000 /dev/zero | tr "\\0" x); for i in 1 2 3 4 5 6 7 8; do '
            './executable -n 1 "$big" $(seq 100) >/dev/null 2>&1; done; echo done',
            timeout_s=60,
        )
        assert result.output.strip() == "done", result.output
        assert wait_for(lambda: room.broker is not None and room.broker.calls >= 8)
    lines = [json.loads(line) for line in (tmp_path / "reference_calls.jsonl").read_text().splitlines()]
    first = lines[0]["argv"]
    assert len(first) == broker.LOGGED_ARGS + 1 and first[-1] == f"… {104 - broker.LOGGED_ARGS} more arguments"
    assert first[3] == "x" * broker.LOGGED_ARG_CHARS + "…"
    assert "later calls are only counted" in lines[-1]["error"] and len(lines) < 8
    assert (tmp_path / "reference_calls.jsonl").stat().st_size < 4000 + 2 * broker.LOGGED_ARGS * 600


def test_broker_and_room_work_with_descriptors_past_1024(jq_room: CleanRoom) -> None:
    """Regression: with more than 1024 descriptors open in the harness (many rooms in one batch process),
    select() raised ValueError: the clean room could not read an action's output, and the broker's waiting
    thread died and left the reference running after its client was gone."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard) < 2048:
        pytest.skip("needs RLIMIT_NOFILE of at least 2048")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    try:
        assert run(jq_room, "./executable -n '6 * 7'").output == "42\n"
        result = run(jq_room, "timeout 1 ./executable . < <(sleep 30); echo exit=$?")
        assert "exit=124" in result.output, result.output
        assert wait_for(lambda: not uid_processes(jq_room.reference_uid)), uid_processes(jq_room.reference_uid)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
