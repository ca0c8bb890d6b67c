"""The reference broker: runs the real program for the clean room's ./executable without ever handing it over.

The clean room holds only a small client (broker_client.py) that connects to this broker's Unix socket and
passes its argv, working directory, environment and its three stdio file descriptors. The broker starts the
reference in a bubblewrap sandbox of its own (`sandbox.rooms.reference_command`): another uid, no network,
injection variables scrubbed, the binary replaced by an execute-only copy. The reference writes straight to
the agent's stdout and stderr; the broker answers with the exit code.

A reference lives no longer than the call that started it, whatever descriptors the call passed: the broker
serves only processes of the room's live actions (the peer's pid namespace, read from a pidfd of the process
that connected, must be one the clean room registered), and kills the reference when that process exits, when
its connection closes, or when its action ends (`ReferenceBroker.action`), whichever comes first. A descriptor
that is itself a connection to the broker is refused: a reference holding one would keep the call open.
"""

from __future__ import annotations

import array
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from twinbench.agent.bwrap_options import FIRST_FREE_FD, BwrapOptions
from twinbench.formats import Limits, first_error
from twinbench.sandbox.bwrap import SeccompFilter
from twinbench.sandbox.cgroup import SandboxCgroup
from twinbench.sandbox.disk import mark_owner
from twinbench.sandbox.launcher import ensure_dropper
from twinbench.sandbox.rooms import SHM_BYTES, ReferenceRoom, RoomLayout, reference_command
from twinbench.sandbox.runner_main import LAUNCH_STATUS_FD, SECCOMP_FD, STDERR_FD, STDIN_FD, STDOUT_FD
from twinbench.sandbox.testrun import clock_environment

SOCKET_NAME = "broker.sock"
MAX_REQUEST_BYTES = 4 << 20
# the whole request (descriptors, length, body) must arrive within this, however slowly it trickles
REQUEST_TIMEOUT_S = 10.0
# what close() waits for the serving threads, all together
CLOSE_JOIN_S = 15.0
# reference_calls.jsonl is a record, not a channel: each call logs at most this much of its argv, and the
# whole log stops growing (calls are still counted) past MAX_LOG_BYTES
LOGGED_ARGS = 64
LOGGED_ARG_CHARS = 512
MAX_LOG_BYTES = 64 << 20
MAX_CONCURRENT_RUNS = 8
# connections being served at once (waiting for a run slot included); more are refused at once, so that an
# agent opening thousands of idle connections cannot make the harness start thousands of threads
MAX_CONNECTIONS = 64
STDIO_FDS = len((STDIN_FD, STDOUT_FD, STDERR_FD))
# the reference sandbox's descriptors: stdio (0-2) is the caller's, then these, each placed by number; the
# launcher's failed-exec channel and bwrap's seccomp descriptor are the runner's own (sandbox/runner_main.py)
LAUNCH_ERROR_FD = LAUNCH_STATUS_FD
OPTIONS_FD = SECCOMP_FD + 1  # bwrap --args (agent/bwrap_options.py)
FIRST_CGROUP_FD = OPTIONS_FD + 1  # the reference's cgroup.procs files (memory, then pids on v1), joined by the launcher
# Linux 6.5+: a pidfd of the process that connected, exact even if that pid has since been reused
SO_PEERPIDFD = getattr(socket, "SO_PEERPIDFD", 77)
# how long a call from a process whose action the clean room has not registered yet waits for it
# (bwrap reports the action's pid namespace just after starting it, so a fast first call can come first)
ACTION_REGISTRATION_WAIT_S = 5.0
# what ending an action waits for its references to be killed and reaped
END_ACTION_WAIT_S = 15.0
# glibc's list of variables it ignores for setuid programs: each can make the dynamic loader or libc load
# code or data the caller chose. LD_* is dropped as a prefix. (TMPDIR and TZDIR stay: they load no code.)
INJECTION_VARIABLES = frozenset(
    {
        "GCONV_PATH",
        "GETCONF_DIR",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "MALLOC_TRACE",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
    }
)
# libfaketime's settings belong to the harness (the task's frozen clock); FAKETIME_LOAD_FILE and friends
# would have it open, run or write files of the agent's choosing
INJECTION_PREFIXES = ("LD_", "FAKETIME", "TWINBENCH_")
# variables that make an interpreter run code of the caller's choosing, or read its own script aloud: a
# script reference's interpreter must be able to read the script, so these are its dump primitives
INTERPRETER_VARIABLES = frozenset(
    {"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB", "PERLIO"}
)
INTERPRETER_PREFIXES = ("PYTHON", "RUBY", "NODE_", "LUA_", "TCL", "GUILE", "JAVA_TOOL", "_JAVA", "PHP")
SCRIPT_EXPOSURE = (
    "the reference is a script: its interpreter must read it, so a reference that reads files on request "
    "can be made to print itself"
)


