"""twinbench's pytest plugin for ProgramBench branches (loaded with -p; stdlib and pytest only).

pytest and the candidate run as two uids of one group. pytest makes its temporary directories (tmp_path,
tempfile.mkdtemp) readable by their owner only, yet tests hand the candidate files in them, so this plugin
opens those directories to the group. And since the candidate may write under /workspace, which is
pytest's working directory, no directory the candidate can write stays on sys.path once tests run."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from typing import Any

import pytest
from _pytest import tmpdir

_GROUP_BITS = stat.S_IRWXG | stat.S_ISGID


def _open_to_group(path: Any) -> None:
    """Give the group access to `path` and to each of our own directories above it."""
    current = os.path.abspath(str(path))
    uid = os.getuid()
    while current not in ("/", ""):
        try:
            info = os.lstat(current)
        except OSError:
            return
        if info.st_uid == uid and stat.S_ISDIR(info.st_mode):
            os.chmod(current, stat.S_IMODE(info.st_mode) | _GROUP_BITS)
        current = os.path.dirname(current)


def _wrap(function: Any) -> Any:
    def opened(*args: Any, **kwargs: Any) -> Any:
        made = function(*args, **kwargs)
        _open_to_group(made)
        return made

    opened.__wrapped__ = function  # type: ignore[attr-defined]
    return opened


def _candidate_writable(entry: str) -> bool:
    path = entry or os.getcwd()
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid not in (0, os.getuid()) or bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    os.umask(0o002)
    tempfile.mkdtemp = _wrap(tempfile.mkdtemp)
    tmpdir.TempPathFactory.mktemp = _wrap(tmpdir.TempPathFactory.mktemp)  # type: ignore[method-assign]
    tmpdir.TempPathFactory.getbasetemp = _wrap(tmpdir.TempPathFactory.getbasetemp)  # type: ignore[method-assign]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    sys.path[:] = [entry for entry in sys.path if not _candidate_writable(entry)]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    # junitxml writes results.xml in this hook: it must not be group-writable, or a candidate process still
    # running could rewrite it after pytest is done (the harness refuses a results.xml it could have written)
    os.umask(0o022)
    yield


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    # `programbench derive` files each call of ./executable under its test, named as JUnit names it
    if os.environ.get("TWINBENCH_RECORD") == "1":
        parts = item.nodeid.split("::")
        module = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
        os.environ["TWINBENCH_TEST_ID"] = ".".join([module.replace("/", "."), *parts[1:]])
        # what the environment held before the test: a case keeps only the variables the test set
        base = {key: value for key, value in os.environ.items() if not key.startswith("TWINBENCH_")}
        os.environ["TWINBENCH_BASE_ENV"] = json.dumps(base)
    yield
    os.environ.pop("TWINBENCH_TEST_ID", None)
    os.environ.pop("TWINBENCH_BASE_ENV", None)
