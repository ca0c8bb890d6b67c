"""Memory and process accounting for a sandbox as a whole, by the kernel: one cgroup per sandbox.

RLIMIT_AS bounds one process's address space, but not what a sandbox keeps outside it: memfds, /dev/shm and
tmpfs files, pipes, and the same again in every process. A memory cgroup counts all of those pages, whoever
holds them. Each sandbox (a grading or recording runner, a build) therefore gets a cgroup of its own under
the harness's own (v1: the memory and pids hierarchies; v2: the unified one), limited to the run's memory
limit plus the sandbox's disk (its /tmp and /dev/shm are memory too) plus an allowance for the runner, and
with a pids limit. The runner joins it before it starts anything, by writing "0" to a cgroup.procs file the
harness opened for it, so no process of the sandbox is ever outside.

Where no controller can be used (not root, no delegation), `accounting()` says why and the per-process
rlimits stay the only bound; evaluate records which in eval.json.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

from twinbench.formats import Limits
from twinbench.sandbox.seccomp import FIRST_UNSHARED_FD

CGROUP_V1 = "cgroup-v1"
CGROUP_V2 = "cgroup-v2"
RLIMIT_ONLY = "per-process rlimit only"
# the runner itself (a Python interpreter, its buffers of the run's output) is inside the cgroup too
RUNNER_ALLOWANCE_MB = 64
# bwrap's init and the runner beside the candidate's own processes
PIDS_ALLOWANCE = 8
PREFIX = "twinbench-"
# an empty cgroup of ours this old is a leftover of a harness that was killed before removing it
STALE_AFTER_S = 300.0
REMOVE_WAIT_S = 5.0
_counter = itertools.count()


@dataclass(frozen=True)
class Accounting:
    """Which kernel accounting bounds a sandbox here: CGROUP_V1, CGROUP_V2 or RLIMIT_ONLY, and why."""

    kind: str
    memory_parent: Path | None = None
    pids_parent: Path | None = None
    reason: str = ""


def sandbox_memory_bytes(limits: Limits, disk_mb: int) -> int:
    """What a whole sandbox may hold in memory: the run's memory limit, its tmpfs disk, the runner."""
    return (limits.memory_mb + disk_mb + RUNNER_ALLOWANCE_MB) << 20


@functools.cache
def accounting() -> Accounting:
    """The accounting this machine allows us, found once per process."""
    if os.environ.get("TWINBENCH_NO_CGROUPS"):
        return Accounting(RLIMIT_ONLY, reason="TWINBENCH_NO_CGROUPS is set")
    mounts = _cgroup_mounts()
    own = _own_cgroups()
    memory_v1, pids_v1 = mounts.get("memory"), mounts.get("pids")
    if memory_v1 is not None and pids_v1 is not None:
        memory_parent = memory_v1 / own.get("memory", "/").lstrip("/")
        pids_parent = pids_v1 / own.get("pids", "/").lstrip("/")
        problem = _probe(memory_parent) or _probe(pids_parent)
        if problem is None:
            return Accounting(CGROUP_V1, memory_parent, pids_parent)
        return Accounting(RLIMIT_ONLY, reason=f"cgroup v1: {problem}")
    unified = mounts.get("")
    if unified is not None:
        parent = unified / own.get("", "/").lstrip("/")
        problem = _delegate_v2(parent) or _probe(parent)
        if problem is None:
            return Accounting(CGROUP_V2, parent, parent)
        return Accounting(RLIMIT_ONLY, reason=f"cgroup v2: {problem}")
    return Accounting(RLIMIT_ONLY, reason="no memory cgroup controller is mounted")