class BrokerProtocolError(Exception):
    """A request the broker refuses; the message is one line for the agent's stderr."""


class BrokerRequest(BaseModel):
    """What the client sends: the command line, where it runs, and the caller's environment."""

    argv: list[str] = Field(min_length=1, max_length=100_000)
    cwd: str
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("argv")
    @classmethod
    def _no_nul_in_args(cls, value: list[str]) -> list[str]:
        if any("\0" in item for item in value):
            raise ValueError("arguments cannot contain NUL bytes")
        if not all(_encodable(item) for item in value):
            raise ValueError("an argument is neither text nor escaped bytes")
        return value

    @field_validator("cwd")
    @classmethod
    def _absolute_cwd(cls, value: str) -> str:
        if not value.startswith("/") or "\0" in value or not _encodable(value):
            raise ValueError("the working directory must be an absolute path")
        return value

    @field_validator("env")
    @classmethod
    def _no_nul_in_env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if "\0" in key or "=" in key or not key or "\0" in item or not (_encodable(key) and _encodable(item)):
                raise ValueError("malformed environment variable")
        return value


class BrokerSettings(BaseModel):
    """How the broker runs the reference: which binary, as whom, with what fixed environment and limits."""

    binary: Path = Field(description="the resolved reference binary on the host")
    uid: int = Field(description="uid the reference runs as; never the agent's")
    gid: int = Field(description="the agent's gid, so the agent can read what the reference writes")
    privileged: bool = True
    bwrap: str = "bwrap"
    task_env: dict[str, str] = Field(default_factory=dict)
    clock: str | None = None
    limits: Limits = Field(
        default_factory=lambda: Limits(wall_s=600, cpu_s=600, memory_mb=4096, processes=256, file_size_mb=1024)
    )


class ReferenceCall(BaseModel):
    """One run of the reference for the agent, as logged in reference_calls.jsonl."""

    argv: list[str] = Field(default_factory=list)
    cwd: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    client_left: bool = False
    # the clean-room action the call came from ended while the reference ran
    action_ended: bool = False
    error: str | None = None
    seconds: float = 0.0

    def answer(self, wall_s: float) -> dict[str, object]:
        """The reply line for the client."""
        if self.error is not None:
            return {"error": self.error, "exit_code": 126 if self.exit_code is None else self.exit_code}
        if self.timed_out:
            return {"error": f"the reference ran longer than {wall_s:g} s and was stopped", "exit_code": 137}
        return {"exit_code": 126 if self.exit_code is None else self.exit_code}


def scrub_environment(env: dict[str, str], *, script: bool = False) -> dict[str, str]:
    """The caller's environment without the variables that inject code into a dynamically linked program
    (and, for a script reference, into its interpreter)."""

    def injects(key: str) -> bool:
        if key.startswith(INJECTION_PREFIXES) or key in INJECTION_VARIABLES:
            return True
        return script and (key in INTERPRETER_VARIABLES or key.startswith(INTERPRETER_PREFIXES))

    return {key: value for key, value in env.items() if not injects(key)}


def _encodable(text: str) -> bool:
    """Whether `text` is valid Unicode or undecodable bytes escaped the way os.fsdecode escapes them."""
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _loggable_argv(argv: list[str]) -> list[str]:
    """The part of an argv the call log keeps: enough to read what was asked, never megabytes."""
    kept = [arg if len(arg) <= LOGGED_ARG_CHARS else arg[:LOGGED_ARG_CHARS] + "…" for arg in argv[:LOGGED_ARGS]]
    if len(argv) > LOGGED_ARGS:
        kept.append(f"… {len(argv) - LOGGED_ARGS} more arguments")
    return kept


