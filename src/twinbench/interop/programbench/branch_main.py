"""The in-sandbox supervisor of one ProgramBench test branch (stdlib only; never imports twinbench).

Run as root of a fresh bwrap sandbox (`python3 -I -S -B -c <this source> <config json>`). It lays out
/workspace, serves the candidate broker, runs the branch's eval/run.sh as the pytest uid, and copies
eval/results.xml out to a directory neither the pytest uid nor the candidate uid can reach.

Who owns what inside the sandbox:
  /workspace              root:G 3775 (setgid + sticky): both uids may add files, nobody may rename or
                          delete another's, so the shim and eval/ stay where they are
  /workspace/<tree>       the candidate's built tree, owned by the candidate uid
  /workspace/executable   the shim (root, 0755): asks the broker to start the real candidate
  /workspace/eval, ...    the branch's files, owned by the pytest uid, not writable by the candidate
  /run/twinbench/out      root 0700: results.xml and outcome.json for the harness
The candidate runs as another uid than pytest (through the launcher, with the task's limits), so it can
neither signal, trace nor write pytest or the files pytest writes.
"""

import base64
import json
import os
import select
import shutil
import signal
import socket
import stat
import sys
import tarfile
import threading
import time
from typing import Any

WORKSPACE = "/workspace"
REAL_EXECUTABLE = "/workspace/.twinbench-candidate"
SHIM_PATH = "/workspace/executable"
SOCKET_PATH = "/run/twinbench/broker.sock"
CANDIDATE_HOME = "/tmp/candidate-home"
# set by the guard plugin while a test runs (derive mode): which test a call of ./executable belongs to
TEST_ID_VARIABLE = "TWINBENCH_TEST_ID"
BASE_ENV_VARIABLE = "TWINBENCH_BASE_ENV"
RECORD_CAP = 1 << 20
SNAPSHOT_CAP = 4 << 20
REQUEST_CAP = 4 << 20
OUTPUT_TAIL = 20000
# files at pytest's rootdir that pytest would load as code or configuration
PYTEST_FILES = {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "__init__.py"}
PYTEST_MAYBE = {"pyproject.toml", "setup.cfg"}


