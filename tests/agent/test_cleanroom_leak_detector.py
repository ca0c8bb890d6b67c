"""The leak detector finds planted copies of the reference and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    LeakDetector,
    put,
    run,
)

from twinbench.agent.cleanroom import CleanRoom

pytestmark = CLEAN_ROOM_MARKS


# --- the detector itself ---


def test_leak_detector_finds_planted_copies(
    jq_room: CleanRoom, detector: LeakDetector, secrets: dict[str, Path]
) -> None:
    """Positive control: copies planted from the host, whole, partial, misaligned or decoded as text, are found."""
    assert jq_room.layout is not None
    assert detector.leaks_in_room(jq_room) == []
    libjq = secrets["libjq"].read_bytes()
    shutil.copyfile(secrets["figlet"], jq_room.workspace / "planted-figlet")
    # a thousand bytes from the middle of libjq's code, at an offset no stride lines up with
    (jq_room.layout.tmp / "planted-libjq").write_bytes(b"x" * 13 + libjq[100_003:101_003] + b"y" * 7)
    leaks = detector.leaks_in_room(jq_room)
    assert any("planted-figlet" in leak and "'figlet'" in leak for leak in leaks), leaks
    assert any("planted-libjq" in leak and "'libjq'" in leak for leak in leaks), leaks
    shown = run(jq_room, "cat planted-figlet")
    assert "ELF" in shown.output
    assert any("figlet (as text)" in leak for leak in detector.leaks_in_room(jq_room, shown.output))
    # and one run of jq's own binary, written under the agent's home
    (jq_room.layout.home / "part").write_bytes(secrets["jq"].read_bytes()[0x2500:0x2800])
    assert any("'jq'" in leak for leak in detector.leaks_in_room(jq_room))


def test_leak_detector_ignores_programs_built_in_the_room(jq_room: CleanRoom, detector: LeakDetector) -> None:
    """Negative control: a program gcc builds in the room and a public library are not taken for the reference."""
    put(jq_room, "hello.c", '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    result = run(jq_room, "gcc -O2 -o hello hello.c && ./hello && cp /usr/lib/*/libz.so.1 /tmp/ 2>/dev/null; ls /tmp")
    assert "hello" in result.output
    assert (jq_room.workspace / "hello").stat().st_size > 1000
    assert detector.leaks_in_room(jq_room, result.output) == []
