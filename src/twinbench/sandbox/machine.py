"""The fixed machine every sandboxed program sees, whatever host the harness runs on.

A recorded expectation must hold on any grading machine, so the facts a program can read about its machine
are the sandbox's, not the host's. The CPU count is the one programs print most (7-Zip's `Threads:`, `nproc`,
a thread pool sized by Go's runtime.NumCPU or Rust's available_parallelism, `xz -T0`, `zstd -T0`): each run is
pinned to MACHINE_CPUS of the host's CPUs (the affinity mask that nproc, Go, Rust and OpenMP read), and the
files glibc's get_nprocs and get_nprocs_conf read (/sys/devices/system/cpu/{online,possible,present},
/proc/stat, /proc/cpuinfo) say the same. /proc/meminfo, /proc/loadavg and /proc/uptime are fixed too.

What only a system call reports stays the host's: sysinfo() (total memory, uptime) and uname() (kernel release
and machine). Affinity is not a wall either: a program may widen its own mask to every CPU the host allows it
(nothing honest does; the count it reads at start is the sandbox's).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from twinbench.sandbox.launcher import cache_dir

# how many CPUs the recording and grading machine has
MACHINE_CPUS = 1
CACHE_UNUSED_DAYS = 7
MEMORY_KB = 4 << 20  # 4 GiB, what /proc/meminfo reports
# the boot time /proc/stat reports: 2024-01-01T00:00:00Z
BOOT_TIME = 1704067200
CPU_LIST_FILES = (
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/sys/devices/system/cpu/present",
)


def cpu_list(cpus: int) -> str:
    """The kernel's list notation for CPUs 0 to cpus-1: "0", "0-3"."""
    return "0" if cpus == 1 else f"0-{cpus - 1}"


def machine_files(cpus: int = MACHINE_CPUS) -> dict[str, str]:
    """Sandbox path -> content of every file that describes the machine, for a machine of `cpus` CPUs."""
    files = {path: f"{cpu_list(cpus)}\n" for path in CPU_LIST_FILES}
    files["/proc/cpuinfo"] = "".join(_cpuinfo_block(index, cpus) for index in range(cpus))
    idle = " 0" * 10
    files["/proc/stat"] = (
        f"cpu {idle}\n"
        + "".join(f"cpu{index}{idle}\n" for index in range(cpus))
        + f"intr 0\nctxt 0\nbtime {BOOT_TIME}\nprocesses 1\nprocs_running 1\nprocs_blocked 0\nsoftirq 0\n"
    )
    free_kb = MEMORY_KB // 2
    files["/proc/meminfo"] = "".join(
        f"{key + ':':<16}{value:>8} kB\n"
        for key, value in (
            ("MemTotal", MEMORY_KB),
            ("MemFree", free_kb),
            ("MemAvailable", free_kb),
            ("Buffers", 0),
            ("Cached", 0),
            ("SwapCached", 0),
            ("Active", 0),
            ("Inactive", 0),
            ("SwapTotal", 0),
            ("SwapFree", 0),
            ("Shmem", 0),
            ("SReclaimable", 0),
        )
    )
    files["/proc/loadavg"] = "0.00 0.00 0.00 1/1 1\n"
    files["/proc/uptime"] = "1000.00 1000.00\n"
    return files


def _cpuinfo_block(index: int, cpus: int) -> str:
    return (
        f"processor\t: {index}\nvendor_id\t: twinbench\nmodel name\t: twinbench virtual CPU\n"
        f"cpu MHz\t\t: 2000.000\nphysical id\t: 0\nsiblings\t: {cpus}\ncore id\t\t: {index}\n"
        f"cpu cores\t: {cpus}\nflags\t\t: fpu tsc cx8 cmov mmx fxsr sse sse2\nbogomips\t: 4000.00\n\n"
    )