def main() -> None:
    """Lay out the workspace, run the branch, write results.xml and outcome.json into the out dir."""
    config = json.loads(sys.argv[1])
    os.umask(0o002)
    supervisor = Supervisor(config)
    outcome = supervisor.run()
    with open(os.path.join(config["out"], "outcome.json"), "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)


class Supervisor:
    """One branch run: layout, broker, pytest, results."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.candidate_uid: int = config["candidate_uid"]
        self.pytest_uid: int = config["pytest_uid"]
        self.gid: int = config["gid"]
        self.launcher: str = config["launcher"]
        self.out: str = config["out"]
        self.warnings: list[str] = []

    def run(self) -> dict[str, Any]:
        """Everything of one branch; failures of the branch's own making come back as data."""
        problem = self.lay_out()
        if problem is not None:
            return {"error_code": "setup_failed", "error_details": problem, "warnings": self.warnings}
        broker = Broker(self)
        broker.start()
        started = time.monotonic()
        result = self.run_tests()
        result["seconds"] = time.monotonic() - started
        kill_everything()
        result["results_xml"] = self.copy_results()
        result["warnings"] = self.warnings
        result["broker_calls"] = broker.calls
        return result

    def lay_out(self) -> str | None:
        for scratch in ("/tmp", "/dev/shm"):
            os.chmod(scratch, 0o1777)
        os.chmod(WORKSPACE, 0o3775)
        os.chown(WORKSPACE, 0, self.gid)
        tree = self.config["tree"]
        for name in os.listdir(tree):
            source = os.path.join(tree, name)
            target = os.path.join(WORKSPACE, name)
            if os.path.isdir(source) and not os.path.islink(source):
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
        give_tree(WORKSPACE, self.candidate_uid, self.gid, skip_top=True)
        executable = os.path.join(WORKSPACE, "executable")
        if not os.path.isfile(executable) or os.path.islink(executable):
            return "the built tree has no regular file ./executable"
        os.rename(executable, REAL_EXECUTABLE)
        os.chmod(REAL_EXECUTABLE, 0o755)
        try:
            with tarfile.open(self.config["branch_tar"], "r:*") as archive:
                names = {top_name(member.name) for member in archive.getmembers()}
                names -= {"", "."}
                self.drop_candidate_entries(names)
                archive.extractall(WORKSPACE, members=safe_members(archive))
        except (tarfile.TarError, OSError, EOFError) as exc:
            return f"branch archive cannot be unpacked: {exc}"
        os.chmod(WORKSPACE, 0o3775)
        os.chown(WORKSPACE, 0, self.gid)
        for name in sorted(names):
            path = os.path.join(WORKSPACE, name)
            if os.path.lexists(path) and name != "executable":
                give_tree(path, self.pytest_uid, self.pytest_uid, skip_top=False, read_only_for_others=True)
        shim = os.path.join(WORKSPACE, "executable")
        if os.path.lexists(shim):
            remove(shim)  # a branch that ships ./executable cannot replace the candidate
            self.warnings.append("the branch archive held ./executable; the candidate's shim replaced it")
        shutil.copyfile(self.config["shim"], shim)
        os.chmod(shim, 0o755)
        # pytest's home is not the candidate's: tools the tests start as the pytest uid read their
        # configuration there (~/.tmux.conf can run commands), so the candidate gets a home of its own
        home = self.config["home"]
        os.makedirs(home, exist_ok=True)
        os.chown(home, self.pytest_uid, self.gid)
        os.chmod(home, 0o755)
        os.makedirs(CANDIDATE_HOME, exist_ok=True)
        os.chown(CANDIDATE_HOME, self.candidate_uid, self.gid)
        os.chmod(CANDIDATE_HOME, 0o2775)
        for stale in ("eval/results.xml", "results.xml"):
            path = os.path.join(WORKSPACE, stale)
            if os.path.lexists(path):
                remove(path)
        run_sh = os.path.join(WORKSPACE, "eval", "run.sh")
        if os.path.isfile(run_sh) and not os.path.islink(run_sh):
            with open(run_sh, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
            # ProgramBench's grader makes the same edit: a thread timeout would kill a whole xdist worker
            patched = text.replace("--timeout-method=thread", "--timeout-method=signal")
            with open(run_sh, "w", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write(patched)
            os.chmod(run_sh, 0o755)
        return None

    def drop_candidate_entries(self, branch_names: set[str]) -> None:
        """Remove what the candidate's tree may not bring into pytest's way: anything named like a top-level
        entry of the branch (its eval/ would be merged with the branch's, conftest.py and all), and pytest
        configuration at /workspace, which pytest reads as the uid that writes results.xml."""
        for name in sorted(os.listdir(WORKSPACE)):
            path = os.path.join(WORKSPACE, name)
            if name in branch_names or name in PYTEST_FILES or (name in PYTEST_MAYBE and mentions_pytest(path)):
                remove(path)
                self.warnings.append(f"the candidate's ./{name} was removed: it would reach the test runner")

    def run_tests(self) -> dict[str, Any]:
        """./eval/run.sh as the pytest uid, with the branch's wall limit."""
        log_path = os.path.join(self.out, "pytest.log")
        limits = self.config["pytest_limits"]
        with open(log_path, "wb") as log, open(os.devnull, "rb") as devnull:
            status_read, status_write = os.pipe()
            argv = ["/bin/sh", "-c", "chmod +x ./eval/run.sh 2>/dev/null; exec ./eval/run.sh"]
            pid = spawn(
                self.launcher,
                self.pytest_uid,
                self.gid,
                limits,
                WORKSPACE,
                argv[0],
                argv,
                self.config["pytest_env"],
                (devnull.fileno(), log.fileno(), log.fileno(), status_write),
                self.config["launch_fields"],
            )
            os.close(status_write)
            exec_error = read_all(status_read).decode(errors="replace")
            os.close(status_read)
            status, timed_out = wait_with_deadline(pid, limits["wall_s"])
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - OUTPUT_TAIL))
            tail = log.read().decode(errors="replace")
        return {
            "returncode": exit_status(status),
            "timed_out": timed_out,
            "exec_error": exec_error,
            "output": tail,
        }

    def copy_results(self) -> bool:
        """Copy eval/results.xml (a regular file, never through a link) to the harness's private dir."""
        path = os.path.join(WORKSPACE, "eval", "results.xml")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != self.pytest_uid:
                self.warnings.append("eval/results.xml was not written by pytest; it was not read")
                return False
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_nlink != 1:
                self.warnings.append("eval/results.xml was writable by the candidate; it was not read")
                return False
            with open(os.path.join(self.out, "results.xml"), "wb") as handle:
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    handle.write(chunk)
        finally:
            os.close(fd)
        return True


class Broker(threading.Thread):
    """Starts the real candidate for each shim that connects, as the candidate uid, with its fds 0-2."""

    def __init__(self, supervisor: Supervisor) -> None:
        super().__init__(daemon=True)
        self.supervisor = supervisor
        self.calls = 0
        self.lock = threading.Lock()
        os.makedirs(os.path.dirname(SOCKET_PATH), exist_ok=True)
        os.chmod(os.path.dirname(SOCKET_PATH), 0o755)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(SOCKET_PATH)
        os.chmod(SOCKET_PATH, 0o666)
        self.server.listen(64)

    def run(self) -> None:
        while True:
            connection, _ = self.server.accept()
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection: socket.socket) -> None:
        fds: list[int] = []
        try:
            request, fds = receive_request(connection)
            with self.lock:
                self.calls += 1
            reply = self.launch(connection, request, fds)
        except Exception as exc:  # a malformed request is answered, never fatal to the branch
            reply = f"error {type(exc).__name__}: {exc}"
        finally:
            for fd in fds:
                os.close(fd)
        try:
            connection.sendall(reply.encode(errors="replace"))
        except OSError:
            pass
        connection.close()

    def launch(self, connection: socket.socket, request: "ShimRequest", fds: list[int]) -> str:
        supervisor = self.supervisor
        env = dict(request.env)
        if env.get("HOME") == supervisor.config["home"]:
            env["HOME"] = CANDIDATE_HOME
        test_id = env.pop(TEST_ID_VARIABLE, "")
        base_env = env.pop(BASE_ENV_VARIABLE, "{}")
        recorder = Recorder(request, fds, test_id, base_env) if supervisor.config.get("record") else None
        child_fds = recorder.child_fds() if recorder is not None else (fds[0], fds[1], fds[2])
        status_read, status_write = os.pipe()
        try:
            pid = spawn(
                supervisor.launcher,
                supervisor.candidate_uid,
                supervisor.gid,
                supervisor.config["candidate_limits"],
                request.cwd or WORKSPACE,
                exec_path(request),
                request.argv or ["./executable"],
                env,
                (*child_fds, status_write),
                supervisor.config["launch_fields"],
                supervisor.config["enter"],
                supervisor.config.get("candidate_cpus", []),
            )
        finally:
            os.close(status_write)
            if recorder is not None:
                recorder.started()
        exec_error = read_all(status_read).decode(errors="replace")
        os.close(status_read)
        status = watch(pid, connection, supervisor.config["candidate_limits"]["wall_s"])
        if recorder is not None:
            with self.lock:
                recorder.finish(status, supervisor.out)
        if exec_error:
            sys.stderr.write(f"twinbench: the candidate could not start: {exec_error}\n")
        if os.WIFSIGNALED(status):
            return f"signal {os.WTERMSIG(status)}"
        return f"exit {os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1}"


