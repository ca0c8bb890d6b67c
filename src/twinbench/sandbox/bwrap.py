"""The default backend: bubblewrap namespaces, a read-only system and one writable tmpfs."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from twinbench.sandbox.cgroup import SandboxCgroup, accounting
from twinbench.sandbox.launcher import ensure_launcher
from twinbench.sandbox.machine import cached_files, machine_args, pick_cpus
from twinbench.sandbox.runner import RUNNER_SOURCE, RunnerProcess
from twinbench.sandbox.runner_main import RunnerConfig
from twinbench.sandbox.seccomp import seccomp_fd
from twinbench.sandbox.session import RunnerSession
from twinbench.sandbox.types import SessionConfig, WorkdirMode

CANDIDATE_UID = 42424


def candidate_uid() -> int:
    """The uid candidates run as: 42424, or $TWINBENCH_CANDIDATE_UID so that concurrent harnesses on one
    machine neither share a process budget (RLIMIT_NPROC counts per uid) nor see each other's processes."""
    value = os.environ.get("TWINBENCH_CANDIDATE_UID", "")
    return int(value) if value.isdigit() and int(value) > 0 else CANDIDATE_UID


SANDBOX_TMP = "/tmp"
WORK_DIR = "/tmp/work"
HOME_DIR = "/tmp/home"
STATE_DIR = "/tmp/.twinbench"
SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
HOSTNAME = "twinbench"
# ("/", "usr", "share", "figlet"): directories this deep or deeper may be hidden whole, never /usr/share itself
MIN_HIDDEN_DIR_PARTS = 4


class BwrapSandbox:
    """Each session is one bwrap sandbox; as root the runner inside outlives single runs."""

    name = "bwrap"
    isolated = True

    @property
    def memory_accounting(self) -> str:
        """How a sandbox's memory is bounded here: a cgroup per sandbox, or per-process rlimits only."""
        return accounting().kind

    def __init__(self, bwrap: str = "bwrap", unprivileged: bool | None = None) -> None:
        self.bwrap = bwrap
        # None: decide from our uid; True: behave as a non-root user would (a user namespace, one run per sandbox)
        self.unprivileged = os.geteuid() != 0 if unprivileged is None else unprivileged

    def problem(self) -> str | None:
        """Why this backend cannot run here, or None."""
        if shutil.which(self.bwrap) is None:
            return "bubblewrap is not installed (apt-get install bubblewrap)"
        return None

    @property
    def privileged(self) -> bool:
        """As root the runner can drop candidates to another uid, so one sandbox serves many runs."""
        return not self.unprivileged

    def open(self, config: SessionConfig) -> RunnerSession:
        """Start a session; with root one sandbox serves every request, otherwise one per request."""
        return RunnerSession(lambda: self._start_runner(config), persistent=self.privileged, disk_mb=config.disk_mb)

    def _start_runner(self, config: SessionConfig) -> RunnerProcess:
        """One runner in a fresh sandbox; the seccomp filter travels on a descriptor of its own."""
        cgroup = SandboxCgroup.create()
        cgroup_fds = tuple(cgroup.procs_fds()) if cgroup is not None else ()
        try:
            with SeccompFilter() as seccomp:
                command = self.command(config, seccomp.fd, cgroup_fds)
                return RunnerProcess(command, pass_fds=(*seccomp.fds, *cgroup_fds), cgroup=cgroup)
        finally:
            for fd in cgroup_fds:
                os.close(fd)

    def command(
        self, config: SessionConfig, seccomp_fd: int | None = None, cgroup_fds: tuple[int, ...] = ()
    ) -> list[str]:
        """The full bwrap argv for a session: the one place sandbox arguments are built."""
        python, python_binds = _runner_python()
        uid = candidate_uid()
        args = namespace_args(self.bwrap, self.privileged, uid, seccomp_fd)
        system_args, bound = system_binds()
        args += system_args
        for extra in python_binds:
            args += ["--ro-bind", str(extra), str(extra)]
            bound.append(extra)
        args += device_args(config.disk_mb << 20)
        args += machine_args(config.machine_cpus)
        args += ["--size", str(config.disk_mb << 20), "--tmpfs", SANDBOX_TMP, "--dir", STATE_DIR]
        args += hiding_args(config.hidden_paths, config.private_dirs, bound)
        if config.tree is not None:
            args += ["--ro-bind", str(config.tree), f"{STATE_DIR}/src"]
        if config.export_dir is not None:
            args += ["--bind", str(config.export_dir), f"{STATE_DIR}/out"]
        launcher = ensure_launcher()
        if launcher is not None:
            args += ["--ro-bind", str(launcher), f"{STATE_DIR}/launch"]
        if config.synthetic_etc:
            for name, path in synthetic_etc(uid).items():
                args += ["--ro-bind", str(path), f"/etc/{name}"]
        args += ["--chdir", SANDBOX_TMP]
        runner_config = RunnerConfig(
            uid=uid if self.privileged else None,
            gid=uid if self.privileged else None,
            tree=f"{STATE_DIR}/src" if config.tree is not None else None,
            master=f"{STATE_DIR}/master",
            work=WORK_DIR,
            home=HOME_DIR,
            scratch_dirs=[SANDBOX_TMP, "/dev/shm"],
            keep=[Path(STATE_DIR).name],
            export=f"{STATE_DIR}/out" if config.export_dir is not None else None,
            export_owner=(os.getuid(), os.getgid()),
            disk_bytes=config.disk_mb << 20,
            workdir_mode=config.workdir_mode.value if self.privileged else WorkdirMode.copy.value,
            cleanup="namespace",
            one_shot=not self.privileged,
            env_overrides={"HOME": HOME_DIR},
            launcher=f"{STATE_DIR}/launch" if launcher is not None else None,
            # as root one sandbox serves many runs: each gets a fresh IPC namespace, and reading the tree (whose
            # files are hard links shared by every run) must not change their access times. Unprivileged, each
            # run has a sandbox of its own and a copy of the tree.
            new_ipc=self.privileged,
            noatime_mount=SANDBOX_TMP if self.privileged else None,
            cgroup_fds=list(cgroup_fds),
            cpus=list(pick_cpus(config.machine_cpus)),
        )
        return [*args, python, "-I", "-S", "-B", "-c", RUNNER_SOURCE, json.dumps(runner_config)]


