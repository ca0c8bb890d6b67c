"""The clean room and its reference broker under attack: none of the reference's bytes may reach the agent.

Every attack runs as an agent would, through `CleanRoom.execute`, against the real figlet and jq (whose code
lives mostly in libjq). The secret is the bytes of the reference's binary and of libjq: after each attack no
long run of them may appear in the action's output nor in any file the agent can reach (its workspace, /tmp
and home). `LeakDetector` finds such runs, and `test_leak_detector_finds_planted_copies` shows that it does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AGENT_UID, REFERENCE_UID
from twinbench.agent.cleanroom import CLIENT_SOURCE, CleanRoom, CleanRoomSettings
from twinbench.demo import DEMO_TASK
from twinbench.formats import ActionResult, TaskDir, load_task
from twinbench.reference.taskgen import create_task

pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="the clean room hides the reference behind another uid only when run as root"
    ),
]

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


@pytest.fixture(scope="module")
def secrets() -> dict[str, Path]:
    """The reference binaries whose bytes must never reach the agent."""
    found = {"figlet": FIGLET.resolve(), "jq": JQ.resolve(), "libjq": LIBJQ_LINK.resolve()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        pytest.skip(f"needs Debian's figlet and jq: {', '.join(missing)} missing")
    return found


@pytest.fixture(scope="module")
def detector(secrets: dict[str, Path]) -> LeakDetector:
    """A leak detector for figlet, jq and libjq."""
    public = [
        path.read_bytes()
        for pattern in PUBLIC_FILES
        for path in sorted(Path("/").glob(pattern.lstrip("/")))
        if path.is_file()
    ]
    return LeakDetector({name: path.read_bytes() for name, path in secrets.items()}, public)


@pytest.fixture(scope="module")
def opt_dir(secrets: dict[str, Path]) -> Iterator[Callable[[], Path]]:
    """New directories under /opt, which both sandboxes mount, so that hiding a task there is put to work.
    (Each task gets its own: a room hides its own task, and a batch hides the other tasks by private_dirs.)"""
    made: list[Path] = []

    def make() -> Path:
        try:
            made.append(Path(tempfile.mkdtemp(prefix="twinbench-test-cleanroom-", dir="/opt")))
        except OSError:
            pytest.skip("needs a writable /opt")
        made[-1].chmod(0o755)
        return made[-1]

    try:
        yield make
    finally:
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def figlet_task(opt_dir: Callable[[], Path]) -> TaskDir:
    """The bundled figlet task, tests and all."""
    return load_task(Path(shutil.copytree(DEMO_TASK, opt_dir() / "figlet")))


@pytest.fixture(scope="module")
def jq_task(opt_dir: Callable[[], Path]) -> TaskDir:
    """A jq task made from the installed Debian package, with a test suite file to hide."""
    task = create_task("jq", opt_dir() / "jq", debian="jq")
    (task.root / "tests" / "suite.jsonl").write_text('{"secret": "expected outputs"}\n')
    return task


def _open_room(task: TaskDir, log_dir: Path) -> Iterator[CleanRoom]:
    """A clean room for `task` whose uids are this test run's (conftest checks them for leftovers)."""
    with CleanRoom(task, log_dir=log_dir) as room:
        assert room.agent_uid == AGENT_UID and room.reference_uid == REFERENCE_UID
        yield room


@pytest.fixture(scope="module")
def figlet_room_shared(figlet_task: TaskDir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRoom]:
    """One figlet room for the module: opening a room per test would cost more than the attacks."""
    yield from _open_room(figlet_task, tmp_path_factory.mktemp("figlet-room-log"))


@pytest.fixture(scope="module")
def jq_room_shared(jq_task: TaskDir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRoom]:
    """One jq room for the module."""
    yield from _open_room(jq_task, tmp_path_factory.mktemp("jq-room-log"))