def is_elf(path: Path) -> bool:
    """Whether `path` is an ELF binary (scripts cannot be execute-only: their interpreter must read them)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def is_dynamic(path: Path) -> bool:
    """Whether an ELF binary names a program interpreter (ld.so), and so honours LD_PRELOAD."""
    try:
        with path.open("rb") as handle:
            header = handle.read(64)
            if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] not in (1, 2):
                return False
            wide = header[4] == 2
            order = "<" if header[5] == 1 else ">"
            if wide:
                table, entry_size, count = struct.unpack_from(order + "Q14xHH", header, 32)
            else:
                table, entry_size, count = struct.unpack_from(order + "I10xHH", header, 28)
            handle.seek(table)
            headers = handle.read(entry_size * min(count, 256))
    except (OSError, struct.error):
        return False
    for index in range(len(headers) // max(entry_size, 1)):
        (kind,) = struct.unpack_from(order + "I", headers, index * entry_size)
        if kind == 3:  # PT_INTERP
            return True
    return False


def package_binaries(hidden_paths: tuple[Path, ...], binary: Path) -> list[Path]:
    """The ELF files of the reference's package other than its binary: its shared libraries and helpers."""
    found: set[Path] = set()
    for hidden in hidden_paths:
        try:
            real = hidden.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if real != binary and real.is_file() and is_elf(real):
            found.add(real)
    return sorted(found)


class RoomAction:
    """One clean-room action as the broker knows it: the pid namespace its processes run in, whether it has
    ended, and how many of its calls are past the point where they may start a reference."""

    def __init__(self, pid_namespace: int) -> None:
        self.pid_namespace = pid_namespace
        self.ended = False
        self.calls = 0


