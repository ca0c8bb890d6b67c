"""Audit of submissions for the bundled figlet task: real cheats written here, the real figlet binary, real files."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from twinbench.audit import (
    AuditReport,
    CodeStats,
    Finding,
    Severity,
    audit_submission,
    code_stats,
    compare_stats,
    reference_code_stats,
    write_audit,
)
from twinbench.demo import DEMO_SUBMISSIONS, DEMO_TASK
from twinbench.formats import FormatError, ReferenceSpec, Task, TaskDir, load_task

FIGLET_BINARY = Path("/usr/bin/figlet-figlet")
COVERAGE_BUILDS = [Path("/var/tmp/twinbench-coverage/figlet"), Path("/tmp/cov-figlet")]

pytestmark = pytest.mark.skipif(not FIGLET_BINARY.is_file(), reason="Debian's figlet is not installed")


@pytest.fixture(scope="module")
def task() -> TaskDir:
    return load_task(DEMO_TASK)


def submission(directory: Path, files: dict[str, str | bytes], compile_sh: str | None = None) -> Path:
    """A submission directory with compile.sh (by default: copy `program` to ./executable) and the given files."""
    directory.mkdir(parents=True, exist_ok=True)
    script = compile_sh or "#!/bin/sh\nset -e\ncp program executable\nchmod +x executable\n"
    (directory / "compile.sh").write_text(textwrap.dedent(script).lstrip())
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip())
    return directory


def findings(report: AuditReport, rule: str, severity: Severity | None = None) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule and (severity is None or f.severity == severity)]


def serious(report: AuditReport) -> list[Finding]:
    return [f for f in report.findings if f.severity != Severity.info]


# ------------------------------------------------------------------------------------------------ honest submissions


def test_honest_partial_submission_is_not_flagged(task: TaskDir) -> None:
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task)
    assert serious(report) == []
    assert report.flagged is False
    assert report.task == "figlet"
    assert len(report.submission_sha256) == 64
    assert report.code is not None and report.code.languages["Python"].code_lines > 100


def test_stub_and_archived_partial_are_not_flagged(task: TaskDir, tmp_path: Path) -> None:
    assert audit_submission(DEMO_SUBMISSIONS["stub"], task).flagged is False
    archive = tmp_path / "partial.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(DEMO_SUBMISSIONS["partial"], arcname="partial")
    report = audit_submission(archive, task)
    assert serious(report) == []
    assert report.submission == str(archive)
    assert report.code is not None and report.code.functions > 10


def test_unrelated_binary_and_prose_mentions_are_not_wrappers(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(
        tmp_path / "sub",
        {
            "program": """
                #!/usr/bin/env python3
                # Behaves like /usr/bin/figlet; unlike toilet it has no filters.
                import sys
                PROGRAM = "figlet"
                def run(argv):
                    sys.stderr.write("figlet: invalid option\\n")
                    return 1
                sys.exit(run(sys.argv[1:]))
            """,
            "README.md": "A rewrite of figlet. Do not `exec figlet`; /usr/bin/figlet is hidden anyway.\n",
            # an unrelated program's machine code shares nothing with figlet's
            "assets/dash.bin": Path("/usr/bin/dash").read_bytes(),
        },
    )
    report = audit_submission(sub, task)
    assert findings(report, "wrapper") == []
    assert findings(report, "reference-copy") == []


# ------------------------------------------------------------------------------------------------------- wrappers


def test_exec_figlet_wrapper_is_critical(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub", {"program": '#!/bin/sh\nexec figlet "$@"\n'})
    report = audit_submission(sub, task)
    [finding] = findings(report, "wrapper", Severity.critical)
    assert finding.file == "program"
    assert finding.evidence == ['program:2: exec figlet "$@"']
    assert "the reference (figlet)" in finding.message
    assert report.flagged


def test_bundled_reference_wrapper_is_caught_in_compile_sh_heredoc(task: TaskDir) -> None:
    report = audit_submission(DEMO_SUBMISSIONS["reference-wrapper"], task)
    [finding] = findings(report, "wrapper", Severity.critical)
    assert finding.evidence == ['compile.sh:6: exec figlet "$@"']


def test_toilet_wrapper_is_another_implementation(task: TaskDir, tmp_path: Path) -> None:
    shell = submission(tmp_path / "shell", {"program": '#!/bin/bash\nset -e\ntoilet -f standard "$@"\n'})
    [finding] = findings(audit_submission(shell, task), "wrapper", Severity.critical)
    assert "toilet, another implementation of figlet" in finding.message
    assert finding.evidence == ['program:3: toilet -f standard "$@"']
    python = submission(
        tmp_path / "python",
        {
            "program": """
                #!/usr/bin/env python3
                import os, subprocess, sys
                if len(sys.argv) > 2:
                    subprocess.run(
                        ["toilet", "-f", "standard", *sys.argv[1:]],
                        check=False,
                    )
                os.system("toilet -f standard " + " ".join(sys.argv[1:]))
            """
        },
    )
    [finding] = findings(audit_submission(python, task), "wrapper", Severity.critical)
    assert [line.split(":")[1] for line in finding.evidence] == ["5", "8"]


def test_absolute_path_symlink_and_binary_string_wrappers(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(
        tmp_path / "sub",
        {"main.c": '#include <unistd.h>\nint main(int c, char **v) { execv("/usr/bin/figlet", v); return 1; }\n'},
        compile_sh="#!/bin/sh\ncc -o executable main.c\n",
    )
    (sub / "figlet-link").symlink_to("/usr/bin/figlet")
    # what compile.sh would have built: a real ELF program carrying the path as a string
    built = tmp_path / "built"
    built.mkdir()
    if shutil.which("cc"):
        subprocess.run(["cc", "-o", str(built / "executable"), str(sub / "main.c")], check=True)
    else:
        (built / "executable").write_bytes(Path("/usr/bin/true").read_bytes() + b"\0/usr/bin/figlet\0")
    report = audit_submission(sub, task, built_tree=built)
    wrappers = {finding.file: finding for finding in findings(report, "wrapper", Severity.critical)}
    assert set(wrappers) == {"main.c", "figlet-link", "build/tree/executable"}
    assert wrappers["figlet-link"].evidence[0].startswith("figlet-link -> /usr/bin/figlet")
    assert "/usr/bin/figlet" in wrappers["build/tree/executable"].evidence[0]


def test_library_ports_of_the_tool_are_wrappers_but_own_modules_are_not(task: TaskDir, tmp_path: Path) -> None:
    ported = submission(
        tmp_path / "ported",
        {
            "program": """
                #!/usr/bin/env python3
                import sys
                from pyfiglet import figlet_format
                print(figlet_format(sys.argv[1]))
            """,
            "requirements.txt": "pyfiglet==1.0.2\n",
        },
    )
    report = audit_submission(ported, task)
    wrappers = {finding.file: finding for finding in findings(report, "wrapper", Severity.critical)}
    assert wrappers["program"].evidence == ["program:3: from pyfiglet import figlet_format"]
    assert "pyfiglet, another implementation of figlet" in wrappers["program"].message
    assert wrappers["requirements.txt"].evidence == ["requirements.txt:1: pyfiglet==1.0.2"]
    own = submission(
        tmp_path / "own",
        {"program": "#!/usr/bin/env python3\nimport figlet\nfiglet.main()\n", "figlet.py": "def main():\n    pass\n"},
    )
    assert findings(audit_submission(own, task), "wrapper") == []


def test_library_of_the_reference_is_a_wrapper(tmp_path: Path) -> None:
    if not Path("/usr/bin/jq").is_file():
        pytest.skip("jq is not installed")
    jq_task = TaskDir(root=tmp_path, task=Task(id="jq", reference=ReferenceSpec(debian_package="jq", binary="jq")))
    sub = submission(
        tmp_path / "sub",
        {"main.c": "int jq_main(void);\nint main(void) { return jq_main(); }\n"},
        compile_sh="#!/bin/sh\ncc -o executable main.c -ljq\n",
    )
    [finding] = findings(audit_submission(sub, jq_task), "wrapper", Severity.critical)
    assert finding.evidence == ["compile.sh:2: cc -o executable main.c -ljq"]
    assert "libjq" in finding.message


# ------------------------------------------------------------------------------------------------ reference copies


def test_copied_reference_binary_is_critical(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub", {"program": "#!/bin/sh\nexit 0\n", "data.bin": FIGLET_BINARY.read_bytes()})
    report = audit_submission(sub, task)
    [finding] = findings(report, "reference-copy", Severity.critical)
    assert finding.file == "data.bin"
    assert "100% of the reference's /usr/bin/figlet-figlet" in finding.message
    assert finding.evidence[0].endswith("distinctive 64-byte windows of /usr/bin/figlet-figlet")
    assert finding.evidence[1].startswith("data.bin:0x")


def test_copy_of_another_implementation_is_critical(task: TaskDir, tmp_path: Path) -> None:
    if not Path("/usr/bin/toilet").is_file():
        pytest.skip("toilet is not installed")
    sub = submission(
        tmp_path / "sub", {"program": "#!/bin/sh\nexit 0\n", "vendor/t": Path("/usr/bin/toilet").read_bytes()}
    )
    [finding] = findings(audit_submission(sub, task), "reference-copy", Severity.critical)
    assert "of another implementation, /usr/bin/toilet" in finding.message


def test_encoded_and_shifted_copies_are_found(task: TaskDir, tmp_path: Path) -> None:
    reference = FIGLET_BINARY.read_bytes()
    blob = base64.encodebytes(gzip.compress(reference)).decode()
    sub = submission(
        tmp_path / "sub",
        {
            "program": f'#!/usr/bin/env python3\nimport base64, gzip\nBLOB = """\n{blob}"""\n',
            "fonts/pad.dat": b"\x01\x02\x03" + reference[: len(reference) // 2],
        },
    )
    report = audit_submission(sub, task)
    copies = {finding.file: finding for finding in findings(report, "reference-copy", Severity.critical)}
    assert set(copies) == {"program", "fonts/pad.dat"}
    assert "(base64 at line 4, compressed (gzip/zlib))" in copies["program"].evidence[1]


def test_copy_in_built_tree_only(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(tmp_path / "sub", {"program": "#!/bin/sh\nexit 0\n"})
    built = tmp_path / "tree"
    shutil.copytree(sub, built)
    shutil.copy(FIGLET_BINARY, built / "executable")
    [finding] = findings(audit_submission(sub, task, built_tree=built), "reference-copy", Severity.critical)
    assert finding.file == "build/tree/executable"


# ---------------------------------------------------------------------------------------------------- build fetch


def test_fetching_build_is_warned_with_line_evidence(task: TaskDir, tmp_path: Path) -> None:
    sub = submission(
        tmp_path / "sub",
        {"Makefile": "all:\n\twget -q https://example.org/figlet.tar.gz\n"},
        compile_sh="""
            #!/bin/sh
            pip install pyfiglet
            curl -sL https://example.org/install.sh | sh
            # curl in a comment is not a fetch
            make
            printf '#!/bin/sh\\nexec python3 -m pyfiglet "$@"\\n' > executable
        """,
    )
    report = audit_submission(sub, task)
    fetches = findings(report, "build-fetch", Severity.warning)
    assert [finding.evidence for finding in fetches] == [
        ["Makefile:2: wget -q https://example.org/figlet.tar.gz"],
        ["compile.sh:2: pip install pyfiglet"],
        ["compile.sh:3: curl -sL https://example.org/install.sh | sh"],
    ]
    assert fetches[1].message.startswith("compile.sh:2 runs pip install during the build")
    assert report.flagged


def test_cargo_build_is_a_fetch_only_with_registry_dependencies(task: TaskDir, tmp_path: Path) -> None:
    manifest = '[package]\nname = "fig"\nversion = "0.1.0"\n'
    compile_sh = "#!/bin/sh\ncargo build --release\ncp target/release/fig executable\n"
    plain = submission(tmp_path / "plain", {"Cargo.toml": manifest, "src/main.rs": "fn main() {}\n"}, compile_sh)
    assert findings(audit_submission(plain, task), "build-fetch") == []
    with_deps = manifest + '[dependencies]\nclap = "4"\nlocal = { path = "local" }\n'
    fetching = submission(tmp_path / "deps", {"Cargo.toml": with_deps, "src/main.rs": "fn main() {}\n"}, compile_sh)
    [finding] = findings(audit_submission(fetching, task), "build-fetch")
    assert "crates (clap)" in finding.message
    offline = submission(
        tmp_path / "offline",
        {"Cargo.toml": with_deps, "src/main.rs": "fn main() {}\n"},
        compile_sh.replace("--release", "--release --offline"),
    )
    assert findings(audit_submission(offline, task), "build-fetch") == []


# ------------------------------------------------------------------------------------------------ prebuilt binaries


def test_shipped_executable_is_critical_and_objects_are_warned(task: TaskDir, tmp_path: Path) -> None:
    relocatable = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x01\x00" + bytes(46)  # e_type 1: an object file
    sub = submission(
        tmp_path / "sub",
        {"executable": Path("/usr/bin/true").read_bytes(), "obj/util.o": relocatable},
        compile_sh="#!/bin/sh\ntrue\n",
    )
    os.chmod(sub / "executable", 0o755)
    report = audit_submission(sub, task)
    [critical] = findings(report, "prebuilt-executable", Severity.critical)
    assert critical.file == "executable"
    assert "ELF" in critical.evidence[0]
    [warning] = findings(report, "prebuilt-executable", Severity.warning)
    assert warning.evidence[0].startswith("obj/util.o: ELF relocatable object")


# ------------------------------------------------------------------------------------------------------ trajectory


def test_trajectory_commands_are_audited(task: TaskDir, tmp_path: Path) -> None:
    trajectory = tmp_path / "run.traj.json"
    messages = [
        {"role": "system", "content": "Never run objdump -d on the reference."},
        {"role": "user", "content": "Rebuild figlet.\n```bash\nstrings /usr/bin/figlet-figlet\n```"},
        {"role": "assistant", "content": "THOUGHT: look at it\n```bash\nobjdump -d ./executable | head\n```"},
        {"role": "user", "content": "<output>objdump: ./executable: Permission denied</output>"},
        {"role": "assistant", "content": "```bash\ncat /usr/bin/figlet-figlet | base64 > /tmp/b64\n```"},
        {"role": "assistant", "content": "```bash\nls -l /usr/bin/figlet && figlet hello && file $(which figlet)\n```"},
        {"role": "assistant", "content": "```bash\napt-get source figlet\n```"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "bash", "arguments": json.dumps({"command": "xxd $(which figlet)"})}}],
        },
    ]
    trajectory.write_text(json.dumps({"info": {}, "messages": messages, "trajectory_format": "mini-swe-agent-1"}))
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task, trajectory=trajectory)
    by_tool = {(f.rule, f.message.split(" (")[0]): f for f in report.findings if f.rule.startswith("trajectory-")}
    decompiler = by_tool[("trajectory-decompiler", "the agent ran objdump")]
    assert decompiler.severity == Severity.critical
    assert decompiler.evidence == ["messages[2].content: objdump -d ./executable | head"]
    reading = by_tool[("trajectory-read-reference", "the agent read the reference's bytes with cat")]
    assert reading.evidence == ["messages[4].content: cat /usr/bin/figlet-figlet | base64 > /tmp/b64"]
    assert ("trajectory-decompiler", "the agent dumped a binary's contents with xxd") in by_tool
    cache = [f for f in report.findings if f.rule == "trajectory-package-cache"]
    assert cache and cache[0].severity == Severity.warning
    # what system and user messages say, and harmless looks at the reference, are not the agent's doing
    everything = " ".join(line for f in report.findings for line in f.evidence)
    assert "strings /usr/bin/figlet-figlet" not in everything
    assert "ls -l /usr/bin/figlet" not in everything
    assert report.flagged


def test_steps_format_and_unreadable_trajectory(task: TaskDir, tmp_path: Path) -> None:
    steps = tmp_path / "steps.json"
    steps.write_text(
        json.dumps(
            {
                "trajectory": [
                    {"action": "LD_PRELOAD=./dump.so ./executable", "observation": "gdb objdump"},
                    {"action": "sudo timeout 5 gdb -batch -ex 'info functions' /usr/bin/figlet-figlet"},
                    {"command": "dd if=/proc/1234/mem of=out bs=1"},
                ]
            }
        )
    )
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task, trajectory=steps)
    rules = {(f.rule, f.message.split(" (")[0]) for f in report.findings}
    assert ("trajectory-read-reference", "the agent read the reference's bytes with LD_PRELOAD") in rules
    assert ("trajectory-decompiler", "the agent ran gdb") in rules
    assert ("trajectory-read-reference", "the agent read the reference's bytes with /proc/PID/exe or mem") in rules
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task, trajectory=broken)
    assert [f.rule for f in report.findings] == ["trajectory-unreadable"]
    assert report.flagged is False
    # nesting past Python's recursion limit, in the file or in a tool call's arguments (model output)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000)
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task, trajectory=deep)
    assert [f.rule for f in report.findings] == ["trajectory-unreadable"]
    calls = tmp_path / "calls.json"
    nested_arguments = "[" * 100000 + "]" * 100000
    calls.write_text(json.dumps({"messages": [{"role": "assistant", "tool_calls": [{"arguments": nested_arguments}]}]}))
    report = audit_submission(DEMO_SUBMISSIONS["partial"], task, trajectory=calls)
    assert "trajectory-unreadable" not in [f.rule for f in report.findings], report.findings


# ---------------------------------------------------------------------------------------------- reports and stats


def test_write_audit_round_trips(task: TaskDir, tmp_path: Path) -> None:
    report = audit_submission(DEMO_SUBMISSIONS["reference-wrapper"], task)
    path = tmp_path / "out" / "audit.json"
    write_audit(report, path)
    loaded = AuditReport.model_validate_json(path.read_text())
    assert loaded == report
    assert json.loads(path.read_text())["flagged"] is True


def test_missing_submission_is_a_format_error(task: TaskDir, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="does not exist"):
        audit_submission(tmp_path / "nothing", task)


def test_code_stats_of_partial_submission() -> None:
    stats = code_stats(DEMO_SUBMISSIONS["partial"])
    assert stats.languages["Python"].code_lines > 100
    assert stats.functions > 10
    assert stats.files == 2 and stats.languages["Shell"].files == 1
    assert 0 < stats.mean_function_lines <= stats.max_function_lines
    assert stats.longest_function is not None and stats.longest_function.startswith("figlet.py:")
    rows = compare_stats(stats, None)
    assert rows[0] == {"metric": "lines of code", "submission": stats.code_lines, "reference": None, "ratio": None}


def test_code_stats_skip_generated_dirs(tmp_path: Path) -> None:
    (tmp_path / "src" / "deep").mkdir(parents=True)
    (tmp_path / "src" / "deep" / "lib.rs").write_text("// comment\n\nfn a() -> u32 {\n    1\n}\n")
    for skipped in ("target", "node_modules", ".git", "__pycache__", "build"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "gen.c").write_text("int x(void) { return 1; }\n" * 50)
    stats = code_stats(tmp_path)
    assert (stats.files, stats.code_lines, stats.functions, stats.max_depth) == (1, 3, 1, 2)
    assert list(stats.languages) == ["Rust"]


def test_compare_with_figlet_sources() -> None:
    build = next((path for path in COVERAGE_BUILDS if (path / "coverage-build.json").is_file()), None)
    if build is None:
        pytest.skip("no coverage build of figlet (twinbench coverage-build --debian figlet)")
    reference = reference_code_stats(build)
    assert isinstance(reference, CodeStats)
    assert reference.languages["C"].code_lines > 2000 and reference.functions > 30
    submission_stats = code_stats(DEMO_SUBMISSIONS["partial"])
    rows = {row["metric"]: row for row in compare_stats(submission_stats, reference)}
    assert rows["lines of code"]["ratio"] < 1  # the partial rewrite is shorter than figlet's C
    assert rows["lines of C"]["submission"] == 0 and rows["lines of Python"]["reference"] == 0
