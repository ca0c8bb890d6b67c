"""What the room is for: the reference behaves exactly as the real program does."""

from __future__ import annotations

import subprocess

from cleanroom_support import (
    CLEAN_ROOM_MARKS,
    FIGLET,
    run,
)

from tests.conftest import AGENT_UID
from twinbench.agent.cleanroom import CleanRoom

pytestmark = CLEAN_ROOM_MARKS


# --- what the room is for ---


def test_jq_reads_files_and_relays_exit_codes(jq_room: CleanRoom) -> None:
    """File arguments in /workspace, /tmp and home (relative to the caller's cwd), stdin, stderr and exit codes."""
    result = run(
        jq_room,
        """
        printf '{"a": [1, 2]}' > in.json; printf '[1, 2, 3]' > /tmp/t.json; printf '"home"' > ~/h.json; mkdir sub
        ./executable -c .a in.json; echo "workspace $?"
        ./executable add /tmp/t.json; echo "tmp $?"
        (cd /tmp && /workspace/executable add t.json); echo "cwd $?"
        (cd sub && ../executable -c '.a[1]' ../in.json); echo "parent $?"
        ./executable . ~/h.json; echo "home $?"
        printf '[4, 5]' | ./executable add; echo "stdin $?"
        ./executable '.[' in.json 2> syntax.txt; echo "syntax $?"
        ./executable -e -n false > /dev/null; echo "false $?"
        ./executable . missing.json > out.txt 2> err.txt; echo "missing $?"
        ./executable -n '"bye\\n" | halt_error(7)' 2> halt.txt; echo "halt $?"
        ./executable -n 1 > owned.json; echo "redirect $?"
        """,
    )
    assert result.output.splitlines() == [
        *("[1,2]", "workspace 0", "6", "tmp 0", "6", "cwd 0", "2", "parent 0", '"home"', "home 0"),
        *("9", "stdin 0", "syntax 3", "false 1", "missing 2", "halt 7", "redirect 0"),
    ]
    assert "syntax error" in (jq_room.workspace / "syntax.txt").read_text()
    assert "missing.json: No such file or directory" in (jq_room.workspace / "err.txt").read_text()
    assert (jq_room.workspace / "out.txt").read_text() == ""
    assert (jq_room.workspace / "halt.txt").read_text() == "bye\n"
    owned = (jq_room.workspace / "owned.json").stat()
    assert (owned.st_uid, (jq_room.workspace / "owned.json").read_text()) == (AGENT_UID, "1\n")


def test_figlet_output_and_exit_codes_match_the_real_program(figlet_room: CleanRoom) -> None:
    """./executable prints what figlet prints, for arguments and stdin, and relays its exit code."""
    cases = [["-w", "40", "-c", "Hello world"], ["-f", "slant", "ok"], ["-f", "no-such-font", "x"], ["-k", "tw"]]
    for argv in cases:
        real = subprocess.run([str(FIGLET), *argv], capture_output=True, text=True)
        quoted = " ".join(f"'{arg}'" for arg in argv)
        result = run(figlet_room, f"./executable {quoted} > out.txt 2> err.txt; echo $?")
        assert result.output == f"{real.returncode}\n", argv
        assert (figlet_room.workspace / "out.txt").read_text() == real.stdout, argv
        # figlet names itself by its argv[0]'s base name
        assert (figlet_room.workspace / "err.txt").read_text() == real.stderr.replace("figlet:", "executable:")
    piped = run(figlet_room, "echo piped | ./executable")
    assert piped.output == subprocess.run([str(FIGLET)], input="piped\n", capture_output=True, text=True).stdout
