"""The clean room: an agent's workspace with the task's docs, a broker-backed ./executable, and no way out.

Each bash action is a fresh bubblewrap sandbox over the same host directories, so files persist between
actions while processes do not: when an action ends, its pid namespace and everything in it die, and so does
every reference it started through the broker (`ReferenceBroker.action`).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.agent.broker import BrokerSettings, ReferenceBroker
from twinbench.agent.bwrap_options import FIRST_FREE_FD, BwrapOptions
from twinbench.formats import DEFAULT_DISK_LIMIT_MB, ActionResult, Limits, TaskDir
from twinbench.reference import ReferenceError, hidden_paths_for, resolve_binary
from twinbench.sandbox import candidate_uid
from twinbench.sandbox.bwrap import SeccompFilter
from twinbench.sandbox.cgroup import SandboxCgroup, sandbox_memory_bytes
from twinbench.sandbox.disk import BoundedDisk, free_mb, mark_owner, sweep_stale, unmount_all
from twinbench.sandbox.launcher import ensure_launcher
from twinbench.sandbox.rooms import HOME, SHM_BYTES, TMP, WORKSPACE, RoomLayout, cleanroom_command

CLIENT_SOURCE = Path(__file__).with_name("broker_client.py")
DRAIN_AFTER_KILL_S = 5.0
# bwrap reports the action's pid namespace right after creating it; a bwrap that has not by then is stuck
INFO_WAIT_S = 30.0
# Without a bounded disk (not root, no loop devices) disk use is measured by walking the room's files: during
# an action every few seconds, and after it. A room with more entries than this counts as full, which also
# bounds what one walk costs.
MAX_COUNTED_ENTRIES = 200_000
DISK_WATCH_INTERVAL_S = 2.0
# the clean room's uids, as offsets from the grading sandbox's candidate uid
REFERENCE_UID_OFFSET = 1
AGENT_UID_OFFSET = 2


class CleanRoomUnavailable(Exception):
    """The clean room cannot be built on this machine or for this task; the message says why in one line."""


class CleanRoomSettings(BaseModel):
    """Limits and identity of an agent's clean room."""

    bwrap: str = "bwrap"
    privileged: bool = Field(default_factory=lambda: os.geteuid() == 0)
    action_timeout_s: float = 180.0
    output_bytes: int = 1 << 20
    disk_mb: int = DEFAULT_DISK_LIMIT_MB
    limits: Limits = Field(
        default_factory=lambda: Limits(
            wall_s=180, cpu_s=3600, memory_mb=16384, processes=1024, open_files=4096, file_size_mb=2048
        )
    )
    reference_limits: Limits = Field(
        default_factory=lambda: Limits(wall_s=600, cpu_s=600, memory_mb=4096, processes=256, file_size_mb=1024),
        description="limits of one ./executable run; wall_s is enforced by the broker",
    )
    env: dict[str, str] = Field(
        default_factory=lambda: {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": HOME,
            "USER": "agent",
            "LOGNAME": "agent",
            "TMPDIR": TMP,
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "TERM": "dumb",
            "PAGER": "cat",
            "MANPAGER": "cat",
            "GIT_PAGER": "cat",
            "LESS": "-R",
            "PIP_PROGRESS_BAR": "off",
            "TQDM_DISABLE": "1",
        }
    )


