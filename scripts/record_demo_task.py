"""Regenerate the bundled demo task (figlet) by recording the real figlet in the sandbox.

    python scripts/record_demo_task.py            # writes src/twinbench/demo/tasks/figlet

This is the small recording helper the demo starts from; `twinbench testgen` makes suites for any
program. The invocations below are hand-picked to touch each documented option of figlet(6).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from twinbench.formats import ReferenceSpec, Task, dump_suite, save_task
from twinbench.sandbox import get_sandbox
from twinbench.testgen import CaseSpec, record_reference

TASK_DIR = Path(__file__).resolve().parents[1] / "src" / "twinbench" / "demo" / "tasks" / "figlet"
WORDS = ["Hello", "twinbench", "Agents", "rebuild", "figlet", "42", "Hi!", "a-b_c", "Zebra", "quartz"]
FONTS = [
    "standard",
    "banner",
    "big",
    "block",
    "bubble",
    "digital",
    "lean",
    "mini",
    "script",
    "shadow",
    "slant",
    "small",
    "smscript",
    "smshadow",
    "smslant",
    "term",
    "mnemonic",
    "ivrit",
]
LONG_TEXT = "The quick brown fox jumps over the lazy dog while agents rebuild programs"


def invocations() -> list[CaseSpec]:
    """Every case of the demo suite, in a stable order."""
    specs: list[CaseSpec] = []

    def add(group: str, argv: list[str], stdin: str = "", files: dict[str, str] | None = None) -> None:
        specs.append(
            CaseSpec(
                id=f"t{len(specs):04d}",
                group=group,
                argv=argv,
                stdin=stdin.encode(),
                files={k: v.encode() for k, v in (files or {}).items()},
            )
        )

    for word in WORDS:
        add("basic", [word])
    for first, second in itertools.islice(itertools.combinations(WORDS, 2), 12):
        add("basic", [first, second])
    add("basic", ["~!@#$%^&*()_+{}|:<>?"])
    add("basic", ["0123456789"])
    add("basic", ["ABCDEFGHIJKLMNOPQRSTUVWXYZ"])
    add("basic", ["abcdefghijklmnopqrstuvwxyz"])
    add("basic", [""])
    add("basic", ["   spaced   out   "])
    for text in ["Hello\n", "one\ntwo\n", "tab\there\n", "\n\n", LONG_TEXT + "\n", "ümlaut café\n"]:
        add("stdin", [], stdin=text)
    for font, word in zip(FONTS, itertools.cycle(WORDS), strict=False):
        add("fonts", ["-f", font, word])
        add("fonts", ["-f", font, "Ab1"])
    for font in FONTS[:6]:
        add("fonts", ["-f", f"{font}.flf", "ok"])
    for flag in ["-c", "-l", "-r", "-x"]:
        for word in WORDS[:5]:
            add("justify", [flag, word])
        add("justify", [flag, "-w", "40", "Hi"])
    for width in ["1", "10", "20", "40", "60", "100", "200"]:
        add("width", ["-w", width, LONG_TEXT])
        add("width", ["-w", width, "Hello"])
    for flag in ["-k", "-W", "-S", "-s", "-o"]:
        for word in ["Hello", "Type", "Wow", "Ry/\\|_"]:
            add("layout", [flag, word])
    for mode in ["0", "1", "2", "4", "8", "16", "32", "63", "-1", "128"]:
        add("layout", ["-m", mode, "Smush"])
    for flag in ["-p", "-n"]:
        add("paragraph", [flag], stdin="one two\nthree\n\nfour five six\n")
        add("paragraph", [flag, "-w", "30"], stdin=LONG_TEXT + "\n" + LONG_TEXT + "\n")
    for flag in ["-L", "-R", "-X"]:
        add("direction", [flag, "Hello"])
        add("direction", [flag, "-f", "ivrit", "abc"])
    for code in ["0", "1", "2", "3", "4", "5"]:
        add("info", ["-I", code])
        add("info", ["-f", "slant", "-I", code])
    add("info", ["-v"])
    for flag in ["-D", "-E"]:
        add("deutsch", [flag, "[\\]{|}~"])
    add(
        "files",
        ["-f", "./my.flf", "Hi"],
        files={
            "my.flf": "flf2a$ 2 1 8 -1 1\ncomment\n"
            + "".join(f"{chr(c)}@\n{chr(c)}@@\n" for c in range(32, 127))
            + "".join("x@\nx@@\n" for _ in range(7))
        },
    )
    add("files", ["-C", "utf8", "Héllo"])
    add("files", ["-C", "upper", "hello"])
    add("files", ["-d", ".", "-f", "missing", "x"])
    add("errors", ["-f", "nosuchfont", "hi"])
    add("errors", ["-Z"])
    add("errors", ["-w"])
    add("errors", ["-f"])
    add("errors", ["-m"])
    add("errors", ["-C", "nosuchcontrol", "x"])
    add("errors", ["-I", "x"])
    add("errors", ["--", "-dash"])
    add("errors", ["-w", "abc", "hi"])
    add("errors", ["-m", "x", "hi"])
    return specs


def main() -> int:
    """Record the suite and write the task directory."""
    task = Task(
        id="figlet",
        description="FIGlet 2.2.5 from Debian: renders text as large characters made of ordinary characters.",
        reference=ReferenceSpec(debian_package="figlet", binary="figlet"),
        docs=["docs/figlet.6.txt", "docs/usage.txt", "docs/README.txt"],
    )
    docs = TASK_DIR / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    man = subprocess.run(
        ["man", "-P", "cat", "6", "figlet"],
        capture_output=True,
        text=True,
        env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        check=True,
    )
    (docs / "figlet.6.txt").write_text(man.stdout)
    usage = subprocess.run(["figlet", "-h"], capture_output=True, text=True, check=False)
    (docs / "usage.txt").write_text(usage.stderr.replace("figlet:", "./executable:"))
    readme = subprocess.run(["zcat", "/usr/share/doc/figlet/README.gz"], capture_output=True, text=True, check=True)
    (docs / "README.txt").write_text(readme.stdout)
    suite, report = record_reference(task, invocations(), get_sandbox("bwrap"), workers=2)
    save_task(task, TASK_DIR)
    dump_suite(suite, TASK_DIR / "tests" / "suite.jsonl")
    print(f"kept {report.kept} cases; dropped {len(report.dropped)}")
    for case_id, reason in report.dropped.items():
        print(f"  {case_id}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