def _empty_room(room: CleanRoom) -> None:
    """Remove whatever an attack left, keeping ./executable and the docs mount point."""
    assert room.layout is not None
    for directory in (room.layout.workspace, room.layout.tmp, room.layout.home):
        for entry in directory.iterdir():
            if directory == room.layout.workspace and entry.name in ("executable", "docs"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@pytest.fixture
def figlet_room(figlet_room_shared: CleanRoom) -> Iterator[CleanRoom]:
    """The module's figlet room, emptied after the test."""
    yield figlet_room_shared
    _empty_room(figlet_room_shared)


@pytest.fixture
def jq_room(jq_room_shared: CleanRoom) -> Iterator[CleanRoom]:
    """The module's jq room, emptied after the test."""
    yield jq_room_shared
    _empty_room(jq_room_shared)


@pytest.fixture(params=["figlet", "jq"])
def any_room(request: pytest.FixtureRequest) -> CleanRoom:
    """Each of the two rooms in turn."""
    room: CleanRoom = request.getfixturevalue(f"{request.param}_room")
    return room


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


# --- the detector itself ---


def test_leak_detector_finds_planted_copies(
    jq_room: CleanRoom, detector: LeakDetector, secrets: dict[str, Path]
) -> None:
    """Positive control: copies planted from the host, whole, partial, misaligned or decoded as text, are found."""
    assert jq_room.layout is not None
    assert detector.leaks_in_room(jq_room) == []
    libjq = secrets["libjq"].read_bytes()
    shutil.copyfile(secrets["figlet"], jq_room.workspace / "planted-figlet")
    # a thousand bytes from the middle of libjq's code, at an offset no stride lines up with
    (jq_room.layout.tmp / "planted-libjq").write_bytes(b"x" * 13 + libjq[100_003:101_003] + b"y" * 7)
    leaks = detector.leaks_in_room(jq_room)
    assert any("planted-figlet" in leak and "'figlet'" in leak for leak in leaks), leaks
    assert any("planted-libjq" in leak and "'libjq'" in leak for leak in leaks), leaks
    shown = run(jq_room, "cat planted-figlet")
    assert "ELF" in shown.output
    assert any("figlet (as text)" in leak for leak in detector.leaks_in_room(jq_room, shown.output))
    # and one run of jq's own binary, written under the agent's home
    (jq_room.layout.home / "part").write_bytes(secrets["jq"].read_bytes()[0x2500:0x2800])
    assert any("'jq'" in leak for leak in detector.leaks_in_room(jq_room))


def test_leak_detector_ignores_programs_built_in_the_room(jq_room: CleanRoom, detector: LeakDetector) -> None:
    """Negative control: a program gcc builds in the room and a public library are not taken for the reference."""
    put(jq_room, "hello.c", '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    result = run(jq_room, "gcc -O2 -o hello hello.c && ./hello && cp /usr/lib/*/libz.so.1 /tmp/ 2>/dev/null; ls /tmp")
    assert "hello" in result.output
    assert (jq_room.workspace / "hello").stat().st_size > 1000
    assert detector.leaks_in_room(jq_room, result.output) == []


# --- attacks on the files ---


def test_executable_is_only_the_broker_client(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: read and copy ./executable and /run/twinbench/reference, the agent's only handles on the reference."""
    result = run(
        any_room,
        "cat ./executable; cp ./executable copied; cat /run/twinbench/reference > client.txt; ls /run/twinbench",
    )
    client = CLIENT_SOURCE.read_bytes()
    assert (any_room.workspace / "copied").read_bytes() == client
    assert (any_room.workspace / "client.txt").read_bytes() == client
    assert 'SOCKET = "/run/twinbench/broker.sock"' in result.output
    assert result.output.split()[-3:] == ["broker.sock", "launch", "reference"]
    assert detector.leaks_in_room(any_room, result.output) == []


READ_SCRIPT = """
    import json, sys
    report = {}
    for path in sys.argv[1:]:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            report[path] = {"error": exc.strerror}
        else:
            report[path] = {"bytes": len(data)}
            with open("py-" + path.replace("/", "_"), "wb") as copy:
                copy.write(data)
    print(json.dumps(report))
"""


def hidden_files(room: CleanRoom) -> list[str]:
    """Paths of the reference's binary and libraries, as an agent would try them."""
    if reference_name(room) == "figlet":
        return ["/usr/bin/figlet", "/usr/bin/figlet-figlet", "/etc/alternatives/figlet", "/usr/bin/chkfont"]
    lib = str(LIBJQ_LINK)
    return [
        "/usr/bin/jq",
        "/bin/jq",
        lib,
        str(LIBJQ_LINK.resolve()),
        lib.replace("/usr/lib/", "/lib/"),
        "/proc/self/root/usr/bin/jq",
        f"/proc/1/root{lib}",
    ]


def test_reference_files_cannot_be_read_in_the_room(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: cat, cp, dd, tail and python open() of the binary and libjq, under every name they have."""
    paths = hidden_files(any_room)
    put(any_room, "read.py", READ_SCRIPT)
    quoted = " ".join(paths)
    result = run(
        any_room,
        f"""
        i=0
        for p in {quoted}; do
            i=$((i+1))
            cat "$p" > cat-$i.bin; cp "$p" cp-$i.bin; dd if="$p" of=dd-$i.bin status=none; tail -c +1 "$p" > tail-$i.bin
            /lib64/ld-linux-x86-64.so.2 --list "$p"
        done
        python3 read.py {quoted}
        """,
    )
    report = last_json(result.output)
    assert set(report) == set(paths)
    assert all(entry.get("error") or entry.get("bytes") == 0 for entry in report.values()), report
    assert "Permission denied" in result.output
    assert detector.leaks_in_room(any_room, result.output) == []


PROC_SCRIPT = """
    # everything the agent can read of every process it can see: the exe link, the file behind it, maps, mem
    import json, os, sys
    os.makedirs("dumps", exist_ok=True)
    report = {}
    for name in sorted(os.listdir("/proc")):
        if not name.isdigit():
            continue
        entry = report.setdefault(name, {"mem_read": 0, "kept": 0})
        try:
            entry["exe"] = os.readlink(f"/proc/{name}/exe")
        except OSError as exc:
            entry["exe_error"] = exc.strerror
        try:
            with open(f"/proc/{name}/status") as status:
                entry["uid"] = [line.split()[1] for line in status if line.startswith("Uid:")][0]
            with open(f"/proc/{name}/exe", "rb") as exe:
                entry["exe_bytes"] = len(exe.read())
        except OSError as exc:
            entry["exe_read_error"] = exc.strerror
        try:
            with open(f"/proc/{name}/maps") as maps:
                lines = maps.read().splitlines()
            mem = open(f"/proc/{name}/mem", "rb", buffering=0)
        except OSError as exc:
            entry["mem_error"] = exc.strerror
            continue
        entry["mapped"] = sorted({line.split(None, 5)[5] for line in lines if len(line.split(None, 5)) == 6})
        with mem:
            for number, line in enumerate(lines):
                fields = line.split(None, 5)
                path = fields[5] if len(fields) == 6 else ""
                if "r" not in fields[1] or path in ("[vvar]", "[vsyscall]"):
                    continue
                start, end = (int(part, 16) for part in fields[0].split("-"))
                try:
                    mem.seek(start)
                    data = mem.read(end - start)
                except OSError:
                    continue
                entry["mem_read"] += len(data)
                # files the agent can read anyway are no prize: keep memory and whatever it cannot read
                public = path.startswith("/") and os.access(path, os.R_OK)
                if not public or "jq" in path or "figlet" in path:
                    with open(f"dumps/{name}-{number}.bin", "wb") as dump:
                        dump.write(data[: 32 << 20])
                    entry["kept"] += len(data)
    print(json.dumps(report))
"""


def background_reference(room: CleanRoom) -> str:
    """Shell lines that leave the reference running (jq blocked on its stdin) while the attack runs."""
    if reference_name(room) == "jq":
        return """
            ( echo '{"alive": 1}'; sleep 4 ) | ./executable -c --unbuffered . > alive.json &
            for i in $(seq 100); do grep -q alive alive.json 2>/dev/null && break; sleep 0.05; done
            """
    return "sleep 4 | ./executable > banner.txt &\nsleep 0.5\n"


def test_proc_shows_no_reference_and_yields_nothing(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: with the reference running, cat /proc/*/exe, cp /proc/PID/exe, and read /proc/PID/mem at every
    mapped address of every pid in sight. The reference lives in another pid namespace, so it is not in sight."""
    put(any_room, "proc.py", PROC_SCRIPT)
    result = run(
        any_room,
        background_reference(any_room)
        + """
        client=$!
        ls /proc > proc-listing.txt
        cat /proc/[0-9]*/exe > all-exe.bin 2>/dev/null
        cp /proc/$client/exe client-exe.bin
        python3 proc.py
        kill %1; wait
        """,
    )
    report = last_json(result.output)
    if reference_name(any_room) == "jq":
        assert (any_room.workspace / "alive.json").read_text() == '{"alive":1}\n'  # the reference was running
    assert "exe_error" in report["1"]  # bwrap, root, is the room's pid 1
    pids = [name for name in (any_room.workspace / "proc-listing.txt").read_text().split() if name.isdigit()]
    assert 4 <= len(pids) <= 10, pids  # a pid namespace of the action's own, not the machine's processes
    assert (any_room.workspace / "client-exe.bin").read_bytes() == Path("/usr/bin/python3").resolve().read_bytes()
    assert max(int(entry["mem_read"]) for entry in report.values()) > 1 << 20  # reading mem worked where allowed
    seen = {str(entry.get("exe", "")) for entry in report.values()} | {
        str(path) for entry in report.values() for path in entry.get("mapped", [])
    }
    assert not [path for path in seen if "jq" in path or "figlet" in path], seen
    assert str(REFERENCE_UID) not in {entry.get("uid") for entry in report.values()}
    assert detector.leaks_in_room(any_room, result.output) == []


EVIL_SOURCE = r"""
    #define _GNU_SOURCE
    #include <fcntl.h>
    #include <stdio.h>
    #include <string.h>
    #include <unistd.h>

    unsigned int la_version(unsigned int version) { return version; } /* an LD_AUDIT module too */

    /* note who loaded us, then copy out every mapped segment of a file this uid cannot read (or of jq or
       figlet), straight from memory: a preloaded library runs inside its victim */
    __attribute__((constructor)) static void steal(void) {
        char exe[512] = {0}, name[128], line[1024];
        if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) strcpy(exe, "?");
        snprintf(name, sizeof name, "/workspace/evil-ran-%d", (int)getpid());
        FILE *marker = fopen(name, "a");
        if (marker) {
            fprintf(marker, "exe=%s uid=%d euid=%d\n", exe, (int)getuid(), (int)geteuid());
            fclose(marker);
        }
        FILE *maps = fopen("/proc/self/maps", "r");
        if (!maps) return;
        int count = 0;
        while (fgets(line, sizeof line, maps)) {
            unsigned long start, end;
            char perms[8], path[512] = {0};
            if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511[^\n]", &start, &end, perms, path) < 3) continue;
            if (perms[0] != 'r' || path[0] != '/') continue;
            if (access(path, R_OK) == 0 && !strstr(path, "jq") && !strstr(path, "figlet")) continue;
            snprintf(name, sizeof name, "/workspace/dump-%d-%d.bin", (int)getpid(), count++);
            int out = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (out >= 0 && write(out, (const void *)start, end - start) < 0) perror("write");
            if (out >= 0) close(out);
        }
        fclose(maps);
    }
"""


def reference_args(room: CleanRoom) -> tuple[str, str]:
    """Arguments for a short reference run, and what it prints (from the real program on the host)."""
    args = "--version" if reference_name(room) == "jq" else "hi"
    program = JQ if reference_name(room) == "jq" else FIGLET
    return args, subprocess.run([str(program), args], capture_output=True, text=True, check=True).stdout


def test_injected_libraries_never_reach_the_reference(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT and GCONV_PATH naming a library whose constructor dumps
    every segment of its host program, set for ./executable and for /run/twinbench/reference."""
    put(any_room, "evil.c", EVIL_SOURCE)
    args, expected = reference_args(any_room)
    ways = {
        "preload": "LD_PRELOAD=$PWD/evil.so ./executable",
        "preload-fixed-path": "LD_PRELOAD=$PWD/evil.so /run/twinbench/reference",
        "library-path": "LD_LIBRARY_PATH=$PWD/lib ./executable",
        "audit": "LD_AUDIT=$PWD/evil.so ./executable",
        "gconv": "GCONV_PATH=$PWD/lib ./executable",
        "all": "LD_PRELOAD=$PWD/evil.so LD_AUDIT=$PWD/evil.so LD_LIBRARY_PATH=$PWD/lib GCONV_PATH=$PWD/lib "
        "GLIBC_TUNABLES=glibc.rtld.nns=2 ./executable",
    }
    runs = "\n".join(f"{command} {args} > {name}.out 2>&1" for name, command in ways.items())
    result = run(
        any_room,
        f"""
        gcc -shared -fPIC -O2 -o evil.so evil.c || exit 1
        mkdir lib && for name in libjq.so.1 libonig.so.5; do cp evil.so lib/$name; done
        printf 'module INTERNAL EVIL// evil 1\\n' > lib/gconv-modules
        cp /bin/true xonly && chmod 0111 xonly && LD_PRELOAD=$PWD/evil.so ./xonly
        {runs}
        echo finished
        """,
    )
    assert result.output.endswith("finished\n"), result.output
    for name in ways:
        assert (any_room.workspace / f"{name}.out").read_text() == expected, name
    markers = {path.name: path.read_text() for path in any_room.workspace.glob("evil-ran-*")}
    # the library did run: in the execute-only program (which it dumped) and in the broker client
    assert any("exe=/workspace/xonly" in text for text in markers.values()), markers
    assert any("python3" in text for text in markers.values()), markers
    assert not [text for text in markers.values() if "jq" in text or "figlet" in text or f"={REFERENCE_UID}" in text]
    dumps = sorted(path.name for path in any_room.workspace.glob("dump-*.bin"))
    xonly_pid = next(name for name, text in markers.items() if "xonly" in text).removeprefix("evil-ran-")
    assert dumps and all(name.startswith(f"dump-{xonly_pid}-") for name in dumps), dumps
    assert detector.leaks_in_room(any_room, result.output) == []


PTRACE_SCRIPT = """
    # attach to every process in sight, as a debugger would before reading its memory
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    PTRACE_ATTACH, PTRACE_DETACH, WALL = 16, 17, 0x40000000
    report = {}
    for name in sorted(os.listdir("/proc")):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        entry = report.setdefault(name, {})
        try:
            entry["exe"] = os.readlink(f"/proc/{name}/exe")
        except OSError as exc:
            entry["exe"] = exc.strerror
        if libc.ptrace(PTRACE_ATTACH, int(name), None, None) != 0:
            entry["attach"] = os.strerror(ctypes.get_errno())
            continue
        os.waitpid(int(name), WALL)
        entry["attach"] = "attached"
        libc.ptrace(PTRACE_DETACH, int(name), None, None)
    print(json.dumps(report))
"""


@pytest.mark.slow
def test_debuggers_see_only_the_client(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: strace -f ./executable, gdb running the client and listing its mappings, gdb -p and a ctypes
    PTRACE_ATTACH on every visible pid while the reference runs."""
    put(any_room, "ptrace.py", PTRACE_SCRIPT)
    args, expected = reference_args(any_room)
    name = reference_name(any_room)
    result = run(
        any_room,
        f"""
        strace -f -o strace.log ./executable {args} > strace.out
        strace -f -o strace-fixed.log /run/twinbench/reference {args} > /dev/null
        gdb -batch -nx -ex 'catch syscall exit_group' -ex run -ex 'info proc mappings' -ex kill \\
            --args /usr/bin/python3 -IS ./executable {args} > gdb.log 2>&1
        {background_reference(any_room)}
        client=$!
        gdb -batch -nx -p $client -ex 'info proc mappings' -ex detach > gdb-attach.log 2>&1
        python3 ptrace.py
        kill %1; wait
        """,
    )
    assert (any_room.workspace / "strace.out").read_text() == expected
    strace_log = (any_room.workspace / "strace.log").read_text()
    assert "/run/twinbench/broker.sock" in strace_log and "SCM_RIGHTS" in strace_log  # it did trace the client
    for log in ("strace.log", "strace-fixed.log", "gdb.log", "gdb-attach.log"):
        text = (any_room.workspace / log).read_text()
        assert f"/usr/bin/{name}" not in text and "libjq" not in text, log
    assert "/usr/bin/python3" in (any_room.workspace / "gdb.log").read_text()  # gdb did list the client's maps
    assert "python3" in (any_room.workspace / "gdb-attach.log").read_text()
    report = last_json(result.output)
    attached = [entry["exe"] for entry in report.values() if entry["attach"] == "attached"]
    assert "/usr/bin/python3.11" in attached or "/usr/bin/python3" in attached, report
    assert report["1"]["attach"] == "Operation not permitted"  # bwrap, root
    assert not [exe for exe in attached if name in exe], report
    assert detector.leaks_in_room(any_room, result.output) == []


# --- attacks through the reference itself ---


def reads_through_reference(room: CleanRoom) -> list[str]:
    """Reference command lines that would print the binary or libjq if the reference could open them."""
    if reference_name(room) == "figlet":
        # figlet adds .flf (.flc) to a font (control file) name: links with that suffix make it open anything
        fonts = ["./self", "./exe", "./mem", "./chkfont", "/usr/bin/figlet-figlet", "/proc/self/exe"]
        return [f"-f {font} x" for font in fonts] + ["-d /workspace -f self x", "-C ./self x", "-C ./exe x"]
    lib = str(LIBJQ_LINK)
    reads = [f"-n -r --rawfile x {path} '$x'" for path in (lib, str(LIBJQ_LINK.resolve()))]
    reads += [f"-n -r --rawfile x {path} '$x'" for path in ("/usr/bin/jq", "/proc/self/exe", "/proc/self/mem")]
    reads += [f"-n --slurpfile x {lib} '$x'", "-R . /proc/self/exe", f"-R . {lib}", f"-r -R -s . /usr/bin/jq {lib}"]
    return reads


def test_reference_cannot_read_itself(any_room: CleanRoom, detector: LeakDetector) -> None:
    """Attack: make the reference open its own binary and libjq (by path, /proc/self/exe, /proc/self/mem) as a
    font, a control file or jq input. The files are execute-only and the reference is not dumpable: each fails."""
    reads = reads_through_reference(any_room)
    links = {"self": "/usr/bin/figlet-figlet", "exe": "/proc/self/exe", "mem": "/proc/self/mem"}
    links |= {"chkfont": "/usr/bin/chkfont", "std": "/usr/share/figlet/standard.flf"}
    for name, target in links.items():
        (any_room.workspace / f"{name}.flf").symlink_to(target)
        (any_room.workspace / f"{name}.flc").symlink_to(target)
    lines = [
        f'./executable {read} > read-{number}.out 2>&1; echo "read-{number} $?"' for number, read in enumerate(reads)
    ]
    # the same program can read what is meant to be readable (its fonts, its own memory map)
    control = "-n -r --rawfile x /proc/self/maps '$x'" if reference_name(any_room) == "jq" else "-f ./std x"
    result = run(any_room, "\n".join([*lines, f'./executable {control} > control.out; echo "control $?"']))
    codes = dict(line.split() for line in result.output.splitlines())
    assert codes.pop("control") == "0"
    control_output = (any_room.workspace / "control.out").read_text()
    if reference_name(any_room) == "jq":
        assert "/usr/bin/jq" in control_output and "libjq" in control_output  # the process under attack is jq
    else:
        assert control_output == subprocess.run([str(FIGLET), "x"], capture_output=True, text=True).stdout
    for number, read in enumerate(reads):
        output = (any_room.workspace / f"read-{number}.out").read_text(errors="replace")
        assert codes[f"read-{number}"] != "0", (read, output)
        assert "Permission denied" in output or "Unable to open" in output, (read, output)
    assert detector.leaks_in_room(any_room, result.output) == []


def test_the_reference_room_holds_nothing_twinbench_made_to_read(jq_room: CleanRoom) -> None:
    """Asked to read them, the reference gets neither the launcher nor the uid dropper (both execute-only: run
    or mapped by root, never read), and its /proc/1/cmdline is bwrap's short one, without the room's host
    paths or the copies' names (bwrap reads its options from a descriptor)."""
    assert jq_room.broker is not None and jq_room.layout is not None
    reads = {
        "launch": "/run/twinbench/launch",
        "dropper": "/run/twinbench-reference/dropuid.so",
        "cmdline": "/proc/1/cmdline",
    }
    lines = [
        f"./executable -n -r --rawfile x {path} '$x' > {name}.out 2>&1; echo \"{name} $?\""
        for name, path in reads.items()
    ]
    codes = dict(line.split() for line in run(jq_room, "\n".join(lines)).output.splitlines())
    assert codes == {"launch": "2", "dropper": "2", "cmdline": "0"}, codes
    for name in ("launch", "dropper"):
        assert "Permission denied" in (jq_room.workspace / f"{name}.out").read_text(), name
    cmdline = (jq_room.workspace / "cmdline.out").read_text().replace("\0", " ")
    assert re.match(r"\S*bwrap --args \d+ /run/twinbench/launch ", cmdline), cmdline
    assert str(jq_room.layout.workspace.parent) not in cmdline and "twinbench-reference-" not in cmdline, cmdline


def test_reference_environment_is_scrubbed(jq_room: CleanRoom) -> None:
    """Attack: pass loader and libc variables through ./executable; jq's $ENV shows what reached the reference."""
    variables = {
        "LD_PRELOAD": "/workspace/evil.so",
        "LD_LIBRARY_PATH": "/workspace",
        "LD_AUDIT": "/workspace/evil.so",
        "LD_DEBUG": "all",
        "GCONV_PATH": "/workspace",
        "GLIBC_TUNABLES": "glibc.malloc.check=3",
        "LOCPATH": "/workspace",
        "MALLOC_TRACE": "/workspace/trace",
        "TWINBENCH_RUN_AS": "0:0",
        "TWINBENCH_PRELOAD_REST": "/workspace/evil.so",
        "AGENT_VARIABLE": "kept",
    }
    assignments = " ".join(f"{key}={value}" for key, value in variables.items())
    result = run(jq_room, f"{assignments} ./executable -n -c '$ENV' > env.json")
    assert result.returncode == 0, result.output
    env = json.loads((jq_room.workspace / "env.json").read_text())
    assert env["AGENT_VARIABLE"] == "kept"
    assert [key for key in variables if key in env] == ["AGENT_VARIABLE"], env
    assert not (jq_room.workspace / "trace").exists()


def test_reference_runs_as_its_own_uid_without_privileges(jq_room: CleanRoom) -> None:
    """The reference starts as root only for the loader: by main it is the reference uid, capabilities gone."""
    result = run(jq_room, "./executable -n -r --rawfile s /proc/self/status '$s'")
    status = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    assert status["Uid"].split() == [str(REFERENCE_UID)] * 4
    assert status["Gid"].split() == [str(AGENT_UID)] * 4
    assert status["Groups"].split() == []
    assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


# a descriptor number no stdio, launcher or bwrap descriptor takes
INHERITED_FD = 50


@pytest.fixture
def inheritable_suite_fd(jq_room: CleanRoom) -> Iterator[int]:
    """The jq task's hidden test suite, open in this (the harness's) process without O_CLOEXEC, as a descriptor
    passed down by a shell redirection or a CI runner would be."""
    opened = os.open(jq_room.task.root / "tests" / "suite.jsonl", os.O_RDONLY)
    try:
        yield os.dup2(opened, INHERITED_FD, inheritable=True)
    finally:
        os.close(opened)
        os.close(INHERITED_FD)


def test_actions_inherit_no_descriptor_of_the_harness(jq_room: CleanRoom, inheritable_suite_fd: int) -> None:
    """Attack: read the harness's inherited descriptors through /proc/self/fd in the room: there are none."""
    result = run(jq_room, f"cat /proc/self/fd/{inheritable_suite_fd}; ls /proc/self/fd")
    assert "No such file or directory" in result.output and "expected outputs" not in result.output
    assert result.output.split()[-4:] == ["0", "1", "2", "3"]  # stdio, and ls's own directory


def test_reference_inherits_no_descriptor_of_the_harness(jq_room: CleanRoom, inheritable_suite_fd: int) -> None:
    """Attack: make the reference reopen /proc/self/fd/N for a descriptor the harness holds without O_CLOEXEC;
    a reopened descriptor ignores the mounts that hide the task, so the reference would print the test suite.
    The broker's posix_spawn hands bwrap every inheritable descriptor; the launcher closes all but stdio."""
    assert "No such file" in run(jq_room, f"cat {jq_room.task.root}/tests/suite.jsonl").output
    result = run(jq_room, f"./executable -n -r --rawfile x /proc/self/fd/{inheritable_suite_fd} '$x'")
    assert "expected outputs" not in result.output


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


def open_fds() -> int:
    """File descriptors open in this process, which the broker's threads share."""
    return len(os.listdir("/proc/self/fd"))


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


def test_a_frozen_clock_cannot_be_redirected_to_the_reference_binary(
    jq_task: TaskDir, tmp_path: Path, detector: LeakDetector
) -> None:
    """Attack: in a task with a frozen clock libfaketime is preloaded, and its constructor runs as root before
    the uid dropper's. FAKETIME_LOAD_FILE=/usr/bin/jq made it map the execute-only binary and serve its bytes
    as the times `now` returns. The agent's variables now reach the reference only after the uid change."""
    from twinbench.sandbox.testrun import faketime_library

    if faketime_library() is None:
        pytest.skip("libfaketime is not installed")
    clocked = TaskDir(root=jq_task.root, task=jq_task.task.model_copy(update={"clock": "2024-01-02 03:04:05"}))
    with CleanRoom(clocked, log_dir=tmp_path) as room:
        program = "[limit(6; repeat(now))] | map(floor) | unique | .[]"
        honest = run(room, f"./executable -n '{program}'").output.split()
        attacks = " ".join(
            f"{variable}={JQ} ./executable -n '{program}'; echo;"
            for variable in ("FAKETIME_LOAD_FILE", "FAKETIME_TIMESTAMP_FILE", "FAKETIME_FOLLOW_FILE")
        )
        result = run(
            room,
            f"{attacks} FAKETIME_SAVE_FILE=/workspace/saved ./executable -n 1; "
            "AGENT=kept ./executable -n -r '$ENV.AGENT'",
        )
        assert detector.leaks_in_room(room, result.output) == []
        assert not (room.workspace / "saved").exists()
    assert len(honest) == 1, honest  # frozen: six calls of `now`, one second
    assert result.output.split() == honest * 3 + ["1", "kept"], result.output


def test_a_script_reference_keeps_its_interpreter_variables_away_and_says_it_is_exposed(
    opt_dir: Callable[[], Path], tmp_path: Path
) -> None:
    """Attack: BASH_ENV makes bash run the agent's file first, and that file prints "$0": the script. The broker
    drops interpreter variables for script references, and records that a script cannot be sealed anyway."""
    from twinbench.agent.broker import SCRIPT_EXPOSURE

    home = opt_dir()
    reference = home / "secretsh"
    reference.write_text('#!/bin/bash\n# SECRET-ALGORITHM-4242\necho "hello $1"\n')
    reference.chmod(0o755)
    task = create_task("secretsh", home / "task", binary_path=reference)
    with CleanRoom(task, log_dir=tmp_path) as room:
        assert room.broker is not None and room.broker.exposures == [SCRIPT_EXPOSURE]
        put(room, "inj.sh", 'cat "$0" >&2\n')
        result = run(
            room,
            f"cat {reference}; ./executable world; BASH_ENV=/workspace/inj.sh ./executable there; "
            "ENV=/workspace/inj.sh SHELLOPTS=xtrace PS4='$(cat $0)' ./executable again",
        )
    assert "SECRET-ALGORITHM" not in result.output
    assert "hello world" in result.output and "hello there" in result.output and "hello again" in result.output


def test_exposures_name_what_this_machine_cannot_seal(jq_task: TaskDir, figlet_task: TaskDir, tmp_path: Path) -> None:
    """As root with gcc, figlet and jq are sealed. Without root (a user namespace) jq's libjq stays readable to
    the reference, and the broker says so, for agent.json and the CLI to report."""
    for task, privileged, expected in ((figlet_task, True, []), (jq_task, True, []), (jq_task, False, ["libjq.so.1"])):
        settings = CleanRoomSettings(privileged=privileged)
        with CleanRoom(task, settings, log_dir=tmp_path) as room:
            assert room.broker is not None
            exposures = room.broker.exposures
        assert [name for name in ("libjq.so.1",) if any(name in line for line in exposures)] == expected, exposures
        assert len(exposures) == len(expected)
        if expected:
            assert "the harness is not root" in exposures[0]


def test_room_refuses_keyrings_and_user_namespaces_and_bounds_dev_shm(jq_room: CleanRoom) -> None:
    """Attack: stash data in the agent uid's kernel keyring (it outlives every action and room), or mount
    tmpfs filesystems in a new user namespace to exhaust the host's memory. Both are refused."""
    put(jq_room, "escape.py", KERNEL_ESCAPES)
    result = run(jq_room, "python3 escape.py; unshare -Ur true || echo no-userns; df -k /dev/shm | tail -1")
    lines = result.output.splitlines()
    assert lines[:2] == ["keyctl -1 EPERM", "add_key -1 EPERM"], result.output
    assert "no-userns" in lines and int(lines[-1].split()[1]) == 512 * 1024, result.output


KERNEL_ESCAPES = """
    import ctypes, errno
    libc = ctypes.CDLL(None, use_errno=True)
    print("keyctl", libc.syscall(250, 0, -4, 1), errno.errorcode.get(ctypes.get_errno()))
    print("add_key", libc.syscall(248, b"user", b"stash", b"secret", 6, -4), errno.errorcode.get(ctypes.get_errno()))
"""


def test_a_tasks_environment_is_set_inside_the_room_never_on_bwrap(opt_dir: Callable[[], Path], tmp_path: Path) -> None:
    """Regression: the task's env was bwrap's own environment, so a task.yaml with LD_PRELOAD ran its library
    inside bwrap, as root on the host. Now bwrap gets a bare environment and sets the task's inside."""
    home = opt_dir()
    library = home / "loud.so"
    source = tmp_path / "loud.c"
    source.write_text(
        "#define _GNU_SOURCE\n#include <stdio.h>\n#include <errno.h>\n"
        "__attribute__((constructor)) static void loud(void) "
        '{ fprintf(stderr, "constructor in %s\\n", program_invocation_short_name); }\n'
    )
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    library.chmod(0o755)
    task = create_task("figlet", home / "figlet", debian="figlet")
    task.task.env.update({"LD_PRELOAD": str(library), "TASK_VARIABLE": "set"})
    with CleanRoom(task, log_dir=tmp_path) as room:
        result = run(room, "echo $TASK_VARIABLE")
    assert "constructor in bwrap" not in result.output, result.output
    assert "constructor in bash" in result.output and result.output.splitlines()[-1] == "set"


def test_a_python_references_generated_bytecode_is_hidden_too(opt_dir: Callable[[], Path], tmp_path: Path) -> None:
    """Regression: `dpkg -L` does not list the __pycache__/*.pyc that python3-pygments' maintainer script
    compiles after installation, so the room hid pygments/*.py but left its bytecode readable, and
    `import pygments.cmdline` from a copy ran the reference itself in the room. Directories only the
    reference's packages install into are now hidden whole."""
    package_dir = Path("/usr/lib/python3/dist-packages/pygments")
    if not (package_dir / "__pycache__").is_dir():
        pytest.skip("python3-pygments is not installed with its bytecode (scripts/setup.sh installs it)")
    task = create_task("pygmentize", opt_dir() / "pygmentize", debian="python3-pygments")
    with CleanRoom(task, log_dir=tmp_path) as room:
        result = run(
            room,
            f"ls -A {package_dir} {package_dir}/__pycache__ 2>&1 | wc -l; "
            "python3 -c 'import pygments.cmdline' 2>&1 | tail -1; ./executable -V",
        )
    lines = result.output.splitlines()
    assert int(lines[0]) <= 2, result.output  # ls's error lines, or nothing: no file of the package
    assert "ModuleNotFoundError" in lines[1], result.output
    assert lines[2].startswith("Pygments version"), result.output


def test_room_disk_is_a_filesystem_of_the_limits_size(jq_task: TaskDir, tmp_path: Path) -> None:
    """Regression: disk use was checked only after each action, so one action wrote 7.5 GB against a 4 GB
    limit, and empty files never showed in the byte count. As root the room's files now live on an ext4
    image of the limit's size: writes past it fail with ENOSPC, inodes run out too, and the reference's
    writes count as well."""
    with CleanRoom(jq_task, CleanRoomSettings(disk_mb=64), log_dir=tmp_path) as room:
        assert room.disk is not None, room.disk_fallback
        result = run(
            room,
            "head -c 200M /dev/zero > /workspace/big; echo big=$?; rm -f /workspace/big; "
            "head -c 40M /dev/zero > /tmp/a; head -c 40M /dev/zero > ~/b; echo split=$?; rm -f /tmp/a ~/b; "
            "mkdir many; cd many; i=0; while : > f$i 2>/dev/null; do i=$((i+1)); done; echo files=$i; cd ..; "
            "rm -rf many; ./executable -n '\"x\" * 100000000' > out.json; echo reference=$?",
        )
        assert "big=1" in result.output and "split=1" in result.output, result.output
        assert "No space left on device" in result.output
        files = int(result.output.split("files=")[1].split()[0])
        assert 1000 < files < 100_000, result.output  # a 64 MB ext4 has some 16,000 inodes
        assert room.disk_used_mb() <= 64
        root = room.root
        assert root is not None
    assert not root.exists()  # unmounted and removed with the room


def test_without_a_bounded_disk_the_room_is_watched_during_actions(
    jq_task: TaskDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no filesystem can be mounted, disk use is walked every few seconds during an action, which is
    killed once the room is over its limit; more files than can be counted count as a full room."""
    from twinbench.agent import cleanroom
    from twinbench.sandbox.disk import BoundedDisk

    monkeypatch.setattr(BoundedDisk, "mount", lambda self: "no loop devices (simulated)")
    monkeypatch.setattr(cleanroom, "DISK_WATCH_INTERVAL_S", 0.5)
    with CleanRoom(jq_task, CleanRoomSettings(disk_mb=32), log_dir=tmp_path) as room:
        assert room.disk is None and room.disk_fallback == "no loop devices (simulated)"
        result = room.execute("for i in $(seq 40); do head -c 4M /dev/zero > f$i; sleep 0.2; done; echo finished")
        assert "went over its disk limit of 32 MB" in result.output and "finished" not in result.output
        assert not (room.workspace / "f40").exists() and result.returncode == -9
        run(room, "rm -f f*")
        monkeypatch.setattr(cleanroom, "MAX_COUNTED_ENTRIES", 100)
        run(room, "touch $(seq 150)")
        assert room.disk_used_mb() > 32


def test_rooms_of_a_killed_harness_are_swept(jq_task: TaskDir, tmp_path: Path) -> None:
    """A harness killed with -9 leaves its room (and, as root, a mounted disk) behind; the next room it
    opens sweeps directories whose owner process is gone, and only those."""
    from twinbench.sandbox.disk import OWNER_FILE, BoundedDisk, mark_owner, sweep_stale

    stale = Path(tempfile.mkdtemp(prefix="twinbench-room-"))
    (stale / OWNER_FILE).write_text("999999999:1")
    disk = BoundedDisk(stale, 16)
    assert disk.mount() is None
    (disk.path / "left.txt").write_text("left behind")
    live = Path(tempfile.mkdtemp(prefix="twinbench-room-"))
    live_lock = mark_owner(live)
    unowned = Path(tempfile.mkdtemp(prefix="twinbench-reference-"))
    try:
        removed = sweep_stale()
        assert stale in removed and not stale.exists()
        assert live.exists() and unowned.exists() and live not in removed
        assert not any(str(stale) in line for line in Path("/proc/self/mountinfo").read_text().splitlines())
    finally:
        os.close(live_lock)
        for directory in (live, unowned):
            shutil.rmtree(directory, ignore_errors=True)


def test_a_sweep_from_another_pid_namespace_leaves_live_rooms_alone(jq_room: CleanRoom) -> None:
    """Regression: liveness was a pid and its start time, which mean nothing in another pid namespace, so a
    harness in a container swept a live room (broker socket included). The owner file is now locked for
    the room's life, and the kernel drops the lock only when its owner is gone."""
    assert jq_room.root is not None
    sweep = "from twinbench.sandbox.disk import sweep_stale; print(sweep_stale())"
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", sweep],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(jq_room.root) not in result.stdout and jq_room.root.is_dir()
    assert run(jq_room, "./executable -n '6 * 7'").output == "42\n"


def test_the_reference_reenters_its_working_directory_as_its_own_uid(
    jq_room: CleanRoom, opt_dir: Callable[[], Path]
) -> None:
    """Attack: ask the broker directly for a run whose working directory sits under a directory only root may
    pass (a task kept in a 0700 mkdtemp, say). The launcher enters it as root, before the uid drop; the
    dropper now enters it again as the reference's uid, so relative paths get no further than absolute
    ones."""
    assert jq_room.broker is not None
    secret_parent = opt_dir() / "closed"
    (secret_parent / "pub").mkdir(parents=True)
    (secret_parent / "pub" / "secret.json").write_text('"TOP SECRET"\n')
    (secret_parent / "pub").chmod(0o755)
    (secret_parent / "pub" / "secret.json").chmod(0o644)
    secret_parent.chmod(0o700)
    assert "Permission denied" in run(jq_room, f"cat {secret_parent}/pub/secret.json").output
    put(
        jq_room,
        "ask.py",
        f"""
        import json, os, socket, struct
        out_read, out_write = os.pipe()
        payload = json.dumps({{"argv": ["jq", ".", "secret.json"], "cwd": "{secret_parent}/pub", "env": {{}}}})
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect("/run/twinbench/broker.sock")
        socket.send_fds(connection, [struct.pack(">I", len(payload))], [out_read, out_write, out_write])
        connection.sendall(payload.encode())
        os.close(out_write)
        connection.settimeout(30)
        reply = connection.recv(4096).decode()
        printed = os.read(out_read, 4096).decode(errors="replace")
        print(json.dumps({{"reply": reply, "printed": printed}}))
        """,
    )
    report = last_json(run(jq_room, "python3 ask.py").output)
    assert "TOP SECRET" not in report["printed"]
    # the dropper refuses on the reference's stderr, and the reference exits 126
    assert "the working directory cannot be entered" in report["printed"], report
    assert json.loads(report["reply"])["exit_code"] == 126, report


def test_a_harness_started_with_its_stdio_closed_still_sandboxes(tmp_path: Path) -> None:
    """Regression: with fds 0-2 closed, the seccomp filter's memfd became fd 0, which subprocess then
    replaced with the action's stdin, so bwrap read /dev/null as its filter and every action failed."""
    script = tmp_path / "closed_stdio.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys
            from twinbench.agent.cleanroom import CleanRoom
            from twinbench.demo import DEMO_TASK
            from twinbench.formats import load_task
            result = open(sys.argv[1], "w")
            with CleanRoom(load_task(DEMO_TASK)) as room:
                for fd in (0, 1, 2):
                    os.close(fd)
                output = room.execute("./executable hi | head -1; echo rc=$?").output
            result.write(output)
            result.close()
            """
        )
    )
    result_path = tmp_path / "result.txt"
    subprocess.run([sys.executable, str(script), str(result_path)], timeout=120, check=True)
    assert result_path.read_text().splitlines() == [" _     _ ", "rc=0"], result_path.read_text()


def test_the_room_uids_are_not_the_grading_uid(jq_room: CleanRoom) -> None:
    """Regression: the agent ran as the grading sandbox's candidate uid, so RLIMIT_NPROC (counted per uid) let
    an agent's processes fail tests graded beside it (agent batch --then-eval)."""
    from twinbench.sandbox import candidate_uid

    assert candidate_uid() not in (jq_room.agent_uid, jq_room.reference_uid)
    assert jq_room.agent_uid != jq_room.reference_uid


def room_mounts() -> set[str]:
    """Mount points of clean-room disks on this machine."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split()[4] for line in lines if "twinbench-room-" in line}


def test_a_room_that_fails_to_open_leaves_nothing_behind(jq_task: TaskDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a failure after the disk was mounted (a TMPDIR too long for the broker's socket path, say)
    left the loop mount and the room's directory behind, because close() never ran."""
    from twinbench.agent.broker import ReferenceBroker

    def refuse(self: ReferenceBroker) -> None:
        raise OSError("AF_UNIX path too long")

    monkeypatch.setattr(ReferenceBroker, "start", refuse)
    before = {path for path in Path(tempfile.gettempdir()).iterdir() if path.name.startswith("twinbench-room-")}
    mounts_before = room_mounts()
    room = CleanRoom(jq_task)
    with pytest.raises(OSError, match="AF_UNIX path too long"):
        room.open()
    after = {path for path in Path(tempfile.gettempdir()).iterdir() if path.name.startswith("twinbench-room-")}
    assert after == before and room.root is None and room.disk is None
    assert room_mounts() == mounts_before  # the module's shared rooms stay mounted, nothing more


# --- what the room is for ---


def test_jq_reads_files_and_relays_exit_codes(jq_room: CleanRoom) -> None:
    """File arguments in /workspace, /tmp and home (relative to the caller's cwd), stdin, stderr and exit codes."""
    result = run(
        jq_room,
        """
        printf '{"a": [1, 2]}' > in.json; printf '[1, 2, 3]' > /tmp/t.json; printf '"home"' > ~/h.json; mkdir sub
        ./executable -c .a in.json; echo "workspace $?"
        ./executable add /tmp/t.json; echo "tmp $?"
        (cd /tmp && /workspace/executable add t.json); echo "cwd $?"
        (cd sub && ../executable -c '.a[1]' ../in.json); echo "parent $?"
        ./executable . ~/h.json; echo "home $?"
        printf '[4, 5]' | ./executable add; echo "stdin $?"
        ./executable '.[' in.json 2> syntax.txt; echo "syntax $?"
        ./executable -e -n false > /dev/null; echo "false $?"
        ./executable . missing.json > out.txt 2> err.txt; echo "missing $?"
        ./executable -n '"bye\\n" | halt_error(7)' 2> halt.txt; echo "halt $?"
        ./executable -n 1 > owned.json; echo "redirect $?"
        """,
    )
    assert result.output.splitlines() == [
        *("[1,2]", "workspace 0", "6", "tmp 0", "6", "cwd 0", "2", "parent 0", '"home"', "home 0"),
        *("9", "stdin 0", "syntax 3", "false 1", "missing 2", "halt 7", "redirect 0"),
    ]
    assert "syntax error" in (jq_room.workspace / "syntax.txt").read_text()
    assert "missing.json: No such file or directory" in (jq_room.workspace / "err.txt").read_text()
    assert (jq_room.workspace / "out.txt").read_text() == ""
    assert (jq_room.workspace / "halt.txt").read_text() == "bye\n"
    owned = (jq_room.workspace / "owned.json").stat()
    assert (owned.st_uid, (jq_room.workspace / "owned.json").read_text()) == (AGENT_UID, "1\n")


def test_figlet_output_and_exit_codes_match_the_real_program(figlet_room: CleanRoom) -> None:
    """./executable prints what figlet prints, for arguments and stdin, and relays its exit code."""
    cases = [["-w", "40", "-c", "Hello world"], ["-f", "slant", "ok"], ["-f", "no-such-font", "x"], ["-k", "tw"]]
    for argv in cases:
        real = subprocess.run([str(FIGLET), *argv], capture_output=True, text=True)
        quoted = " ".join(f"'{arg}'" for arg in argv)
        result = run(figlet_room, f"./executable {quoted} > out.txt 2> err.txt; echo $?")
        assert result.output == f"{real.returncode}\n", argv
        assert (figlet_room.workspace / "out.txt").read_text() == real.stdout, argv
        # figlet names itself by its argv[0]'s base name
        assert (figlet_room.workspace / "err.txt").read_text() == real.stderr.replace("figlet:", "executable:")
    piped = run(figlet_room, "echo piped | ./executable")
    assert piped.output == subprocess.run([str(FIGLET)], input="piped\n", capture_output=True, text=True).stdout


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


def test_room_has_no_network(jq_room: CleanRoom) -> None:
    """Neither the agent nor the reference reach a network: the room has only its own loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        result = run(
            jq_room,
            textwrap.dedent(f"""
            python3 - <<'EOF'
            import socket
            for address in (("1.1.1.1", 80), ("127.0.0.1", {port})):
                try:
                    socket.create_connection(address, timeout=3)
                except OSError as exc:
                    print(address[0], exc.strerror)
                else:
                    print(address[0], "connected")
            EOF
            cat /proc/net/dev | tail -n +3 | cut -d: -f1
            ./executable -n -r --rawfile x /proc/net/dev '$x' | tail -n +3 | cut -d: -f1
            """),
        )
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert result.output.strip().splitlines() == [
        "1.1.1.1 Network is unreachable",
        "127.0.0.1 Connection refused",
        "    lo",
        "    lo",
    ], result.output


def test_room_hides_the_task_and_the_harness(figlet_room: CleanRoom, jq_room: CleanRoom) -> None:
    """The task directory (its test suite above all) and the twinbench package are not in the room, nor in the
    reference's room; only the docs are, at /workspace/docs."""
    task_root = figlet_room.task.root
    assert (task_root / "tests" / "suite.jsonl").stat().st_size > 1000
    package = Path(__file__).resolve().parents[1] / "src" / "twinbench"
    result = run(
        figlet_room,
        f"""
        ls -A {task_root}; echo "listed $?"
        cat {task_root}/tests/suite.jsonl 2>/dev/null; echo "suite $?"
        find / -name suite.jsonl -not -path '/proc/*' 2>/dev/null; echo "found"
        ls {package} 2>/dev/null; echo "package $?"
        python3 -c 'import twinbench' 2>/dev/null; echo "import $?"
        ls /workspace/docs
        """,
    )
    lines = result.output.splitlines()
    found_at = lines.index("found")
    jq_root = jq_room.task.root
    # another task's directory is hidden only when the caller names it in private_dirs, as a batch does
    assert lines[2:found_at] in ([], [f"{jq_root}/tests/suite.jsonl"]), lines
    assert lines[:2] + lines[found_at : found_at + 3] == ["listed 0", "suite 1", "found", "package 2", "import 1"]
    assert "help.txt" in lines[found_at + 3 :]
    through_reference = run(jq_room, f"./executable -n -r --rawfile x {jq_root}/tests/suite.jsonl '$x'")
    assert "No such file or directory" in through_reference.output
    assert through_reference.returncode == 2


def test_closing_the_room_removes_its_files_and_stops_the_reference(jq_task: TaskDir, tmp_path: Path) -> None:
    """close() kills a reference still running, removes the room's directories, the socket and the copies."""
    room = CleanRoom(jq_task, log_dir=tmp_path)
    room.open()
    assert room.layout is not None and room.broker is not None
    root = room.workspace.parent
    socket_path = room.broker.socket_path
    copies = list(room.broker.room.execute_only.values())
    assert root.is_dir() and socket_path.is_socket() and len(copies) == 2  # jq and libjq
    box: dict[str, ActionResult] = {}
    command = "./executable -n 'last(repeat(1))'; echo \"client=$?\""
    thread = threading.Thread(target=lambda: box.update(result=room.execute(command, timeout_s=60)))
    thread.start()
    try:
        assert wait_for(lambda: uid_processes(REFERENCE_UID))
    finally:
        room.close()
        thread.join(60)
    assert box["result"].output.strip().endswith("client=137"), box["result"].output
    assert not root.exists() and not socket_path.exists()
    assert not [copy for copy in copies if copy.exists() or copy.parent.exists()]
    assert wait_for(lambda: nothing_left(room))
    with pytest.raises(RuntimeError):
        room.execute("true")
