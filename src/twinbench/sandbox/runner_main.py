"""The in-sandbox runner: runs candidate processes on request and reports what they did.

This file is executed on its own (`python3 -I -S -c <this source> <config json>`) inside the sandbox,
so it imports nothing but the standard library and never imports twinbench. It runs as root of the
sandbox (or as the caller in unprivileged mode) and drops every candidate process to another uid, so the
candidate can neither signal nor trace it. One JSON request per line on stdin, one JSON response per line
on stdout. It never trusts anything the candidate prints: it only relays bytes.

It is also the one place where the sandbox's border is written down, for both sides: the runner's
configuration (RunnerConfig), the launcher's argv (launch_argv, read by position in launcher.c) and the
descriptor numbers a launched program gets. The harness imports this module for them.
"""

import base64
import errno
import json
import os
import resource
import select
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterator
from typing import Any, NoReturn, TypedDict

PR_SET_CHILD_SUBREAPER = 36
DRAIN_AFTER_EXIT_S = 2.0
READ_CHUNK = 1 << 16
FILE_COLLECT_CAP = 16 << 20
COPY_CHUNK = 1 << 24
# what one entry of a copied tree costs at least on the disk it lands on (an inode and a block)
EXPORT_BLOCK = 4096
# deeper trees are refused at the border: whatever reads them later may walk them recursively
MAX_TREE_DEPTH = 100
# subdirectories being removed are moved up under this name (see empty_dir)
LIFTED_PREFIX = ".twinbench-lifted-"
# mount flags for remounting the sandbox's /tmp so that reading a file changes nothing (see Runner.setup)
MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_NOATIME = 2, 4, 32, 1024
CLONE_NEWIPC = 0x08000000

# Descriptors of a launched program: its three standard streams, and the launcher's channel for a failed
# exec (close-on-exec, so the program never sees it). The broker passes the seccomp filter to bwrap on the
# next one.
STDIN_FD, STDOUT_FD, STDERR_FD = 0, 1, 2
LAUNCH_STATUS_FD = 3
SECCOMP_FD = 4
LAUNCH_FDS = (STDIN_FD, STDOUT_FD, STDERR_FD, LAUNCH_STATUS_FD)

# The launcher's arguments, in order; launcher.c names the same positions ARG_<NAME> (a test checks both).
# The program's own argv follows them. -1 for UID/GID keeps the current user; CGROUP_FDS are descriptors of
# cgroup.procs files (comma-separated; -1 for none) the launcher joins before anything else; NEW_IPC 1 gives
# the program a fresh IPC namespace (SysV IPC and POSIX message queues of earlier runs are gone); CPUS are the
# host CPUs (comma-separated; -1 for no change) the program is pinned to (sandbox/machine.py).
LAUNCH_FIELDS = (
    "UID",
    "GID",
    "CPU_S",
    "AS_BYTES",
    "FSIZE_BYTES",
    "NOFILE",
    "NPROC",
    "NEW_IPC",
    "CGROUP_FDS",
    "CPUS",
    "WORKDIR",
    "PROGRAM",
)


class LaunchLimits(TypedDict):
    """The per-process limits the launcher applies (the fields of twinbench's Limits that it reads)."""

    cpu_s: float
    memory_mb: int
    file_size_mb: int
    open_files: int
    processes: int


def launch_argv(
    launcher: str,
    *,
    uid: int | None,
    gid: int | None,
    limits: LaunchLimits,
    workdir: str,
    program: str,
    argv: list[str],
    new_ipc: bool = False,
    cgroup_fds: tuple[int, ...] = (),
    cpus: tuple[int, ...] = (),
) -> list[str]:
    """The launcher's argv: apply `limits`, join the cgroup, pin to `cpus` (none: the caller's affinity), maybe a
    fresh IPC namespace, drop to uid/gid
    (None keeps the current user), enter `workdir` and exec `program` with `argv`."""
    mb = 1 << 20
    values = {
        "UID": -1 if uid is None else uid,
        "GID": -1 if gid is None else gid,
        "CPU_S": int(limits["cpu_s"]),
        "AS_BYTES": limits["memory_mb"] * mb,
        "FSIZE_BYTES": limits["file_size_mb"] * mb,
        "NOFILE": limits["open_files"],
        "NPROC": limits["processes"],
        "NEW_IPC": int(new_ipc),
        "CGROUP_FDS": ",".join(map(str, cgroup_fds)) or -1,
        "CPUS": ",".join(map(str, cpus)) or -1,
        "WORKDIR": workdir,
        "PROGRAM": program,
    }
    return [launcher, *(str(values[field]) for field in LAUNCH_FIELDS), *argv]