class Recorder:
    """`programbench derive`: one call of the reference, seen whole. Its stdin, stdout and stderr pass
    through pipes that this side copies (a terminal is passed as it is and marked), and the files of its
    working directory are listed before and after."""

    def __init__(self, request: "ShimRequest", fds: list[int], test_id: str, base_env: str) -> None:
        self.request = request
        self.base_env = base_env
        self.fds = fds
        self.test_id = test_id
        self.terminal = os.isatty(fds[0])
        self.before = snapshot(request.cwd)
        self.streams: dict[str, bytearray] = {"stdin": bytearray(), "stdout": bytearray(), "stderr": bytearray()}
        self.pipes: list[tuple[int, int]] = [os.pipe() for _ in range(3)]
        self.threads: list[threading.Thread] = []

    def child_fds(self) -> tuple[int, int, int]:
        stdin = self.fds[0] if self.terminal else self.pipes[0][0]
        return stdin, self.pipes[1][1], self.pipes[2][1]

    def started(self) -> None:
        """Close the child's ends here and start copying."""
        os.close(self.pipes[0][0])
        os.close(self.pipes[1][1])
        os.close(self.pipes[2][1])
        copies = [(self.pipes[1][0], self.fds[1], "stdout"), (self.pipes[2][0], self.fds[2], "stderr")]
        if self.terminal:
            os.close(self.pipes[0][1])
        else:
            copies.append((self.fds[0], self.pipes[0][1], "stdin"))
        for source, target, name in copies:
            thread = threading.Thread(target=self.copy, args=(source, target, name), daemon=True)
            thread.start()
            self.threads.append(thread)

    def copy(self, source: int, target: int, name: str) -> None:
        closes = source if name != "stdin" else target
        try:
            while True:
                chunk = os.read(source, 65536)
                if not chunk:
                    break
                if len(self.streams[name]) < RECORD_CAP:
                    self.streams[name] += chunk
                try:
                    write_all(target, chunk)
                except OSError:
                    if name == "stdin":
                        break
        except OSError:
            pass
        finally:
            os.close(closes)

    def finish(self, status: int, out: str) -> None:
        """Append the call to calls.jsonl in the harness's private dir."""
        for thread in self.threads[:2]:
            thread.join(timeout=2)
        after = snapshot(self.request.cwd)
        changed = {name: data for name, data in after.items() if self.before.get(name) != data}
        removed = [name for name in self.before if name not in after]
        call = {
            "test": self.test_id,
            "argv": self.request.argv[1:],
            "cwd": self.request.cwd,
            "env": {key: value for key, value in self.request.env.items() if not key.startswith("TWINBENCH_")},
            "base_env": self.base_env,
            "terminal": self.terminal,
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "files_before": {name: encode(data) for name, data in self.before.items()},
            "files_written": {name: encode(data) for name, data in changed.items()},
            "files_removed": removed,
            **{name: encode(bytes(data)) for name, data in self.streams.items()},
            "truncated": any(len(data) >= RECORD_CAP for data in self.streams.values()),
        }
        with open(os.path.join(out, "calls.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(call) + "\n")


def snapshot(cwd: str) -> dict[str, bytes]:
    """Small regular files under a test's working directory (never /workspace, the program's own tree)."""
    files: dict[str, bytes] = {}
    if not cwd or os.path.realpath(cwd) == WORKSPACE:
        return files
    budget = SNAPSHOT_CAP
    for root, dirs, names in os.walk(cwd):
        dirs[:] = [name for name in dirs if not os.path.islink(os.path.join(root, name))]
        for name in names:
            path = os.path.join(root, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > budget:
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            budget -= len(data)
            files[os.path.relpath(path, cwd)] = data
    return files


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def exec_path(request: "ShimRequest") -> str:
    """The path to exec: the one the test used (a script sees it as $0) when it names the shim, else the
    shim's absolute path (a PATH lookup leaves no path in argv[0])."""
    used = request.argv[0] if request.argv else ""
    if "/" in used and os.path.realpath(os.path.join(request.cwd or WORKSPACE, used)) == SHIM_PATH:
        return used
    return SHIM_PATH


class ShimRequest:
    """What the shim sent: argv, working directory, environment (see shim.c for the wire format)."""

    def __init__(self, body: bytes) -> None:
        fields = [os.fsdecode(field) for field in body.split(b"\0")]
        if fields and fields[-1] == "":
            fields.pop()
        count = int(fields[0])
        if count < 0 or len(fields) < count + 2:
            raise ValueError("truncated request")
        self.argv: list[str] = fields[1 : 1 + count]
        self.cwd: str = fields[1 + count]
        self.env: dict[str, str] = {}
        for entry in fields[2 + count :]:
            key, equals, value = entry.partition("=")
            if equals and key:
                self.env[key] = value


def receive_request(connection: socket.socket) -> tuple[ShimRequest, list[int]]:
    """A length-prefixed request and the three descriptors sent with its first bytes."""
    connection.settimeout(10)
    data, ancillary, _flags, _address = connection.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i : i + 4], sys.byteorder) for i in range(0, usable, 4)]
    if len(fds) != 3 or len(data) < 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request carries four length bytes and three descriptors")
    size = int.from_bytes(data[:4], "big")
    if size > REQUEST_CAP:
        for fd in fds:
            os.close(fd)
        raise ValueError("request too large")
    body = bytearray(data[4:])
    while len(body) < size:
        chunk = connection.recv(size - len(body))
        if not chunk:
            break
        body += chunk
    connection.settimeout(None)
    if len(body) < size:
        for fd in fds:
            os.close(fd)
        raise ValueError("truncated request")
    return ShimRequest(bytes(body[:size])), fds