class ReferenceBroker:
    """Serves ./executable requests from one clean room's actions until closed."""

    def __init__(self, layout: RoomLayout, settings: BrokerSettings, log_path: Path | None = None) -> None:
        self.layout = layout
        self.settings = settings
        self.log_path = log_path
        self.socket_path = layout.broker_dir / SOCKET_NAME
        self.calls = 0
        self._listener: socket.socket | None = None
        self._private: Path | None = None
        self._owner_fd: int | None = None
        self._room: ReferenceRoom | None = None
        self._stopping = threading.Event()
        self._threads: set[threading.Thread] = set()
        # reference sandbox pid -> the action whose call started it
        self._running: dict[int, RoomAction] = {}
        # live actions by pid namespace inode; an inode is reused once its namespace is gone, an action is not
        self._actions: dict[int, RoomAction] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)
        self._accepter: threading.Thread | None = None
        self._bwrap = shutil.which(settings.bwrap) or settings.bwrap
        self._script = not is_elf(settings.binary)
        self._log_bytes = 0
        self.exposures: list[str] = []

    @property
    def room(self) -> ReferenceRoom:
        """The reference's sandbox: its execute-only copies and, as root, the uid dropper."""
        if self._room is None:
            raise RuntimeError("the broker is not started")
        return self._room

    def __enter__(self) -> ReferenceBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Make the execute-only copy, bind the socket and start accepting."""
        self._private = Path(tempfile.mkdtemp(prefix="twinbench-reference-"))
        self._private.chmod(0o711)
        self._owner_fd = mark_owner(self._private)
        self._room = self._make_room(self._private)
        self.socket_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        self.socket_path.chmod(0o666)
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._accepter = threading.Thread(target=self._accept_loop, name="twinbench-broker", daemon=True)
        self._accepter.start()

    def _make_room(self, private: Path) -> ReferenceRoom:
        """Execute-only copies of the binary and, when the reference can start as root, of its package's
        other ELF files, which only a root-started dynamic loader can still map."""
        binary = self.settings.binary.resolve()
        dropper = None
        originals = [binary]
        libraries = package_binaries(self.layout.hidden_paths, binary)
        if self.settings.privileged and is_dynamic(binary):
            dropper = ensure_dropper()
            if dropper is not None:
                originals += libraries
        self.exposures = _exposures(binary, libraries if dropper is None else [], self.settings.privileged)
        copies: dict[Path, Path] = {}
        for index, original in enumerate(originals):
            copy = private / f"{index:03d}-{original.name}"
            shutil.copyfile(original, copy)
            copy.chmod(0o111 if is_elf(copy) else 0o555)
            copies[original] = copy
        if dropper is not None:
            shutil.copyfile(dropper, private / "dropuid.so")
            # mapped by a loader that is still root; the reference it becomes has no reason to read it
            (private / "dropuid.so").chmod(0o111)
            dropper = private / "dropuid.so"
        return ReferenceRoom(binary=binary, execute_only=copies, dropper=dropper)

    @contextmanager
    def action(self, pid_namespace: int | None) -> Iterator[RoomAction | None]:
        """Serve ./executable calls from processes in `pid_namespace` (one clean-room action's) while the body
        runs; on leaving, kill every reference those calls started and wait until they are reaped.
        None (bwrap reported no namespace: it failed to start) serves nothing."""
        if pid_namespace is None:
            yield None
            return
        action = RoomAction(pid_namespace)
        with self._changed:
            self._actions[pid_namespace] = action
            self._changed.notify_all()
        try:
            yield action
        finally:
            self.end_action(action)

    def end_action(self, action: RoomAction) -> None:
        """The action is over: refuse its later calls, kill its references, and wait until they are reaped."""
        with self._changed:
            action.ended = True
            if self._actions.get(action.pid_namespace) is action:
                del self._actions[action.pid_namespace]
            doomed = [pid for pid, owner in self._running.items() if owner is action]
        for pid in doomed:
            _kill(pid)
        with self._changed:
            self._changed.wait_for(lambda: action.calls == 0, timeout=END_ACTION_WAIT_S)

    def close(self) -> None:
        """Stop accepting, kill every reference still running, and remove the socket and the copy."""
        self._stopping.set()
        if self._accepter is not None:
            self._accepter.join()
        with self._lock:
            running = list(self._running)
            threads = list(self._threads)
        for pid in running:
            _kill(pid)
        deadline = time.monotonic() + CLOSE_JOIN_S
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
        self.socket_path.unlink(missing_ok=True)
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._threads = {t for t in self._threads if t.is_alive()}
                busy = len(self._threads) >= MAX_CONNECTIONS
                if not busy:
                    thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
                    self._threads.add(thread)
            if busy:
                self._refuse(connection, f"more than {MAX_CONNECTIONS} calls of the reference are open at once")
                continue
            try:
                thread.start()
            except RuntimeError:  # the interpreter cannot start another thread: refuse, keep accepting
                with self._lock:
                    self._threads.discard(thread)
                self._refuse(connection, "the reference broker is out of threads")

    def _refuse(self, connection: socket.socket, reason: str) -> None:
        call = ReferenceCall(error=reason)
        self._record(call)
        try:
            connection.settimeout(1.0)
            connection.sendall((json.dumps(call.answer(self.settings.limits.wall_s)) + "\n").encode())
        except OSError:
            pass
        finally:
            connection.close()

    def _serve(self, connection: socket.socket) -> None:
        fds: list[int] = []
        client: int | None = None
        try:
            try:
                # who connected is read first: the socket says who called connect(), whatever happens next
                client = _peer_pidfd(connection)
                request, fds = _read_request(connection, time.monotonic() + REQUEST_TIMEOUT_S)
            except (BrokerProtocolError, OSError) as exc:
                call = ReferenceCall(error=f"bad request to the reference broker: {exc}")
            else:
                call = self._serve_request(client, connection, request, fds)
            self._record(call)
            try:
                connection.sendall((json.dumps(call.answer(self.settings.limits.wall_s)) + "\n").encode())
            except OSError:
                pass  # the client is gone; its reference is already dead
        finally:
            for fd in fds:
                os.close(fd)
            if client is not None:
                os.close(client)
            connection.close()

    def _serve_request(
        self, client: int, connection: socket.socket, request: BrokerRequest, fds: list[int]
    ) -> ReferenceCall:
        """Run a well-formed request that comes from a live action and passes no connection to the broker."""
        try:
            action = self._action_of(client)
            self._refuse_broker_connections(fds)
        except BrokerProtocolError as exc:
            return ReferenceCall(argv=request.argv, cwd=request.cwd, error=f"refused by the reference broker: {exc}")
        connection.settimeout(None)
        with self._slots:
            try:
                return self._run_for(action, client, connection, request, fds)
            except Exception as exc:  # a bug of ours: answer and log it, keep serving others
                return ReferenceCall(argv=request.argv, cwd=request.cwd, error=f"broker failure: {exc!r}")

    def _action_of(self, client: int) -> RoomAction:
        """The live action the client process runs in; refused when it runs in none (a process outside the
        room, the reference itself, or an action that has ended)."""
        namespace = _pid_namespace(client)
        if namespace is None:
            raise BrokerProtocolError("the calling process is gone")
        with self._changed:
            self._changed.wait_for(lambda: namespace in self._actions, timeout=ACTION_REGISTRATION_WAIT_S)
            action = self._actions.get(namespace)
        if action is None:
            raise BrokerProtocolError("./executable runs the reference only for the clean room's own actions")
        return action

    def _refuse_broker_connections(self, fds: list[int]) -> None:
        """A reference holding a connection to this broker would keep a call's connection open after its client
        is gone; no client needs to pass one, so none is accepted."""
        for fd in fds:
            if _connects_to(fd, str(self.socket_path)):
                raise BrokerProtocolError("a descriptor passed for the reference is a connection to the broker")

    def _run_for(
        self, action: RoomAction, client: int, connection: socket.socket, request: BrokerRequest, fds: list[int]
    ) -> ReferenceCall:
        """Run the call unless its action has ended meanwhile; counted as one of the action's calls throughout,
        so that ending the action waits for it."""
        with self._changed:
            if action.ended:
                return ReferenceCall(argv=request.argv, cwd=request.cwd, error="the action that called has ended")
            action.calls += 1
        try:
            return self._run(action, client, connection, request, fds)
        finally:
            with self._changed:
                action.calls -= 1
                self._changed.notify_all()

    def _harness_environment(self) -> dict[str, str]:
        """The variables the harness sets for every run: the task's own and its frozen clock."""
        return {**self.settings.task_env, **clock_environment(self.settings.clock)}

    def _run(
        self, action: RoomAction, client: int, connection: socket.socket, request: BrokerRequest, fds: list[int]
    ) -> ReferenceCall:
        # the reference's own cgroup: its memory (memfds and /dev/shm included) and processes bounded as a whole
        cgroup = SandboxCgroup.create()
        try:
            return self._run_bounded(action, client, connection, request, fds, cgroup)
        finally:
            if cgroup is not None:
                cgroup.remove()

    def _run_bounded(
        self,
        action: RoomAction,
        client: int,
        connection: socket.socket,
        request: BrokerRequest,
        fds: list[int],
        cgroup: SandboxCgroup | None,
    ) -> ReferenceCall:
        call = ReferenceCall(argv=request.argv, cwd=request.cwd)
        started = time.monotonic()
        cgroup_fds: list[int] = []
        if cgroup is not None:
            cgroup.apply(self.settings.limits, SHM_BYTES >> 20)
            cgroup_fds = cgroup.procs_fds()
        cgroup_targets = tuple(range(FIRST_CGROUP_FD, FIRST_CGROUP_FD + len(cgroup_fds)))
        error_read, error_write = os.pipe()
        with SeccompFilter() as seccomp:
            command = reference_command(
                self.layout,
                self.room,
                bwrap=self._bwrap,
                privileged=self.settings.privileged,
                uid=self.settings.uid,
                gid=self.settings.gid,
                env=self._harness_environment(),
                agent_env=scrub_environment(request.env, script=self._script),
                limits=self.settings.limits,
                cwd=request.cwd,
                argv=request.argv,
                seccomp_fd=None if seccomp.fd is None else SECCOMP_FD,
                cgroup_fds=cgroup_targets,
            )
            with BwrapOptions(command) as options:
                assert options.fd is not None
                placed = {
                    STDIN_FD: fds[0],
                    STDOUT_FD: fds[1],
                    STDERR_FD: fds[2],
                    LAUNCH_ERROR_FD: error_write,
                    OPTIONS_FD: options.fd,
                }
                placed.update(zip(cgroup_targets, cgroup_fds, strict=True))
                if seccomp.fd is not None:
                    placed[SECCOMP_FD] = seccomp.fd
                # dup2 actions run in order, so a source that is also a target (a harness started with its stdio
                # closed gets low numbers for everything) would be overwritten first: move every source past them
                moved = {target: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_FREE_FD) for target, fd in placed.items()}
                actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in moved.items()]
                try:
                    pid = os.posix_spawn(self._bwrap, options.argv(OPTIONS_FD), {}, file_actions=actions, setsid=True)
                except (OSError, ValueError) as exc:
                    os.close(error_read)
                    call.error = f"cannot start the reference sandbox: {exc}"
                    return call
                finally:
                    os.close(error_write)
                    for fd in (*moved.values(), *cgroup_fds):
                        os.close(fd)
        with self._changed:
            self._running[pid] = action
            # the action may have ended while this call was starting its reference: it must not outlive it
            ended = action.ended
        if ended:
            _kill(pid)
        reaped = False
        try:
            call.timed_out, call.client_left = self._wait(
                pid, connection, client, started + self.settings.limits.wall_s
            )
            call.action_ended = action.ended
            if call.timed_out or call.client_left:
                _kill(pid)
            _, status = os.waitpid(pid, 0)
            reaped = True
            os.set_blocking(error_read, False)
            try:
                launch_error = os.read(error_read, 4096).decode(errors="replace").strip()
            except OSError:
                launch_error = ""
        finally:
            if not reaped:  # whatever went wrong while waiting, the reference must not outlive its call
                _kill(pid)
                os.waitpid(pid, 0)
            with self._changed:
                self._running.pop(pid, None)
            os.close(error_read)
        code = os.waitstatus_to_exitcode(status)
        call.exit_code = code if code >= 0 else 128 - code
        call.seconds = round(time.monotonic() - started, 4)
        if launch_error:
            call.error = f"cannot run the reference: {launch_error}"
        return call

    def _wait(self, pid: int, connection: socket.socket, client: int, deadline: float) -> tuple[bool, bool]:
        """Wait for the sandbox to exit; (timed out, client left) when it has to be killed instead. The client
        has left when its process exits or its connection closes, whichever is first: a connection can be kept
        open by whoever holds a copy of it, the process cannot."""
        pidfd = os.pidfd_open(pid)
        # poll, not select: a harness running many rooms holds descriptors past select's 1024
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(client, select.POLLIN)
        poller.register(connection.fileno(), select.POLLIN)
        try:
            while not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True, False
                ready = {fd for fd, _ in poller.poll(min(remaining, 0.5) * 1000)}
                if pidfd in ready:
                    return False, False
                if client in ready:
                    return False, True
                if connection.fileno() in ready:
                    try:
                        data = connection.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        return False, True
            return False, True
        finally:
            os.close(pidfd)

    def _record(self, call: ReferenceCall) -> None:
        # json.dumps escapes the lone surrogates that stand for undecodable argv bytes; pydantic's would raise
        entry = call.model_dump()
        entry["argv"] = _loggable_argv(call.argv)
        entry["cwd"] = _loggable_argv([call.cwd])[0]
        line = json.dumps(entry) + "\n"
        with self._lock:
            self.calls += 1
            if self.log_path is None or self._log_bytes > MAX_LOG_BYTES:
                return
            self._log_bytes += len(line)
            if self._log_bytes > MAX_LOG_BYTES:
                line = (
                    json.dumps(
                        {"error": f"the call log reached {MAX_LOG_BYTES >> 20} MiB; later calls are only counted"}
                    )
                    + "\n"
                )
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)