class CleanRoom:
    """One agent's sandboxed workspace and the broker behind its ./executable; a context manager."""

    def __init__(
        self,
        task: TaskDir,
        settings: CleanRoomSettings | None = None,
        *,
        private_dirs: tuple[Path, ...] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.task = task
        self.settings = settings or CleanRoomSettings()
        # neither uid is the grading sandbox's: RLIMIT_NPROC counts per uid, and an agent's processes must not
        # eat into the budget of a grading that runs beside it (agent batch --then-eval)
        self.reference_uid = candidate_uid() + REFERENCE_UID_OFFSET
        self.agent_uid = candidate_uid() + AGENT_UID_OFFSET
        self.private_dirs = (task.root.resolve(), Path(__file__).resolve().parents[1], *private_dirs)
        self.log_dir = log_dir
        self.root: Path | None = None
        self.layout: RoomLayout | None = None
        self.broker: ReferenceBroker | None = None
        self.disk: BoundedDisk | None = None
        self._owner_fd: int | None = None
        # why the room's disk is not a bounded filesystem here (then its use is watched instead), or None
        self.disk_fallback: str | None = None

    @property
    def workspace(self) -> Path:
        """The host directory the agent sees as /workspace: its project, and later its submission."""
        if self.layout is None:
            raise RuntimeError("the clean room is not open")
        return self.layout.workspace

    def __enter__(self) -> CleanRoom:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Make the host directories, place ./executable, and start the broker."""
        if shutil.which(self.settings.bwrap) is None:
            raise CleanRoomUnavailable("bubblewrap is not installed (apt-get install bubblewrap)")
        launcher = ensure_launcher()
        if launcher is None:
            raise CleanRoomUnavailable("the sandbox launcher cannot be built: install gcc and libc6-dev")
        try:
            binary = resolve_binary(self.task.task.reference.binary)
        except ReferenceError as exc:
            raise CleanRoomUnavailable(str(exc)) from None
        sweep_stale()
        temp = Path(tempfile.gettempdir())
        free = free_mb(temp)
        if free < self.settings.disk_mb:
            # the room's disk is sparse: it takes host space as the agent writes, so the space must be there
            raise CleanRoomUnavailable(
                f"{temp} has {free:.0f} MB free, less than the room's disk limit of "
                f"{self.settings.disk_mb} MB: free some space or pass a smaller --disk-limit"
            )
        try:
            self._build(binary, launcher)
        except BaseException:
            # half a room (a mounted disk, a started broker) must not outlive the failure
            self.close()
            raise

    def _build(self, binary: Path, launcher: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="twinbench-room-"))
        self.root.chmod(0o711)
        self._owner_fd = mark_owner(self.root)
        files = self._bounded_disk(self.root) if self.settings.privileged else self.root
        layout = RoomLayout(
            workspace=files / "workspace",
            tmp=files / "tmp",
            home=files / "home",
            docs=self.task.docs_dir if self.task.docs_dir.is_dir() else None,
            broker_dir=self.root / "broker",
            hidden_paths=hidden_paths_for(self.task.task.reference),
            private_dirs=self.private_dirs,
        )
        self._make_dirs(layout, launcher)
        self.layout = layout
        gid = self.agent_uid if self.settings.privileged else os.getgid()
        self.broker = ReferenceBroker(
            layout,
            BrokerSettings(
                binary=binary,
                uid=self.reference_uid,
                gid=gid,
                privileged=self.settings.privileged,
                bwrap=self.settings.bwrap,
                task_env=self.task.task.env,
                clock=self.task.task.clock,
                limits=self.settings.reference_limits,
            ),
            log_path=self.log_dir / "reference_calls.jsonl" if self.log_dir is not None else None,
        )
        self.broker.start()

    def _bounded_disk(self, root: Path) -> Path:
        """Where the room's files go: a filesystem of settings.disk_mb when one can be mounted, else `root`."""
        # registered before mounting, so that close() undoes a mount interrupted halfway
        self.disk = BoundedDisk(root, self.settings.disk_mb)
        problem = self.disk.mount()
        if problem is not None:
            self.disk_fallback = problem
            self.disk = None
            return root
        return self.disk.path

    def _make_dirs(self, layout: RoomLayout, launcher: Path) -> None:
        client = CLIENT_SOURCE.read_bytes()
        layout.broker_dir.mkdir(mode=0o755)
        (layout.broker_dir / "reference").write_bytes(client)
        (layout.broker_dir / "reference").chmod(0o755)
        shutil.copyfile(launcher, layout.broker_dir / "launch")
        # run by bwrap, never read by anything in the rooms: execute-only, so its bytes stay out of them
        (layout.broker_dir / "launch").chmod(0o111)
        for directory in (layout.workspace, layout.home, layout.tmp):
            directory.mkdir()
        (layout.workspace / "docs").mkdir()  # the mount point of the read-only docs
        (layout.workspace / "executable").write_bytes(client)
        (layout.workspace / "executable").chmod(0o755)
        if self.settings.privileged:
            # the agent owns its directories; the reference (another uid in the agent's group) may write there too
            for directory in (layout.workspace, layout.home):
                os.chown(directory, self.agent_uid, self.agent_uid)
                directory.chmod(0o2775)
            os.chown(layout.workspace / "executable", self.agent_uid, self.agent_uid)
        layout.tmp.chmod(0o1777)

    def close(self) -> None:
        """Stop the broker and remove every host directory of the room."""
        if self.broker is not None:
            self.broker.close()
            self.broker = None
        # the mount table, not our bookkeeping, says what is mounted; a room whose disk cannot be unmounted
        # is left for a later sweep rather than emptied through its mount
        self.disk = None
        if self.root is not None:
            if unmount_all(self.root):
                shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            self.layout = None
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    def execute(self, command: str, timeout_s: float | None = None, cwd: str = WORKSPACE) -> ActionResult:
        """Run one bash command as the agent; output is stdout and stderr merged, capped, never an exception."""
        if self.layout is None:
            raise RuntimeError("the clean room is not open")
        timeout = timeout_s or self.settings.action_timeout_s
        started = time.monotonic()
        # the action's own cgroup: its memory (memfds and /dev/shm included) and processes bounded as a whole
        cgroup = SandboxCgroup.create()
        try:
            return self._execute(command, timeout, cwd, started, cgroup)
        finally:
            if cgroup is not None:
                cgroup.remove()

    def _execute(
        self, command: str, timeout: float, cwd: str, started: float, cgroup: SandboxCgroup | None
    ) -> ActionResult:
        assert self.layout is not None
        cgroup_fds: tuple[int, ...] = ()
        if cgroup is not None:
            cgroup.apply(self.settings.limits, SHM_BYTES >> 20)
            cgroup_fds = tuple(cgroup.procs_fds())
        info_read, info_write = os.pipe()
        info_write = _move_high(info_write)
        with SeccompFilter() as seccomp:
            argv = cleanroom_command(
                self.layout,
                # group-writable files, so that the reference (the agent's group) can write next to them
                f"umask 002\n{command}",
                bwrap=self.settings.bwrap,
                privileged=self.settings.privileged,
                uid=self.agent_uid,
                limits=self.settings.limits,
                cwd=cwd,
                seccomp_fd=seccomp.fd,
                # set inside the sandbox, never on bwrap itself: a task's LD_PRELOAD must not run as root here
                env=self.settings.env | self.task.task.env,
                cgroup_fds=cgroup_fds,
            )
            with BwrapOptions(argv, extra=("--info-fd", str(info_write))) as options:
                assert options.fd is not None
                try:
                    process = subprocess.Popen(
                        options.argv(options.fd),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        env={"PATH": "/usr/bin:/bin"},
                        start_new_session=True,
                        pass_fds=(*seccomp.fds, *cgroup_fds, options.fd, info_write),
                    )
                except OSError as exc:
                    os.close(info_read)
                    return ActionResult(output=f"twinbench: cannot start the clean room: {exc}", returncode=126)
                finally:
                    os.close(info_write)
                    for fd in cgroup_fds:
                        os.close(fd)
        assert process.stdout is not None and self.broker is not None
        namespace = _read_pid_namespace(info_read, started + min(timeout, INFO_WAIT_S))
        # a bounded disk refuses writes itself; otherwise the action is stopped once the room is over its limit
        watch = None if self.disk is not None else self._over_disk_limit
        # the action's references die with it: the broker serves its pid namespace only until this block ends
        with self.broker.action(namespace):
            output, truncated, timed_out, disk_full = _collect(
                process, process.stdout, started + timeout, self.settings.output_bytes, watch
            )
            returncode = process.wait()
        text = output.decode("utf-8", errors="replace")
        if truncated:
            text += f"\n[twinbench: output truncated after {self.settings.output_bytes} bytes]\n"
        if timed_out:
            text += f"\n[twinbench: the command ran longer than {timeout:g} s and was killed]\n"
        if disk_full:
            limit = self.settings.disk_mb
            text += f"\n[twinbench: the room went over its disk limit of {limit} MB and the command was killed]\n"
        if cgroup is not None and cgroup.new_oom_kills():
            bound = sandbox_memory_bytes(self.settings.limits, SHM_BYTES >> 20) >> 20
            text += f"\n[twinbench: the command went over the memory limit of {bound} MB and was killed]\n"
        return ActionResult(
            output=text,
            returncode=-9 if timed_out or disk_full else returncode,
            timed_out=timed_out,
            truncated=truncated,
            seconds=round(time.monotonic() - started, 3),
        )

    def _over_disk_limit(self) -> bool:
        return self.disk_used_mb() > self.settings.disk_mb

    def disk_used_mb(self) -> float:
        """How much the workspace, home and /tmp of the room hold. On a bounded disk that is its use, which
        cannot pass its size; otherwise a walk of the files, and a room of more than MAX_COUNTED_ENTRIES
        entries counts as over the limit."""
        if self.layout is None:
            return 0.0
        if self.disk is not None:
            return self.disk.used_mb()
        total = 0
        counted = 0
        stack = [self.layout.workspace, self.layout.home, self.layout.tmp]
        while stack and counted < MAX_COUNTED_ENTRIES:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                counted += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += info.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
        if counted >= MAX_COUNTED_ENTRIES:
            # too many files to count is a full room: it says so rather than under-reporting
            return max(total / (1 << 20), self.settings.disk_mb + 1.0)
        return total / (1 << 20)


def _collect(
    process: subprocess.Popen[bytes],
    stream: object,
    deadline: float,
    cap: int,
    over_disk_limit: Callable[[], bool] | None = None,
) -> tuple[bytes, bool, bool, bool]:
    """Read merged output until EOF, keeping `cap` bytes; kill the sandbox at the deadline, or as soon as
    `over_disk_limit` (asked every few seconds) says the room is full. (output, truncated, timed out, disk full)"""
    fd = stream.fileno()  # type: ignore[attr-defined]
    kept = bytearray()
    truncated = timed_out = disk_full = False
    drain_until: float | None = None
    next_disk_check = time.monotonic() + DISK_WATCH_INTERVAL_S
    # poll, not select: a harness running many rooms holds descriptors past select's 1024
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        now = time.monotonic()
        if drain_until is None and now >= deadline:
            timed_out = True
        if drain_until is None and over_disk_limit is not None and now >= next_disk_check:
            checked = time.monotonic()
            disk_full = over_disk_limit()
            # a walk of a big tree takes a while: never spend more than a fifth of the time walking
            next_disk_check = time.monotonic() + max(DISK_WATCH_INTERVAL_S, 4 * (time.monotonic() - checked))
        if drain_until is None and (timed_out or disk_full):
            _kill_group(process.pid)
            drain_until = now + DRAIN_AFTER_KILL_S
        limit = (drain_until if drain_until is not None else min(deadline, next_disk_check)) - now
        if drain_until is not None and limit <= 0:
            break
        if not poller.poll(max(0.0, min(limit, 1.0)) * 1000):
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
    stream.close()  # type: ignore[attr-defined]
    if process.poll() is None:
        _kill_group(process.pid)
    return bytes(kept), truncated, timed_out, disk_full


def _move_high(fd: int) -> int:
    """`fd` renumbered past the descriptors with fixed meanings: with the harness's stdio closed, a pipe gets
    0-2, which the child's own stdio would replace."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_FREE_FD)
    os.close(fd)
    return moved


def _read_pid_namespace(info: int, deadline: float) -> int | None:
    """The pid namespace bwrap reports on its --info-fd (then closes), or None if it never does (it failed
    to start, or is stuck); `info` is closed either way."""
    data = b""
    poller = select.poll()
    poller.register(info, select.POLLIN)
    try:
        while len(data) < 65536:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                return None
            chunk = os.read(info, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(info)
    try:
        namespace = json.loads(data).get("pid-namespace")
    except (ValueError, AttributeError):
        return None
    return namespace if isinstance(namespace, int) else None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
