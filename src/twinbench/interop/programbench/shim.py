#!/usr/bin/python3 -IS
"""./executable as the tests see it: asks the branch's broker to run the candidate with this process's
stdin, stdout and stderr, argv, working directory and environment, then exits as the candidate did."""

import array
import json
import os
import signal
import socket
import sys

SOCKET_PATH = "/run/twinbench/broker.sock"


def descriptors() -> list[int]:
    """fds 0-2; a closed one is replaced by /dev/null, as the candidate would have found it."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def main() -> None:
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    body = json.dumps({"argv": sys.argv, "cwd": cwd, "env": dict(os.environ)}).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(SOCKET_PATH)
        fds = array.array("i", descriptors())
        connection.sendmsg([len(body).to_bytes(4, "big") + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        reply = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
        answer = json.loads(reply)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"twinbench shim: the candidate could not be started: {exc}\n")
        sys.exit(126)
    if "signal" in answer:
        number = int(answer["signal"])
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    if "error" in answer:
        sys.stderr.write(f"twinbench shim: {answer['error']}\n")
        sys.exit(126)
    sys.exit(int(answer.get("exit", 1)))


main()
