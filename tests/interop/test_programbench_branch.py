"""A branch's tests see ./executable as ProgramBench's do: status, signals, streams, files, cwd and env pass
through the shim; the candidate runs as another uid than pytest, without network, and cannot touch eval/."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import CANDIDATE_UID
from twinbench.interop.programbench.branch import (
    BranchLimits,
    missing_requirements,
    pytest_python_problem,
    run_branch,
)
from twinbench.interop.programbench.junit import parse_junit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or pytest_python_problem() is not None,
        reason="branches need root (two uids in one sandbox) and the venv of scripts/setup.sh",
    ),
]

CANDIDATE = r"""#!/bin/bash
case "$1" in
  status) exit 7 ;;
  kill) kill -TERM $$ ;;
  echo) cat; echo "err:$2" >&2 ;;
  uid) id -u ;;
  home) echo "$HOME" ;;
  var) echo "$MY_VAR" ;;
  read) cat "$2" ;;
  write) echo made > "$2" ;;
  pwd) pwd ;;
  forge) echo x > /workspace/eval/results.xml && echo wrote; echo y > /workspace/eval/tests/new.py && echo wrote ;;
  net) exec 3<>/dev/tcp/1.1.1.1/53 && echo connected ;;
  argv0) echo "$0" ;;
  machine) nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online ;;
  tui) trap "echo GOT-INT" INT; [ -t 0 ] && echo on-a-tty; read -r line; echo "read:$line"
       for _ in $(seq 60); do sleep 0.5; done ;;
esac
"""

TESTS = r"""
import os
import signal
import subprocess

def run(*args, **kwargs):
    return subprocess.run(["/workspace/executable", *args], capture_output=True, text=True, timeout=20, **kwargs)

def test_status():
    assert run("status").returncode == 7

def test_signal():
    assert run("kill").returncode == -signal.SIGTERM

def test_streams():
    result = run("echo", "x", input="hello\n")
    assert (result.stdout, result.stderr) == ("hello\n", "err:x\n")

def test_other_uid():
    assert int(run("uid").stdout) != os.getuid()

def test_own_home():
    assert run("home").stdout.strip() != os.environ["HOME"]

def test_env():
    assert run("var", env={**os.environ, "MY_VAR": "v1"}).stdout == "v1\n"

def test_tmp_path_files(tmp_path):
    (tmp_path / "in.txt").write_text("input\n")
    assert run("read", str(tmp_path / "in.txt")).stdout == "input\n"
    assert run("write", "out.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "out.txt").read_text() == "made\n"
    assert run("pwd", cwd=tmp_path).stdout.strip() == str(tmp_path)

def test_the_candidate_is_at_the_shims_path():
    # a script's $0 (argparse's prog name, usage lines) is the path that was executed
    assert subprocess.run(["./executable", "argv0"], capture_output=True, text=True).stdout == "./executable\n"
    assert run("argv0").stdout == "/workspace/executable\n"

def test_the_candidate_sees_the_fixed_machine():
    # the same one-CPU machine twinbench's grading shows, whatever the grading host has
    assert run("machine").stdout == "1\n1\n1\n0\n"

def test_cannot_forge():
    assert "wrote" not in run("forge").stdout

def test_layout():
    workspace = os.stat("/workspace")
    assert (workspace.st_uid, oct(workspace.st_mode & 0o7777)) == (0, "0o3775")
    assert os.stat("/workspace/eval").st_mode & 0o022 == 0

def test_no_network():
    assert "connected" not in run("net").stdout

def test_timeout_kills():
    import time
    started = time.monotonic()
    try:
        subprocess.run(["./executable", "read", "/dev/zero"], stdout=subprocess.DEVNULL, timeout=1)
    except subprocess.TimeoutExpired:
        pass
    assert time.monotonic() - started < 5
"""


RUN_SH = '#!/bin/bash\ncd "$(dirname "$0")/.."\npython3 -m pytest eval/tests --junitxml=eval/results.xml\n'


def _archive(path: Path, tests: str = TESTS) -> None:
    files = {
        "eval/run.sh": RUN_SH,
        "eval/tests/test_shim.py": textwrap.dedent(tests),
    }
    with tarfile.open(path, "w:gz") as tar:
        # as `tar -C dir -czf x.tar.gz .` makes it: a "." entry, owned by whoever packed it, mode 0777
        top = tarfile.TarInfo(".")
        top.type, top.mode, top.uid, top.gid = tarfile.DIRTYPE, 0o777, 1000, 1000
        tar.addfile(top)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))


def test_the_shim_behaves_like_the_candidate(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "executable").write_text(CANDIDATE)
    (tree / "executable").chmod(0o755)
    archive = tmp_path / "branch.tar.gz"
    _archive(archive)
    outcome = run_branch(tree, "b1", archive, BranchLimits(), CANDIDATE_UID)
    assert outcome.results_xml is not None, outcome
    results = {result.name.rsplit(".", 1)[-1]: result for result in parse_junit(outcome.results_xml, "b1")}
    failed = {name: result.extra.get("message") for name, result in results.items() if result.status != "passed"}
    assert failed == {}, "\n".join(f"{name}: {message}" for name, message in failed.items())
    assert len(results) == 13 and outcome.broker_calls >= 15


TUI_TESTS = r"""
import subprocess
import time

def tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)

