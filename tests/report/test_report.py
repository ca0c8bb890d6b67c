"""Reports over really graded runs: loading, ProgramBench's ranking, JSON, pandas, and the HTML page."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from tests.conftest import write_executable
from tests.helpers_task import small_figlet_task
from twinbench.cli import app
from twinbench.demo import DEMO_SUBMISSIONS
from twinbench.formats import FormatError, Suite, TestStatus, dump_suite, load_suite, load_task
from twinbench.grade import EvalOptions, evaluate
from twinbench.report import aggregate_json, leaderboard, load_runs, render_html, results_frame, write_report
from twinbench.report.charts import esc
from twinbench.report.details import MAX_FAILING_SHOWN
from twinbench.report.load import GroupRate, run_labels
from twinbench.sandbox import get_sandbox

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_LINE = "<script>alert(1)</script>"
# the demo suite's first cases graded for real: enough that the partial rebuild passes 19 and fails 2 of them
FIGLET_CASES = 90


def _code(files: int, lines: int, languages: dict[str, int], functions: int) -> dict[str, object]:
    """Code statistics in the shape twinbench.audit writes them (CodeStats)."""
    return {
        "root": "/src",
        "files": files,
        "code_lines": lines,
        "languages": {name: {"files": 1, "code_lines": n, "functions": functions} for name, n in languages.items()},
        "max_depth": 0,
        "functions": functions,
        "mean_function_lines": 12.5,
        "max_function_lines": 61,
        "longest_function": "figlet.py:10 main",
    }


# run-a's figlet: flagged with a warning (marked, still ranked); severities as other tools write them too
AUDIT = {
    "findings": [
        {"rule": "size", "severity": "low", "message": "one file holds 90% of the code", "evidence": [], "file": None},
        {
            "rule": "build-fetch",
            "severity": "warning",
            "message": "compile.sh fetches from the network",
            "evidence": ["curl https://example.org/x", "<script>alert(3)</script>"],
            "file": "compile.sh",
        },
        {"rule": "network", "severity": "medium", "message": "mentions curl", "evidence": ["curl"], "file": "a.sh"},
    ],
    "flagged": True,
    "code": _code(2, 812, {"Python": 790, "Shell": 22}, 40),
    "reference_code": _code(14, 5310, {"C": 5310}, 90),
}
# run-f: a wrapper, as the audit reports the demo's reference-wrapper
WRAPPER_AUDIT = {
    "findings": [
        {
            "rule": "wrapper",
            "severity": "critical",
            "message": "compile.sh runs, loads or copies the reference (figlet) instead of implementing it",
            "evidence": ['compile.sh:6: exec figlet "$@"'],
            "file": "compile.sh",
        }
    ],
    "flagged": True,
    "code": _code(1, 5, {"Shell": 5}, 0),
}


@dataclass
class Graded:
    """Where the real results are, and what the partial submission scored on the 60-test task."""

    runs: Path
    figlet_score: float


def _task(directory: Path, task_id: str, ids: list[str], source: Path) -> Path:
    """A copy of `source` task keeping the cases `ids` (in that order) under a new task id."""
    shutil.copytree(source, directory)
    cases = {case.id: case for case in load_suite(source / "tests" / "suite.jsonl").cases}
    dump_suite(Suite(cases=[cases[i] for i in ids]), directory / "tests" / "suite.jsonl")
    spec = yaml.safe_load((directory / "task.yaml").read_text())
    spec["id"] = task_id
    (directory / "task.yaml").write_text(yaml.safe_dump(spec))
    return directory


def _hostile_submission(directory: Path) -> Path:
    """Prints markup instead of figlet output, and plants a fake eval.json claiming a perfect score."""
    program = f"#!/bin/sh\necho '{HOSTILE_LINE}'\necho '</pre></details><img src=x onerror=alert(2)>'\n"
    write_executable(
        directory,
        f"#!/bin/sh\ncat > executable <<'EOF'\n{program}EOF\nchmod +x executable\n",
        "compile.sh",
    )
    fake = {
        "task": "figlet",
        "submission": "fake",
        "submission_sha256": "0" * 64,
        "suite_sha256": "0" * 64,
        "build": {"ok": True},
        "score": 1.0,
        "passed": 1,
        "total": 1,
        "resolved": True,
        "near_resolved": True,
        "tests": [{"id": "t0000", "group": "x", "status": "passed"}],
    }
    (directory / "eval.json").write_text(json.dumps(fake))
    return directory


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Real results in run directories (a, b: graded; c: unreadable; d, e: copies for ranking checks; f: a
    flagged wrapper that would rank first; all: one result per task, enough for a histogram; empty: none)."""
    root = tmp_path_factory.mktemp("report")
    sandbox = get_sandbox("bwrap")
    runs = root / "runs"

    def grade(task: Path, submission: Path, out: Path) -> list[tuple[str, TestStatus]]:
        result = evaluate(load_task(task), submission, out, sandbox, EvalOptions(workers=2))
        return [(test.id, test.status) for test in result.tests]

    figlet = small_figlet_task(root / "tasks" / "figlet", count=FIGLET_CASES)
    verdicts = grade(figlet, DEMO_SUBMISSIONS["partial"], runs / "run-a" / "figlet")
    passing = [i for i, status in verdicts if status == TestStatus.passed]
    failing = [i for i, status in verdicts if status != TestStatus.passed]
    assert len(passing) >= 19 and len(failing) >= 2, verdicts
    # tasks cut so that partial resolves one, nearly resolves one (19/20) and scores 0.9 on one (18/20)
    tasks = {
        "figlet-easy": passing[:10],
        "figlet-near": [*passing[:19], failing[0]],
        "figlet-most": [*passing[:18], *failing[:2]],
    }
    for name, ids in tasks.items():
        task = _task(root / "tasks" / name, name, ids, figlet)
        run = "run-b" if name == "figlet-easy" else "run-a"
        grade(task, DEMO_SUBMISSIONS["partial"], runs / run / name)
    grade(figlet, DEMO_SUBMISSIONS["stub"], runs / "run-b" / "figlet" / "stub")
    grade(figlet, _hostile_submission(root / "hostile"), runs / "run-b" / "figlet" / "hostile")
    (runs / "run-a" / "figlet" / "audit.json").write_text(json.dumps(AUDIT))
    (runs / "run-a" / "run.json").write_text(json.dumps({"model": "demo-partial", "cost_usd": 0.0}))

    not_a_score = json.loads((runs / "run-a" / "figlet-most" / "eval.json").read_text())
    unreadable = {
        "broken": '{"task": "figlet", "score": ',
        "deep": "[" * 100000,
        "schema": '{"task": "figlet", "score": "x"}',
        "nan": json.dumps({**not_a_score, "score": float("nan")}),  # Python's json writes and reads NaN
    }
    for name, content in unreadable.items():
        (runs / "run-c" / name).mkdir(parents=True)
        (runs / "run-c" / name / "eval.json").write_text(content)
    copies = {
        "run-d": ["figlet", "figlet-most"],
        "run-e": ["figlet-near"],
        "run-e2": ["figlet-near"],
        "run-f": ["figlet-easy", "figlet-near"],
        "run-all": ["figlet", "figlet-easy", "figlet-near", "figlet-most"],
    }
    for run, names in copies.items():
        for name in names:
            (runs / run / name).mkdir(parents=True)
            source = runs / ("run-b" if name == "figlet-easy" else "run-a") / name / "eval.json"
            shutil.copy(source, runs / run / name / "eval.json")
    (runs / "run-f" / "figlet-easy" / "audit.json").write_text(json.dumps(WRAPPER_AUDIT))
    (runs / "run-empty" / "figlet").mkdir(parents=True)  # a batch that graded nothing yet
    return Graded(runs=runs, figlet_score=len(passing) / FIGLET_CASES)


