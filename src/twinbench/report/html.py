"""The HTML report: one self-contained file with inline CSS and SVG, safe to open whatever the results hold."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import twinbench
from twinbench.report.charts import esc, group_bars, score_color, score_histogram
from twinbench.report.load import Audit, FailingTest, Run, TaskResult, load_runs
from twinbench.report.rank import leaderboard, task_ids
from twinbench.report.sizes import scores_by_size, task_sizes

MAX_FAILING_SHOWN = 50  # per result: a page with thousands of diffs is unusable, the rest is in eval.json
MAX_DIFF_CHARS = 6000
MAX_FINDINGS_SHOWN = 200
MAX_EVIDENCE_SHOWN = 10
MAX_EVIDENCE_CHARS = 1000
MAX_STATS_ROWS = 80
OPEN_GROUP_CHART_UP_TO = 30  # more groups than this make a tall chart: start it collapsed
RUN_COLORS = ("#0969da", "#8250df", "#bf3989", "#bc4c00", "#1b7c83", "#4d2d00", "#6e7781", "#116329")
SEVERITY_ORDER = ("critical", "high", "error", "medium", "warning", "low", "info")

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:20px;margin:32px 0 10px;padding-bottom:4px;
border-bottom:1px solid #d0d7de}h3{font-size:17px;margin:22px 0 8px}h4{font-size:14px;margin:14px 0 6px}
.sub{color:#57606a}nav a{margin-right:14px}a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de;margin:6px 0}
th,td{padding:5px 10px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.score{display:inline-block;min-width:46px;padding:0 6px;border-radius:4px;text-align:center;
font-variant-numeric:tabular-nums;font-weight:600}
.meanbar{display:inline-block;height:8px;background:#0969da;border-radius:4px;vertical-align:middle;margin-left:6px}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;margin-right:4px;
background:#eaeef2;color:#1f2328;white-space:nowrap}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}.warn{background:#fff8c5;color:#7d4e00}
.st-passed{background:#dafbe1;color:#116329}.st-failed{background:#ffebe9;color:#a40e26}
.st-timeout,.st-crashed{background:#fff1e5;color:#953800}.st-error,.st-not_run{background:#eaeef2;color:#57606a}
.sev-critical,.sev-high,.sev-error{background:#cf222e;color:#fff}.sev-medium,.sev-warning{background:#fb8f44;color:#fff}
.sev-low{background:#fff8c5;color:#7d4e00}.sev-info,.sev-other{background:#ddf4ff;color:#0a3069}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:10px 0}
.card-head{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center}
.hists{display:flex;flex-wrap:wrap;gap:12px}.hists .card{margin:0}
.missing{color:#8c959f}.uncounted{opacity:.55}.cell-line{white-space:nowrap}
pre{margin:6px 0;padding:8px;background:#f6f8fa;border:1px solid #d8dee4;border-radius:4px;overflow:auto;
max-height:420px;font:12px/1.35 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;white-space:pre}
pre .add{color:#116329;background:#e6ffec}pre .del{color:#82071e;background:#ffebe9}pre .hunk{color:#8250df}
details{margin:4px 0}summary{cursor:pointer}details.test>summary{font-size:13px}
details.test>summary code{font-weight:600}.note{color:#57606a;font-style:italic;margin:6px 0}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1f2328}
svg text.axis{fill:#57606a}
.stats td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}
input[type=search]{padding:4px 8px;border:1px solid #d0d7de;border-radius:4px;min-width:260px}
"""

# Filtering is the only script: it hides tasks whose name does not contain the typed text.
FILTER_JS = """
document.getElementById("task-filter").addEventListener("input", function (event) {
  var query = event.target.value.toLowerCase();
  document.querySelectorAll("[data-task]").forEach(function (element) {
    element.hidden = query !== "" && element.dataset.task.toLowerCase().indexOf(query) < 0;
  });
});
"""
# The page may only run the script above (by hash) and load nothing at all, so even a result that slipped
# past escaping could neither execute nor phone home.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(FILTER_JS.encode()).digest()).decode()}'"
)