class RunnerConfig(TypedDict):
    """Everything the runner is told at start, as JSON in its argv; built by each backend (bwrap.py, local.py)."""

    uid: int | None  # whom candidates run as; None when the sandbox itself is already that user
    gid: int | None
    tree: str | None  # the tree every run's work dir is made from
    master: str  # where the sealed master copy of the tree is kept (link mode)
    work: str
    home: str
    scratch_dirs: list[str]  # emptied after every run (/tmp, /dev/shm)
    keep: list[str]  # names in the scratch dirs that stay (the runner's own state)
    export: str | None  # where the work dir is copied after a run (a build), or None
    export_owner: tuple[int, int] | None  # uid and gid the exported tree is given (the harness's own)
    disk_bytes: int  # what the whole sandbox may take on disk; bounds the export too
    workdir_mode: str  # "link" or "copy" (twinbench.sandbox.types.WorkdirMode)
    cleanup: str  # "namespace": kill all of the pid namespace; "process_group": the child's group only
    one_shot: bool  # serve one request, then exit
    env_overrides: dict[str, str]
    launcher: str | None  # the compiled launcher, or None to fork from Python
    new_ipc: bool  # each run gets a fresh IPC namespace (needs CAP_SYS_ADMIN)
    noatime_mount: str | None  # remounted noatime at start, so that reading the tree changes nothing
    cgroup_fds: list[int]  # open cgroup.procs files the runner joins at start (memory and pids)
    cpus: list[int]  # host CPUs every run is pinned to (sandbox/machine.py); empty: the runner's own


# the fixed machine's stack limit (launcher.c's STACK_BYTES): glibc derives ARG_MAX from it
STACK_BYTES = 8 << 20


def _fix_stack_limit() -> None:
    """The soft stack limit set to the fixed machine's, where the host's hard limit allows it."""
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if hard == resource.RLIM_INFINITY or hard >= STACK_BYTES:
        resource.setrlimit(resource.RLIMIT_STACK, (STACK_BYTES, hard))


COLLECT_DIR_FILES = 64  # a collected directory ("name/") yields at most this many files
# the time every run's input files, directories and symlinks carry (2024-01-02 03:04:05 UTC, testgen's frozen
# clock): written at run time they would carry the moment of recording, which `ls -l`, `fd --list-details`,
# archives and gzip headers show, and a later check or grading could never reproduce
FIXED_FILE_TIME_NS = 1_704_164_645 * 1_000_000_000


def main() -> None:
    """Serve requests until stdin closes, or until a run leaves something that cannot be removed."""
    config: RunnerConfig = json.loads(sys.argv[1])
    _become_subreaper()
    runner = Runner(config)
    runner.setup()
    requests = sys.stdin.buffer
    responses = sys.stdout.buffer
    while True:
        line = requests.readline()
        if not line:
            break
        try:
            response = runner.handle(json.loads(line))
        except Exception as exc:  # the harness must always get an answer it can record
            runner.cleanup()
            response = {"error": f"runner: {type(exc).__name__}: {exc}"}
        responses.write(json.dumps(response).encode() + b"\n")
        responses.flush()
        runner.cleanup()
        if config["one_shot"] or response.get("restart"):
            break


def _become_subreaper() -> None:
    """Orphans of the candidate are re-parented to us, so we can reap and count them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


def _remount(target: str, flags: int) -> None:
    """mount(2) with MS_REMOUNT: the standard library has no binding, ctypes does."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(None, target.encode(), None, MS_REMOUNT | flags, None) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"remount {target}: {os.strerror(code)}")


