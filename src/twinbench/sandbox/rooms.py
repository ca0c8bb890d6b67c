"""The agent's two sandboxes: the clean room an agent works in, and the room the broker runs the reference in.

Both mount the same host directories at the same paths (the workspace, /tmp and the agent's home), so a path
the agent passes to `./executable` means the same file to the reference. They differ in what else they see:
the clean room has every file of the reference's package hidden; the reference room has them, with the
reference binary itself replaced by an execute-only copy that its own uid cannot read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from twinbench.formats import Limits
from twinbench.sandbox.bwrap import device_args, hiding_args, namespace_args, system_binds
from twinbench.sandbox.machine import machine_args, pick_cpus
from twinbench.sandbox.runner_main import LaunchLimits, launch_argv

WORKSPACE = "/workspace"
TMP = "/tmp"
HOME = "/home/agent"
DOCS = f"{WORKSPACE}/docs"
BROKER_MOUNT = "/run/twinbench"
BROKER_SOCKET = f"{BROKER_MOUNT}/broker.sock"
# the broker client again, at a path an agent's own build cannot replace
REFERENCE_CLIENT = f"{BROKER_MOUNT}/reference"
LAUNCHER = f"{BROKER_MOUNT}/launch"
REFERENCE_DIR = "/run/twinbench-reference"
# /dev/shm of the clean room and of the reference's room: memory, so bounded apart from the disk limit
SHM_BYTES = 512 << 20
DROPPER = f"{REFERENCE_DIR}/dropuid.so"
# the caller's variables, hidden from a reference while it is root (see reference_command and dropuid.c)
AGENT_ENV_PREFIX = "TWINBENCH_AGENT_ENV_"


class RoomLayout(BaseModel):
    """The host directories behind one agent run's clean room."""

    model_config = ConfigDict(frozen=True)

    workspace: Path
    tmp: Path
    home: Path
    docs: Path | None
    broker_dir: Path
    hidden_paths: tuple[Path, ...] = ()
    private_dirs: tuple[Path, ...] = ()


def _shared_mounts(layout: RoomLayout) -> list[str]:
    # bwrap makes missing parents of mount points 0700 when it runs as real root: open them up first
    args = ["--perms", "0755", "--dir", "/run", "--perms", "0755", "--dir", "/home"]
    args += ["--bind", str(layout.workspace), WORKSPACE, "--bind", str(layout.tmp), TMP]
    args += ["--bind", str(layout.home), HOME]
    if layout.docs is not None and layout.docs.is_dir():
        args += ["--ro-bind", str(layout.docs), DOCS]
    args += ["--ro-bind", str(layout.broker_dir), BROKER_MOUNT]
    return args