def _exposures(binary: Path, readable_libraries: list[Path], privileged: bool) -> list[str]:
    """What of the reference the broker cannot keep from a determined agent on this machine, one line each."""
    found: list[str] = []
    if not is_elf(binary):
        found.append(SCRIPT_EXPOSURE)
    if readable_libraries:
        names = ", ".join(path.name for path in readable_libraries[:4])
        more = f" and {len(readable_libraries) - 4} more" if len(readable_libraries) > 4 else ""
        why = "the harness is not root" if not privileged else "the uid dropper cannot be built (install gcc)"
        found.append(
            f"the package's libraries ({names}{more}) stay readable to the reference, which can be asked to "
            f"read them: {why}"
        )
    if privileged and is_elf(binary) and not is_dynamic(binary) and _suid_dumpable() != 0:
        found.append(
            "fs.suid_dumpable is not 0: the static reference stays dumpable to its own uid, so a child it "
            "starts can read its memory (sysctl fs.suid_dumpable=0)"
        )
    return found


def _suid_dumpable() -> int:
    try:
        return int(Path("/proc/sys/fs/suid_dumpable").read_text().strip())
    except (OSError, ValueError):
        return 0


def _peer_pidfd(connection: socket.socket) -> int:
    """A pidfd of the process that connected: exact with SO_PEERPIDFD; on kernels before 6.5 opened from the
    pid SO_PEERCRED names (a pid reused since then can only be another process of a live action, see
    `_action_of`, and dies with it)."""
    try:
        pidfd = connection.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD)
    except OSError as exc:
        if exc.errno not in (errno.ENOPROTOOPT, errno.EINVAL, errno.EOPNOTSUPP):
            raise BrokerProtocolError("the calling process is gone") from None
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, _, _ = struct.unpack("3i", credentials)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            raise BrokerProtocolError("the calling process is gone") from None
    os.set_inheritable(pidfd, False)
    return pidfd