def test_load_runs_reads_results_audits_and_errors(graded: Graded) -> None:
    run_a, run_b, run_c = load_runs([graded.runs / name for name in ("run-a", "run-b", "run-c")])
    assert [run.label for run in (run_a, run_b, run_c)] == ["run-a", "run-b", "run-c"]
    assert run_a.summary == {"model": "demo-partial", "cost_usd": 0.0}
    figlet = next(result for result in run_a.results if result.task == "figlet")
    assert figlet.submission == "partial" and figlet.build_ok and figlet.total == FIGLET_CASES
    assert figlet.score == pytest.approx(graded.figlet_score) and not figlet.near_resolved
    assert sum(group.total for group in figlet.groups) == FIGLET_CASES
    assert sum(group.passed for group in figlet.groups) == figlet.passed
    assert len(figlet.failing) == FIGLET_CASES - figlet.passed and all(t.reason for t in figlet.failing)
    assert figlet.audit is not None and figlet.audit.flagged and figlet.audit.reference_code is not None
    assert [f.severity for f in figlet.audit.findings] == ["low", "warning", "medium"]
    flag = figlet.flag
    assert flag is not None and (flag.severity, flag.rule, flag.findings) == ("medium", "network", 3)
    assert not flag.excludes_from_ranking
    near = next(result for result in run_a.results if result.task == "figlet-near")
    assert (near.passed, near.total, near.near_resolved, near.resolved) == (19, 20, True, False)

    # the planted eval.json in the hostile submission's source/ and build/tree/ is never taken for a result
    assert sorted(r.path for r in run_b.results) == [
        "figlet-easy/eval.json",
        "figlet/hostile/eval.json",
        "figlet/stub/eval.json",
    ]
    assert {r.submission: r.score for r in run_b.results} == {"partial": 1.0, "stub": 0.0, "hostile": 0.0}

    assert [r.error is not None for r in run_c.results] == [True, True, True, True]
    broken, deep, nan, schema = run_c.results
    assert broken.error == "broken/eval.json: not valid JSON (Expecting value at line 1 column 29)"
    assert deep.error == "deep/eval.json: not valid JSON (nested too deeply)"
    assert nan.error == "nan/eval.json: score: nan is not between 0 and 1"
    assert schema.error is not None and schema.error.startswith("schema/eval.json: ")
    # the task is named for display when the file says it, else the directory stands in
    assert "\n" not in schema.error and (broken.task, schema.task) == ("broken", "figlet")