def write_report(paths: list[Path], output: Path, title: str = "twinbench report") -> list[Run]:
    """Load the runs, write the HTML report to `output` atomically, and return the runs."""
    runs = load_runs(paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(render_html(runs, title), encoding="utf-8")
    os.replace(partial, output)
    return runs


def render_html(runs: list[Run], title: str = "twinbench report") -> str:
    """The whole report as one HTML document with no external resources."""
    tasks = task_ids(runs)
    colors = {run.label: RUN_COLORS[i % len(RUN_COLORS)] for i, run in enumerate(runs)}
    anchors = {task: f"task-{i}" for i, task in enumerate(tasks, 1)}
    body = [
        f"<header><h1>{esc(title)}</h1>",
        f'<div class="sub">{len(runs)} run{"s" * (len(runs) != 1)}, {len(tasks)} task{"s" * (len(tasks) != 1)}'
        f" &middot; twinbench {esc(twinbench.__version__)}</div>",
        '<nav><a href="#leaderboard">Leaderboard</a><a href="#tasks">Tasks</a>'
        '<a href="#distribution">Score distribution</a><a href="#details">Details</a></nav></header>',
        _leaderboard_section(runs, colors),
        _size_section(runs),
        _tasks_section(runs, tasks, anchors),
        _distribution_section(runs, tasks, colors),
        _details_section(runs, tasks, anchors),
    ]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>{''.join(body)}</main><script>{FILTER_JS}</script></body></html>\n"
    )


def _leaderboard_section(runs: list[Run], colors: dict[str, str]) -> str:
    rows = []
    for row in leaderboard(runs):
        errors = f'<span class="badge bad">{row.errors}</span>' if row.errors else "0"
        rows.append(
            f'<tr><td class="num">{row.rank}</td>'
            f'<td><span style="color:{colors[row.run]}">&#9632;</span> <b>{esc(row.run)}</b></td>'
            f'<td class="num">{row.tasks}/{row.tasks_total}</td><td class="num">{row.resolved}</td>'
            f'<td class="num">{row.near_resolved}</td>'
            f'<td class="num">{row.mean_score:.3f}<span class="meanbar" style="width:{80 * row.mean_score:.0f}px">'
            f'</span><span class="meanbar" style="width:{80 * (1 - row.mean_score):.0f}px;background:#eaeef2;'
            f'margin-left:0"></span></td><td class="num">{errors}</td></tr>'
        )
    parts = [
        '<section id="leaderboard"><h2>Leaderboard</h2>',
        '<table><thead><tr><th class="num">rank</th><th>run</th><th class="num">tasks</th>'
        '<th class="num">resolved</th><th class="num">near-resolved</th><th class="num">mean score</th>'
        f'<th class="num">unreadable</th></tr></thead><tbody>{"".join(rows)}</tbody></table>',
        '<p class="note">Ranked by resolved tasks (every test passes), then near-resolved tasks (score &ge; 0.95,'
        " resolved included), then mean score. As in ProgramBench, a task another run has a result for and this"
        " run has not counts as score 0; a run with several results for one task counts its best.</p>",
        _errors_table(runs),
        _summaries_table(runs),
        "</section>",
    ]
    return "".join(parts)


def _size_section(runs: list[Run]) -> str:
    """Mean scores by task size class; nothing when no task's size is known."""
    sizes = task_sizes(runs)
    if not sizes:
        return ""
    rows = "".join(
        f'<tr><td>{esc(row.run)}</td><td>{esc(row.size_class)}</td><td class="num">{row.tasks}</td>'
        f'<td class="num">{row.resolved}</td><td class="num">{row.mean_score:.3f}</td></tr>'
        for row in scores_by_size(runs, sizes)
    )
    return (
        '<section id="sizes"><h3>By task size</h3><table><thead><tr><th>run</th><th>size</th>'
        '<th class="num">tasks</th><th class="num">resolved</th><th class="num">mean score</th></tr></thead>'
        f'<tbody>{rows}</tbody></table><p class="note">Size classes by lines of code of the reference\'s own '
        "sources: small &lt; 5,000, medium &lt; 50,000, large above.</p></section>"
    )