def _join_cgroups(fds: list[int]) -> None:
    """Move this process (and so all it starts) into the cgroups whose cgroup.procs files the harness opened."""
    for fd in fds:
        os.write(fd, b"0\n")
        os.close(fd)


class Runner:
    """State of one sandbox: where the tree, work dir and home are, and whom to run as."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.uid: int | None = config["uid"]
        self.gid: int = config["gid"] if config["gid"] is not None else -1
        self.tree: str | None = config["tree"]
        self.master: str = config["master"]
        self.work: str = config["work"]
        self.home: str = config["home"]
        self.scratch_dirs: list[str] = config["scratch_dirs"]
        self.keep: set[str] = set(config["keep"])
        self.export: str | None = config["export"]
        self.workdir_mode: str = config["workdir_mode"]
        self.cleanup_mode: str = config["cleanup"]
        self.env_overrides: dict[str, str] = config["env_overrides"]
        self.launcher: str | None = config["launcher"]
        self.child_pgid: int | None = None
        self.reaped: dict[int, int] = {}
        # RLIMIT_NPROC counts every process of the candidate uid on the whole machine, other sandboxes' too, so
        # what a program could start would follow the machine's load (a Go runtime or a thread pool failing to
        # start a thread). Where the sandbox's pids cgroup bounds its processes exactly, the rlimit is left
        # as the runner has it; without a cgroup it is the only bound there is.
        self.bounded_by_cgroup = bool(config["cgroup_fds"])

    def setup(self) -> None:
        """Join the sandbox's cgroups, then make the read-only master copy every test's work dir links to."""
        if self.cleanup_mode == "namespace" and os.getpid() > 3:
            # killing "everything but init and us" is only safe inside a fresh pid namespace
            raise SystemExit("runner: namespace cleanup requested outside a new pid namespace")
        _join_cgroups(self.config["cgroup_fds"])
        if self.config["noatime_mount"]:
            _remount(self.config["noatime_mount"], MS_NOSUID | MS_NODEV | MS_NOATIME)
        state = os.path.dirname(self.master)
        if self.uid is not None and os.path.isdir(state):
            os.chmod(state, 0o700)
            for scratch in self.scratch_dirs:
                os.chmod(scratch, 0o1777)
        if self.tree and self.workdir_mode == "link":
            remove_tree(self.master)
            # the seal: root owns every file of the master and no mode lets another uid write it (see
            # export_mode), so the hard links in each run's work dir cannot carry a change to the next run
            copy_tree(self.tree, self.master, None, None)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Prepare a fresh work dir, run one command, collect its output, export it, and clean up after it.
        What the run left that cannot be removed ends this runner: the response says so, and the run is the
        candidate's crash."""
        try:
            self.prepare()
        except TreeRefused as refused:
            self.clean()
            return {"crash_reason": str(refused)}
        limits = request["limits"]
        for name, content in request.get("files", {}).items():
            self._write_input(name, base64.b64decode(content))
        self._settle_times(list(request.get("files", {})))
        stdin_fd = os.memfd_create("stdin", 0)
        try:
            stdin = base64.b64decode(request.get("stdin", ""))
            _write_all(stdin_fd, stdin)
            os.lseek(stdin_fd, 0, os.SEEK_SET)
            env = dict(request["env"], **self.env_overrides)
            response = self._execute(request["argv"], env, stdin_fd, limits)
        finally:
            os.close(stdin_fd)
        self.kill_leftovers()
        response["files"] = self._collect_all(request.get("collect", []))
        if self.export:
            response["export_error"] = self._export()
        try:
            self.clean()
        except CleanupFailed as failed:
            response["crash_reason"] = f"what the run left behind cannot be removed: {failed}"
            response["restart"] = True
        return response

    def _settle_times(self, inputs: list[str]) -> None:
        """Give the input files, every directory of the work dir, its symlinks and the home one fixed time
        (FIXED_FILE_TIME_NS); files of the tree keep theirs (the master copy's)."""
        stamp = (FIXED_FILE_TIME_NS, FIXED_FILE_TIME_NS)
        for name in inputs:
            os.utime(os.path.join(self.work, name), ns=stamp, follow_symlinks=False)
        for directory, _depth in _walk_dirs(self.work):
            for entry in os.scandir(directory):
                if entry.is_symlink():
                    os.utime(entry.path, ns=stamp, follow_symlinks=False)
            os.utime(directory, ns=stamp)
        os.utime(self.home, ns=stamp)

    def _export(self) -> str | None:
        """Copy the work dir out to the host, sanitized and within the sandbox's disk limit; None, or why not."""
        assert self.export is not None
        target = os.path.join(self.export, "tree")
        remove_tree(target)
        owner = self.config["export_owner"]
        as_owner = (owner[0], owner[1]) if owner is not None and os.geteuid() == 0 else None  # JSON made it a list
        try:
            copy_tree(self.work, target, ExportBudget(self.config["disk_bytes"]), as_owner)
        except TreeRefused as refused:
            return str(refused)
        # the top stays private to its owner: nothing inside is for other users of the host
        os.chmod(target, 0o700)
        return None

    def prepare(self) -> None:
        """Give the next run a fresh copy of the tree and an empty home (clean() emptied the rest)."""
        remove_tree(self.work)
        remove_tree(self.home)
        if self.tree and self.workdir_mode == "link":
            _link_tree(self.master, self.work)
        elif self.tree:
            copy_tree(self.tree, self.work, ExportBudget(self.config["disk_bytes"]), None)
        else:
            os.mkdir(self.work)
        os.mkdir(self.home)
        for path in (self.work, self.home):
            self._give(path)
        if self.workdir_mode == "copy" and self.tree and self.uid is not None:
            for directory, _depth in _walk_dirs(self.work):
                for entry in [directory, *_entries(directory)]:
                    self._give(entry)

    def clean(self) -> None:
        """Remove everything a run could have left: the scratch dirs' contents, the work dir and the home."""
        for scratch in self.scratch_dirs:
            empty_dir(scratch, self.keep)
        for path in (self.work, self.home):
            try:
                remove_tree(path)
            except OSError as exc:
                raise CleanupFailed(f"cannot remove {path!r}: {exc.strerror or exc}") from exc

    def _collect_all(self, names: list[str]) -> dict[str, str | None]:
        """The files the run was expected to write, within the sandbox's disk limit in all."""
        budget = self.config["disk_bytes"]
        files: dict[str, str | None] = {}
        for name in self._expand_dirs(names):
            data = self._collect(name, min(FILE_COLLECT_CAP, max(budget, 0)))
            budget -= 0 if data is None else len(data)
            files[name] = None if data is None else base64.b64encode(data).decode()
        return files

    def _expand_dirs(self, names: list[str]) -> list[str]:
        """Names to collect; a name ending in "/" stands for the regular files directly in that work-dir
        directory (coverage counters whose names hold a pid), at most COLLECT_DIR_FILES of them."""
        expanded: list[str] = []
        for name in names:
            if not name.endswith("/"):
                expanded.append(name)
                continue
            try:
                entries = sorted(os.listdir(os.path.join(self.work, name)))[:COLLECT_DIR_FILES]
            except OSError:
                continue
            expanded += [name + entry for entry in entries if _is_regular(os.path.join(self.work, name, entry))]
        return expanded

    def _give(self, path: str) -> None:
        if self.uid is not None:
            os.lchown(path, self.uid, self.gid)

    def _write_input(self, name: str, content: bytes) -> None:
        path = os.path.join(self.work, name)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            walk = parent
            while walk != self.work and walk.startswith(self.work):
                self._give(walk)
                walk = os.path.dirname(walk)
        remove_tree(path)
        with open(path, "wb") as handle:
            handle.write(content)
        self._give(path)

    def _collect(self, name: str, cap: int) -> bytes | None:
        """Read a file the run was expected to write; only regular files, never through a symlink."""
        path = os.path.join(self.work, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return _read_up_to(fd, cap)
        finally:
            os.close(fd)

    def _execute(self, argv: list[str], env: dict[str, str], stdin_fd: int, limits: dict[str, Any]) -> dict[str, Any]:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        status_read, status_write = os.pipe()
        program = argv[0]
        if "/" not in program:
            program = shutil.which(program, path=env.get("PATH", "/usr/bin:/bin")) or program
        started = time.monotonic()
        try:
            if self.launcher:
                fds = (stdin_fd, out_write, err_write, status_write)
                pid = self._spawn(self.launcher, program, argv, env, limits, fds)
            else:
                pid = os.fork()
                if pid == 0:
                    self._child(program, argv, env, stdin_fd, out_write, err_write, status_write, limits)
        finally:
            for fd in (out_write, err_write, status_write):
                os.close(fd)
        self.child_pgid = pid
        try:
            exec_error = _read_all(status_read)
        finally:
            os.close(status_read)
        pidfd = os.pidfd_open(pid)
        try:
            outcome = self._supervise(pid, pidfd, out_read, err_read, limits, started)
        finally:
            os.close(pidfd)
            os.close(out_read)
            os.close(err_read)
        if exec_error:
            outcome["exec_error"] = exec_error.decode(errors="replace")
        return outcome

    def _spawn(
        self,
        launcher: str,
        program: str,
        argv: list[str],
        env: dict[str, str],
        limits: dict[str, Any],
        fds: tuple[int, ...],
    ) -> int:
        """Start the launcher with vfork speed; it applies limits, drops the uid and execs."""
        command = launch_argv(
            launcher,
            uid=self.uid,
            gid=self.gid,
            limits=LaunchLimits(
                cpu_s=limits["cpu_s"],
                memory_mb=limits["memory_mb"],
                file_size_mb=limits["file_size_mb"],
                open_files=limits["open_files"],
                processes=self.process_rlimit(limits),
            ),
            workdir=self.work,
            program=program,
            argv=argv,
            new_ipc=self.config["new_ipc"],
            cpus=tuple(self.config["cpus"]),
        )
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in zip(fds, LAUNCH_FDS, strict=True)]
        return os.posix_spawn(launcher, command, env, file_actions=actions, setsid=True)

    def process_rlimit(self, limits: dict[str, Any]) -> int:
        """RLIMIT_NPROC for the run: the run's process limit, or the runner's own hard limit (-1: unlimited)
        where the pids cgroup bounds the sandbox."""
        if self.bounded_by_cgroup:
            return resource.getrlimit(resource.RLIMIT_NPROC)[1]
        return int(limits["processes"])

    def _child(
        self,
        program: str,
        argv: list[str],
        env: dict[str, str],
        stdin_fd: int,
        out_write: int,
        err_write: int,
        status_write: int,
        limits: dict[str, Any],
    ) -> NoReturn:
        """Runs in the forked child: isolate, limit, drop privileges, exec. Never returns."""
        try:
            os.setsid()
            os.dup2(stdin_fd, 0)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            mb = 1 << 20
            cpu = int(limits["cpu_s"])
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_mb"] * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            _fix_stack_limit()
            resource.setrlimit(resource.RLIMIT_NPROC, (self.process_rlimit(limits),) * 2)
            if self.config["cpus"]:
                os.sched_setaffinity(0, self.config["cpus"])
            if self.config["new_ipc"]:
                _unshare_ipc()
            _prefer_for_oom_kill()
            if self.uid is not None and os.getuid() == 0:
                os.setgroups([])
                os.setgid(self.gid)
                os.setuid(self.uid)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            os.chdir(self.work)
            os.execve(program, argv, env)
        except BaseException as exc:
            message = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
            try:
                os.write(status_write, message.encode(errors="replace")[:500])
            finally:
                os._exit(127)

    def _supervise(
        self, pid: int, pidfd: int, out_read: int, err_read: int, limits: dict[str, Any], started: float
    ) -> dict[str, Any]:
        """Relay output until the process exits or the wall limit passes, then kill what is left."""
        cap = limits["output_bytes"]
        deadline = started + limits["wall_s"]
        streams = {out_read: bytearray(), err_read: bytearray()}
        sizes = {out_read: 0, err_read: 0}
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        open_streams = set(streams)
        exited = False
        timed_out = False
        drain_deadline = None
        status = 0
        left_running = False
        while open_streams or not exited:
            now = time.monotonic()
            limit = deadline if drain_deadline is None else min(deadline, drain_deadline)
            if now >= limit:
                if not exited:
                    timed_out = True
                break
            for fd, _event in poller.poll(max(1, int((limit - now) * 1000))):
                if fd == pidfd:
                    poller.unregister(pidfd)
                    status = self.wait_for(pid)
                    exited = True
                    left_running = self.processes_left()
                    self.kill_leftovers()
                    drain_deadline = time.monotonic() + DRAIN_AFTER_EXIT_S
                    continue
                chunk = os.read(fd, READ_CHUNK)
                if not chunk:
                    poller.unregister(fd)
                    open_streams.discard(fd)
                    continue
                keep = cap - sizes[fd]
                if keep > 0:
                    streams[fd] += chunk[:keep]
                sizes[fd] += len(chunk)
        seconds = time.monotonic() - started
        self.kill_leftovers()
        if not exited:
            status = self.wait_for(pid)
        response = {
            "stdout": base64.b64encode(bytes(streams[out_read])).decode(),
            "stderr": base64.b64encode(bytes(streams[err_read])).decode(),
            "stdout_truncated": sizes[out_read] > cap,
            "stderr_truncated": sizes[err_read] > cap,
            "timed_out": timed_out,
            "left_running": left_running,
            "seconds": seconds,
            "exit_code": None,
            "signal": None,
        }
        if os.WIFEXITED(status):
            response["exit_code"] = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            response["signal"] = os.WTERMSIG(status)
        return response

    def processes_left(self) -> bool:
        """Is a process the program started still alive now that it has exited? What such a process would
        print or write races the kill that follows, so its run is not a fair expectation."""
        self._reap()
        try:
            if self.cleanup_mode == "process_group":
                if self.child_pgid is None:
                    return False
                os.killpg(self.child_pgid, 0)
            else:
                os.kill(-1, 0)  # signal 0 to all of the pid namespace but init and us: is anyone there?
        except OSError:
            return False
        return True

    def kill_leftovers(self) -> None:
        """Kill every candidate process: all of the pid namespace but init and us, or the child's group."""
        if self.cleanup_mode == "process_group":
            if self.child_pgid is not None:
                try:
                    os.killpg(self.child_pgid, signal.SIGKILL)
                except OSError:
                    pass
            self._reap()
            return
        # Everything in this pid namespace but init and us is the candidate's: kill(-1) reaches all of it
        # in one pass, and a process with SIGKILL pending cannot finish a fork. As subreaper we then reap
        # every descendant, so the loop ends when nothing is left to signal.
        for _round in range(1000):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return
            self._reap(block=True)
            if _round > 10:
                time.sleep(0.001)

    def wait_for(self, pid: int) -> int:
        """Exit status of our child, even if a sweep of orphans already reaped it."""
        if pid in self.reaped:
            return self.reaped.pop(pid)
        return os.waitpid(pid, 0)[1]

    def _reap(self, block: bool = False) -> None:
        """Collect every exited child, keeping statuses for the one we wait for."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped[pid] = status

    def cleanup(self) -> None:
        """Leave nothing running between requests."""
        self.kill_leftovers()
        self.child_pgid = None
        self.reaped.clear()


def _entries(directory: str) -> list[str]:
    return [os.path.join(directory, name) for name in os.listdir(directory)]


def _walk_dirs(root: str) -> Iterator[tuple[str, int]]:
    """Every directory under `root` (itself first) with its depth, by an explicit stack: a tree deeper than
    Python's recursion limit is walked like any other."""
    stack = [(root, 0)]
    while stack:
        directory, depth = stack.pop()
        yield directory, depth
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, depth + 1))