def test_missing_run_dir_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such directory"):
        load_runs([tmp_path / "nope"])


def test_run_labels_are_directory_names_made_unique() -> None:
    labels = run_labels([Path("/x/claude/results"), Path("/x/gpt/results"), Path("/x/other")])
    assert labels == ["claude/results", "gpt/results", "other"]


def test_leaderboard_ranks_like_programbench(graded: Graded) -> None:
    rows = leaderboard(load_runs([graded.runs / name for name in ("run-a", "run-b", "run-c")]))
    table = [(r.rank, r.run, r.tasks, r.tasks_total, r.resolved, r.near_resolved, r.errors) for r in rows]
    # run-b resolves a task, so it leads although run-a's mean score is higher
    assert table == [(1, "run-b", 2, 4, 1, 1, 0), (2, "run-a", 3, 4, 0, 1, 0), (3, "run-c", 0, 4, 0, 0, 4)]
    # a task missing from a run counts as 0: run-b's mean is over all 4 tasks, not its own 2
    assert rows[0].mean_score == pytest.approx(1.0 / 4)
    assert rows[1].mean_score == pytest.approx((graded.figlet_score + 0.95 + 0.9 + 0) / 4)

    # near-resolved outranks a higher mean score; equal keys share a rank
    rows = leaderboard(load_runs([graded.runs / name for name in ("run-d", "run-e", "run-e2")]))
    assert [(r.rank, r.run, r.near_resolved) for r in rows] == [(1, "run-e", 1), (1, "run-e2", 1), (3, "run-d", 0)]
    assert rows[2].mean_score == pytest.approx((graded.figlet_score + 0.9) / 3)
    assert rows[2].mean_score > rows[0].mean_score == pytest.approx(0.95 / 3)


def test_aggregate_json(graded: Graded) -> None:
    data = aggregate_json(load_runs([graded.runs / name for name in ("run-a", "run-b", "run-c")]))
    assert json.loads(json.dumps(data)) == data
    assert data["tasks"] == ["figlet", "figlet-easy", "figlet-most", "figlet-near"]
    assert [row["run"] for row in data["leaderboard"]] == ["run-b", "run-a", "run-c"]
    run_b = data["runs"][1]
    figlet_rows = [row for row in run_b["results"] if row["task"] == "figlet"]
    assert sorted(row["submission"] for row in figlet_rows) == ["hostile", "stub"]
    assert [row["counted"] for row in figlet_rows].count(True) == 1
    audited = next(row for row in data["runs"][0]["results"] if row["audit"])
    assert audited["audit"] == {"flagged": True, "findings": 3, "by_severity": {"low": 1, "warning": 1, "medium": 1}}
    assert audited["flag"]["severity"] == "medium" and audited["flag"]["excludes_from_ranking"] is False
    assert all(row["error"] for row in data["runs"][2]["results"])