def _environment_args(env: dict[str, str]) -> list[str]:
    """Exactly `env` for the sandboxed program, set by bwrap inside the sandbox: bwrap's own environment stays
    bare, so no variable meant for the program (LD_PRELOAD above all) applies to bwrap, which runs as root."""
    args = ["--clearenv"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args


def _launch(
    uid: int | None,
    gid: int | None,
    limits: Limits,
    cwd: str,
    program: str,
    argv: list[str],
    cgroup_fds: tuple[int, ...] = (),
    cpus: tuple[int, ...] = (),
) -> list[str]:
    """The launcher's argv (runner_main.launch_argv): limits, the action's cgroup, the CPUs to pin to (none: the
    caller's), drop to uid/gid (None keeps the sandbox's user), chdir, exec. Each action is a fresh bwrap, so
    its IPC namespace is fresh already."""
    return launch_argv(
        LAUNCHER,
        uid=uid,
        gid=gid,
        limits=LaunchLimits(
            cpu_s=limits.cpu_s,
            memory_mb=limits.memory_mb,
            file_size_mb=limits.file_size_mb,
            open_files=limits.open_files,
            processes=limits.processes,
        ),
        workdir=cwd,
        program=program,
        argv=argv,
        cgroup_fds=cgroup_fds,
        cpus=cpus,
    )


def cleanroom_command(
    layout: RoomLayout,
    command: str,
    *,
    bwrap: str,
    privileged: bool,
    uid: int,
    limits: Limits,
    cwd: str,
    seccomp_fd: int | None,
    env: dict[str, str],
    cgroup_fds: tuple[int, ...] = (),
) -> list[str]:
    """bwrap argv that runs one bash command of the agent in its clean room, as the agent's uid, with
    exactly `env` (set by bwrap inside the sandbox, so none of it applies to bwrap itself); the command joins
    the cgroups whose cgroup.procs files are open on `cgroup_fds` (passed down by the caller)."""
    args = namespace_args(bwrap, privileged, uid, seccomp_fd)
    system_args, bound = system_binds()
    args += system_args
    args += device_args(SHM_BYTES)
    args += hiding_args(layout.hidden_paths, layout.private_dirs, bound)
    args += _shared_mounts(layout)
    args += _environment_args(env)
    args += ["--chdir", "/"]
    who = uid if privileged else None
    return [*args, *_launch(who, who, limits, cwd, "/bin/bash", ["bash", "-c", command], cgroup_fds)]


class ReferenceRoom(BaseModel):
    """What the reference's sandbox holds beyond the clean room's mounts."""

    model_config = ConfigDict(frozen=True)

    binary: Path
    # real path -> the execute-only (mode 0111, root-owned) copy bound over it: the binary and, when the
    # reference can start as root, every shared library of its package
    execute_only: dict[Path, Path]
    # preloaded into a reference started as root; it drops to `uid` before main (sandbox/dropuid.c)
    dropper: Path | None = None


def reference_command(
    layout: RoomLayout,
    room: ReferenceRoom,
    *,
    bwrap: str,
    privileged: bool,
    uid: int,
    gid: int,
    env: dict[str, str],
    agent_env: dict[str, str],
    limits: Limits,
    cwd: str,
    argv: list[str],
    seccomp_fd: int | None,
    cgroup_fds: tuple[int, ...] = (),
) -> list[str]:
    """bwrap argv that runs the reference for the broker: the agent's view of files, another uid, no network.

    `env` is the harness's (the task's variables, the frozen clock); `agent_env` is the caller's, already
    scrubbed, and `env` wins where both name a variable. Everything travels as --setenv arguments rather
    than bwrap's own environment, so that nothing meant for the reference (LD_PRELOAD above all) is applied
    to bwrap itself. A reference started as root sees only the harness's variables until the dropper has
    changed its uid: the loader, the constructors of its libraries and of libfaketime run before the
    dropper's, and none of them may read a path the agent chose (FAKETIME_LOAD_FILE, say) as root.
    """
    args = namespace_args(bwrap, privileged, uid, seccomp_fd)
    system_args, bound = system_binds()
    args += system_args
    args += device_args(SHM_BYTES)
    # the machine the suite was recorded on (sandbox/machine.py), so an agent's probes see what grading sees
    args += machine_args()
    args += hiding_args((), layout.private_dirs, bound)
    args += _shared_mounts(layout)
    # owned by root and mode 0111: runnable, but neither the reference's uid nor anything it is asked to
    # open (/proc/self/exe included) can read their bytes
    args += ["--perms", "0755", "--dir", REFERENCE_DIR]
    for real, copy in sorted(room.execute_only.items()):
        args += ["--ro-bind", str(copy), str(reference_path(real))]
    agent_only = {key: value for key, value in agent_env.items() if key not in env}
    run_as_root = privileged and room.dropper is not None
    if run_as_root:
        assert room.dropper is not None
        final = dict(env)
        args += ["--ro-bind", str(room.dropper), DROPPER]
        final["TWINBENCH_PRELOAD_REST"] = final.get("LD_PRELOAD", "")
        final["LD_PRELOAD"] = DROPPER if not final["TWINBENCH_PRELOAD_REST"] else f"{DROPPER}:{final['LD_PRELOAD']}"
        final["TWINBENCH_RUN_AS"] = f"{uid}:{gid}"
        # the dropper turns each of these back into KEY=VALUE once the uid has changed
        for index, (key, value) in enumerate(sorted(agent_only.items())):
            final[f"{AGENT_ENV_PREFIX}{index}"] = f"{key}={value}"
    else:
        final = {**agent_only, **env}
    args += _environment_args(final)
    args += ["--chdir", "/"]
    if run_as_root or not privileged:
        who_uid = who_gid = None  # the dropper changes uid after the loader ran; unprivileged has one uid
    else:
        who_uid, who_gid = uid, gid
    program = str(reference_path(room.binary))
    return [*args, *_launch(who_uid, who_gid, limits, cwd, program, argv, cgroup_fds, cpus=pick_cpus())]


def reference_path(real: Path) -> Path:
    """Where a file of the reference appears in its sandbox: its own path, unless that lies in a directory the
    room shares with the agent (a program kept in /tmp, say). Binding it there would make bwrap create its
    parents, root-owned and 0700, in the agent's own /tmp; it goes under REFERENCE_DIR instead."""
    shared = (WORKSPACE, TMP, HOME, BROKER_MOUNT, REFERENCE_DIR)
    if any(real == Path(top) or Path(top) in real.parents for top in shared):
        digest = hashlib.sha256(str(real).encode(errors="surrogateescape")).hexdigest()[:12]
        return Path(REFERENCE_DIR) / f"moved-{digest}-{real.name}"
    return real
