"""Attacks through the reference itself: what it can be asked to read, its environment, uid and
descriptors, its clock, and what the broker says it cannot seal."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    FIGLET,
    JQ,
    LIBJQ_LINK,
    LeakDetector,
    last_json,
    put,
    reference_name,
    run,
)

from tests.conftest import AGENT_UID, REFERENCE_UID
from twinbench.agent.cleanroom import CleanRoom, CleanRoomSettings
from twinbench.formats import TaskDir
from twinbench.reference.taskgen import create_task

pytestmark = CLEAN_ROOM_MARKS


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


def test_the_reference_sees_the_machine_the_suite_was_recorded_on(jq_room: CleanRoom) -> None:
    """The broker's reference runs on the sandbox's fixed machine (one CPU, fixed /sys and /proc), so what an
    agent learns by probing it is what grading recorded, whatever the host."""
    files = ("/proc/self/status", "/sys/devices/system/cpu/online", "/proc/cpuinfo", "/proc/meminfo")
    reads = " ".join(f"--rawfile f{index} {path}" for index, path in enumerate(files))
    result = run(jq_room, f"./executable -n -r {reads} '$f0, $f1, $f2, $f3'")
    assert result.returncode == 0, result.output
    status = dict(line.split(":", 1) for line in result.output.splitlines() if ":" in line)
    assert "," not in status["Cpus_allowed_list"] and "-" not in status["Cpus_allowed_list"]  # one CPU
    assert "\n0\n" in result.output and result.output.count("processor\t:") == 1
    assert "twinbench virtual CPU" in result.output and "MemTotal:        4194304 kB" in result.output


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
