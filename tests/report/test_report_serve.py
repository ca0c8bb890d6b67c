"""`twinbench report --serve`: real HTTP requests against an ephemeral port while results appear."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers_task import small_figlet_task
from twinbench.cli import app
from twinbench.demo import DEMO_SUBMISSIONS
from twinbench.formats import load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.report.serve import LiveReport, ReportServer
from twinbench.sandbox import get_sandbox

WAIT_S = 20.0


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real eval.json results (partial and stub on a 4-test figlet task), to drop into watched runs."""
    root = tmp_path_factory.mktemp("serve")
    task = load_task(small_figlet_task(root / "task", count=4))
    sandbox = get_sandbox("bwrap")
    results = {}
    for name in ("partial", "stub"):
        evaluate(task, DEMO_SUBMISSIONS[name], root / name, sandbox, EvalOptions(workers=2))
        results[name] = root / name / "eval.json"
    return results


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _drop(result: Path, run: Path, name: str) -> None:
    """Put a result into a watched run the way eval does: the whole file at once."""
    (run / name).mkdir(parents=True)
    partial = run / name / ".eval.json.partial"
    shutil.copy(result, partial)
    os.replace(partial, run / name / "eval.json")


def test_served_report_follows_results_as_they_appear(graded: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "batch"
    run.mkdir()
    _drop(graded["partial"], run, "partial")
    live = LiveReport([run], "live <batch>", rank_flagged=False)
    stop = threading.Event()
    with ReportServer(live, "127.0.0.1", 0) as server:
        watcher = threading.Thread(target=server.watch, args=(stop, None, 0.05))
        watcher.start()
        try:
            status, page = _get(server.url)
            assert status == 200 and "<title>live &lt;batch&gt;</title>" in page
            assert 'data-version="1"' in page and "connect-src &#x27;self&#x27;" in page and 'fetch("version"' in page
            assert page.count("partial") >= 1 and "stub" not in page
            assert _get(server.url + "version") == (200, "1")
            assert _get(server.url + "nope")[0] == 404

            _drop(graded["stub"], run, "stub")  # a result appears while the page is served
            _wait_for(lambda: _get(server.url + "version")[1] != "1", "a new version")
            status, page = _get(server.url + "index.html")
            assert status == 200 and 'data-version="2"' in page and "stub" in page
            assert _get(server.url + "version") == (200, "2")  # nothing changed since: no new version
        finally:
            stop.set()
            watcher.join(timeout=5)
    assert not watcher.is_alive()
    with pytest.raises(OSError):  # the port was released
        urllib.request.urlopen(server.url, timeout=2)


def test_serve_command_starts_empty_updates_and_stops_on_ctrl_c(graded: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "batch"
    run.mkdir()  # a batch that has not graded anything yet: serving waits instead of failing
    command = [sys.executable, "-m", "twinbench.cli", "report", str(run), "--serve", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("serving http://127.0.0.1:") and "(Ctrl-C stops)" in first, first
        url = first.split()[1]
        status, page = _get(url)
        assert status == 200 and "No results yet under" in page
        _drop(graded["partial"], run, "figlet")
        _wait_for(lambda: 'data-task="figlet"' in _get(url)[1], "the new result on the page")
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=WAIT_S)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr and stdout.rstrip().endswith("stopped")
    assert "report version 2: 1 result" in stdout


def test_serve_command_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "twinbench.cli", "report", str(tmp_path), "--serve", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[1]
        assert _get(url)[0] == 200
        server.terminate()
        stdout, stderr = server.communicate(timeout=WAIT_S)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0 and stdout.rstrip().endswith("stopped") and stderr == ""


def test_serve_on_a_busy_port_or_a_missing_dir_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = runner.invoke(app, ["report", str(tmp_path), "--serve", "--port", str(port)])
    assert taken.exit_code == 2 and taken.stderr.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
    assert len(taken.stderr.splitlines()) == 1
    missing = runner.invoke(app, ["report", str(tmp_path / "nope"), "--serve"])
    assert missing.exit_code == 2 and missing.stderr == f"error: {tmp_path / 'nope'}: no such directory\n"


def test_a_run_dir_removed_while_serving_shows_the_error(graded: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "batch"
    run.mkdir()
    _drop(graded["stub"], run, "stub")
    live = LiveReport([run], "live", rank_flagged=False)
    assert live.refresh() and live.problem is None and not live.refresh()  # unchanged files: no new version
    shutil.rmtree(run)
    assert live.refresh() and live.problem == f"{run}: no such directory"
    assert f"error: {run}: no such directory" in live.snapshot()[1].decode()