class SandboxCgroup:
    """The cgroup(s) of one sandbox: made by `create()`, joined through `procs_fds()`, gone after `remove()`."""

    def __init__(self, kind: str, directories: list[Path]) -> None:
        self.kind = kind
        self.directories = directories
        self._memory_bytes: int | None = None
        self._pids: int | None = None
        self._oom_kills = 0
        self._events_fd: int | None = None

    @classmethod
    def create(cls) -> SandboxCgroup | None:
        """A new cgroup under ours, or None where accounting() found none usable."""
        found = accounting()
        if found.kind == RLIMIT_ONLY:
            return None
        assert found.memory_parent is not None and found.pids_parent is not None
        name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        parents = [found.memory_parent] if found.kind == CGROUP_V2 else [found.memory_parent, found.pids_parent]
        made: list[Path] = []
        for parent in parents:
            _sweep_stale(parent)
            try:
                (parent / name).mkdir()
            except OSError:
                for directory in made:
                    _rmdir(directory)
                return None
            made.append(parent / name)
        return cls(found.kind, made)

    def procs_fds(self) -> list[int]:
        """Open cgroup.procs files: a process that writes "0" to each joins this cgroup. Close-on-exec (pass
        them with subprocess's pass_fds), and never below FIRST_UNSHARED_FD: a harness started with its stdio
        closed would otherwise get 0-2, which the child's stdio then replaces."""
        fds = []
        for directory in self.directories:
            opened = os.open(directory / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
            fds.append(fcntl.fcntl(opened, fcntl.F_DUPFD_CLOEXEC, FIRST_UNSHARED_FD))
            os.close(opened)
        return fds

    def apply(self, limits: Limits, disk_mb: int) -> None:
        """Limit the whole sandbox for the next run (written only when the numbers change)."""
        memory = sandbox_memory_bytes(limits, disk_mb)
        pids = limits.processes + PIDS_ALLOWANCE
        if memory != self._memory_bytes:
            self._set_memory(memory)
            self._memory_bytes = memory
        if pids != self._pids:
            self._write(self._pids_dir / "pids.max", str(pids))
            self._pids = pids

    def new_oom_kills(self) -> int:
        """How many processes the kernel killed for this cgroup's memory limit since the last call."""
        name = "memory.events" if self.kind == CGROUP_V2 else "memory.oom_control"
        try:
            if self._events_fd is None:
                # kept open: a pread per run costs microseconds, opening the file again many times that
                self._events_fd = os.open(self.directories[0] / name, os.O_RDONLY | os.O_CLOEXEC)
            text = os.pread(self._events_fd, 4096, 0).decode("ascii", errors="replace")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                total = int(value)
                new, self._oom_kills = total - self._oom_kills, total
                return new
        return 0

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (the caller has killed them)."""
        if self._events_fd is not None:
            os.close(self._events_fd)
            self._events_fd = None
        for directory in self.directories:
            _rmdir(directory)

    @property
    def _pids_dir(self) -> Path:
        return self.directories[-1]

    def _set_memory(self, memory: int) -> None:
        directory = self.directories[0]
        if self.kind == CGROUP_V2:
            self._write(directory / "memory.max", str(memory))
            self._write(directory / "memory.swap.max", "0", optional=True)
            return
        # v1 keeps memory+swap >= memory at every step: raise the pair from the top, lower it from the bottom
        swap = directory / "memory.memsw.limit_in_bytes"
        plain = directory / "memory.limit_in_bytes"
        order = [(swap, True), (plain, False)] if memory > (self._memory_bytes or 0) else [(plain, False), (swap, True)]
        for path, optional in order:
            self._write(path, str(memory), optional=optional)

    @staticmethod
    def _write(path: Path, value: str, optional: bool = False) -> None:
        try:
            path.write_text(value, encoding="ascii")
        except OSError:
            if not optional:
                raise


def _cgroup_mounts() -> dict[str, Path]:
    """Mount points by controller ("" for the unified v2 hierarchy)."""
    found: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            if parts[2] == "cgroup2":
                found.setdefault("", Path(parts[1]))
            elif parts[2] == "cgroup":
                for option in parts[3].split(","):
                    if option in ("memory", "pids"):
                        found[option] = Path(parts[1])
    return found


def _own_cgroups() -> dict[str, str]:
    """Our cgroup in each hierarchy, by controller ("" for v2)."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    return own


def _probe(parent: Path) -> str | None:
    """Whether we may make a child cgroup under `parent`."""
    probe = parent / f"{PREFIX}probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError as exc:
        return f"cannot create a cgroup under {parent}: {exc.strerror}"
    _rmdir(probe)
    return None


def _delegate_v2(parent: Path) -> str | None:
    """v2 needs memory and pids enabled for our cgroup's children."""
    try:
        enabled = (parent / "cgroup.subtree_control").read_text(encoding="ascii").split()
        if {"memory", "pids"} <= set(enabled):
            return None
        (parent / "cgroup.subtree_control").write_text("+memory +pids", encoding="ascii")
    except OSError as exc:
        return f"memory and pids are not delegated to {parent}: {exc.strerror}"
    return None


def _rmdir(directory: Path) -> None:
    """rmdir, waiting a little for killed processes to leave; a cgroup that stays is swept later."""
    deadline = time.monotonic() + REMOVE_WAIT_S
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)


def _sweep_stale(parent: Path) -> None:
    """Remove empty cgroups of ours left by a harness killed before it could (an rmdir of a cgroup that has
    processes fails, so a live sandbox's cgroup is never removed)."""
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            if child.name.startswith(PREFIX) and time.time() - child.stat().st_mtime > STALE_AFTER_S:
                with contextlib.suppress(OSError):
                    child.rmdir()
