"""Attacks on the files: nothing the agent can open, trace or inject reads the reference's bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    LIBJQ_LINK,
    LeakDetector,
    last_json,
    put,
    reference_args,
    reference_name,
    run,
)

from tests.conftest import REFERENCE_UID
from twinbench.agent.cleanroom import CLIENT_SOURCE, CleanRoom

pytestmark = CLEAN_ROOM_MARKS


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