def _link_tree(source: str, target: str) -> None:
    """A fresh work dir that shares file contents with the master by hard links."""
    for directory, _depth in _walk_dirs(source):
        relative = os.path.relpath(directory, source)
        made = os.path.normpath(os.path.join(target, relative))
        os.mkdir(made)
        for entry in os.scandir(directory):
            destination = os.path.join(made, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), destination)
            elif not entry.is_dir(follow_symlinks=False):
                os.link(entry.path, destination)


class TreeRefused(Exception):
    """A tree that may not cross the sandbox's border: the message says why, for the candidate's record."""


class ExportBudget:
    """What a copy may cost the disk it lands on: every entry at least one block, every regular file its full
    apparent size. A hard link is copied as a file of its own and a sparse file is written out in full, so
    this is what the copy really takes, not what the tree took in the sandbox."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.used_bytes = 0
        self.entries = 0

    def charge(self, size: int) -> None:
        """Count one entry of `size` bytes; refuse the copy once the total passes the limit."""
        self.entries += 1
        self.used_bytes += max(EXPORT_BLOCK, -(-size // EXPORT_BLOCK) * EXPORT_BLOCK)
        if self.used_bytes > self.limit_bytes:
            raise TreeRefused(
                f"the built tree takes more than the disk limit of {self.limit_bytes >> 20} MB when copied out "
                f"({self.entries} entries so far; hard links and sparse files count at their full size)"
            )


def export_mode(mode: int) -> int:
    """The permission bits a file or directory keeps when it leaves a sandbox: at most rwxr-xr-x, never a
    setuid, setgid or sticky bit, and a directory always usable by its owner."""
    bits = stat.S_IMODE(mode) & 0o755
    return bits | 0o700 if stat.S_ISDIR(mode) else bits


def copy_tree(source: str, target: str, budget: ExportBudget | None, owner: tuple[int, int] | None) -> None:
    """Copy `source` to a new directory `target`, without recursion: directories, regular files and symlinks
    only (fifos, sockets and devices are left out), with modes from export_mode(). With a budget, the copy
    stops with TreeRefused past it or past MAX_TREE_DEPTH, and what was copied is removed; with an owner
    (as root), every entry is given to that uid and gid."""
    try:
        _copy_tree(source, target, budget, owner)
    except TreeRefused:
        remove_tree(target)
        raise
    except OSError as exc:
        remove_tree(target)
        raise TreeRefused(f"the tree cannot be copied: {exc.strerror or exc}: {exc.filename or ''}") from exc


def _copy_tree(source: str, target: str, budget: ExportBudget | None, owner: tuple[int, int] | None) -> None:
    for directory, depth in _walk_dirs(source):
        if budget is not None and depth > MAX_TREE_DEPTH:
            raise TreeRefused(f"the tree nests directories more than {MAX_TREE_DEPTH} deep")
        made = os.path.normpath(os.path.join(target, os.path.relpath(directory, source)))
        mode = os.lstat(directory).st_mode
        os.mkdir(made, 0o700)
        if budget is not None:
            budget.charge(0)
        for entry in os.scandir(directory):
            destination = os.path.join(made, entry.name)
            if entry.is_symlink():
                if budget is not None:
                    budget.charge(0)
                os.symlink(os.readlink(entry.path), destination)
                if owner is not None:
                    os.lchown(destination, *owner)
            elif entry.is_file(follow_symlinks=False):
                _copy_file(entry.path, destination, budget, owner)
        _finish(made, mode, owner)


def _copy_file(source: str, destination: str, budget: ExportBudget | None, owner: tuple[int, int] | None) -> None:
    """Copy one regular file at its full apparent size, never through a symlink or into a fifo."""
    reading = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(reading)
        if not stat.S_ISREG(info.st_mode):
            return
        if budget is not None:
            budget.charge(info.st_size)
        writing = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            remaining = info.st_size
            while remaining > 0:
                sent = os.sendfile(writing, reading, None, min(remaining, COPY_CHUNK))
                if sent == 0:
                    break
                remaining -= sent
            if owner is not None:
                os.fchown(writing, *owner)
            os.fchmod(writing, export_mode(info.st_mode))
            # the access time is the modification time: our own reads of the source must not show in the copy
            os.utime(writing, ns=(info.st_mtime_ns, info.st_mtime_ns))
        finally:
            os.close(writing)
    finally:
        os.close(reading)


def _finish(directory: str, mode: int, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.lchown(directory, *owner)
    os.chmod(directory, export_mode(mode))


class CleanupFailed(Exception):
    """What a run left behind could not be removed; the runner then ends, and the next run gets a new one."""


def remove_tree(path: str) -> None:
    """Remove a file, link or directory tree of any depth, breadth or permissions, without recursion."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    empty_dir(path, set())
    os.rmdir(path)


