"""Fixtures of the clean-room tests: the real figlet and jq as references, tasks under /opt, shared rooms."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cleanroom_support import (
    FIGLET,
    JQ,
    LIBJQ_LINK,
    PUBLIC_FILES,
    LeakDetector,
)

from tests.conftest import AGENT_UID, REFERENCE_UID
from twinbench.agent.cleanroom import CleanRoom
from twinbench.demo import DEMO_TASK
from twinbench.formats import TaskDir, load_task
from twinbench.reference.taskgen import create_task


@pytest.fixture(scope="module")
def secrets() -> dict[str, Path]:
    """The reference binaries whose bytes must never reach the agent."""
    found = {"figlet": FIGLET.resolve(), "jq": JQ.resolve(), "libjq": LIBJQ_LINK.resolve()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        pytest.skip(f"needs Debian's figlet and jq: {', '.join(missing)} missing")
    return found


@pytest.fixture(scope="module")
def detector(secrets: dict[str, Path]) -> LeakDetector:
    """A leak detector for figlet, jq and libjq."""
    public = [
        path.read_bytes()
        for pattern in PUBLIC_FILES
        for path in sorted(Path("/").glob(pattern.lstrip("/")))
        if path.is_file()
    ]
    return LeakDetector({name: path.read_bytes() for name, path in secrets.items()}, public)


@pytest.fixture(scope="module")
def opt_dir(secrets: dict[str, Path]) -> Iterator[Callable[[], Path]]:
    """New directories under /opt, which both sandboxes mount, so that hiding a task there is put to work.
    (Each task gets its own: a room hides its own task, and a batch hides the other tasks by private_dirs.)"""
    made: list[Path] = []

    def make() -> Path:
        try:
            made.append(Path(tempfile.mkdtemp(prefix="twinbench-test-cleanroom-", dir="/opt")))
        except OSError:
            pytest.skip("needs a writable /opt")
        made[-1].chmod(0o755)
        return made[-1]

    try:
        yield make
    finally:
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def figlet_task(opt_dir: Callable[[], Path]) -> TaskDir:
    """The bundled figlet task, tests and all."""
    return load_task(Path(shutil.copytree(DEMO_TASK, opt_dir() / "figlet")))


@pytest.fixture(scope="module")
def jq_task(opt_dir: Callable[[], Path]) -> TaskDir:
    """A jq task made from the installed Debian package, with a test suite file to hide."""
    task = create_task("jq", opt_dir() / "jq", debian="jq")
    (task.root / "tests" / "suite.jsonl").write_text('{"secret": "expected outputs"}\n')
    return task


def _open_room(task: TaskDir, log_dir: Path) -> Iterator[CleanRoom]:
    """A clean room for `task` whose uids are this test run's (conftest checks them for leftovers)."""
    with CleanRoom(task, log_dir=log_dir) as room:
        assert room.agent_uid == AGENT_UID and room.reference_uid == REFERENCE_UID
        yield room


@pytest.fixture(scope="module")
def figlet_room_shared(figlet_task: TaskDir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRoom]:
    """One figlet room for the module: opening a room per test would cost more than the attacks."""
    yield from _open_room(figlet_task, tmp_path_factory.mktemp("figlet-room-log"))


@pytest.fixture(scope="module")
def jq_room_shared(jq_task: TaskDir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanRoom]:
    """One jq room for the module."""
    yield from _open_room(jq_task, tmp_path_factory.mktemp("jq-room-log"))


def _empty_room(room: CleanRoom) -> None:
    """Remove whatever an attack left, keeping ./executable and the docs mount point."""
    assert room.layout is not None
    for directory in (room.layout.workspace, room.layout.tmp, room.layout.home):
        for entry in directory.iterdir():
            if directory == room.layout.workspace and entry.name in ("executable", "docs"):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@pytest.fixture
def figlet_room(figlet_room_shared: CleanRoom) -> Iterator[CleanRoom]:
    """The module's figlet room, emptied after the test."""
    yield figlet_room_shared
    _empty_room(figlet_room_shared)


@pytest.fixture
def jq_room(jq_room_shared: CleanRoom) -> Iterator[CleanRoom]:
    """The module's jq room, emptied after the test."""
    yield jq_room_shared
    _empty_room(jq_room_shared)


@pytest.fixture(params=["figlet", "jq"])
def any_room(request: pytest.FixtureRequest) -> CleanRoom:
    """Each of the two rooms in turn."""
    room: CleanRoom = request.getfixturevalue(f"{request.param}_room")
    return room
