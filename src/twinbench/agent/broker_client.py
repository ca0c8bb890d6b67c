#!/usr/bin/python3 -IS
"""./executable in a twinbench clean room: runs the reference program through the broker outside.

This file is all the agent ever gets of the reference. It hands its own stdin, stdout and stderr to the
broker (SCM_RIGHTS), along with its argv, working directory and environment; the broker runs the real
program in a sandbox of its own and answers with the exit code. Standard library only: it runs under
the system python3 in the clean room, isolated (-I) and without site packages (-S).
"""

import json
import os
import signal
import socket
import struct
import sys

SOCKET = "/run/twinbench/broker.sock"
MAX_REPLY = 1 << 16


def _say(message: str) -> None:
    name = os.path.basename(sys.argv[0]) or "executable"
    try:
        os.write(2, f"{name}: {message}\n".encode(errors="replace"))
    except OSError:
        pass


def _stop(signum: int, _frame: object) -> None:
    # the broker kills the reference as soon as this connection closes
    os._exit(128 + signum)


def _standard_fds() -> list[int]:
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            # a closed stdio stream: the reference gets /dev/null in its place
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, _stop)
    try:
        cwd = os.getcwd()
    except OSError as exc:
        _say(f"cannot run the reference: the working directory is gone ({exc.strerror})")
        return 126
    request = {"argv": sys.argv, "cwd": cwd, "env": dict(os.environ)}
    payload = json.dumps(request).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(SOCKET)
        socket.send_fds(connection, [struct.pack(">I", len(payload))], _standard_fds())
        connection.sendall(payload)
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < MAX_REPLY:
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError as exc:
        _say(f"cannot reach the reference broker ({exc.strerror or exc})")
        return 126
    try:
        answer = json.loads(reply)
    except ValueError:
        _say("the reference broker closed the connection without an answer")
        return 126
    if not isinstance(answer, dict):
        _say("the reference broker sent a malformed answer")
        return 126
    if "error" in answer:
        _say(str(answer["error"]))
        return int(answer.get("exit_code", 126))
    return int(answer.get("exit_code", 126))


if __name__ == "__main__":
    sys.exit(main())