def synthetic_etc_files(uid: int) -> dict[str, str]:
    """The /etc files every grading and recording sandbox sees instead of the host's: the users and groups a
    program may look up (root, nobody, and the candidate's uid as `sandbox`), the sandbox's hostname, and a
    hosts file with localhost alone."""
    return {
        "passwd": (
            "root:x:0:0:root:/root:/bin/sh\n"
            f"sandbox:x:{uid}:{uid}:sandbox:{HOME_DIR}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\nsandbox:x:{uid}:\nnogroup:x:65534:\n",
        "hostname": f"{HOSTNAME}\n",
        "hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    }


def synthetic_etc(uid: int) -> dict[str, Path]:
    """synthetic_etc_files() written once into the cache: file name -> the host file to bind."""
    return cached_files("etc", synthetic_etc_files(uid))


def namespace_args(bwrap: str, privileged: bool, uid: int, seccomp_fd: int | None) -> list[str]:
    """bwrap's isolation flags shared by every sandbox: no network, own pids, dies with its parent, and the
    seccomp filter (sandbox/seccomp.py) read from `seccomp_fd`, which the caller passes down."""
    args = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        HOSTNAME,
    ]
    if not privileged:
        args += ["--unshare-user", "--uid", str(uid), "--gid", str(uid)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args


def device_args(shm_bytes: int) -> list[str]:
    """/proc, a minimal /dev, and a /dev/shm of bounded size: a tmpfs is memory, which no rlimit counts."""
    return ["--proc", "/proc", "--dev", "/dev", "--size", str(shm_bytes), "--tmpfs", "/dev/shm"]


class SeccompFilter:
    """A fresh descriptor of the seccomp filter for one bwrap start, closed in this process afterwards.
    `fd` is None on machines the filter does not know (see sandbox/seccomp.py)."""

    def __init__(self) -> None:
        self.fd: int | None = None

    @property
    def fds(self) -> tuple[int, ...]:
        return () if self.fd is None else (self.fd,)

    def __enter__(self) -> SeccompFilter:
        self.fd = seccomp_fd()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def system_binds() -> tuple[list[str], list[Path]]:
    """Read-only binds of the system directories (links stay links), and the real paths they expose."""
    args: list[str] = []
    bound: list[Path] = []
    for top in SYSTEM_DIRS:
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
            bound.append(path.resolve())
    return args, bound


def hiding_args(hidden_paths: tuple[Path, ...], private_dirs: tuple[Path, ...], bound: list[Path]) -> list[str]:
    """Mounts that hide the reference's files and whole private directories.

    A directory whose every entry is hidden (a package's own /usr/share/figlet, say) gets one empty tmpfs
    over it; other files get /dev/null bound over each. Each mount costs a sandbox start about 0.3 ms, and
    a package can own hundreds of files, so grouping is what keeps a clean-room action fast.
    """
    args: list[str] = []
    real_paths = _existing_real_paths(hidden_paths, bound)
    # a package's link to a directory (/usr/bin/X11 -> .) must not blank out /usr/bin itself
    hidden_dirs = {real for real in real_paths if real.is_dir() and len(real.parts) >= MIN_HIDDEN_DIR_PARTS}
    whole_dirs = _fully_hidden_dirs(real_paths) | hidden_dirs
    for real in sorted(real_paths):
        # under a tmpfs already: a /dev/null bind there would only put its name back
        if real.is_dir() or any(parent in whole_dirs for parent in real.parents):
            continue
        args += ["--ro-bind", "/dev/null", str(real)]
    for directory in sorted(whole_dirs):
        if not any(parent in whole_dirs for parent in directory.parents):
            args += ["--tmpfs", str(directory)]
    for private in private_dirs:
        args += _hide_dir(private, bound)
    return args


def _existing_real_paths(paths: tuple[Path, ...], bound: list[Path]) -> set[Path]:
    """Resolved paths (a symlink would only hide the link) that exist inside the sandbox's system binds."""
    found: set[Path] = set()
    for path in paths:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if _under(real, bound):
            found.add(real)
    return found


def _fully_hidden_dirs(real_paths: set[Path]) -> set[Path]:
    """Directories, at least three levels deep, all of whose entries are hidden or are such directories."""
    hidden = set(real_paths)
    whole: set[Path] = set()
    # deepest first, so that a directory of fully hidden directories is itself fully hidden
    candidates = sorted({path.parent for path in real_paths}, key=lambda path: len(path.parts), reverse=True)
    while candidates:
        directory = candidates.pop(0)
        if len(directory.parts) < MIN_HIDDEN_DIR_PARTS or directory in whole:
            continue
        try:
            entries = [directory / name for name in os.listdir(directory)]
        except OSError:
            continue
        if entries and all(entry in hidden or entry.resolve() in hidden for entry in entries):
            whole.add(directory)
            hidden.add(directory)
            parent = directory.parent
            if parent not in candidates:
                candidates.append(parent)
                candidates.sort(key=lambda path: len(path.parts), reverse=True)
    return whole


def _runner_python() -> tuple[str, list[Path]]:
    """The system python3 needs no extra mounts; otherwise bind the harness's interpreter read-only."""
    if Path("/usr/bin/python3").exists():
        return "/usr/bin/python3", []
    prefix = Path(sys.base_prefix).resolve()
    return str(Path(sys.executable).resolve()), [prefix]


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _hide_dir(path: Path, bound: list[Path]) -> list[str]:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return []
    if not real.is_dir() or not _under(real, bound):
        return []
    return ["--tmpfs", str(real)]
