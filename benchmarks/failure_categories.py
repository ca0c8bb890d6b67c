"""Why an independent implementation fails a suite: its failed cases sorted into categories, with counts.

    twinbench eval TASK SUBMISSION -o OUT            # SUBMISSION's compile.sh wraps e.g. /usr/bin/gojq
    python benchmarks/failure_categories.py TASK OUT /usr/bin/gojq

Each failed case of OUT/eval.json is run again with the implementation in a scratch directory on the host
(its files, stdin and argv as the suite gives them; only the installed program is run, never the suite's
reference) to read its exit code and first stderr line, and filed under one category:
stderr wording only (the behavioral score passes it), an option it lacks, different exit codes, output that
differs when both succeed (colors with -C apart), and inputs one accepts and the other rejects.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

UNKNOWN_OPTION = re.compile(r"unknown (flag|shorthand|option)|flag needs|unrecognized option|invalid option")
EXAMPLES = 3


def case_files(case: dict[str, Any]) -> dict[str, bytes]:
    """A suite case's input files, whichever way the suite stored them."""
    files = {name: base64.b64decode(value) for name, value in case.get("files_b64", {}).items()}
    files.update({name: value.encode() for name, value in case.get("files", {}).items()})
    return files


def case_stdin(case: dict[str, Any]) -> bytes:
    if "stdin_b64" in case:
        return base64.b64decode(case["stdin_b64"])
    return str(case.get("stdin", "")).encode()


def rerun(program: str, case: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    """The implementation on one case, in a fresh scratch directory."""
    with tempfile.TemporaryDirectory(prefix="twinbench-failures-") as work:
        for name, content in case_files(case).items():
            path = Path(work) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        try:
            return subprocess.run(
                [program, *case["argv"]],
                cwd=work,
                input=case_stdin(case),
                capture_output=True,
                timeout=case.get("timeout_s", 10),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([program], -9, b"", b"timed out")


def category(result: dict[str, Any], case: dict[str, Any], run: subprocess.CompletedProcess[bytes]) -> str:
    """The category of one failed case."""
    expected_exit = case["expect"].get("exit_code")
    stderr = run.stderr.decode(errors="replace")
    if result.get("behavioral"):
        return "stderr wording only (passes the behavioral score)"
    if run.returncode != 0 and UNKNOWN_OPTION.search(stderr):
        return "an option the reference has and it lacks (or parses differently)"
    if expected_exit == 0 and run.returncode != 0:
        return "rejects input or a program the reference accepts"
    if expected_exit != 0 and run.returncode == 0:
        return "accepts what the reference rejects"
    if expected_exit != 0 and expected_exit != run.returncode:
        return f"both fail, other exit code (reference {expected_exit}, it {run.returncode})"
    if expected_exit != 0:
        return "both fail with the same exit code, stdout differs"
    if "\x1b[" in str(case["expect"].get("stdout", "")):
        return "both succeed, colors differ"
    return "both succeed, stdout differs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", type=Path)
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("program", help="the installed implementation the submission wraps")
    args = parser.parse_args(argv)
    cases = {}
    for line in (args.task / "tests" / "suite.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        cases[case["id"]] = case
    evaluation = json.loads((args.eval_dir / "eval.json").read_text(encoding="utf-8"))
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for result in evaluation["tests"]:
        if result["status"] == "passed" or result["id"] not in cases:
            continue
        case = cases[result["id"]]
        run = rerun(args.program, case)
        name = category(result, case, run)
        counts[name] += 1
        if len(examples[name]) < EXAMPLES:
            first = (run.stderr.decode(errors="replace").strip().splitlines() or [""])[0][:90]
            examples[name].append(f"{result['id']} {json.dumps(case['argv'][:4])}: {first}")
    failed = sum(counts.values())
    print(
        f"{evaluation['task']}: {evaluation['passed']}/{evaluation['total']} passed, score {evaluation['score']:.3f} "
        f"(behavioral {evaluation['behavioral_score']:.3f}); {failed} failed:"
    )
    for name, count in counts.most_common():
        print(f"{count:5d}  {name}")
        for example in examples[name]:
            print(f"         {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