def _errors_table(runs: list[Run]) -> str:
    rows = [
        f"<tr><td>{esc(run.label)}</td><td><code>{esc(result.path)}</code></td><td>{esc(result.error)}</td></tr>"
        for run in runs
        for result in run.errors()
    ]
    rows += [
        f"<tr><td>{esc(run.label)}</td><td><code>run summary</code></td><td>{esc(run.summary_error)}</td></tr>"
        for run in runs
        if run.summary_error
    ]
    if not rows:
        return ""
    return (
        "<h3>Unreadable results</h3><table><thead><tr><th>run</th><th>file</th><th>problem</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _summaries_table(runs: list[Run]) -> str:
    rows = []
    for run in runs:
        if run.summary is None:
            continue
        fields = _flatten(run.summary)[:20]
        shown = "; ".join(f"<b>{esc(key)}</b>: {esc(_fmt(value))}" for key, value in fields)
        rows.append(f"<tr><td>{esc(run.label)}</td><td>{shown}</td></tr>")
    if not rows:
        return ""
    return f"<h3>Run summaries</h3><table><tbody>{''.join(rows)}</tbody></table>"


def _tasks_section(runs: list[Run], tasks: list[str], anchors: dict[str, str]) -> str:
    head = "".join(f"<th>{esc(run.label)}</th>" for run in runs)
    bests = [run.best() for run in runs]
    rows = []
    for task in tasks:
        cells = []
        for run, best in zip(runs, bests, strict=True):
            lines = [
                _score_line(result, result is best.get(task), len(run.results))
                for result in run.results
                if result.task == task
            ]
            cells.append(
                f"<td>{''.join(lines)}</td>"
                if lines
                else '<td class="missing" title="no result: counts as score 0">&mdash; (0)</td>'
            )
        link = f'<a href="#{anchors[task]}"><b>{esc(task)}</b></a>'
        rows.append(f'<tr data-task="{esc(task)}"><td>{link}</td>{"".join(cells)}</tr>')
    return (
        '<section id="tasks"><h2>Tasks</h2>'
        '<p><label>Filter tasks: <input type="search" id="task-filter" placeholder="task name"></label></p>'
        f"<table><thead><tr><th>task</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">Score = passed / total tests (the ranking uses it); behavioral = the same with any'
        " non-empty stderr accepted where the reference printed one. &mdash; marks a task the run has no result"
        " for.</p></section>"
    )


def _score_line(result: TaskResult, counted: bool, results_in_run: int) -> str:
    if result.error is not None:
        return f'<div class="cell-line"><span class="badge bad" title="{esc(result.error)}">unreadable</span></div>'
    css = "cell-line" if counted else "cell-line uncounted"
    build = "" if result.build_ok else ' <span class="badge bad">build failed</span>'
    # the submission name only helps when a run holds more than one result
    name = f' <span class="sub">{esc(result.submission)}</span>' if results_in_run > 1 else ""
    behavioral = (
        f' <span class="sub" title="stderr wording free">behavioral {result.behavioral_score:.3f}</span>'
        if result.behavioral_score is not None
        else ""
    )
    return (
        f'<div class="{css}">{_score_badge(result.score)} {result.passed}/{result.total}'
        f"{_resolution_badge(result)}{build}{behavioral}{name}</div>"
    )


def _score_badge(score: float) -> str:
    return f'<span class="score" style="background:{score_color(score)}">{score:.3f}</span>'


def _resolution_badge(result: TaskResult) -> str:
    if result.resolved:
        return ' <span class="badge ok">resolved</span>'
    if result.near_resolved:
        return ' <span class="badge warn">near-resolved</span>'
    return ""


def _distribution_section(runs: list[Run], tasks: list[str], colors: dict[str, str]) -> str:
    cards = []
    for run in runs:
        scores = [result.score for result in run.best().values()]
        missing = len(tasks) - len(scores)
        note = f"{len(scores)} tasks with results" + (f"; {missing} missing (count as 0, not drawn)" if missing else "")
        histogram = score_histogram(scores, colors[run.label], f"distribution of per-task scores of {run.label}")
        cards.append(f'<div class="card"><h4>{esc(run.label)}</h4>{histogram}<div class="sub">{note}</div></div>')
    return (
        '<section id="distribution"><h2>Score distribution</h2><p class="note">How many tasks each run scored'
        " in each tenth of the score range; the green bar counts resolved tasks.</p>"
        f'<div class="hists">{"".join(cards)}</div></section>'
    )


def _details_section(runs: list[Run], tasks: list[str], anchors: dict[str, str]) -> str:
    sections = []
    for task in tasks:
        cards = [
            _result_card(run, result)
            for run in runs
            for result in run.results
            if result.task == task and result.error is None
        ]
        sections.append(
            f'<section class="task" id="{anchors[task]}" data-task="{esc(task)}"><h3>{esc(task)}</h3>{"".join(cards)}'
            "</section>"
        )
    return f'<section id="details"><h2>Details</h2>{"".join(sections)}</section>'


def _result_card(run: Run, result: TaskResult) -> str:
    chips = "".join(
        f'<span class="badge st-{esc(status)}">{count} {esc(status.replace("_", " "))}</span>'
        for status, count in result.counts.items()
        if count
    )
    build = (
        '<span class="badge ok">build ok</span>' if result.build_ok else '<span class="badge bad">build failed</span>'
    )
    head = (
        f'<div class="card-head"><b>{esc(run.label)}</b><span class="sub">{esc(result.submission)}</span>'
        f"{_score_badge(result.score)}<span>{result.passed}/{result.total} passed</span>{_resolution_badge(result)}"
        f'{build}{chips}<span class="sub">{result.seconds:.1f} s &middot; <code>{esc(result.path)}</code></span></div>'
    )
    parts = [f'<div class="card">{head}']
    if result.build_reason:
        parts.append(f'<div class="note">build: {esc(result.build_reason)}</div>')
    if not result.build_ok and result.build_log_tail:
        parts.append(f"<details><summary>build log (tail)</summary><pre>{esc(result.build_log_tail)}</pre></details>")
    if result.groups:
        is_open = " open" if len(result.groups) <= OPEN_GROUP_CHART_UP_TO else ""
        parts.append(
            f"<details{is_open}><summary>pass rate per test group ({len(result.groups)} groups)</summary>"
            f"{group_bars(result.groups)}</details>"
        )
    # the audit goes before the failing tests, whose list can be long once opened
    if result.audit is not None:
        parts.append(_audit_block(result.audit))
    if result.audit_error:
        parts.append(f'<div class="note">audit.json unreadable: {esc(result.audit_error)}</div>')
    parts.append(_failing_block(result))
    parts.append("</div>")
    return "".join(parts)


def _failing_block(result: TaskResult) -> str:
    if not result.failing:
        return ""
    shown = result.failing[:MAX_FAILING_SHOWN]
    items = "".join(_failing_test(test) for test in shown)
    more = len(result.failing) - len(shown)
    note = (
        f'<p class="note">&hellip; and {more} more tests that did not pass, not shown; see {esc(result.path)}</p>'
        if more
        else ""
    )
    return (
        f"<details><summary>{len(result.failing)} tests did not pass</summary>{items}{note}</details>"
        if result.build_ok
        else f'<p class="note">{len(result.failing)} tests not run: the build failed.</p>'
    )


def _failing_test(test: FailingTest) -> str:
    summary = (
        f'<code>{esc(test.id)}</code> <span class="sub">[{esc(test.group)}]</span> '
        f'<span class="badge st-{esc(test.status.value)}">{esc(test.status.value)}</span> {esc(test.reason)}'
    )
    if not test.diff:
        return f'<div class="test">{summary}</div>'
    return f'<details class="test"><summary>{summary}</summary>{_diff_block(test.diff)}</details>'


def _diff_block(diff: str) -> str:
    cut = diff[:MAX_DIFF_CHARS]
    lines = []
    for line in cut.split("\n"):
        if line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+") and not line.startswith("+++"):
            css = "add"
        elif line.startswith("-") and not line.startswith("---"):
            css = "del"
        else:
            css = ""
        lines.append(f'<span class="{css}">{esc(line)}</span>' if css else esc(line))
    tail = f"\n… {len(diff) - len(cut)} more characters" if len(diff) > len(cut) else ""
    return f"<pre>{chr(10).join(lines)}{esc(tail)}</pre>"


def _audit_block(audit: Audit) -> str:
    flag = '<span class="badge bad">flagged</span>' if audit.flagged else '<span class="badge ok">not flagged</span>'
    parts = [f"<h4>Audit {flag}</h4>"]
    findings = sorted(audit.findings, key=lambda finding: _severity_rank(finding.severity))
    if findings:
        rows = []
        for finding in findings[:MAX_FINDINGS_SHOWN]:
            severity = finding.severity if finding.severity in SEVERITY_ORDER else "other"
            evidence = "".join(
                f"<pre>{esc(item[:MAX_EVIDENCE_CHARS])}{'…' if len(item) > MAX_EVIDENCE_CHARS else ''}</pre>"
                for item in finding.evidence[:MAX_EVIDENCE_SHOWN]
            )
            if len(finding.evidence) > MAX_EVIDENCE_SHOWN:
                evidence += f'<div class="note">&hellip; {len(finding.evidence) - MAX_EVIDENCE_SHOWN} more</div>'
            rows.append(
                f'<tr><td><span class="badge sev-{severity}">{esc(finding.severity)}</span></td>'
                f"<td><code>{esc(finding.rule)}</code></td><td>{esc(finding.message)}</td>"
                f"<td><code>{esc(finding.file or '')}</code></td>"
                f"<td>{f'<details><summary>{len(finding.evidence)}</summary>{evidence}</details>' if evidence else ''}"
                "</td></tr>"
            )
        parts.append(
            "<table><thead><tr><th>severity</th><th>rule</th><th>finding</th><th>file</th><th>evidence</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )
        if len(findings) > MAX_FINDINGS_SHOWN:
            parts.append(f'<p class="note">&hellip; {len(findings) - MAX_FINDINGS_SHOWN} more findings</p>')
    else:
        parts.append('<p class="note">no findings</p>')
    if audit.code or audit.reference_code:
        parts.append(_code_stats(audit.code or {}, audit.reference_code))
    return "".join(parts)


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _code_stats(code: dict[str, Any], reference: dict[str, Any] | None) -> str:
    mine = dict(_flatten(code))
    theirs = dict(_flatten(reference or {}))
    keys = list(mine) + [key for key in theirs if key not in mine]
    head = "<th>metric</th><th>submission</th>" + ("<th>reference</th>" if reference else "")
    rows = []
    for key in keys[:MAX_STATS_ROWS]:
        cells = f"<td>{esc(_fmt(mine[key])) if key in mine else '&mdash;'}</td>"
        if reference:
            cells += f"<td>{esc(_fmt(theirs[key])) if key in theirs else '&mdash;'}</td>"
        rows.append(f"<tr><td>{esc(key)}</td>{cells}</tr>")
    return (
        f'<h4>Code statistics</h4><table class="stats"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested statistics as dotted keys, so any shape of code stats fits one table."""
    items: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            items.extend(_flatten(item, f"{name}."))
        else:
            items.append((name, item))
    return items


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, list):
        if len(value) <= 8 and all(isinstance(item, str | int | float) for item in value):
            return ", ".join(str(item) for item in value)
        return f"{len(value)} items"
    return str(value)