def spawn(
    launcher: str,
    uid: int,
    gid: int,
    limits: dict[str, Any],
    cwd: str,
    program: str,
    argv: list[str],
    env: dict[str, str],
    fds: tuple[int, int, int, int],
    fields: list[str],
    enter: str | None = None,
    cpus: list[int] | None = None,
) -> int:
    """The launcher applies the limits, drops to uid:gid, enters cwd and execs `program` with `argv`; with
    `enter`, first in a mount namespace where the real candidate is bound over the shim; pinned to `cpus` (none:
    the supervisor's own affinity)."""
    mb = 1 << 20
    values = {
        "UID": uid,
        "GID": gid,
        "CPU_S": int(limits["cpu_s"]),
        "AS_BYTES": limits["memory_mb"] * mb,
        "FSIZE_BYTES": limits["file_size_mb"] * mb,
        "NOFILE": limits["open_files"],
        "NPROC": limits["processes"],
        "NEW_IPC": 0,
        "CGROUP_FDS": -1,
        "CPUS": ",".join(map(str, cpus or [])) or -1,
        "WORKDIR": cwd,
        "PROGRAM": program,
    }
    launch_argv = [launcher, *(str(values[field]) for field in fields), *argv]
    if enter is not None:
        launch_argv = [enter, REAL_EXECUTABLE, SHIM_PATH, *launch_argv]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    return os.posix_spawn(launch_argv[0], launch_argv, env, file_actions=actions, setsid=True)


