"""Run one ProgramBench test branch (its eval/run.sh and pytest) in a bwrap sandbox of its own.

pytest runs as one uid and the candidate as another: the tests' `./executable` is a shim that asks a
broker (root, inside the sandbox) to start the real candidate through twinbench's launcher with the
task's limits. results.xml is copied by the broker's supervisor to a directory only the harness reads.
See branch_main.py for who owns what inside the sandbox."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from twinbench.formats import Limits
from twinbench.sandbox.bwrap import (
    SeccompFilter,
    device_args,
    hiding_args,
    namespace_args,
    system_binds,
)
from twinbench.sandbox.launcher import ensure_launcher, ensure_static_helper
from twinbench.sandbox.machine import machine_args, pick_cpus
from twinbench.sandbox.runner_main import LAUNCH_FIELDS

HERE = Path(__file__).parent
SUPERVISOR_SOURCE = (HERE / "branch_main.py").read_text(encoding="utf-8")
SHIM_SOURCE = HERE / "shim.c"
ENTER_SOURCE = HERE / "enter.c"
GUARD_PLUGIN_SOURCE = (HERE / "guard_plugin.py").read_text(encoding="utf-8")
GUARD_PLUGIN = "twinbench_pytest_guard"
TIMEOUT_PLUGIN = "programbench_pytest_timeout"
# The Python that runs branches: a venv of the system python3 made by scripts/setup.sh, with pytest and
# the plugins ProgramBench's images carry (and pytest-rerunfailures at ProgramBench's pin)
PYTEST_PYTHON_DIR = Path("/opt/twinbench/programbench-python")
IN_DIR = "/run/twinbench-in"
PLUGIN_DIR = "/run/twinbench-plugins"
OUT_DIR = "/run/twinbench/out"
SANDBOX_HOME = "/tmp/home"
# ProgramBench's grader: one pytest worker restart budget, and reruns of failed tests with a delay
BASE_ADDOPTS = "--max-worker-restart=4"
RERUN_ADDOPTS = f"-p {TIMEOUT_PLUGIN} --reruns=2 --reruns-delay=1"
# the clean room uses the candidate uid + 1 and + 2 (reference, agent); pytest gets a uid of its own
PYTEST_UID_OFFSET = 3
HARNESS_GRACE_S = 60.0


class BranchLimits(BaseModel):
    """Limits of one branch: pytest's whole run, and each start of the candidate."""

    pytest: Limits = Field(
        default_factory=lambda: Limits(
            wall_s=3600, cpu_s=3600, memory_mb=8192, processes=1024, file_size_mb=1024, open_files=4096, disk_mb=2048
        )
    )
    candidate: Limits = Field(
        default_factory=lambda: Limits(
            wall_s=3600, cpu_s=600, memory_mb=4096, processes=512, file_size_mb=1024, open_files=1024
        )
    )


class BranchOutcome(BaseModel):
    """What the harness observed of one branch run; errors are data."""

    branch: str
    results_xml: str | None = None
    returncode: int | None = None
    timed_out: bool = False
    output: str = ""
    seconds: float = 0.0
    error_code: str | None = None
    error_details: str = ""
    warnings: list[str] = Field(default_factory=list)
    broker_calls: int = 0
    calls: list[dict[str, Any]] = Field(default_factory=list, description="recorded calls (derive mode)")


def pytest_python_problem() -> str | None:
    """Why branches cannot run here (the venv of scripts/setup.sh is missing), or None."""
    python = PYTEST_PYTHON_DIR / "bin" / "python3"
    if not python.exists():
        return f"{python} is missing; run scripts/setup.sh (it installs pytest and ProgramBench's plugins)"
    return None


def timeout_plugin_source() -> str | None:
    """ProgramBench's own pytest timeout plugin, read from the installed programbench package."""
    spec = importlib.util.find_spec("programbench")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "eval" / "pytest_timeout_retry.py"
    if not path.is_file():
        return None
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    source = namespace.get("PYTEST_TIMEOUT_RETRY_PLUGIN_SOURCE")
    return source if isinstance(source, str) else None