def screen_shows(text):
    for _ in range(400):
        if text in tmux("capture-pane", "-p", "-t", "t").stdout:
            return True
        time.sleep(0.05)
    return False

def test_tmux_drives_the_candidate():
    try:
        assert tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "./executable tui").returncode == 0
        assert screen_shows("on-a-tty")
        tmux("send-keys", "-t", "t", "hello", "Enter")
        assert screen_shows("read:hello")
        tmux("send-keys", "-t", "t", "C-c")
        assert screen_shows("GOT-INT")
    finally:
        tmux("kill-server")
"""


def test_tmux_panes_give_the_candidate_a_terminal_and_its_keys(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/setup.sh installs it)")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "executable").write_text(CANDIDATE)
    (tree / "executable").chmod(0o755)
    archive = tmp_path / "branch.tar.gz"
    _archive(archive, TUI_TESTS)
    outcome = run_branch(tree, "b1", archive, BranchLimits(), CANDIDATE_UID)
    assert outcome.results_xml is not None, outcome
    results = parse_junit(outcome.results_xml, "b1")
    assert [(r.status, r.extra.get("message")) for r in results] == [("passed", None)]


def test_requirements_the_branch_venv_lacks_are_named(tmp_path: Path) -> None:
    archive = tmp_path / "branch.tar.gz"
    text = b"pytest>=7\npytest_timeout==2.4\nPexpect\nrequests[socks]>=2 ; python_version>'3'\n# note\n-r x.txt\n"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("./eval/requirements.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    assert missing_requirements(archive) == ["requests"]


XDIST_RUN_SH = """#!/bin/bash
set -e
cd "$(dirname "$0")/.."
pip install pytest pytest-timeout pytest-xdist --quiet 2>/dev/null || true
python3 -m pytest eval/tests/ -n auto --timeout=2 --timeout-method=thread --junitxml=eval/results.xml -v || true
"""
STATUS_TESTS = """
import subprocess, time, pytest

def run(*args):
    return subprocess.run(["./executable", *args], capture_output=True, text=True).stdout.strip()

def test_passes():
    assert run("argv0") == "./executable"

def test_hangs():
    time.sleep(10)

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

def test_wrong():
    assert run("status") == "anything"

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_setup_error(broken):
    pass
"""


def test_timeouts_reruns_and_statuses_follow_programbench(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "executable").write_text(CANDIDATE)
    (tree / "executable").chmod(0o755)
    archive = tmp_path / "branch.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("eval/run.sh", XDIST_RUN_SH), ("eval/tests/test_statuses.py", STATUS_TESTS)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    outcome = run_branch(tree, "b1", archive, BranchLimits(), CANDIDATE_UID)
    assert outcome.results_xml is not None, outcome
    statuses = {r.name.rsplit(".", 1)[-1]: r.status for r in parse_junit(outcome.results_xml, "b1")}
    # --timeout-method=thread is rewritten to signal: the hung test fails alone, its xdist worker survives
    assert statuses == {
        "test_passes": "passed",
        "test_hangs": "failure",
        "test_skipped": "skipped",
        "test_wrong": "failure",
        "test_setup_error": "error",
    }
    assert "rerun" in outcome.output  # pytest-rerunfailures retried the failures (--reruns=2)


def test_a_built_tree_larger_than_the_disk_limit_still_fits_its_workspace(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "executable").write_text(CANDIDATE)
    (tree / "executable").chmod(0o755)
    (tree / "build.bin").write_bytes(os.urandom(3 << 20))
    archive = tmp_path / "branch.tar.gz"
    _archive(archive, "def test_nothing():\n    pass\n")
    limits = BranchLimits()
    limits.pytest.disk_mb = 2
    outcome = run_branch(tree, "b1", archive, limits, CANDIDATE_UID)
    assert outcome.error_code is None and outcome.results_xml is not None, outcome