def _pid_namespace(pidfd: int) -> int | None:
    """The inode of the pid namespace of the process behind `pidfd`, or None once it has exited. Read through
    /proc by pid, then checked against the pidfd: a process still running after the read is the one read."""
    try:
        fdinfo = Path(f"/proc/self/fdinfo/{pidfd}").read_text()
        pid = int(next(line.split()[1] for line in fdinfo.splitlines() if line.startswith("Pid:")))
        if pid <= 0:
            return None
        namespace = os.stat(f"/proc/{pid}/ns/pid").st_ino
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    exited = select.poll()
    exited.register(pidfd, select.POLLIN)
    return None if exited.poll(0) else namespace


def _connects_to(fd: int, address: str) -> bool:
    """Whether `fd` is a Unix socket connected to (or bound at) `address`."""
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return False
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        if probe.family != socket.AF_UNIX:
            return False
        names = []
        for name in (probe.getpeername, probe.getsockname):
            try:
                names.append(name())
            except OSError:
                continue
        return any(os.fsdecode(found) == address for found in names if isinstance(found, str | bytes))
    finally:
        probe.close()


def _kill(pid: int) -> None:
    """Kill a reference sandbox: bwrap's death takes its pid namespace, and so every process in it, along."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_request(connection: socket.socket, deadline: float) -> tuple[BrokerRequest, list[int]]:
    """Read the length-prefixed JSON request and exactly three file descriptors by `deadline`, or refuse it."""
    fds: list[int] = []

    def receive(count: int) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerProtocolError(f"the request took longer than {REQUEST_TIMEOUT_S:g} s to arrive")
        connection.settimeout(remaining)
        try:
            return connection.recv(count)
        except TimeoutError:
            raise BrokerProtocolError(f"the request took longer than {REQUEST_TIMEOUT_S:g} s to arrive") from None

    try:
        connection.settimeout(max(0.001, deadline - time.monotonic()))
        data, ancillary, flags, _ = connection.recvmsg(
            65536, socket.CMSG_SPACE(16 * array.array("i").itemsize), socket.MSG_CMSG_CLOEXEC
        )
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % array.array("i").itemsize
                fds.extend(array.array("i", payload[:usable]))
        if flags & socket.MSG_CTRUNC or len(fds) != STDIO_FDS:
            raise BrokerProtocolError(f"expected {STDIO_FDS} file descriptors, got {len(fds)}")
        while len(data) < 4:
            more = receive(4 - len(data))
            if not more:
                raise BrokerProtocolError("the request ended early")
            data += more
        (size,) = struct.unpack(">I", data[:4])
        if size > MAX_REQUEST_BYTES:
            raise BrokerProtocolError(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
        body = data[4:]
        while len(body) < size:
            more = receive(min(1 << 16, size - len(body)))
            if not more:
                raise BrokerProtocolError("the request ended early")
            body += more
        try:
            request = BrokerRequest.model_validate(json.loads(body[:size]))
        except (ValueError, ValidationError) as exc:
            raise BrokerProtocolError(_first_problem(exc)) from None
        except RecursionError:
            raise BrokerProtocolError("the request nests too deeply") from None
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def _first_problem(exc: Exception) -> str:
    """One line saying what is wrong with a request body."""
    if isinstance(exc, ValidationError):
        return first_error(exc, top="")
    return f"the request is not JSON ({exc})"