def missing_requirements(branch_tar: Path) -> list[str]:
    """Packages the branch's eval/requirements.txt names that the branch venv lacks: twinbench installs
    nothing at grading time (there is no network), so these tests may error where ProgramBench's pass."""
    try:
        with tarfile.open(branch_tar, "r:*") as tar:
            member = next((m for m in tar.getmembers() if m.name.removeprefix("./") == "eval/requirements.txt"), None)
            handle = tar.extractfile(member) if member is not None and member.isreg() else None
            text = handle.read(1 << 20).decode(errors="replace") if handle is not None else ""
    except (tarfile.TarError, OSError, EOFError):
        return []
    installed = {
        _normalized(path.name.split("-")[0])
        for path in PYTEST_PYTHON_DIR.glob("lib/python3*/site-packages/*.dist-info")
    }
    wanted = []
    for line in text.splitlines():
        name = re.split(r"[\s\[<>=!~;@#]", line.strip(), maxsplit=1)[0]
        if name and not name.startswith("-") and _normalized(name) not in installed:
            wanted.append(name)
    return wanted


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pytest_environment(serial: bool, record: bool = False) -> dict[str, str]:
    """The environment of eval/run.sh: ProgramBench's additions, our venv first on PATH, no cwd on sys.path."""
    env = {
        "PATH": f"{PYTEST_PYTHON_DIR}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "LANG": "C.UTF-8",
        # -P for every python3: pytest's working directory is /workspace, where the candidate may write
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # run.sh files often `pip install` what the image already has; without network, answer at once
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONPATH": PLUGIN_DIR,
        "PROGRAMBENCH_PYTEST_ORIGINAL_PYTHONPATH": "",
        "PROGRAMBENCH_PYTEST_ORIGINAL_ADDOPTS": BASE_ADDOPTS,
        "PYTEST_ADDOPTS": f"{BASE_ADDOPTS} {RERUN_ADDOPTS} -p {GUARD_PLUGIN}",
    }
    if serial:
        env["PYTEST_XDIST_AUTO_NUM_WORKERS"] = "1"
    if record:
        env["TWINBENCH_RECORD"] = "1"
    return env


def run_branch(
    tree: Path,
    branch: str,
    branch_tar: Path,
    limits: BranchLimits,
    candidate_uid: int,
    hidden_paths: tuple[Path, ...] = (),
    private_dirs: tuple[Path, ...] = (),
    serial: bool = False,
    record: bool = False,
) -> BranchOutcome:
    """Run one branch's tests against the built `tree`; never raises for anything the branch or candidate does.
    With `record`, every call of ./executable is recorded whole (for `programbench derive`)."""
    problem = pytest_python_problem()
    launcher = ensure_launcher()
    shim = ensure_static_helper(SHIM_SOURCE, "programbench-shim")
    enter = ensure_static_helper(ENTER_SOURCE, "programbench-enter")
    plugin = timeout_plugin_source()
    if problem is None and (launcher is None or shim is None or enter is None):
        problem = "the sandbox launcher and shim cannot be built (no C compiler)"
    if problem is None and plugin is None:
        problem = "the programbench package is not installed (pip install 'twinbench[programbench]')"
    if problem is not None or launcher is None or shim is None or enter is None or plugin is None:
        return BranchOutcome(branch=branch, error_code="harness_unavailable", error_details=problem or "")
    with tempfile.TemporaryDirectory(prefix="twinbench-branch-") as scratch:
        stage = Path(scratch)
        plugins = stage / "plugins"
        plugins.mkdir()
        (plugins / f"{TIMEOUT_PLUGIN}.py").write_text(plugin, encoding="utf-8")
        (plugins / f"{GUARD_PLUGIN}.py").write_text(GUARD_PLUGIN_SOURCE, encoding="utf-8")
        plugins.chmod(0o755)
        out = stage / "out"
        out.mkdir(mode=0o700)
        config = {
            "candidate_uid": candidate_uid,
            "pytest_uid": candidate_uid + PYTEST_UID_OFFSET,
            "gid": candidate_uid,
            "launcher": f"{IN_DIR}/launch",
            # the launcher's argument positions, defined once in the sandbox's runner (launch_argv)
            "launch_fields": list(LAUNCH_FIELDS),
            "out": OUT_DIR,
            "tree": f"{IN_DIR}/tree",
            "branch_tar": f"{IN_DIR}/branch.tar",
            "home": SANDBOX_HOME,
            "shim": f"{IN_DIR}/shim",
            "enter": f"{IN_DIR}/enter",
            "pytest_env": pytest_environment(serial, record),
            "record": record,
            "pytest_limits": limits.pytest.model_dump(),
            "candidate_limits": limits.candidate.model_dump(),
            # the candidate sees the fixed machine twinbench's own grading shows (sandbox/machine.py): one CPU
            # in its affinity mask and in /proc and /sys, so what it prints does not follow the grading host
            "candidate_cpus": list(pick_cpus()),
        }
        started = time.monotonic()
        with SeccompFilter() as seccomp:
            helpers = {"launch": launcher, "shim": shim, "enter": enter}
            argv = _bwrap_argv(tree, branch_tar, helpers, plugins, out, limits, hidden_paths, private_dirs, seccomp.fd)
            argv += ["/usr/bin/python3", "-I", "-S", "-B", "-c", SUPERVISOR_SOURCE, json.dumps(config)]
            try:
                finished = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=limits.pytest.wall_s + HARNESS_GRACE_S,
                    pass_fds=seccomp.fds,
                    env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                    start_new_session=True,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return BranchOutcome(
                    branch=branch, error_code="harness_timeout", error_details="the branch sandbox did not finish"
                )
        outcome = _outcome(branch, out, finished, time.monotonic() - started)
    missing = missing_requirements(branch_tar)
    if missing:
        outcome.warnings.append(f"eval/requirements.txt needs what the branch venv lacks: {', '.join(missing)}")
    return outcome