def test_results_frame(graded: Graded) -> None:
    pandas = pytest.importorskip("pandas")
    frame = results_frame([graded.runs / "run-a", graded.runs / "run-c"])
    columns = ["run", "task", "submission", "id", "group", "status", "seconds", "flagged", "flag_severity"]
    assert list(frame.columns) == columns
    assert len(frame) == FIGLET_CASES + 20 + 20  # run-c's unreadable results have no tests
    # the audit's flag on run-a's figlet submission, on each of its tests
    flagged = frame[frame["flagged"]]
    assert set(flagged["task"]) == {"figlet"} and len(flagged) == FIGLET_CASES
    assert set(flagged["flag_severity"]) == {"medium"}
    assert frame[~frame["flagged"]]["flag_severity"].isna().all()
    by_task = frame.groupby("task")["status"].apply(lambda s: (s == "passed").mean())
    assert by_task["figlet-near"] == pytest.approx(0.95)
    # the documented one-call load without twinbench
    with open(graded.runs / "run-a" / "figlet" / "eval.json") as handle:
        plain = pandas.json_normalize(json.load(handle), record_path="tests", meta=["task", "score"])
    assert len(plain) == FIGLET_CASES and set(plain["task"]) == {"figlet"}


def test_results_frame_takes_str_paths(graded: Graded) -> None:
    """Regression: the documented notebook call `results_frame(['results/stub'])` crashed on str paths."""
    pytest.importorskip("pandas")
    frame = results_frame([str(graded.runs / "run-a")])
    assert len(frame) == len(results_frame([graded.runs / "run-a"])) > 0


REPORTED = ("run-a", "run-b", "run-c", "run-f", "run-all")


def _report(graded: Graded, out: Path) -> str:
    write_report([graded.runs / name for name in REPORTED], out, title="figlet <rebuilds>")
    return out.read_text(encoding="utf-8")


def _section(page: str, section: str) -> str:
    start = page.index(f'<section id="{section}"')
    return page[start : page.index("<section id=", start + 1)]


def test_html_is_self_contained_and_escaped(graded: Graded, tmp_path: Path) -> None:
    page = _report(graded, tmp_path / "report" / "index.html")
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert page.count("<script") == 1 and "<script>" in page and "<script src" not in page
    assert "<link" not in page and "@import" not in page and "url(" not in page
    # hostile test output and audit evidence render as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and HOSTILE_LINE not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "<img" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "<title>figlet &lt;rebuilds&gt;</title>" in page
    for text in ("Leaderboard", "Tasks", "Score distribution", "Details", "near-resolved", "run-a", "run-c"):
        assert text in page
    assert "broken/eval.json: not valid JSON" in page
    # every test fails for stub and hostile: capped, with a note
    assert page.count(f"and {FIGLET_CASES - MAX_FAILING_SHOWN} more tests that did not pass") == 2
    # audit findings, most severe first
    assert page.index("sev-medium") < page.index("sev-warning") < page.index("sev-low")


def test_charts_only_where_they_carry_information(graded: Graded, tmp_path: Path) -> None:
    """A histogram needs several tasks and more than one bar; one-bar histograms became a line of text."""
    page = _report(graded, tmp_path / "report.html")
    distribution = _section(page, "distribution")
    # run-all: 4 tasks over three bins, drawn; run-a (3 tasks), run-b and run-f (2 each): a line each
    assert page.count('<svg class="hist"') == 1 and "distribution of per-task scores of run-all" in distribution
    for run in ("run-a", "run-b", "run-f"):
        assert f"<li><b>{run}</b>:" in distribution
    # regression: run-a's three scores in three bins were described as all in the first one
    described = "<li><b>run-a</b>: 3 tasks with results; 1 missing (count as 0, not drawn), scoring 0.950, 0.900, "
    assert described + f"{graded.figlet_score:.3f}" in page
    assert "run-c</b>" not in distribution  # nothing readable, nothing to say
    # fewer than 4 tasks: no distribution section at all, not even in the navigation
    one = render_html(load_runs([graded.runs / "run-e", graded.runs / "run-d"]))
    assert "<svg" not in one and 'id="distribution"' not in one and "#distribution" not in one
    # four tasks all scoring in one bin: said in words, not drawn
    runs = load_runs([graded.runs / "run-all"])
    for result in runs[0].results:
        result.score = 0.0
    same = render_html(runs)
    assert "<svg" not in same and "every one scoring below 0.1" in same


