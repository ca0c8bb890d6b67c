"""The in-sandbox runner: runs candidate processes on request and reports what they did.

This file is executed on its own (`python3 -I -S -c <this source> <config json>`) inside the sandbox,
so it imports nothing but the standard library and never imports twinbench. It runs as root of the
sandbox (or as the caller in unprivileged mode) and drops every candidate process to another uid, so the
candidate can neither signal nor trace it. One JSON request per line on stdin, one JSON response per line
on stdout. It never trusts anything the candidate prints: it only relays bytes.
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
from typing import Any, NoReturn

PR_SET_CHILD_SUBREAPER = 36
DRAIN_AFTER_EXIT_S = 2.0
READ_CHUNK = 1 << 16
FILE_COLLECT_CAP = 16 << 20
COLLECT_DIR_FILES = 64  # a collected directory yields at most this many files


def main() -> None:
    """Serve requests until stdin closes."""
    config = json.loads(sys.argv[1])
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
        if config.get("one_shot"):
            break


def _become_subreaper() -> None:
    """Orphans of the candidate are re-parented to us, so we can reap and count them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


class Runner:
    """State of one sandbox: where the tree, work dir and home are, and whom to run as."""

    def __init__(self, config: dict[str, Any]) -> None:
        # uid/gid: whom candidates run as; None when the sandbox itself is already that user
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

    def setup(self) -> None:
        """Make the read-only master copy that every test's work dir is linked from."""
        if self.cleanup_mode == "namespace" and os.getpid() > 3:
            # killing "everything but init and us" is only safe inside a fresh pid namespace
            raise SystemExit("runner: namespace cleanup requested outside a new pid namespace")
        state = os.path.dirname(self.master)
        if self.uid is not None and os.path.isdir(state):
            os.chmod(state, 0o700)
            for scratch in self.scratch_dirs:
                os.chmod(scratch, 0o1777)
        if self.tree and self.workdir_mode == "link":
            if os.path.exists(self.master):
                shutil.rmtree(self.master)
            shutil.copytree(self.tree, self.master, symlinks=True)
            _seal(self.master)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Prepare a fresh work dir, run one command, collect its output."""
        self.prepare()
        limits = request["limits"]
        for name, content in request.get("files", {}).items():
            self._write_input(name, base64.b64decode(content))
        stdin_fd = os.memfd_create("stdin", 0)
        try:
            stdin = base64.b64decode(request.get("stdin", ""))
            _write_all(stdin_fd, stdin)
            os.lseek(stdin_fd, 0, os.SEEK_SET)
            env = dict(request["env"], **self.env_overrides)
            response = self._execute(request["argv"], env, stdin_fd, limits)
        finally:
            os.close(stdin_fd)
        response["files"] = {}
        for name in request.get("collect", []):
            if name.endswith("/"):
                response["files"].update(self._collect_dir(name))
            else:
                response["files"][name] = self._collect(name)
        if self.export:
            export_tree = os.path.join(self.export, "tree")
            if os.path.lexists(export_tree):
                shutil.rmtree(export_tree)
            shutil.copytree(self.work, export_tree, symlinks=True)
        return response

    def prepare(self) -> None:
        """Give the next run an empty /tmp, an empty home and a fresh copy of the tree."""
        for scratch in self.scratch_dirs:
            _empty_dir(scratch, self.keep)
        if os.path.lexists(self.work):
            _remove(self.work)
        if self.tree and self.workdir_mode == "link":
            _link_tree(self.master, self.work)
        elif self.tree:
            shutil.copytree(self.tree, self.work, symlinks=True)
        else:
            os.mkdir(self.work)
        if os.path.lexists(self.home):
            _remove(self.home)
        os.mkdir(self.home)
        for path in (self.work, self.home):
            self._give(path)
        if self.workdir_mode == "copy" and self.tree:
            for root, dirs, files in os.walk(self.work):
                for name in dirs + files:
                    self._give(os.path.join(root, name))

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
        if os.path.lexists(path):
            _remove(path)
        with open(path, "wb") as handle:
            handle.write(content)
        self._give(path)

    def _collect_dir(self, name: str) -> dict[str, str | None]:
        """Every regular file directly in a work-dir directory (coverage counters whose names hold a pid)."""
        try:
            entries = sorted(os.listdir(os.path.join(self.work, name)))[:COLLECT_DIR_FILES]
        except OSError:
            return {}
        found = {name + entry: self._collect(name + entry) for entry in entries}
        return {key: value for key, value in found.items() if value is not None}

    def _collect(self, name: str) -> str | None:
        """Read a file the run was expected to write; only regular files, never through a symlink."""
        path = os.path.join(self.work, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = os.read(fd, FILE_COLLECT_CAP)
        finally:
            os.close(fd)
        return base64.b64encode(data).decode()

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
        mb = 1 << 20
        launch_argv = [
            launcher,
            str(self.uid if self.uid is not None else -1),
            str(self.gid if self.gid is not None else -1),
            str(int(limits["cpu_s"])),
            str(limits["memory_mb"] * mb),
            str(limits["file_size_mb"] * mb),
            str(limits["open_files"]),
            str(limits["processes"]),
            self.work,
            program,
            *argv,
        ]
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
        return os.posix_spawn(launcher, launch_argv, env, file_actions=actions, setsid=True)

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
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
            if self.uid is not None and os.getuid() == 0:
                os.setgroups([])
                os.setgid(self.gid)
                os.setuid(self.uid)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
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
            "seconds": seconds,
            "exit_code": None,
            "signal": None,
        }
        if os.WIFEXITED(status):
            response["exit_code"] = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            response["signal"] = os.WTERMSIG(status)
        return response

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


def _seal(root: str) -> None:
    """Make the master tree unwritable for anyone but root, so hard links to it cannot be edited."""
    for path, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(path, name)
            if not os.path.islink(full):
                mode = os.lstat(full).st_mode
                os.chmod(full, stat.S_IMODE(mode) & ~(stat.S_IWGRP | stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID))


def _link_tree(source: str, target: str) -> None:
    """A fresh work dir that shares file contents with the master by hard links."""
    os.mkdir(target)
    for entry in os.scandir(source):
        destination = os.path.join(target, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
        elif entry.is_dir():
            _link_tree(entry.path, destination)
        else:
            os.link(entry.path, destination)


def _empty_dir(path: str, keep: set[str]) -> None:
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        if name not in keep:
            _remove(os.path.join(path, name))


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                shutil.rmtree(path)
            except PermissionError:
                _make_removable(path)
                shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _make_removable(root: str) -> None:
    """A candidate may leave directories it made unreadable; root in a user namespace needs them opened up."""
    for path, dirs, _files in os.walk(root):
        for name in dirs:
            try:
                os.chmod(os.path.join(path, name), 0o700)
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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