def _bwrap_argv(
    tree: Path,
    branch_tar: Path,
    helpers: dict[str, Path],
    plugins: Path,
    out: Path,
    limits: BranchLimits,
    hidden_paths: tuple[Path, ...],
    private_dirs: tuple[Path, ...],
    seccomp_fd: int | None,
) -> list[str]:
    """bwrap as root (two uids inside), no network; /workspace and /tmp are sized tmpfs."""
    disk = limits.pytest.disk_mb << 20
    args = namespace_args("bwrap", True, 0, seccomp_fd)
    system_args, bound = system_binds()
    args += system_args
    args += device_args(disk)
    args += machine_args()
    # the built tree is copied into /workspace for each branch (ProgramBench starts each branch from the
    # compiled image): room for all of it plus the disk limit for what the tests write
    workspace = tree_bytes(tree) + disk
    args += ["--size", str(disk), "--tmpfs", "/tmp", "--size", str(workspace), "--tmpfs", "/workspace"]
    args += ["--tmpfs", "/run", "--dir", "/run/twinbench"]
    args += hiding_args(hidden_paths, private_dirs, bound)
    args += ["--ro-bind", str(tree), f"{IN_DIR}/tree", "--ro-bind", str(branch_tar), f"{IN_DIR}/branch.tar"]
    for name, helper in helpers.items():
        args += ["--ro-bind", str(helper), f"{IN_DIR}/{name}"]
    args += ["--ro-bind", str(plugins), PLUGIN_DIR]
    args += ["--bind", str(out), OUT_DIR, "--chdir", "/"]
    return args


def tree_bytes(tree: Path) -> int:
    """Bytes of the regular files of a tree (links not followed), with a little per entry for metadata."""
    total = 0
    for path in tree.rglob("*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        total += info.st_size + 4096 if path.is_file() and not path.is_symlink() else 4096
    return total


def _outcome(branch: str, out: Path, finished: subprocess.CompletedProcess[bytes], seconds: float) -> BranchOutcome:
    outcome_path = out / "outcome.json"
    if not outcome_path.is_file():
        stderr = finished.stderr.decode(errors="replace").strip().splitlines()
        detail = stderr[-1] if stderr else f"exit status {finished.returncode}"
        return BranchOutcome(branch=branch, error_code="sandbox_failed", error_details=detail, seconds=seconds)
    data = json.loads(outcome_path.read_text(encoding="utf-8"))
    results = out / "results.xml"
    xml = results.read_text(encoding="utf-8", errors="replace") if data.get("results_xml") else None
    calls_path = out / "calls.jsonl"
    calls = [json.loads(line) for line in calls_path.read_text().splitlines()] if calls_path.is_file() else []
    return BranchOutcome(
        branch=branch,
        calls=calls,
        results_xml=xml,
        returncode=data.get("returncode"),
        timed_out=bool(data.get("timed_out")),
        output=str(data.get("output", "")),
        seconds=seconds,
        error_code=data.get("error_code"),
        error_details=str(data.get("error_details") or data.get("exec_error") or ""),
        warnings=[str(item) for item in data.get("warnings", [])],
        broker_calls=int(data.get("broker_calls", 0)),
    )