def test_weakest_groups_and_a_few_diffs_are_open(graded: Graded) -> None:
    """Each result card opens its lowest pass-rate groups and three diffs from different weak groups."""
    (run,) = load_runs([graded.runs / "run-a"])
    figlet = next(result for result in run.results if result.task == "figlet")
    page = render_html([run])
    card = page[page.index('<div class="card"><div class="card-head"><b>run-a</b>') :]
    card = card[: card.index('<section class="task"') if '<section class="task"' in card else len(card)]
    groups = card[card.index('<details class="groups" open>') : card.index('<details class="failing" open>')]
    shown = re.findall(r'<td class="name">([^<]*)</td>', groups)
    weakest = sorted(figlet.groups, key=lambda g: (g.rate, g.group))
    assert shown[: min(6, len(weakest))] == [g.group for g in weakest[:6]]
    if len(weakest) > 6:
        assert f"<summary>{len(weakest) - 6} more groups</summary>" in groups
    failing = card[card.index('<details class="failing" open>') :]
    opened = re.findall(
        r'<details class="test" open><summary><code>([^<]*)</code> <span class="sub">\[([^<]*)\]', failing
    )
    assert len(opened) == 3
    # from the weakest groups that have a failing test with a diff, one each
    rates = {g.group: g.rate for g in figlet.groups}
    with_diff = sorted({t.group for t in figlet.failing if t.diff}, key=lambda g: (rates[g], g))
    assert [group for _, group in opened] == with_diff[:3]
    assert failing.count('<details class="test" open>') == 3
    folded = min(len(figlet.failing), MAX_FAILING_SHOWN) - 3  # the list is capped, the rest is a note
    assert f"<summary>{folded} more tests that did not pass</summary>" in failing


def test_open_diffs_come_from_different_groups_even_when_one_group_fills_the_list(graded: Graded) -> None:
    """Regression: the demo wrapper's 53 failing `errors` tests filled the 50 listed, so all 3 open diffs were
    from that one group."""
    (run,) = load_runs([graded.runs / "run-b" / "figlet" / "stub"])
    stub = run.results[0]
    template = stub.failing[0]
    stub.failing = [template.model_copy(update={"id": f"a{i:03}", "group": "a"}) for i in range(60)] + [
        template.model_copy(update={"id": f"{g}0", "group": g}) for g in ("b", "c")
    ]
    stub.groups = [GroupRate(group=g, passed=0, total=n) for g, n in (("a", 60), ("b", 1), ("c", 1))]
    page = render_html([run])
    opened = re.findall(r'<details class="test" open><summary><code>([^<]*)</code>', page)
    assert opened == ["a000", "b0", "c0"]
    assert f"and {62 - MAX_FAILING_SHOWN} more tests that did not pass, not shown" in page


def test_human_labels_in_code_statistics_and_card_headers(graded: Graded) -> None:
    page = render_html(load_runs([graded.runs / "run-a"]))
    stats = page[page.index("<h4>Code statistics</h4>") :]
    stats = stats[: stats.index("</table>")]
    assert "<th>code</th><th>files</th><th>code lines</th><th>functions</th>" in stats
    assert '<tr class="total"><td>submission</td><td>2</td><td>812</td><td>40</td></tr>' in stats
    assert '<tr><td class="lang">Python</td><td>1</td><td>790</td><td>40</td></tr>' in stats
    assert '<tr class="total"><td>reference</td><td>14</td><td>5,310</td><td>90</td></tr>' in stats
    assert "languages." not in page and "code_lines" not in page
    assert "<b>model</b>: demo-partial; <b>cost usd</b>: 0" in page  # run.json's keys as words
    assert "functions of 12.5 lines on average; the longest 61 lines (figlet.py:10 main)" in page
    # a run with one result per task names the run once; two results for one task name their submissions
    assert "<b>run-a</b><span" in page and '<b>run-a</b><span class="sub">partial</span>' not in page
    two = render_html(load_runs([graded.runs / "run-b"]))
    assert '<b>run-b</b><span class="sub">stub</span>' in two and '<b>run-b</b><span class="sub">hostile</span>' in two
    stub = render_html(load_runs([graded.runs / "run-b" / "figlet" / "stub"]))
    assert '<b>stub</b><span class="sub">stub</span>' not in stub