def watch(pid: int, connection: socket.socket, wall_s: float) -> int:
    """Wait for the candidate; if its shim goes away (a test's timeout killed it) or the wall limit passes,
    kill the candidate's process group."""
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + wall_s
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(connection.fileno(), select.POLLIN | select.POLLHUP)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            events = dict(poller.poll(max(1, int(remaining * 1000))))
            if pidfd in events:
                return os.waitpid(pid, 0)[1]
            if connection.fileno() in events:
                peek = b""
                try:
                    peek = connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                if not peek:
                    break
                poller.unregister(connection.fileno())
        kill_group(pid)
        return os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)


def wait_with_deadline(pid: int, wall_s: float) -> tuple[int, bool]:
    """Exit status of `pid`, killing its group once `wall_s` passes."""
    pidfd = os.pidfd_open(pid)
    try:
        ready = select.select([pidfd], [], [], wall_s)[0]
        if not ready:
            kill_group(pid)
            return os.waitpid(pid, 0)[1], True
        return os.waitpid(pid, 0)[1], False
    finally:
        os.close(pidfd)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def kill_everything() -> None:
    """Every process in this pid namespace but init and us belongs to pytest or the candidate."""
    for _round in range(1000):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.002)


def exit_status(status: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1


def give_tree(root: str, uid: int, gid: int, skip_top: bool, read_only_for_others: bool = False) -> None:
    """chown a tree (links themselves, not their targets); optionally drop group and other write bits."""
    paths = [] if skip_top else [root]
    if os.path.isdir(root) and not os.path.islink(root):
        for path, dirs, files in os.walk(root):
            paths += [os.path.join(path, name) for name in dirs + files]
    for path in paths:
        os.lchown(path, uid, gid)
        if read_only_for_others and not os.path.islink(path):
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            os.chmod(path, mode & ~(stat.S_IWGRP | stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID))


def safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The members that stay inside /workspace: no absolute paths, no '..', no devices, no links out, no
    set-id bits (the system python3 may predate tarfile's extraction filters)."""
    kept = []
    for member in archive.getmembers():
        name = os.path.normpath(member.name)
        # "." would re-own and re-mode /workspace itself (archives made with `tar -C dir -czf x .` have it)
        if member.name.startswith("/") or name in (".", "..") or name.startswith("../"):
            continue
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            continue
        if member.issym() or member.islnk():
            base = os.path.dirname(name) if member.issym() else ""
            target = os.path.normpath(os.path.join(base, member.linkname))
            if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
                continue
        member.mode &= 0o777
        kept.append(member)
    return kept


def top_name(member: str) -> str:
    """The top-level entry an archive member lands in ("./eval/x" and "eval/x" both give "eval")."""
    while member.startswith("./"):
        member = member[2:]
    return member.split("/", 1)[0]


def mentions_pytest(path: str) -> bool:
    """Whether a pyproject.toml or setup.cfg configures pytest (those without it are the candidate's own)."""
    try:
        with open(path, "rb") as handle:
            return b"pytest" in handle.read(1 << 20)
    except OSError:
        return True


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


if __name__ == "__main__":
    main()