def machine_args(cpus: int = MACHINE_CPUS) -> list[str]:
    """bwrap arguments that put the machine's files in place; after --proc, whose files they cover."""
    # bwrap makes missing parents of a mount point 0700 when it runs as real root: make /sys's readable first
    parents = sorted({str(parent) for path in CPU_LIST_FILES for parent in Path(path).parents if parent != Path("/")})
    args: list[str] = []
    for parent in parents:
        args += ["--perms", "0755", "--dir", parent]
    for path, host_file in cached_files("machine", machine_files(cpus)).items():
        args += ["--ro-bind", str(host_file), path]
    return args


def cached_files(kind: str, files: dict[str, str]) -> dict[str, Path]:
    """Each text of `files` written once into the cache (a directory per content, made atomically);
    the name each was given -> the host file holding it. A directory's time is its last use: making a new
    one removes those of the same kind unused for CACHE_UNUSED_DAYS (one per candidate uid, and
    TWINBENCH_CANDIDATE_UID differs per concurrent harness)."""
    names = {name: f"{index}-{Path(name).name}" for index, name in enumerate(sorted(files))}
    # named after the files as they lie on disk: another layout (an older twinbench's) is another directory
    layout = {names[name]: text for name, text in files.items()}
    digest = hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:16]
    target = cache_dir() / f"{kind}-{digest}"
    if target.is_dir() and all((target / name).is_file() for name in names.values()):
        with contextlib.suppress(OSError):
            os.utime(target)
    else:
        shutil.rmtree(target, ignore_errors=True)  # a half-made or damaged copy
        _evict_unused(target.parent, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target.parent))
        for name, text in files.items():
            (scratch / names[name]).write_text(text, encoding="utf-8")
            (scratch / names[name]).chmod(0o644)
        scratch.chmod(0o755)
        try:
            scratch.rename(target)
        except OSError:  # another harness made it first
            shutil.rmtree(scratch, ignore_errors=True)
    return {name: target / names[name] for name in files}


def host_cpu_count() -> int:
    """How many CPUs the harness may use: the machine a build gets, whose output no expectation compares, so
    that `make -j$(nproc)` and cargo use every core they are allowed."""
    return len(os.sched_getaffinity(0))


def unfixed_host_facts() -> list[bytes]:
    """What a sandboxed program can still learn of the host, through a system call no file bind reaches, as it
    would print it: the physical memory (sysinfo(), sysconf(_SC_PHYS_PAGES)) in bytes, KiB and MiB, and the
    kernel's release and version (uname()). A recorded output holding one of them expects this host."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    kernel = os.uname()
    return [str(value).encode() for value in (memory, memory >> 10, memory >> 20, kernel.release, kernel.version)]


class CpuPicker:
    """Hands out the host's CPUs in turn, so that parallel sandboxes each pinned to one CPU share the host's
    CPUs rather than all queueing on the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def pick(self, count: int = MACHINE_CPUS) -> tuple[int, ...]:
        """`count` of the CPUs this process may use (fewer if it may use fewer), the next ones in turn."""
        allowed = sorted(os.sched_getaffinity(0))
        with self._lock:
            start = self._next
            self._next = (self._next + count) % len(allowed)
        return tuple(sorted({allowed[(start + offset) % len(allowed)] for offset in range(count)}))


_PICKER = CpuPicker()


def _evict_unused(directory: Path, kind: str) -> None:
    """Remove the cache directories of `kind` not used for CACHE_UNUSED_DAYS."""
    oldest = time.time() - CACHE_UNUSED_DAYS * 86400
    for old in directory.glob(f"{kind}-*"):
        with contextlib.suppress(OSError):
            if old.is_dir() and old.stat().st_mtime < oldest:
                shutil.rmtree(old)


def pick_cpus(count: int = MACHINE_CPUS) -> tuple[int, ...]:
    """The host CPUs the next sandboxed program is pinned to (see CpuPicker)."""
    return _PICKER.pick(count)