def test_flagged_run_is_not_ranked_unless_rank_flagged(graded: Graded) -> None:
    """run-f is a wrapper flagged critical: it would lead the ranking, and is listed apart instead."""
    paths = [graded.runs / name for name in ("run-a", "run-b", "run-f")]
    rows = leaderboard(load_runs(paths))
    assert [(r.rank, r.run) for r in rows] == [(1, "run-b"), (2, "run-a"), (None, "run-f")]
    wrapper, warned = rows[2].flag, rows[1].flag
    assert wrapper is not None and wrapper.task == "figlet-easy"
    assert (wrapper.severity, wrapper.rule) == ("critical", "wrapper")
    assert warned is not None and warned.severity == "medium" and rows[1].ranked  # marked, still ranked
    ranked = leaderboard(load_runs(paths), rank_flagged=True)
    assert [(r.rank, r.run) for r in ranked] == [(1, "run-f"), (2, "run-b"), (3, "run-a")]

    data = aggregate_json(load_runs(paths))
    assert data["rank_flagged"] is False
    assert [(row["run"], row["rank"]) for row in data["leaderboard"]] == [("run-b", 1), ("run-a", 2), ("run-f", None)]
    assert data["leaderboard"][2]["flag"]["rule"] == "wrapper"
    easy = next(row for row in data["runs"][2]["results"] if row["task"] == "figlet-easy")
    assert easy["flag"]["severity"] == "critical" and easy["flag"]["excludes_from_ranking"] is True
    assert [row["rank"] for row in aggregate_json(load_runs(paths), rank_flagged=True)["leaderboard"]] == [1, 2, 3]

    board = _section(render_html(load_runs(paths)), "leaderboard")
    assert (
        board.index('<b class="runname">run-b</b>')
        < board.index('<b class="runname">run-a</b>')
        < board.index("Not ranked: flagged run-f")
    )
    assert board.index("Not ranked: flagged run-f") < board.index('<b class="runname">run-f</b>')
    assert "flagged critical: wrapper" in board and "flagged medium: network" in board
    assert "instead of implementing it &mdash; figlet-easy" in board
    assert "Not ranked" not in render_html(load_runs(paths), rank_flagged=True)


def test_report_command_flags_and_exit_codes(graded: Graded, tmp_path: Path) -> None:
    """The CLI: unranked runs said so, --rank-flagged, and runs with no results exit 2 in one line."""
    runs = [str(graded.runs / name) for name in ("run-a", "run-b", "run-f")]
    shown = _report_cli(*runs, "-o", str(tmp_path / "r.html"))
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("1. run-b: 1 resolved, 1 near-resolved, mean score 0.250 over 4 tasks")
    assert lines[1].startswith("2. run-a [flagged medium: network on figlet]: 0 resolved")
    assert lines[2].startswith("not ranked: run-f [flagged critical: wrapper on figlet-easy]: 1 resolved")
    ranked = _report_cli(*runs, "--rank-flagged", "-o", str(tmp_path / "r.html"))
    assert ranked.stdout.startswith("1. run-f [flagged critical: wrapper on figlet-easy]")
    as_json = _report_cli(*runs, "--json")
    assert [row["rank"] for row in json.loads(as_json.stdout)["leaderboard"]] == [1, 2, None]

    empty = graded.runs / "run-empty"
    for argv in (["-o", str(tmp_path / "none.html")], ["--json"]):
        nothing = _report_cli(str(empty), str(tmp_path), *argv)
        assert nothing.exit_code == 2 and nothing.stdout == "", nothing
        assert nothing.stderr == f"error: no results: no eval.json under {empty}, {tmp_path}\n"
    assert not (tmp_path / "none.html").exists()
    # one empty run among others: reported, with a warning naming it
    some = _report_cli(str(empty), runs[0], "-o", str(tmp_path / "some.html"))
    assert some.exit_code == 0 and f"warning: no eval.json under {empty}" in some.stderr
    assert "no results</span>" in (tmp_path / "some.html").read_text()


def _report_cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["report", *args])


def test_escaping_shows_controls_and_survives_lone_surrogates() -> None:
    assert esc('\x00<b a="1">\x1b[31m\x7f') == "\u2400&lt;b a=&quot;1&quot;&gt;\u241b[31m\u2421"
    assert esc("a\ud800b").encode("utf-8") == b"a?b"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_report_renders_in_headless_chromium(graded: Graded, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    _report(graded, report)
    base = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run([*base, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Leaderboard" in dom.stdout and "run-b" in dom.stdout and "mean score" in dom.stdout
    assert dom.stdout.count("<svg") == 1 and "<rect" in dom.stdout and "Not ranked: flagged run-f" in dom.stdout
    # the hostile output stayed text: the browser built no element from it
    assert "<img" not in dom.stdout and "alert(1)" in dom.stdout

    shot = tmp_path / "shot.png"
    snap = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert snap.returncode == 0, snap.stderr[-2000:]
    assert _png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank or unstyled page compresses to far less