def empty_dir(path: str, keep: set[str]) -> None:
    """Remove everything in `path` but the names in `keep`.

    Each subdirectory's files are unlinked in place and its own subdirectories are moved up into `path`, so
    however deep a tree goes, no more than two directories are open at a time and no path grows longer than
    two names. A directory the candidate made unreadable is opened up first (its owner or root may). Every
    pass must remove something, so a tree that cannot be removed ends in CleanupFailed, never in a loop."""
    try:
        root = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    lifted = 0
    try:
        while True:
            names = [name for name in os.listdir(root) if name not in keep]
            if not names:
                return
            progress = False
            for name in names:
                done, moved = _clear_entry(root, name, lifted)
                lifted += moved
                progress = progress or done or moved > 0
            if not progress:
                raise CleanupFailed(f"cannot remove {os.path.join(path, names[0])!r}")
    except OSError as exc:
        raise CleanupFailed(f"cannot empty {path!r}: {exc.strerror or exc} ({exc.filename})") from exc
    finally:
        os.close(root)


def _clear_entry(root: int, name: str, lifted: int) -> tuple[bool, int]:
    """Remove `name` in the directory `root`, or move its subdirectories up into `root`; returns whether it is
    gone and how many directories were moved."""
    try:
        info = os.stat(name, dir_fd=root, follow_symlinks=False)
    except FileNotFoundError:
        return True, 0
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=root)
        return True, 0
    if stat.S_IMODE(info.st_mode) & 0o700 != 0o700:
        os.chmod(name, 0o700, dir_fd=root, follow_symlinks=False)
    inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root)
    moved = 0
    try:
        for child in os.listdir(inner):
            child_info = os.stat(child, dir_fd=inner, follow_symlinks=False)
            if not stat.S_ISDIR(child_info.st_mode):
                os.unlink(child, dir_fd=inner)
                continue
            if stat.S_IMODE(child_info.st_mode) & 0o700 != 0o700:
                # moving a directory to another parent rewrites its "..": its owner needs write permission
                os.chmod(child, 0o700, dir_fd=inner, follow_symlinks=False)
            for attempt in range(100):
                lifted_name = f"{LIFTED_PREFIX}{lifted + moved}-{attempt}"
                if not _exists(root, lifted_name):
                    os.rename(child, lifted_name, src_dir_fd=inner, dst_dir_fd=root)
                    moved += 1
                    break
    finally:
        os.close(inner)
    try:
        os.rmdir(name, dir_fd=root)
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY:
            raise
        return False, moved
    return True, moved


def _exists(directory: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _unshare_ipc() -> None:
    """unshare(CLONE_NEWIPC) for the forking fallback (os.unshare is Python 3.12+)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWIPC)")


def _prefer_for_oom_kill() -> None:
    """Candidates are killed first when the sandbox's memory runs out, never the runner (see launcher.c)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adjust:
            adjust.write("1000")
    except OSError:
        pass


def _is_regular(path: str) -> bool:
    """A regular file itself, not through a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_up_to(fd: int, cap: int) -> bytes:
    chunks: list[bytes] = []
    left = cap
    while left > 0:
        chunk = os.read(fd, min(left, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            raise
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


if __name__ == "__main__":
    main()
