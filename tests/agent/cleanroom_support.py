"""What the clean-room test modules share: the leak detector, the reference programs and small helpers.

The secret is the bytes of the reference's binary and of libjq: after each attack no long run of them may
appear in the action's output nor in any file the agent can reach (its workspace, /tmp and home).
`LeakDetector` finds such runs; test_cleanroom_leak_detector.py shows that it does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from twinbench.agent.cleanroom import CleanRoom
from twinbench.formats import ActionResult

FIGLET = Path("/usr/bin/figlet")
JQ = Path("/usr/bin/jq")
LIBJQ_LINK = next(iter(sorted(Path("/usr/lib").glob("*/libjq.so.1"))), Path("/usr/lib/x86_64-linux-gnu/libjq.so.1"))
# programs and libraries the attacks run or map: tables and code they share with the secret (CRC and dtoa
# tables, identically compiled library code) are public, not a leak
PUBLIC_FILES = (
    "/usr/bin/python3",
    "/bin/bash",
    "/usr/bin/gdb",
    "/usr/bin/strace",
    "/usr/bin/gcc",
    "/usr/bin/gzip",
    "/usr/bin/sleep",
    "/usr/bin/cat",
    "/usr/lib/*/libc.so.6",
    "/usr/lib/*/libm.so.6",
    "/usr/lib/*/libpython3*.so.1.0",
    "/usr/lib/*/libonig.so.5",
)

WINDOW = 64
# secret windows are indexed every 8 bytes and data is looked at every 9: coprime strides meet inside any
# common run of 64 + 8 * 9 bytes, so every copied run that long is found
SECRET_STRIDE = 8
DATA_STRIDE = 9
MIN_LEAK = 160
MAX_SCANNED_BYTES = 96 << 20
TEXTUAL = frozenset(range(0x20, 0x7F)) | {0, 9, 10, 13}

# every clean-room test module's marks: the room needs bubblewrap, and hides the reference only as root
CLEAN_ROOM_MARKS = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="the clean room hides the reference behind another uid only when run as root"
    ),
]


def _distinctive(window: bytes) -> bool:
    """A window that identifies its file: varied bytes (no padding, no tables of small numbers), not text."""
    return len(set(window)) >= 16 and sum(byte in TEXTUAL for byte in window) < 0.75 * len(window)


def _run_length(data: bytes, at: int, secret: bytes, offset: int) -> tuple[int, int]:
    """How far the bytes at data[at] and secret[offset] agree: (bytes before, bytes from there on)."""
    after = 0
    step = 4096
    while step:
        while (
            at + after + step <= len(data)
            and offset + after + step <= len(secret)
            and data[at + after : at + after + step] == secret[offset + after : offset + after + step]
        ):
            after += step
        step //= 2
    before = 0
    step = 4096
    while step:
        while (
            before + step <= min(at, offset)
            and data[at - before - step : at - before] == secret[offset - before - step : offset - before]
        ):
            before += step
        step //= 2
    return before, after


class LeakDetector:
    """Finds runs of at least MIN_LEAK bytes of a secret file in other data: a copy, a memory dump, or the
    text a UTF-8 decoder with replacement characters made of either (which is what an action's output is)."""

    def __init__(self, secrets: dict[str, bytes], public: list[bytes]) -> None:
        self.secrets = dict(secrets)
        for name, data in secrets.items():
            self.secrets[f"{name} (as text)"] = data.decode("utf-8", "replace").encode()
        self.index: dict[bytes, tuple[str, int]] = {}
        for name, data in self.secrets.items():
            for offset in range(0, len(data) - WINDOW + 1, SECRET_STRIDE):
                window = data[offset : offset + WINDOW]
                if window not in self.index and _distinctive(window):
                    self.index[window] = (name, offset)
        for data in public:
            for name, start, length in self.find(data):
                secret = self.secrets[name]
                first = -(-start // SECRET_STRIDE) * SECRET_STRIDE
                for offset in range(first, start + length - WINDOW + 1, SECRET_STRIDE):
                    self.index.pop(secret[offset : offset + WINDOW], None)

    def find(self, data: bytes) -> list[tuple[str, int, int]]:
        """(secret name, offset in the secret, length) of each run of a secret found in `data`."""
        found = []
        position = 0
        while position <= len(data) - WINDOW:
            hit = self.index.get(data[position : position + WINDOW])
            if hit is not None:
                name, offset = hit
                before, after = _run_length(data, position, self.secrets[name], offset)
                if before + after >= MIN_LEAK:
                    found.append((name, offset - before, before + after))
                    position += after
                    continue
            position += DATA_STRIDE
        return found

    def leaks_in_room(self, room: CleanRoom, *outputs: str) -> list[str]:
        """Every secret run in the given action outputs and in the files of the room's writable directories."""
        assert room.layout is not None
        leaks = [f"output: {hit}" for output in outputs for hit in self.find(output.encode())]
        scanned = 0
        for directory in (room.layout.workspace, room.layout.tmp, room.layout.home):
            for parent, _, names in os.walk(directory):
                for name in names:
                    path = Path(parent, name)
                    if not path.is_file() or path.is_symlink():
                        continue  # fifos would block; links point at files scanned in their own place
                    data = path.read_bytes()
                    scanned += len(data)
                    assert scanned < MAX_SCANNED_BYTES, "an attack wrote more than the leak check can scan"
                    leaks += [f"{path}: {hit}" for hit in self.find(data)]
        return leaks


def run(room: CleanRoom, command: str, timeout_s: float = 60) -> ActionResult:
    """One action in the room that must finish in time."""
    result = room.execute(command, timeout_s=timeout_s)
    assert not result.timed_out, result.output
    return result


def put(room: CleanRoom, name: str, text: str) -> None:
    """Place a file in the workspace, as the agent could have written it itself."""
    (room.workspace / name).write_text(textwrap.dedent(text).lstrip())


def reference_name(room: CleanRoom) -> str:
    """Which of the two references the room's ./executable runs."""
    return "jq" if room.task.task.id == "jq" else "figlet"


def last_json(output: str) -> dict[str, Any]:
    """The JSON report an attack script printed on its last line."""
    report: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return report


def uid_processes(uid: int) -> list[str]:
    """Processes running as `uid` anywhere on the machine."""
    result = subprocess.run(["ps", "-u", str(uid), "-o", "pid=,args="], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line.strip()]


def wait_for(condition: Callable[[], object], timeout_s: float = 10) -> bool:
    """Whether `condition` came true within the time (processes and broker threads take a moment to end)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def logged_call(room: CleanRoom, argv: list[str]) -> dict[str, Any] | None:
    """The broker's last log record of a reference run with this argv, once the broker has written it."""
    assert room.log_dir is not None
    path = room.log_dir / "reference_calls.jsonl"
    calls = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return next((call for call in reversed(calls) if call["argv"] == argv), None)


def reference_args(room: CleanRoom) -> tuple[str, str]:
    """Arguments for a short reference run, and what it prints (from the real program on the host)."""
    args = "--version" if reference_name(room) == "jq" else "hi"
    program = JQ if reference_name(room) == "jq" else FIGLET
    return args, subprocess.run([str(program), args], capture_output=True, text=True, check=True).stdout


def open_fds() -> int:
    """File descriptors open in this process, which the broker's threads share."""
    return len(os.listdir("/proc/self/fd"))


def run_watching_reference(room: CleanRoom, command: str, timeout_s: float) -> tuple[ActionResult, list[str]]:
    """Run an action in a thread, collecting the processes of the reference uid seen while it ran."""
    box: dict[str, ActionResult] = {}
    thread = threading.Thread(target=lambda: box.update(result=room.execute(command, timeout_s=timeout_s)))
    thread.start()
    seen: list[str] = []
    while thread.is_alive():
        seen += uid_processes(room.reference_uid)
        time.sleep(0.1)
    thread.join()
    return box["result"], seen


def nothing_left(room: CleanRoom) -> bool:
    """No process of the room's agent or reference uid is alive."""
    return not uid_processes(room.reference_uid) and not uid_processes(room.agent_uid)
